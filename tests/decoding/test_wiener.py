"""WienerFilter and WienerCascade: exact recovery on noiseless systems and
held-out decoding of simulated reaching."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import r2_score

from neuralscope.core import NeuralscopeError
from neuralscope.datasets import simulate_reaching
from neuralscope.decoding.wiener import WienerCascade, WienerFilter


@pytest.fixture(scope="module")
def reaching_split():
    act = simulate_reaching(random_state=0)
    X, v = act.data, act.covariate("velocity")
    cut = int(0.8 * len(X))  # contiguous blocks: history never crosses the split
    return X[:cut], X[cut:], v[:cut], v[cut:]


@pytest.fixture(scope="module")
def wiener_r2(reaching_split):
    Xtr, Xte, vtr, vte = reaching_split
    return r2_score(vte, WienerFilter(n_history=10).fit(Xtr, vtr).predict(Xte))


def test_wiener_recovers_a_known_filter():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    # y[t] = 2 X[t, 0] - X[t-1, 1] + 0.5 X[t-2, 2] + 3 (zero before the start)
    Xp = np.vstack([np.zeros((2, 3)), X])
    y = 2 * Xp[2:, 0] - Xp[1:-1, 1] + 0.5 * Xp[:-2, 2] + 3.0
    wf = WienerFilter(n_history=3).fit(X, y)
    # Rows are oldest bin first: [X[t-2], X[t-1], X[t]].
    expected = np.zeros(9)
    expected[[6, 4, 2]] = [2.0, -1.0, 0.5]
    np.testing.assert_allclose(wf.coef_[:, 0], expected, atol=1e-10)
    np.testing.assert_allclose(wf.intercept_, [3.0], atol=1e-10)
    np.testing.assert_allclose(wf.predict(X), y, atol=1e-10)


def test_wiener_is_causal():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    y = rng.normal(size=(200, 2))
    wf = WienerFilter(n_history=5).fit(X, y)
    changed = X.copy()
    changed[150:] += 10.0
    np.testing.assert_array_equal(wf.predict(changed)[:150], wf.predict(X)[:150])


def test_wiener_decodes_reaching_velocity(wiener_r2):
    # Measured held-out R^2 0.954-0.962 over seeds 0-4 (0.962 here).
    assert wiener_r2 >= 0.9


def test_cascade_not_worse_than_wiener(reaching_split, wiener_r2):
    Xtr, Xte, vtr, vte = reaching_split
    r2 = r2_score(vte, WienerCascade(n_history=10, degree=3).fit(Xtr, vtr).predict(Xte))
    assert r2 >= wiener_r2 - 0.01  # measured 0.964 vs 0.962


def test_cascade_captures_a_static_nonlinearity():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 5))
    drive = X @ np.array([1.0, -0.5, 0.3, 0.0, 0.2])
    y = drive**3 + 0.1 * rng.normal(size=2000)
    train, test = slice(0, 1500), slice(1500, None)
    lin = WienerFilter(n_history=1).fit(X[train], y[train])
    casc = WienerCascade(n_history=1, degree=3).fit(X[train], y[train])
    r2_lin = r2_score(y[test], lin.predict(X[test]))
    r2_casc = r2_score(y[test], casc.predict(X[test]))
    assert r2_casc > 0.98
    assert r2_casc > r2_lin + 0.1


def test_cascade_clips_extrapolation():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 2))
    y = np.tanh(X[:, 0])
    casc = WienerCascade(n_history=1, degree=3).fit(X, y)
    far = casc.predict(np.array([[50.0, 0.0], [-50.0, 0.0]]))
    # A cubic evaluated at 50x the training range would be enormous; clipped
    # to the training range, predictions stay near tanh's limits.
    assert np.all(np.abs(far) < 1.5)


@pytest.mark.parametrize("cls", [WienerFilter, WienerCascade])
def test_output_shape_follows_y(cls, reaching_split):
    Xtr, Xte, vtr, _ = reaching_split
    assert cls(n_history=3).fit(Xtr, vtr[:, 0]).predict(Xte).shape == (len(Xte),)
    assert cls(n_history=3).fit(Xtr, vtr).predict(Xte).shape == (len(Xte), 2)


def test_ridge_alpha_shrinks_weights():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(100, 10))
    y = X[:, 0] + rng.normal(size=100)
    free = WienerFilter(n_history=2, alpha=0.0).fit(X, y)
    ridge = WienerFilter(n_history=2, alpha=100.0).fit(X, y)
    assert np.linalg.norm(ridge.coef_) < 0.8 * np.linalg.norm(free.coef_)


def test_errors():
    X = np.ones((20, 3))
    y = np.arange(20.0)
    bad = X.copy()
    bad[3, 1] = np.inf
    with pytest.raises(NeuralscopeError, match="finite"):
        WienerFilter().fit(bad, y)
    with pytest.raises(NeuralscopeError, match="samples"):
        WienerFilter().fit(X, y[:-2])
    with pytest.raises(NeuralscopeError, match="n_history"):
        WienerFilter(n_history=0).fit(X, y)
    with pytest.raises(NeuralscopeError, match="alpha"):
        WienerFilter(alpha=-1).fit(X, y)
    with pytest.raises(NeuralscopeError, match="degree"):
        WienerCascade(degree=0).fit(X, y)
    fitted = WienerFilter(n_history=2).fit(X, y)
    with pytest.raises(NeuralscopeError, match="features"):
        fitted.predict(np.ones((5, 4)))
    with pytest.raises(NeuralscopeError, match="finite"):
        fitted.predict(bad)
