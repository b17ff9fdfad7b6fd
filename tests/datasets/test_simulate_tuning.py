"""simulate_tuning: shapes, determinism, and recoverable ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from neuralscope.core import NeuralscopeError, TrialActivity
from neuralscope.datasets import simulate_tuning
from neuralscope.datasets.tuning import von_mises_orientation


@pytest.fixture(scope="module")
def act():
    return simulate_tuning(random_state=0)


def test_shapes_labels_and_truth(act):
    assert isinstance(act, TrialActivity)
    assert act.data.shape == (240, 60, 20)
    assert act.fs == 50.0 and act.t0 == pytest.approx(-0.2)
    stim = act.labels("stimulus")
    assert stim.dtype.kind == "i"
    np.testing.assert_array_equal(np.unique(stim), [0, 22, 45, 68, 90, 112, 135, 158])
    assert np.all(np.bincount(np.searchsorted(act.attrs["orientations"], stim)) == 30)
    assert act.attrs["tuning_curves"].shape == (60, 8)
    assert act.attrs["rates"].shape == act.data.shape
    np.testing.assert_allclose(act.units["preferred_orientation"], act.attrs["preferred_orientation"])
    assert np.all(act.data >= 0) and np.all(act.data == np.round(act.data))


def test_same_seed_identical_different_seed_differs():
    a = simulate_tuning(n_neurons=10, n_trials_per_stimulus=3, random_state=5)
    b = simulate_tuning(n_neurons=10, n_trials_per_stimulus=3, random_state=5)
    c = simulate_tuning(n_neurons=10, n_trials_per_stimulus=3, random_state=6)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.labels("stimulus"), b.labels("stimulus"))
    assert not np.array_equal(a.data, c.data)


def test_empirical_tuning_matches_ground_truth(act):
    stim = act.labels("stimulus")
    post = act.times >= 0.1  # well after onset: the response has risen
    mean_rate = act.data[:, :, post].mean(axis=2) * act.fs  # trials x neurons, Hz
    empirical = np.stack([mean_rate[stim == s].mean(axis=0) for s in act.attrs["orientations"]], axis=1)
    truth = act.attrs["tuning_curves"]
    tuned = act.attrs["tuned"]
    assert tuned.sum() == 45  # 25 % of 60 are untuned by default
    r = [np.corrcoef(empirical[i], truth[i])[0, 1] for i in np.flatnonzero(tuned)]
    assert np.median(r) > 0.95
    # Untuned neurons respond, but alike to every orientation.
    depth = empirical.max(axis=1) - empirical.min(axis=1)
    assert np.median(depth[~tuned]) < 0.3 * np.median(depth[tuned])
    assert np.all(empirical[~tuned].mean(axis=1) > 2 * 2.0)
    # Each neuron's empirical peak is the stimulus nearest its preferred orientation.
    pref = act.attrs["preferred_orientation"]
    ori = act.attrs["orientations"]
    dist = np.abs((ori[None, :] - pref[:, None] + 90) % 180 - 90)
    hits = np.argmax(empirical, axis=1) == np.argmin(dist, axis=1)
    assert hits[tuned].mean() > 0.85


def test_baseline_before_onset(act):
    pre = act.times < 0
    assert pre.sum() == 10
    rate = act.data[:, :, pre].mean() * act.fs
    assert rate == pytest.approx(2.0, rel=0.1)
    np.testing.assert_array_equal(act.attrs["time_course"][pre], 0.0)


def test_von_mises_width_is_full_width_at_half_max():
    vals = von_mises_orientation(np.array([40.0, 55.0, 25.0, 220.0]), 40.0, 30.0)
    np.testing.assert_allclose(vals, [1.0, 0.5, 0.5, 1.0])  # 180-periodic


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_neurons": 0}, "n_neurons"),
        ({"n_neurons": 2.5}, "n_neurons"),
        ({"n_stimuli": 1}, "n_stimuli"),
        ({"n_trials_per_stimulus": 0}, "n_trials_per_stimulus"),
        ({"fs": -1.0}, "fs"),
        ({"tuning_width_deg": 200.0}, "tuning_width_deg"),
        ({"baseline_rate": -1.0}, "baseline_rate"),
        ({"peak_rate": 1.0}, "peak_rate"),
        ({"onset_time": 0.5}, "onset_time"),
        ({"gain_noise": -0.1}, "gain_noise"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_invalid_parameters(kwargs, name):
    with pytest.raises(NeuralscopeError, match=name):
        simulate_tuning(**kwargs)
