"""Network simulation: exact agreement with a plain dense reference, Poisson input, batching, seeds,
silencing and scaling."""

from collections import deque

import numpy as np
import pytest
import torch

from neuralscope.circuits import Experiment, LIFNetwork, get_preset
from neuralscope.circuits.synthetic import cuba_connectome, synthetic_connectome
from neuralscope.core.connectome import Connectome
from neuralscope.core.errors import NeuralscopeError


def _reference(conn, p, v0, current, n_steps):
    """A deliberately plain dense simulator of the same scheme (numpy, float64), for comparison."""
    n = conn.n_neurons
    w_inh = p.w_syn if p.w_syn_inh is None else p.w_syn_inh
    W = np.zeros((2, n, n))  # channel, pre, post
    two = p.tau_syn_inh is not None
    for i, j, c, s in zip(conn.pre, conn.post, conn.count, conn.sign):
        W[1 if (two and s < 0) else 0, i, j] += c * (p.w_syn if s > 0 else -w_inh)
    a = np.exp(-p.dt / p.tau_m)
    taus = [p.tau_syn, p.tau_syn_inh if two else p.tau_syn]
    d = [np.exp(-p.dt / t) for t in taus]
    b = [t / (t - p.tau_m) * (dd - a) for t, dd in zip(taus, d)]
    u, g = v0 - p.v_rest, np.zeros((2, n))
    theta, u_r = p.v_threshold - p.v_rest, p.v_reset - p.v_rest
    release = np.full(n, -1)
    D, R = p.delay_steps, p.refractory_steps
    ring = deque([np.zeros(n, bool)] * D)
    out = []
    for s in range(n_steps):
        frozen = release > s
        u_new = a * u + b[0] * g[0] + b[1] * g[1] + (1 - a) * current
        g_new = np.stack([d[0] * g[0], d[1] * g[1]])
        u = np.where(frozen, u, u_new)
        g = np.where(frozen, g, g_new) if p.freeze_synapses_when_refractory else g_new
        spk = (u > theta) & ~frozen
        out += [(s, i) for i in np.flatnonzero(spk)]
        ring.append(spk)
        old = ring.popleft()
        # input to a frozen variable during refractoriness is discarded (Brian2's "unless refractory")
        g += np.einsum("i,cij->cj", old.astype(float), W) * (~frozen if p.freeze_synapses_when_refractory else 1)
        u[spk] = u_r
        if p.reset_synapses:
            g[:, spk] = 0
        release[spk] = s + R
    return out


def _as_pairs(res):
    order = np.lexsort((res.neurons, res.steps))
    return list(zip(res.steps[order].tolist(), res.neurons[order].tolist()))


def test_cuba_network_matches_dense_reference_exactly():
    p = get_preset("cuba")
    conn = cuba_connectome(200, 0.1, random_state=1)
    v0 = np.random.default_rng(2).uniform(p.v_reset, p.v_threshold, conn.n_neurons)
    res = LIFNetwork(conn, p, device="cpu", dtype="float64").run(duration=0.15, v_init=v0)
    ref = _reference(conn, p, v0, 0.0, res_steps := 1500)
    assert res_steps == round(0.15 / p.dt)
    assert len(ref) > 200  # the network is active
    assert _as_pairs(res) == ref


def test_fly_scheme_with_delay_and_pruning_matches_dense_reference():
    # single synaptic channel, frozen synapses and synaptic reset, a 3-step delay; current pulses stop and
    # restart so that the active set both grows and is pruned (rest tolerance) along the way
    p = get_preset("flywire-lif").replace(delay=0.3e-3)
    rng = np.random.default_rng(3)
    n = 120
    pre, post = rng.integers(0, n, 900), rng.integers(0, n, 900)
    conn = Connectome.from_indices(pre, post, rng.integers(10, 80, 900).astype(float),
                                   np.where(rng.random(900) < 0.25, -1, 1), n_neurons=n)
    driven = [0, 1, 2, 3, 4, 5]
    amps = np.zeros(n)
    amps[driven] = 40.0
    exp = Experiment().inject(driven, 40.0, stop=0.03).inject(driven, 40.0, start=0.4, stop=0.45)
    net = LIFNetwork(conn, p, device="cpu", dtype="float64")
    res = net.run(exp, duration=0.5, active_set=True)
    assert res.max_active < n

    # the reference gets the same schedule by running the two pulses as piecewise-constant currents
    def current_at(s):
        t = s * p.dt
        return amps if (t < 0.03 or 0.4 <= t < 0.45) else np.zeros(n)

    ref = _reference_with_schedule(conn, p, current_at, 5000)
    assert len(ref) > 100 and len({i for _, i in ref} - set(driven)) > 10  # recurrent spikes too
    assert _as_pairs(res) == ref
    assert _as_pairs(net.run(exp, duration=0.5, active_set=False)) == ref


def _reference_with_schedule(conn, p, current_at, n_steps):
    """The plain reference for the single-channel fly scheme with a time-varying current."""
    out = []
    n = conn.n_neurons
    W = np.zeros((n, n))
    for i, j, c, s in zip(conn.pre, conn.post, conn.count, conn.sign):
        W[i, j] += c * p.w_syn * s
    a, d = np.exp(-p.dt / p.tau_m), np.exp(-p.dt / p.tau_syn)
    b = p.tau_syn / (p.tau_syn - p.tau_m) * (d - a)
    u, g = np.zeros(n), np.zeros(n)
    release = np.full(n, -1)
    ring = deque([np.zeros(n, bool)] * p.delay_steps)
    theta = p.v_threshold - p.v_rest
    for s in range(n_steps):
        frozen = release > s
        u = np.where(frozen, u, a * u + b * g + (1 - a) * current_at(s))
        g = np.where(frozen, g, d * g)
        spk = (u > theta) & ~frozen
        out += [(s, i) for i in np.flatnonzero(spk)]
        ring.append(spk)
        g = g + (ring.popleft().astype(float) @ W) * ~frozen
        u[spk], g[spk] = 0.0, 0.0
        release[spk] = s + p.refractory_steps
    return out


def test_poisson_driven_neuron_follows_its_input():
    # weight 68.75 mV: every input spike fires the neuron in the next step (refractory 0), except one
    # arriving in the very step the neuron spikes (reset wins), so the rate is r (1 - r dt)
    conn = Connectome.from_indices(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0), n_neurons=3)
    p = get_preset("flywire-lif")
    res = LIFNetwork(conn, p, device="cpu").run(Experiment().activate([0, 1], 200.0), duration=1.0, n_trials=20)
    rate = res.trial_rates([0, 1]).mean()
    expected = 200.0 * (1 - 200.0 * p.dt)
    assert abs(rate - expected) < 0.04 * expected  # sd of the mean ~ 1.1 %
    assert res.trial_rates([2]).sum() == 0


def _chain():
    return Connectome.from_indices(np.array([0, 1]), np.array([1, 2]), np.array([120.0, 120.0]), n_neurons=3)


def test_batched_trials_are_independent_and_reproducible():
    net = LIFNetwork(_chain(), "flywire-lif", device="cpu")
    exp = Experiment().activate([0], 150.0)
    big = net.run(exp, duration=0.3, n_trials=5, seed=7)
    small = net.run(exp, duration=0.3, n_trials=3, seed=7)
    alone = net.run(exp, duration=0.3, n_trials=1, seed=7)
    sp_big, sp_small, sp_alone = big.spikes(), small.spikes(), alone.spikes()
    for k in range(3):
        np.testing.assert_array_equal(sp_big[sp_big.trial == k].to_numpy(), sp_small[sp_small.trial == k].to_numpy())
    np.testing.assert_array_equal(sp_big[sp_big.trial == 0].to_numpy(), sp_alone.to_numpy())
    # different trials see different inputs
    assert not np.array_equal(big.counts()[0], big.counts()[1]) or not np.array_equal(
        sp_big[sp_big.trial == 0].t.to_numpy(), sp_big[sp_big.trial == 1].t.to_numpy())
    again = net.run(exp, duration=0.3, n_trials=5, seed=7)
    np.testing.assert_array_equal(again.spikes().to_numpy(), sp_big.to_numpy())
    other = net.run(exp, duration=0.3, n_trials=5, seed=8)
    assert not np.array_equal(other.counts(), big.counts())


def test_silencing_removes_downstream_drive_but_not_the_spikes():
    net = LIFNetwork(_chain(), "flywire-lif", device="cpu")
    exp = Experiment().activate([0], 150.0)
    ctrl = net.run(exp, duration=0.5, n_trials=4)
    sil = net.run(exp.silence([1]), duration=0.5, n_trials=4)
    assert ctrl.trial_rates([1]).mean() > 20 and ctrl.trial_rates([2]).mean() > 5
    assert sil.trial_rates([1]).mean() == pytest.approx(ctrl.trial_rates([1]).mean())  # neuron 1 still spikes
    assert sil.trial_rates([2]).sum() == 0
    diff = sil.compare(ctrl, [2])
    assert diff["difference_hz"].iloc[0] < 0 and diff["ci_high"].iloc[0] < 0


def test_scaling_a_connection_class():
    conn = Connectome.from_indices(np.array([0, 1]), np.array([2, 2]), np.array([60.0, 60.0]),
                                   np.array([1, -1]), n_neurons=3)
    net = LIFNetwork(conn, "flywire-lif", device="cpu")
    exp = Experiment().activate([0, 1], 150.0)
    base = net.run(exp, duration=0.5, n_trials=4).trial_rates([2]).mean()
    no_inh = net.run(exp.scale(0.0, kind="inhibitory"), duration=0.5, n_trials=4).trial_rates([2]).mean()
    no_exc = net.run(exp.scale(0.0, pre=[0], post=[2]), duration=0.5, n_trials=4).trial_rates([2]).mean()
    doubled = net.run(exp, duration=0.5, n_trials=4, weight_scale=2.0).trial_rates([2]).mean()
    assert no_inh > base > no_exc == 0
    assert doubled > base


def test_active_set_equals_full_stepping_on_a_larger_graph():
    conn = synthetic_connectome(3000, 60_000, random_state=0)
    deg = np.bincount(conn.pre, minlength=conn.n_neurons)
    drive = np.flatnonzero(deg > 40)[:10]
    exp = Experiment().activate(drive, 200.0)
    net = LIFNetwork(conn, "flywire-lif", device="cpu", dtype="float64")
    act = net.run(exp, duration=0.1, n_trials=3, seed=1, active_set=True)
    full = net.run(exp, duration=0.1, n_trials=3, seed=1, active_set=False)
    assert act.n_spikes > 100
    assert act.max_active < conn.n_neurons
    np.testing.assert_array_equal(act.spikes().to_numpy(), full.spikes().to_numpy())


def test_bad_run_arguments():
    net = LIFNetwork(_chain(), "flywire-lif", device="cpu")
    with pytest.raises(NeuralscopeError, match="duration"):
        net.run(duration=0.0)
    with pytest.raises(NeuralscopeError, match="duration"):
        net.run(duration=-1.0)
    with pytest.raises(NeuralscopeError, match="n_trials"):
        net.run(n_trials=0)
    with pytest.raises(NeuralscopeError, match="activate"):
        net.run(Experiment().activate([99], 100.0))
    with pytest.raises(NeuralscopeError, match="rate"):
        net.run(Experiment().activate([0], 20_000.0))
    with pytest.raises(NeuralscopeError, match="v_init"):
        net.run(v_init=np.zeros(5))
    with pytest.raises(NeuralscopeError, match="dt"):
        get_preset("flywire-lif").replace(dt=3e-3)
    with pytest.raises(NeuralscopeError, match="preset"):
        LIFNetwork(_chain(), "no-such-preset")


def test_input_events_are_the_ones_the_run_uses():
    conn = Connectome.from_indices(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0), n_neurons=2)
    net = LIFNetwork(conn, "flywire-lif", device="cpu")
    exp = Experiment().activate([0, 1], 100.0, start=0.1)
    ev = net.input_events(exp, duration=0.5, n_trials=3, seed=4)
    res = net.run(exp, duration=0.5, n_trials=3, seed=4)
    assert ev.t.min() >= 0.1 and set(ev.trial) == {0, 1, 2}
    events = set(zip(ev.trial, ev.step + 1, ev.neuron))  # each input spike fires its neuron one step later
    spikes = set(zip(res.trials.tolist(), res.steps.tolist(), res.neurons.tolist()))
    assert spikes <= events and len(spikes) >= 0.95 * len(events)


def test_torch_threshold_path_used_on_gpus_gives_the_same_spikes(monkeypatch):
    # On CUDA the threshold crossing is found with torch.nonzero instead of numpy: check that path on CPU.
    from neuralscope.circuits import _loop

    conn = synthetic_connectome(3000, 60_000, random_state=2)
    drive = np.flatnonzero(np.bincount(conn.pre, minlength=conn.n_neurons) > 40)[:10]
    exp = Experiment().activate(drive, 200.0).silence(drive[:2])
    net = LIFNetwork(conn, "flywire-lif", device="cpu")
    ref = net.run(exp, duration=0.05, n_trials=2, active_set=True)
    monkeypatch.setattr(_loop.Simulation, "_above_threshold",
                        lambda self: torch.nonzero(self.uf > self.theta).squeeze(1))
    again = net.run(exp, duration=0.05, n_trials=2, active_set=True)
    assert ref.n_spikes > 50
    np.testing.assert_array_equal(ref.spikes().to_numpy(), again.spikes().to_numpy())
