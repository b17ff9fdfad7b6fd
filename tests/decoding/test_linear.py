"""LinearDecoder, SVMDecoder and RidgeDecoder on data with known ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from neuralscope.core import NeuralscopeError
from neuralscope.datasets import simulate_reaching, simulate_tuning
from neuralscope.decoding.linear import LinearDecoder, RidgeDecoder, SVMDecoder


@pytest.fixture(scope="module")
def tuning_split():
    act = simulate_tuning(random_state=0)
    y = act.labels("stimulus")
    return train_test_split(act.data, y, test_size=0.3, stratify=y, random_state=0)


@pytest.fixture(scope="module")
def reaching():
    act = simulate_reaching(duration=150.0, random_state=0)
    return act.data, act.covariate("velocity")


def test_logistic_decodes_orientation(tuning_split):
    Xtr, Xte, ytr, yte = tuning_split
    dec = LinearDecoder().fit(Xtr, ytr)
    # Measured 1.00 on this split (seeds 0-4 likewise).
    assert dec.score(Xte, yte) >= 0.95
    np.testing.assert_array_equal(dec.classes_, np.unique(ytr))
    proba = dec.predict_proba(Xte)
    assert proba.shape == (len(yte), 8)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert dec.coef_.shape == (8, 60 * 20)


def test_trials_and_flattened_input_agree(tuning_split):
    Xtr, Xte, ytr, _ = tuning_split
    dec3 = LinearDecoder().fit(Xtr, ytr)
    dec2 = LinearDecoder().fit(Xtr.reshape(len(Xtr), -1), ytr)
    assert dec3.trial_shape_ == (60, 20) and dec2.trial_shape_ is None
    np.testing.assert_allclose(dec3.decision_function(Xte), dec2.decision_function(Xte.reshape(len(Xte), -1)))
    # A 3-D decoder also takes the same trials already flattened.
    np.testing.assert_array_equal(dec3.predict(Xte), dec3.predict(Xte.reshape(len(Xte), -1)))


def test_neuron_importance_ranks_tuned_above_noise_neurons():
    act = simulate_tuning(n_neurons=20, untuned_fraction=0.0, random_state=1)
    rng = np.random.default_rng(1)
    noise = rng.poisson(0.3, size=(act.n_trials, 20, act.n_time)).astype(float)
    X = np.concatenate([act.data, noise], axis=1)  # neurons 20..39 carry nothing
    dec = LinearDecoder(C=0.1).fit(X, act.labels("stimulus"))
    imp = dec.neuron_importance_
    assert imp.shape == (40,)
    # Measured: tuned 0.018-0.022, noise 0.011-0.015 -- a clean separation.
    assert imp[:20].min() > imp[20:].max()


def test_time_resolved_decoding_starts_at_chance():
    act = simulate_tuning(random_state=2)
    y = act.labels("stimulus")
    Xtr, Xte, ytr, yte = train_test_split(act.data, y, test_size=0.3, stratify=y, random_state=0)
    before = LinearDecoder().fit(Xtr[:, :, 0], ytr).score(Xte[:, :, 0], yte)
    after = LinearDecoder().fit(Xtr[:, :, 18], ytr).score(Xte[:, :, 18], yte)
    assert before < 0.3  # chance is 1/8
    assert after > 0.6


@pytest.mark.parametrize("kernel", ["rbf", "linear"])
def test_svm_decodes_orientation(tuning_split, kernel):
    Xtr, Xte, ytr, yte = tuning_split
    dec = SVMDecoder(kernel=kernel).fit(Xtr, ytr)
    assert dec.score(Xte, yte) >= 0.9  # measured 1.00
    assert dec.decision_function(Xte).shape == (len(yte), 8)


def test_classifier_string_labels_and_binary():
    act = simulate_tuning(n_stimuli=2, random_state=3)
    names = np.where(act.labels("stimulus") == 0, "horizontal", "vertical")
    dec = LinearDecoder().fit(act.data, names)
    assert set(dec.predict(act.data)) <= {"horizontal", "vertical"}
    assert dec.coef_.shape == (1, act.n_neurons * act.n_time)
    assert dec.decision_function(act.data).shape == (act.n_trials,)


def test_classifier_input_errors(tuning_split):
    Xtr, _, ytr, _ = tuning_split
    bad = Xtr.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(NeuralscopeError, match="finite"):
        LinearDecoder().fit(bad, ytr)
    with pytest.raises(NeuralscopeError, match="samples"):
        LinearDecoder().fit(Xtr, ytr[:-1])
    with pytest.raises(NeuralscopeError, match="at least 2 classes"):
        SVMDecoder().fit(Xtr, np.zeros(len(Xtr)))
    dec = LinearDecoder().fit(Xtr, ytr)
    with pytest.raises(NeuralscopeError, match="trials of shape"):
        dec.predict(Xtr.reshape(len(Xtr), 20, 60))
    with pytest.raises(NeuralscopeError, match="features"):
        dec.predict(Xtr[:, :10, :])


@pytest.mark.parametrize(
    "est, name",
    [
        (LinearDecoder(C=0.0), "C"),
        (LinearDecoder(max_iter=0), "max_iter"),
        (LinearDecoder(standardize="yes"), "standardize"),
        (SVMDecoder(kernel="cubic"), "kernel"),
        (SVMDecoder(gamma=-1.0), "gamma"),
        (RidgeDecoder(alpha=-1.0), "alpha"),
        (RidgeDecoder(n_history=0), "n_history"),
    ],
)
def test_invalid_hyper_parameters_raise_at_fit(est, name):
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    with pytest.raises(NeuralscopeError, match=name):
        est.fit(X, y)


def test_ridge_with_history_decodes_velocity(reaching):
    X, v = reaching
    cut = int(0.8 * len(X))
    now = RidgeDecoder(n_history=1).fit(X[:cut], v[:cut])
    hist = RidgeDecoder(n_history=5).fit(X[:cut], v[:cut])
    r2_now = r2_score(v[cut:], now.predict(X[cut:]))
    r2_hist = r2_score(v[cut:], hist.predict(X[cut:]))
    # The simulated activity leads velocity by 100 ms (2 bins), so the past
    # bins matter: measured R^2 0.44 without history, 0.95 with 5 bins.
    assert r2_hist >= 0.9
    assert r2_hist > r2_now + 0.2


def test_ridge_output_shape_follows_y(reaching):
    X, v = reaching
    one = RidgeDecoder(n_history=3).fit(X, v[:, 0])
    assert one.predict(X[:50]).shape == (50,)
    two = RidgeDecoder(n_history=3).fit(X, v)
    assert two.predict(X[:50]).shape == (50, 2)
    np.testing.assert_allclose(one.predict(X[:50]), two.predict(X[:50])[:, 0])
