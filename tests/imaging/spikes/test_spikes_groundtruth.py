"""Readers of the real ground truth (skipped when ../shared/data is absent) and the training simulations."""

import numpy as np
import pytest

from neuralscope.datasets.calcium import noise_level
from neuralscope.imaging.spikes.groundtruth import (
    add_noise_to_level,
    load_cascade_dataset,
    load_spikefinder,
    simulated_recordings,
)


def test_cascade_reader_counts_every_spike_in_frames(shared_data):
    from scipy.io import loadmat

    folder = shared_data / "calcium" / "cascade" / "Ground_truth" / "DS30-GCaMP8f-m-V1"
    traces = load_cascade_dataset(folder)
    assert len(traces) >= 4
    assert all(110 < tr.fs < 130 and tr.dff.shape == tr.spikes.shape for tr in traces)
    first = sorted(folder.glob("*.mat"))[0]
    segs = np.atleast_1d(loadmat(first, squeeze_me=True, struct_as_record=False)["CAttached"])
    t, ap = segs[0].fluo_time, np.atleast_1d(segs[0].events_AP) / 1e4
    inside = np.sum((ap >= t[0] - 0.5 / traces[0].fs) & (ap < t[-1] + 0.5 / traces[0].fs))
    assert traces[0].spikes.sum() == inside


def test_spikefinder_reader(shared_data):
    traces = load_spikefinder(shared_data / "calcium" / "spikefinder", 5)
    assert len(traces) == 9
    assert all(tr.fs == 100.0 and np.all(np.isfinite(tr.dff)) and tr.spikes.sum() > 10 for tr in traces)


def test_noise_is_raised_to_the_target_and_never_lowered():
    rec = simulated_recordings(1, duration=60, random_state=3)[0]
    rng = np.random.default_rng(0)
    before = noise_level(rec.dff, rec.fs)
    louder = add_noise_to_level(rec, before + 3.0, rng)
    assert noise_level(louder.dff, louder.fs) == pytest.approx(before + 3.0, rel=0.1)
    assert add_noise_to_level(rec, before / 2, rng) is rec
    np.testing.assert_array_equal(louder.spikes, rec.spikes)


def test_simulated_recordings_are_seeded_and_varied():
    a = simulated_recordings(6, duration=20, random_state=1)
    b = simulated_recordings(6, duration=20, random_state=1)
    assert [x.name for x in a] == [x.name for x in b]
    np.testing.assert_array_equal(a[0].dff, b[0].dff)
    assert len({round(x.fs) for x in a}) > 3
