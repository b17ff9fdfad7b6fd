"""Single-neuron and two-neuron checks of the LIF scheme against closed-form results."""

import math

import numpy as np
import pytest

from neuralscope.circuits import Experiment, LIFNetwork, get_preset
from neuralscope.circuits.params import lif_rate
from neuralscope.core.connectome import Connectome

FLY = get_preset("flywire-lif")


def _isolated(n):
    return Connectome.from_indices(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0), n_neurons=n)


def _pair(count=10_000.0, sign=1):
    return Connectome.from_indices(np.array([0]), np.array([1]), np.array([count]), np.array([sign]), n_neurons=2)


def test_time_to_threshold_under_constant_input_is_analytic():
    # From rest, u(t) = I (1 - exp(-t / tau_m)) crosses theta = 7 mV at t* = tau_m ln(I / (I - theta));
    # the spike is registered in the step during which the crossing happens (Brian2's convention).
    amps = [7.5, 10.0, 20.0]
    exp = Experiment()
    for i, a in enumerate(amps):
        exp = exp.inject([i], a)
    res = LIFNetwork(_isolated(3), FLY, device="cpu", dtype="float64").run(exp, duration=0.1)
    first = {int(n): res.steps[res.neurons == n].min() for n in range(3)}
    for i, a in enumerate(amps):
        t_star = FLY.tau_m * math.log(a / (a - 7.0))
        assert first[i] == math.floor(t_star / FLY.dt)


def test_interspike_interval_and_refractory_period():
    a = 10.0
    res = LIFNetwork(_isolated(1), FLY, device="cpu", dtype="float64").run(Experiment().inject([0], a), duration=0.3)
    isi = np.diff(res.steps)
    t_star_steps = math.floor(FLY.tau_m * math.log(a / (a - 7.0)) / FLY.dt) + 1
    # the refractory period freezes 22 - 1 steps after the spiking step
    assert np.all(isi == t_star_steps + FLY.refractory_steps - 1)
    # a huge input fires as fast as the refractory period allows: one spike per 2.2 ms exactly
    res = LIFNetwork(_isolated(1), FLY, device="cpu").run(Experiment().inject([0], 1e4), duration=0.1)
    assert np.all(np.diff(res.steps) == FLY.refractory_steps)


def test_fi_curve_matches_the_continuous_lif_rate():
    amps = np.array([6.9, 7.2, 8.0, 10.0, 15.0, 30.0])
    exp = Experiment()
    for i, a in enumerate(amps):
        exp = exp.inject([i], float(a))
    res = LIFNetwork(_isolated(len(amps)), FLY, device="cpu").run(exp, duration=1.0)
    sim = res.counts()[0] / 1.0
    assert sim[0] == 0  # below threshold: silent
    analytic = np.array([lif_rate(a, FLY) for a in amps])
    # dt = 0.1 ms shifts each interval by < 1 step (<= 0.1 ms of a >= 2.3 ms ISI) and the 1 s window
    # truncates at most one spike: |error| <= rate^2 dt + 1 Hz
    assert np.all(np.abs(sim - analytic) <= analytic ** 2 * FLY.dt + 1.0)
    exact = np.array([lif_rate(a, FLY, discrete=True) for a in amps])
    assert np.all(np.abs(sim - exact) <= 1.0)


def test_current_schedule_starts_and_stops():
    exp = Experiment().inject([0], 50.0, start=0.05, stop=0.1)  # ISI ~ 5.2 ms
    res = LIFNetwork(_isolated(1), FLY, device="cpu").run(exp, duration=0.2)
    assert res.n_spikes > 5
    assert res.times.min() >= 0.05 and res.times.max() < 0.1 + FLY.refractory


@pytest.mark.parametrize("delay", [0.0, 1.8e-3, 0.5e-3])
def test_synaptic_delay_in_steps(delay):
    params = FLY.replace(delay=delay)
    # a 2750 mV synapse makes neuron 1 spike in the first step after the input arrives
    res = LIFNetwork(_pair(), params, device="cpu").run(Experiment().inject([0], 20.0), duration=0.05)
    s0 = res.steps[res.neurons == 0]
    s1 = res.steps[res.neurons == 1]
    assert len(s0) >= 2 and len(s1) == len(s0)
    np.testing.assert_array_equal(s1, s0 + params.delay_steps + 1)


def test_postsynaptic_potential_is_the_exact_alpha_kernel():
    # One input spike of weight w gives u(t) = w k (exp(-t/tau_s) - exp(-t/tau_m)), k = tau_s / (tau_s - tau_m),
    # which peaks at t_p = ln(tau_m / tau_s) tau_m tau_s / (tau_m - tau_s). The smallest count that makes
    # neuron 1 fire must therefore put the peak just above 7 mV.
    tm, ts = FLY.tau_m, FLY.tau_syn
    t_peak = math.log(tm / ts) * tm * ts / (tm - ts)
    peak_per_mv = ts / (ts - tm) * (math.exp(-t_peak / ts) - math.exp(-t_peak / tm))
    w_needed = 7.0 / peak_per_mv
    exp = Experiment().inject([0], 1e4, stop=FLY.dt)  # exactly one presynaptic spike
    fired = {}
    for factor in (0.98, 1.02):
        count = factor * w_needed / FLY.w_syn
        res = LIFNetwork(_pair(count), FLY, device="cpu", dtype="float64").run(exp, duration=0.05)
        fired[factor] = int((res.neurons == 1).sum())
    assert fired == {0.98: 0, 1.02: 1}


def test_inhibitory_synapse_hyperpolarises():
    conn = Connectome.from_indices(np.array([0, 1]), np.array([2, 2]), np.array([200.0, 200.0]),
                                   np.array([1, -1]), n_neurons=3)
    exc_only = Experiment().inject([0], 20.0)
    both = exc_only.inject([1], 20.0)
    net = LIFNetwork(conn, FLY, device="cpu")
    n_exc = int((net.run(exc_only, duration=0.2).neurons == 2).sum())
    n_both = int((net.run(both, duration=0.2).neurons == 2).sum())
    assert n_exc > 10 and n_both < n_exc / 4


@pytest.mark.parametrize("second_input_ms, extra_spikes", [(0.5, 0), (3.0, 1)])
def test_input_during_refractoriness_is_discarded(second_input_ms, extra_spikes):
    # Neuron 2 fires at step 19 from neuron 0's input (sent at step 0, 18-step delay) and is refractory
    # until step 41. Neuron 1's equally strong input arrives at step 5 + 18 = 23 (discarded, as Brian2 does
    # for "(unless refractory)" variables) or at step 30 + 18 = 48 (fires neuron 2 at step 49).
    conn = Connectome.from_indices(np.array([0, 1]), np.array([2, 2]), np.array([10_000.0, 10_000.0]), n_neurons=3)
    exp = Experiment().inject([0], 1e4, stop=FLY.dt).inject([1], 1e4, start=second_input_ms * 1e-3,
                                                             stop=second_input_ms * 1e-3 + FLY.dt)
    res = LIFNetwork(conn, FLY, device="cpu").run(exp, duration=0.01)
    s2 = res.steps[res.neurons == 2].tolist()
    assert s2 == [19] + ([49] if extra_spikes else [])
