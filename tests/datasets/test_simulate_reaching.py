"""simulate_reaching: kinematics consistency, determinism, recoverable tuning."""

from __future__ import annotations

import numpy as np
import pytest

from neuralscope.core import ContinuousActivity, NeuralscopeError
from neuralscope.datasets import simulate_reaching


@pytest.fixture(scope="module")
def sim():
    return simulate_reaching(random_state=0, return_truth=True)


def test_shapes_and_covariates(sim):
    act, truth = sim
    assert isinstance(act, ContinuousActivity)
    assert act.data.shape == (6000, 80) and act.fs == 20.0
    assert act.covariate("position").shape == (6000, 2)
    assert act.covariate("velocity").shape == (6000, 2)
    assert truth["rates"].shape == (6000, 80)
    assert truth["lag_bins"] == 2
    np.testing.assert_allclose(act.units["preferred_direction"], truth["preferred_direction"])
    assert np.all(act.data >= 0)


@pytest.mark.parametrize("kinematics", ["random", "center_out"])
def test_velocity_is_derivative_of_position(kinematics):
    act = simulate_reaching(n_neurons=3, duration=60.0, kinematics=kinematics)
    pos, vel = act.covariate("position"), act.covariate("velocity")
    np.testing.assert_allclose(vel, np.gradient(pos, 1.0 / act.fs, axis=0))
    assert np.abs(vel).max() > 5.0  # it actually moves


def test_center_out_reaches_targets_on_circle():
    act = simulate_reaching(n_neurons=3, duration=60.0, kinematics="center_out")
    radius = np.linalg.norm(act.covariate("position"), axis=1)
    assert radius.max() == pytest.approx(8.0, abs=1e-6)
    assert (radius < 1e-9).mean() > 0.1  # holds at the centre


def test_seeds():
    a = simulate_reaching(n_neurons=5, duration=20.0, random_state=3)
    b = simulate_reaching(n_neurons=5, duration=20.0, random_state=3)
    c = simulate_reaching(n_neurons=5, duration=20.0, random_state=4)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.covariate("velocity"), b.covariate("velocity"))
    assert not np.array_equal(a.data, c.data)


def test_counts_follow_rates(sim):
    act, truth = sim
    mean_counts = act.data.mean(axis=0)
    np.testing.assert_allclose(mean_counts, truth["rates"].mean(axis=0) / act.fs, rtol=0.1)


def test_preferred_directions_are_recoverable(sim):
    act, truth = sim
    lag = truth["lag_bins"]
    vel = act.covariate("velocity")
    # Regress each neuron on the velocity it encodes (lag bins later).
    V = np.hstack([vel[lag:], np.ones((act.n_time - lag, 1))])
    coef = np.linalg.lstsq(V, act.data[: act.n_time - lag], rcond=None)[0]
    est = np.arctan2(coef[1], coef[0])
    err = np.abs(np.angle(np.exp(1j * (est - truth["preferred_direction"]))))
    assert np.median(np.rad2deg(err)) < 10.0


def test_velocity_is_linearly_decodable_and_activity_leads(sim):
    act, truth = sim
    vel = act.covariate("velocity")
    lag = truth["lag_bins"]
    cut = 4800

    def r2(X, Y):
        design = np.hstack([X, np.ones((len(X), 1))])
        w = np.linalg.lstsq(design[:cut], Y[:cut], rcond=None)[0]
        resid = Y[cut:] - design[cut:] @ w
        return 1 - resid.var(axis=0).sum() / Y[cut:].var(axis=0).sum()

    n = act.n_time - lag
    leading = r2(act.data[:n], vel[lag:])  # activity now -> velocity `lag` bins later
    same_bin = r2(act.data[:n], vel[:n])
    assert leading > 0.85
    assert leading > same_bin + 0.2


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_neurons": 0}, "n_neurons"),
        ({"duration": 0.0}, "duration"),
        ({"duration": 0.05}, "duration"),
        ({"fs": 0.0}, "fs"),
        ({"lag": 1000.0}, "lag"),
        ({"lag": "late"}, "lag"),
        ({"kinematics": "spiral"}, "kinematics"),
        ({"baseline_rate": (5.0, 1.0)}, "baseline_rate"),
        ({"modulation": 3.0}, "modulation"),
        ({"random_state": -1}, "random_state"),
    ],
)
def test_invalid_parameters(kwargs, name):
    with pytest.raises(NeuralscopeError, match=name):
        simulate_reaching(**kwargs)
