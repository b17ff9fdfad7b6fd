"""Calcium-trace simulator: kinetics, noise level, spikes and seeds."""

import numpy as np
import pytest

from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets.calcium import (
    INDICATORS,
    noise_level,
    simulate_calcium_traces,
    simulate_spike_train,
    spikes_to_calcium,
)


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_single_spike_peak_and_decay_match_the_table(name):
    ind = INDICATORS[name]
    fs = 1000.0
    s = np.zeros(int(8 * ind.tau_decay * fs) + 200)
    s[100] = 1
    c = spikes_to_calcium(s, fs, name)
    assert c.max() == pytest.approx(ind.amplitude, rel=1e-6)
    peak = int(np.argmax(c))
    assert 100 <= peak < 100 + int(5 * max(ind.tau_rise, 0.002) * fs) + 5
    # Well after the peak the transient decays with tau_decay (the rise term has vanished).
    t1, t2 = peak + int(2 * ind.tau_decay * fs), peak + int(3 * ind.tau_decay * fs)
    ratio = c[t2] / c[t1]
    lin = ratio ** (1.0 / ind.hill)  # undo the power of the small-signal nonlinearity
    assert lin == pytest.approx(np.exp(-(t2 - t1) / fs / ind.tau_decay), rel=0.05)


def test_saturation_makes_bursts_sublinear():
    s1, s10 = np.zeros(500), np.zeros(500)
    s1[50], s10[50] = 1, 10
    ratio = spikes_to_calcium(s10, 100, "GCaMP6s").max() / spikes_to_calcium(s1, 100, "GCaMP6s").max()
    lin = spikes_to_calcium(s10, 100, "GCaMP6s", nonlinear=False).max() / spikes_to_calcium(
        s1, 100, "GCaMP6s", nonlinear=False).max()
    assert lin == pytest.approx(10.0)
    assert ratio != pytest.approx(10.0, rel=0.05)


@pytest.mark.parametrize("fs,nu", [(30.0, 2.0), (100.0, 5.0), (10.0, 1.0)])
def test_requested_noise_level_is_measured_back(fs, nu):
    sim = simulate_calcium_traces(n_neurons=20, duration=120, fs=fs, noise_level=nu, rate=0.2, random_state=3)
    measured = np.median(noise_level(sim.dff - sim.calcium, fs))
    assert measured == pytest.approx(nu, rel=0.08)


def test_spike_counts_rates_and_shapes():
    sim = simulate_calcium_traces(n_neurons=30, duration=100, fs=20, rate=2.0, firing="poisson", random_state=0)
    assert sim.dff.shape == sim.spikes.shape == sim.calcium.shape == (30, 2000)
    assert sim.spikes.sum() / (30 * 100) == pytest.approx(2.0, rel=0.1)
    assert all(len(t) == n for t, n in zip(sim.spike_times, sim.spikes.sum(axis=1)))


def test_bursts_have_short_intervals():
    _, times = simulate_spike_train(1, 400, 1000, rate=2.0, firing="bursts", burst_fraction=0.6, random_state=1)
    isi = np.diff(times[0])
    _, ptimes = simulate_spike_train(1, 400, 1000, rate=2.0, firing="poisson", random_state=1)
    assert np.mean(isi < 0.02) > 2 * np.mean(np.diff(ptimes[0]) < 0.02) + 0.1


def test_same_seed_same_traces():
    a = simulate_calcium_traces(n_neurons=3, duration=10, firing="modulated", random_state=7)
    b = simulate_calcium_traces(n_neurons=3, duration=10, firing="modulated", random_state=7)
    c = simulate_calcium_traces(n_neurons=3, duration=10, firing="modulated", random_state=8)
    np.testing.assert_array_equal(a.dff, b.dff)
    assert not np.array_equal(a.dff, c.dff)


@pytest.mark.parametrize("kwargs", [{"fs": 0}, {"indicator": "GFP"}, {"noise_level": -1}, {"firing": "regular"},
                                    {"n_neurons": 0}])
def test_bad_parameters_raise(kwargs):
    with pytest.raises(NeuralscopeError):
        simulate_calcium_traces(**kwargs)
