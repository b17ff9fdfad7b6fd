"""KalmanDecoder: parameter recovery on a simulated linear-Gaussian system and
decoding of simulated reaching without the true initial state."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import r2_score

from neuralscope.core import NeuralscopeError
from neuralscope.datasets import simulate_reaching
from neuralscope.decoding.kalman import KalmanDecoder


def _linear_gaussian(n=4000, seed=0):
    """A known state-space model: rotating 2-D state, 15 noisy linear observations."""
    rng = np.random.default_rng(seed)
    theta = 0.1
    A = 0.97 * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    H = rng.normal(size=(15, 2))
    z = np.zeros((n, 2))
    for t in range(1, n):
        z[t] = A @ z[t - 1] + 0.3 * rng.normal(size=2)
    x = z @ H.T + 1.0 + rng.normal(size=(n, 15))
    return A, H, z, x


@pytest.fixture(scope="module")
def reaching_split():
    act = simulate_reaching(random_state=0)
    kin = np.hstack([act.covariate("position"), act.covariate("velocity")])
    cut = int(0.8 * act.n_time)
    return act.data[:cut], act.data[cut:], kin[:cut], kin[cut:]


def test_recovers_state_space_parameters():
    A, H, z, x = _linear_gaussian()
    kf = KalmanDecoder().fit(x, z)
    np.testing.assert_allclose(kf.A_, A, atol=0.03)
    np.testing.assert_allclose(kf.H_, H, atol=0.1)
    np.testing.assert_allclose(kf.obs_intercept_ + kf.H_ @ kf.state_mean_, 1.0 + H @ z.mean(0), atol=0.1)
    np.testing.assert_allclose(np.diag(kf.Q_), 1.0, atol=0.15)


def test_filter_beats_static_readout_on_known_system():
    _, _, z, x = _linear_gaussian(seed=1)
    cut = 3000
    kf = KalmanDecoder().fit(x[:cut], z[:cut])
    r2_kf = r2_score(z[cut:], kf.predict(x[cut:]))
    # Static least-squares readout from the current bin only.
    design = np.hstack([x[:cut], np.ones((cut, 1))])
    w = np.linalg.lstsq(design, z[:cut], rcond=None)[0]
    r2_static = r2_score(z[cut:], np.hstack([x[cut:], np.ones((len(x) - cut, 1))]) @ w)
    assert r2_kf > r2_static + 0.02
    assert r2_kf > 0.9


def test_decodes_reaching_without_true_initial_state(reaching_split):
    Xtr, Xte, ktr, kte = reaching_split
    kf = KalmanDecoder(lag=2).fit(Xtr, ktr)
    pred = kf.predict(Xte)  # the test block starts mid-movement
    assert pred.shape == kte.shape
    # Measured held-out velocity R^2 0.921-0.926 over seeds 0-4.
    assert r2_score(kte[:, 2:], pred[:, 2:]) >= 0.85
    # The first `lag` bins have no observation: the filter sits at the
    # training mean, i.e. it was not given the true starting state.
    np.testing.assert_allclose(pred[0], kf.state_mean_)
    assert not np.allclose(pred[0], kte[0], atol=1.0)


def test_lag_matches_neural_lead(reaching_split):
    Xtr, Xte, ktr, kte = reaching_split
    vtr, vte = ktr[:, 2:], kte[:, 2:]
    r2 = {
        lag: r2_score(vte, KalmanDecoder(lag=lag).fit(Xtr, vtr).predict(Xte))
        for lag in (0, 2)
    }
    # Activity leads velocity by 2 bins in the simulation (measured 0.88 vs 0.92).
    assert r2[2] > r2[0] + 0.02


def test_noise_scale_trades_smoothness():
    _, _, z, x = _linear_gaussian(seed=2)
    smooth = KalmanDecoder(noise_scale=0.1).fit(x, z).predict(x)
    rough = KalmanDecoder(noise_scale=10.0).fit(x, z).predict(x)
    def step(p):
        return np.abs(np.diff(p, axis=0)).mean()

    assert step(rough) > 1.5 * step(smooth)  # measured 0.36 vs 0.15


def test_one_dimensional_target_and_silent_neuron():
    _, _, z, x = _linear_gaussian(n=500, seed=3)
    x = np.hstack([x, np.zeros((len(x), 1))])  # a neuron that never fires
    kf = KalmanDecoder().fit(x, z[:, 0])
    pred = kf.predict(x)
    assert pred.shape == (500,)
    assert np.all(np.isfinite(pred))
    assert r2_score(z[:, 0], pred) > 0.8


def test_errors():
    x = np.random.default_rng(0).normal(size=(30, 3))
    y = np.arange(30.0)
    with pytest.raises(NeuralscopeError, match="lag"):
        KalmanDecoder(lag=-1).fit(x, y)
    with pytest.raises(NeuralscopeError, match="noise_scale"):
        KalmanDecoder(noise_scale=0).fit(x, y)
    with pytest.raises(NeuralscopeError, match="samples"):
        KalmanDecoder(lag=5).fit(x[:6], y[:6])
    with pytest.raises(NeuralscopeError, match="samples"):
        KalmanDecoder().fit(x, y[:10])
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(NeuralscopeError, match="finite"):
        KalmanDecoder().fit(bad, y)
    with pytest.raises(NeuralscopeError, match="finite"):
        KalmanDecoder().fit(x, y).predict(bad)
