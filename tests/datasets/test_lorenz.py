"""simulate_lorenz_population: Lorenz dynamics, read-out ground truth, seeds, checks."""

from __future__ import annotations

import numpy as np
import pytest

from neuralscope.core import NeuralscopeError, TrialActivity
from neuralscope.datasets.lorenz import simulate_lorenz_population


@pytest.fixture(scope="module")
def act():
    return simulate_lorenz_population(n_neurons=20, n_trials=40, n_time=60, fs=100.0, n_conditions=8,
                                      random_state=0)


def test_shapes_labels_and_attrs(act):
    assert isinstance(act, TrialActivity)
    assert act.data.shape == (40, 20, 60)
    np.testing.assert_array_equal(np.bincount(act.labels("condition")), [5] * 8)
    assert act.attrs["latents"].shape == (40, 3, 60)
    assert act.attrs["lorenz_state"].shape == (40, 3, 60)
    assert act.attrs["initial_conditions"].shape == (40, 3)
    assert act.attrs["loadings"].shape == (20, 3)
    assert act.attrs["rates"].shape == act.data.shape
    np.testing.assert_array_equal(act.data, np.round(act.data))
    assert act.data.min() >= 0


def test_latent_follows_the_lorenz_equations(act):
    # Central differences of the sampled state match the Lorenz vector field:
    # the simulator integrates the intended system, at the intended speed.
    s = act.attrs["lorenz_state"]
    dt = 1.0 / act.fs  # speed=1: one Lorenz time unit per second
    deriv = (s[:, :, 2:] - s[:, :, :-2]) / (2 * dt)
    x, y, z = s[:, 0, 1:-1], s[:, 1, 1:-1], s[:, 2, 1:-1]
    field = np.stack([10 * (y - x), x * (28 - z) - y, x * y - 8 / 3 * z], axis=1)
    rel = np.abs(deriv - field).mean() / np.abs(field).mean()
    assert rel < 0.02
    np.testing.assert_allclose(s[:, :, 0], act.attrs["initial_conditions"])


def test_states_lie_on_the_attractor(act):
    s = act.attrs["lorenz_state"]
    assert np.abs(s[:, :2]).max() < 30 and 0 < s[:, 2].min() and s[:, 2].max() < 55
    lat = act.attrs["latents"]
    np.testing.assert_allclose(lat.mean(axis=(0, 2)), 0, atol=1e-10)
    np.testing.assert_allclose(lat.std(axis=(0, 2)), 1, atol=1e-10)


def test_rates_are_the_log_linear_readout(act):
    drive = np.einsum("nk,rkt->rnt", act.attrs["loadings"], act.attrs["latents"])
    expected = act.attrs["baseline"][None, :, None] * np.exp(np.clip(drive, -4, 4))
    np.testing.assert_allclose(act.attrs["rates"], expected)
    # Poisson counts: the mean count matches the mean rate x bin width.
    assert act.data.mean() == pytest.approx(act.attrs["rates"].mean() / act.fs, rel=0.05)


def test_conditions_share_trajectories_when_jitter_is_zero():
    a = simulate_lorenz_population(n_neurons=4, n_trials=6, n_time=20, n_conditions=3, ic_jitter=0.0,
                                   random_state=3)
    cond = a.labels("condition")
    for c in range(3):
        rates = a.attrs["rates"][cond == c]
        np.testing.assert_allclose(rates, np.broadcast_to(rates[0], rates.shape))
    assert not np.allclose(a.attrs["rates"][cond == 0][0], a.attrs["rates"][cond == 1][0])


def test_jitter_makes_trials_of_a_condition_diverge(act):
    cond = act.labels("condition")
    lat = act.attrs["lorenz_state"][cond == 0]
    spread_start = lat[:, :, 0].std(axis=0).mean()
    spread_end = lat[:, :, -1].std(axis=0).mean()
    assert 0.1 < spread_start < 1.0  # ic_jitter 0.5
    assert spread_end > spread_start  # chaos amplifies the difference


def test_seeds():
    kw = {"n_neurons": 5, "n_trials": 8, "n_time": 15, "n_conditions": 4}
    a = simulate_lorenz_population(**kw, random_state=1)
    b = simulate_lorenz_population(**kw, random_state=1)
    c = simulate_lorenz_population(**kw, random_state=2)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.attrs["latents"], b.attrs["latents"])
    assert not np.array_equal(a.attrs["latents"], c.attrs["latents"])


def test_zero_gain_gives_constant_rates():
    a = simulate_lorenz_population(n_neurons=3, n_trials=4, n_time=10, n_conditions=2, gain=0.0)
    np.testing.assert_allclose(a.attrs["rates"], np.broadcast_to(a.attrs["baseline"][None, :, None], (4, 3, 10)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_neurons": 0},
        {"n_trials": 2.5},
        {"n_time": 1},
        {"fs": -1.0},
        {"n_conditions": 0},
        {"n_trials": 3, "n_conditions": 4},
        {"speed": 0.0},
        {"ic_jitter": -0.1},
        {"gain": float("nan")},
        {"baseline_rate": 0.0},
        {"random_state": -1},
    ],
)
def test_bad_parameters_raise(kwargs):
    with pytest.raises(NeuralscopeError):
        simulate_lorenz_population(**kwargs)
