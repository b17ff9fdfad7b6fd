"""simulate_decision: latent ground truth, condition divergence, read-out."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from neuralscope.core import NeuralscopeError, TrialActivity
from neuralscope.datasets import simulate_decision


@pytest.fixture(scope="module")
def act():
    return simulate_decision(random_state=0)


def test_shapes_and_labels(act):
    assert isinstance(act, TrialActivity)
    assert act.data.shape == (100, 50, 50)
    cond = act.labels("condition")
    np.testing.assert_array_equal(np.bincount(cond), [50, 50])
    assert act.attrs["latents"].shape == (100, 3, 50)
    assert act.attrs["loadings"].shape == (50, 3)
    assert act.attrs["rates"].shape == act.data.shape


def test_seeds():
    a = simulate_decision(n_neurons=5, n_trials=10, random_state=1)
    b = simulate_decision(n_neurons=5, n_trials=10, random_state=1)
    c = simulate_decision(n_neurons=5, n_trials=10, random_state=2)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.attrs["latents"], b.attrs["latents"])
    assert not np.array_equal(a.data, c.data)


def test_choice_latent_diverges_by_condition(act):
    choice = act.attrs["latents"][:, 0, :]
    cond = act.labels("condition")
    np.testing.assert_array_equal(choice[:, 0], 0.0)  # no information at the start
    end_gap = choice[cond == 1, -1].mean() - choice[cond == 0, -1].mean()
    assert end_gap > 2.0  # drift 2/s over ~1 s, in opposite directions


def test_condition_decodability_grows_over_the_trial(act):
    cond = act.labels("condition")
    clf = LogisticRegression(max_iter=1000)
    early = cross_val_score(clf, act.data[:, :, 1], cond, cv=5).mean()
    late = cross_val_score(clf, act.data[:, :, -5:].sum(axis=2), cond, cv=5).mean()
    assert early < 0.7
    assert late > 0.85


def test_poisson_rates_follow_loadings(act):
    expected = act.attrs["baseline"][None, :, None] * np.exp(
        np.clip(np.einsum("nk,rkt->rnt", act.attrs["loadings"], act.attrs["latents"]), -4, 4)
    )
    np.testing.assert_allclose(act.attrs["rates"], expected)
    assert act.data.mean() * act.fs == pytest.approx(act.attrs["rates"].mean(), rel=0.05)


def test_gaussian_readout_recovers_loadings():
    act = simulate_decision(n_trials=200, observation="gaussian", random_state=3)
    Z = act.attrs["latents"].transpose(0, 2, 1).reshape(-1, 3)
    Y = act.data.transpose(0, 2, 1).reshape(-1, act.n_neurons)
    est = np.linalg.lstsq(Z, Y, rcond=None)[0].T
    np.testing.assert_allclose(est, act.attrs["loadings"], atol=0.1)
    assert np.std(act.data - act.attrs["rates"]) == pytest.approx(1.0, rel=0.05)


def test_zero_drift_is_a_null():
    act = simulate_decision(drift=0.0, random_state=4)
    cond = act.labels("condition")
    late = act.data[:, :, -5:].sum(axis=2)
    acc = cross_val_score(LogisticRegression(max_iter=1000), late, cond, cv=5).mean()
    assert acc < 0.7


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_neurons": 0}, "n_neurons"),
        ({"n_trials": 1}, "n_trials"),
        ({"n_time": 0}, "n_time"),
        ({"fs": float("nan")}, "fs"),
        ({"noise": -0.5}, "noise"),
        ({"drift": -1.0}, "drift"),
        ({"observation": "binomial"}, "observation"),
        ({"baseline_rate": 0.0}, "baseline_rate"),
    ],
)
def test_invalid_parameters(kwargs, name):
    with pytest.raises(NeuralscopeError, match=name):
        simulate_decision(**kwargs)
