"""Binned correlation, event matching, cost measure and integral-conserving resampling."""

import numpy as np
import pytest

from neuralscope.imaging.spikes import (
    bin_frames,
    cpu_seconds_per_neuron_minute,
    event_precision_recall,
    spike_correlation,
)
from neuralscope.imaging.spikes.resample import resample_counts, resample_trace


def test_spikefinder_bins_are_four_frames_at_100hz():
    x = np.arange(10.0)
    np.testing.assert_array_equal(bin_frames(x, 100.0), [0 + 1 + 2 + 3, 4 + 5 + 6 + 7])
    np.testing.assert_array_equal(bin_frames(x, 10.0), x)  # frames longer than 40 ms: one per bin


def test_correlation_is_invariant_to_scale_and_sees_binning():
    rng = np.random.default_rng(0)
    truth = rng.poisson(0.1, size=(3, 4000)).astype(float)
    assert np.allclose(spike_correlation(5 * truth + 1, truth, 100.0), 1.0)
    shifted = np.roll(truth, 1, axis=1)  # one frame late: perfect at 40 ms bins only partly
    r_fine = spike_correlation(shifted, truth, 100.0, bin_width=0.01)
    r_binned = spike_correlation(shifted, truth, 100.0)
    assert np.all(r_fine < 0.1) and np.all(r_binned > 0.6)
    assert np.isnan(spike_correlation(np.zeros(100), truth[0, :100], 100.0))


def test_event_precision_recall_with_tolerance():
    truth = np.zeros(1000)
    truth[[100, 300, 500, 700]] = 1
    inferred = np.zeros(1000)
    inferred[[103, 298, 650]] = 1.0  # two within 50 ms at 100 Hz, one false, two missed
    res = event_precision_recall(inferred, truth, 100.0, tolerance=0.05, threshold=0.5)
    assert res["precision"] == pytest.approx(2 / 3)
    assert res["recall"] == pytest.approx(0.5)
    assert res["n_true"] == 4 and res["n_inferred"] == 3


def test_cpu_seconds_scale_with_data():
    cost = cpu_seconds_per_neuron_minute(lambda x, fs: np.sort(x, axis=1), np.zeros((10, 6000)), 100.0)
    assert 0 <= cost < 0.1


@pytest.mark.parametrize("fs_in,fs_out", [(100.0, 25.0), (11.6, 25.0), (60.0, 25.0), (25.0, 25.0)])
def test_resampling_keeps_counts_and_means(fs_in, fs_out):
    rng = np.random.default_rng(1)
    n = 2000
    counts = rng.poisson(0.2, n).astype(float)
    n_out = int(n * fs_out / fs_in)
    moved = resample_counts(counts, fs_in, fs_out, n_out)
    covered = n_out / fs_out * fs_in  # input frames covered by the output
    assert moved.sum() == pytest.approx(counts[: int(covered)].sum(), abs=1.0)
    back = resample_counts(moved, fs_out, fs_in, n)
    assert back.sum() == pytest.approx(moved.sum())
    x = np.sin((np.arange(n) + 0.5) / fs_in * 2 * np.pi * 0.3)  # sample i stands for [i, i + 1) / fs
    y = resample_trace(x, fs_in, fs_out)
    t = (np.arange(y.size) + 0.5) / fs_out
    # Upsampling is piecewise constant: the error is at most slope x half an input frame.
    tol = 0.5 * 2 * np.pi * 0.3 / fs_in + 0.01
    np.testing.assert_allclose(y, np.sin(2 * np.pi * 0.3 * t), atol=tol)


def test_a_burst_is_one_event():
    truth = np.zeros(1000)
    truth[[100, 101, 103]] = 1  # three spikes within 40 ms
    inferred = np.zeros(1000)
    inferred[101] = 3.0
    res = event_precision_recall(inferred, truth, 100.0, tolerance=0.05)
    assert res["n_true"] == 1 and res["precision"] == 1.0 and res["recall"] == 1.0
