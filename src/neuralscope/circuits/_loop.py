"""The step loop of one simulation run (internal; see :class:`LIFNetwork.run`).

State lives in row-per-neuron buffers (rows = active neurons, columns =
trials). A neuron joins the active set when it is driven or the moment a spike
is sent to it (its input arrives ``delay`` steps later); rows are appended, so
slots never move except in the occasional pruning of neurons back at rest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from neuralscope.circuits.params import timestep
from neuralscope.core.errors import NeuralscopeError

_PRUNE_EVERY = 500  # steps between removals of neurons back at rest (removal is rare and O(active))
_DENSE_MAX_NEURONS = 4096  # up to this size, dense weight matrices (<= 2 x 64 MB in float32) beat the CSR


def bernoulli_events(rng: np.random.Generator, n_units: int, n_steps: int, prob: float):
    """Steps and unit indices of a Bernoulli(prob)-per-step process for each unit.

    Drawn as geometric inter-event gaps, so the cost is O(events), not O(steps).
    """
    if prob >= 1:
        return np.tile(np.arange(n_steps), n_units), np.repeat(np.arange(n_units), n_steps)
    mean = prob * n_steps
    k = int(mean + 6 * math.sqrt(mean) + 10)
    pos = np.cumsum(rng.geometric(prob, size=(n_units, k)), axis=1) - 1
    while (pos[:, -1] < n_steps).any():  # rare: extend every row until it passes the end
        more = rng.geometric(prob, size=(n_units, k))
        pos = np.concatenate([pos, pos[:, -1:] + np.cumsum(more, axis=1)], axis=1)
    unit, col = np.nonzero(pos < n_steps)
    return pos[unit, col], unit


def trial_streams(seed: int, n_trials: int, purpose: int = 0) -> list[np.random.Generator]:
    """One random stream per trial and purpose (0: inputs, 1: initial state).

    Trial k's numbers depend only on (seed, k, purpose), not on the batch size.
    """
    return [np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k, purpose))) for k in range(n_trials)]


def draw_poisson(acts, n_steps: int, dt: float, streams):
    """Every Poisson input event of a run: (step, neuron index, trial, weight), sorted by step.

    Each activation gives each of its neurons a Bernoulli(rate dt) event per step within its
    window, like Brian2's ``PoissonInput`` with N=1.
    """
    steps, neus, trials, wts = [], [], [], []
    for k, rng in enumerate(streams):
        for idx, rate, start, stop, weight in acts:
            s0 = timestep(start, dt)
            s1 = n_steps if stop is None else min(n_steps, timestep(stop, dt))
            if s1 <= s0 or rate <= 0:
                continue
            st, nu = bernoulli_events(rng, len(idx), s1 - s0, rate * dt)
            steps.append(st + s0), neus.append(idx[nu]), trials.append(np.full(len(st), k))
            wts.append(np.full(len(st), float(weight)))
    if not steps:
        z = np.zeros(0, np.int64)
        return z, z, z, np.zeros(0)
    st = np.concatenate(steps)
    order = np.argsort(st, kind="stable")
    return (st[order].astype(np.int64), np.concatenate(neus)[order].astype(np.int64),
            np.concatenate(trials)[order].astype(np.int64), np.concatenate(wts)[order])


class Simulation:
    """One run: inputs drawn, state allocated, then :meth:`loop`."""

    def __init__(self, net: Any, experiment: Any, duration: float, n_trials: int, seed: int,
                 weight_scale: float, v_init: Any, active_set: str | bool, tol: float, progress):
        p, c = net.params, net.connectome
        self.net, self.p, self.B, self.progress = net, p, n_trials, progress
        self.dev, self.dtype = net.device, net.dtype
        self.N = c.n_neurons
        self.n_steps = timestep(duration, p.dt)
        if self.n_steps < 1:
            raise NeuralscopeError("duration", f"at least one time step ({p.dt} s)", duration)
        acts, currents, silenced, factor = net._resolve(experiment)
        self.D, self.tol, self.scale, self.C = p.delay_steps, tol, weight_scale, net._n_channels
        streams = trial_streams(seed, n_trials)
        u0 = self._initial(v_init, trial_streams(seed, n_trials, purpose=1))
        self.gap = net._gap_matrix(silenced, factor) if net._el.size else None
        self.weight = net._weight
        if factor is not None:
            self.weight = net._weight * torch.from_numpy(factor[net._chem_order]).to(self.dev, self.dtype)
        self.silenced = torch.from_numpy(silenced).to(self.dev) if silenced.any() else None
        r_of = np.full(self.N, p.refractory_steps, np.int64)  # driven neurons may have their own
        if p.input_refractory is not None:
            for idx, *_ in acts:
                r_of[idx] = timestep(p.input_refractory, p.dt)
        self.r_of = torch.from_numpy(r_of).to(self.dev)
        # one refractory length > 1 for every neuron: no per-spike lookup needed
        self.r_uniform = int(r_of[0]) if (r_of.size and r_of[0] > 1 and np.all(r_of == r_of[0])) else None
        self._poisson(acts, streams)
        self._currents(currents)
        driven = [a[0] for a in acts] + [k[0] for k in currents]
        self.always = torch.from_numpy(np.unique(np.concatenate(driven)) if driven else np.zeros(0, np.int64)).to(self.dev)
        if active_set not in ("auto", True, False):
            raise NeuralscopeError("active_set", "'auto', True or False", active_set)
        if active_set is True and self.gap is not None:
            raise NeuralscopeError("active_set", "a network without gap junctions (they couple every neuron)", "gap junctions")
        small = self.N <= _DENSE_MAX_NEURONS
        self.active = active_set is True or (active_set == "auto" and self.gap is None and not small)
        # Small networks propagate spikes through a dense weight matrix (two tensor ops per step);
        # large ones gather the out-edges of the spiking neurons from the CSR.
        self.W = self._dense_weights(silenced) if (small and not self.active) else None
        self.slot_of = torch.full((self.N,), -1, dtype=torch.int64, device=self.dev)
        start = self.always if (self.active and u0 is None) else torch.arange(self.N, device=self.dev)
        self._allocate(start, u0)
        a = math.exp(-p.dt / p.tau_m)
        taus = [p.tau_syn] + ([p.tau_syn_inh] if self.C == 2 else [])
        self.a, self.c_in = a, 1.0 - a
        self.decay = [math.exp(-p.dt / t) for t in taus]
        # exact propagator of tau_m du/dt = -u + g, dg/dt = -g/tau_s over one step
        self.b = [(t / (t - p.tau_m)) * (d - a) if abs(t - p.tau_m) > 1e-12 else (p.dt / p.tau_m) * a
                  for t, d in zip(taus, self.decay)]
        self.theta = p.v_threshold - p.v_rest
        self.u_reset = p.v_reset - p.v_rest

    # ------------------------------------------------------------------ set-up
    def _dense_weights(self, silenced: np.ndarray) -> list[torch.Tensor]:
        """Per channel, the (pre, post) weight matrix (silenced rows zero)."""
        net, N = self.net, self.N
        pre = torch.from_numpy(net.connectome.pre[net._chem_order].astype(np.int64)).to(self.dev)
        mats = []
        for ch in range(self.C):
            sel = slice(None) if self.C == 1 else (net._channel_id == ch)
            W = torch.zeros(N, N, dtype=self.dtype, device=self.dev)
            W.index_put_((pre[sel], net._post[sel]), self.weight[sel], accumulate=True)
            if self.silenced is not None:
                W[self.silenced] = 0
            mats.append(W)
        return mats

    def _initial(self, v_init: Any, streams) -> torch.Tensor | None:
        p, N, B = self.p, self.N, self.B
        if isinstance(v_init, str):
            if v_init == "rest":
                return None
            if v_init == "uniform":
                vals = np.stack([p.v_reset - p.v_rest + r.random(N) * (p.v_threshold - p.v_reset) for r in streams], 1)
                return torch.from_numpy(vals).to(self.dev, self.dtype)
            raise NeuralscopeError("v_init", "'rest', 'uniform' or an array of potentials (mV)", v_init)
        arr = np.asarray(v_init, dtype=np.float64)
        if arr.shape == (N,):
            arr = np.repeat(arr[:, None], B, axis=1)
        if arr.shape != (N, B) or not np.all(np.isfinite(arr)):
            raise NeuralscopeError("v_init", f"finite potentials of shape ({N},) or ({N}, {B})", f"shape {arr.shape}")
        return torch.from_numpy(arr - p.v_rest).to(self.dev, self.dtype)

    def _poisson(self, acts, streams) -> None:
        st, neu, tri, wts = draw_poisson(acts, self.n_steps, self.p.dt, streams)
        self.ev_ptr = None
        if len(st):
            self.ev_n = torch.from_numpy(neu).to(self.dev)
            self.ev_t = torch.from_numpy(tri).to(self.dev)
            self.ev_w = torch.from_numpy(wts).to(self.dev, self.dtype)
            self.ev_ptr = np.searchsorted(st, np.arange(self.n_steps + 1)).tolist()

    def _currents(self, currents) -> None:
        changes: dict[int, list] = {}
        for idx, amp, start, stop in currents:
            changes.setdefault(timestep(start, self.p.dt), []).append((idx, amp))
            if stop is not None:
                changes.setdefault(timestep(stop, self.p.dt), []).append((idx, -amp))
        self.current_changes = changes
        self.I_full = torch.zeros(self.N, dtype=self.dtype, device=self.dev) if currents else None
        self.I_act = None

    # ------------------------------------------------------------ active set
    def _allocate(self, act: torch.Tensor, u0: torch.Tensor | None) -> None:
        self.A = int(act.numel())
        cap = max(self.A, 256) if self.active else self.A
        self.u_buf = torch.zeros(cap, self.B, dtype=self.dtype, device=self.dev)
        self.g_buf = torch.zeros(self.C, cap, self.B, dtype=self.dtype, device=self.dev)
        self.act_buf = torch.zeros(cap, dtype=torch.int64, device=self.dev)
        self.act_buf[:self.A] = act
        if u0 is not None:
            self.u_buf[:self.A] = u0[act]
        self.slot_of[act] = torch.arange(self.A, device=self.dev)
        self.max_active = self.A
        self._views()

    def _views(self) -> None:
        A, cap = self.A, self.u_buf.shape[0]
        self.act, self.u = self.act_buf[:A], self.u_buf[:A]
        self.uf = self.u.view(-1)
        self.gs = [self.g_buf[ch, :A] for ch in range(self.C)]
        self.g2 = self.g_buf.view(self.C, cap * self.B)  # columns: slot * B + trial (valid below A * B)
        self.g_all = self.g_buf.view(-1)  # channel * cap * B + slot * B + trial
        self.u_np = self.u.numpy() if self.dev.type == "cpu" else None
        if self.I_full is not None:
            self.I_act = self.I_full[self.act].unsqueeze(1)

    def _grow(self, new_ids: torch.Tensor) -> None:
        """Append neurons (at rest) to the active set; buffers double when full."""
        k, A = int(new_ids.numel()), self.A
        if A + k > self.u_buf.shape[0]:
            cap = max(2 * self.u_buf.shape[0], A + k)
            u = torch.zeros(cap, self.B, dtype=self.dtype, device=self.dev)
            u[:A] = self.u
            g = torch.zeros(self.C, cap, self.B, dtype=self.dtype, device=self.dev)
            g[:, :A] = self.g_buf[:, :A]
            act = torch.zeros(cap, dtype=torch.int64, device=self.dev)
            act[:A] = self.act
            self.u_buf, self.g_buf, self.act_buf = u, g, act
        self.act_buf[A:A + k] = new_ids
        self.slot_of[new_ids] = torch.arange(A, A + k, device=self.dev)
        self.A = A + k
        self.max_active = max(self.max_active, self.A)
        self._views()

    def _prune(self) -> None:
        """Drop neurons back at rest in every trial (unless driven, refractory or awaiting input)."""
        keep = (self.u.abs() > self.tol).any(1)
        for g in self.gs:
            keep |= (g.abs() > self.tol).any(1)
        flag = torch.zeros(self.N, dtype=torch.bool, device=self.dev)
        flag[self.always] = True
        ref_n = self.act[self.ref_flat // self.B]
        flag[ref_n] = True
        for pack in self.ring:
            if pack is not None:
                flag[pack[0]] = True
        keep |= flag[self.act]
        if bool(keep.all()):
            return
        idx = torch.nonzero(keep).squeeze(1)
        n = int(idx.numel())
        self.slot_of[self.act[~keep]] = -1
        rows_u, rows_g = self.u[idx], self.g_buf[:, :self.A][:, idx]
        self.u_buf[n:self.A] = 0
        self.g_buf[:, n:self.A] = 0
        self.u_buf[:n], self.g_buf[:, :n] = rows_u, rows_g
        self.act_buf[:n] = self.act[idx].clone()
        self.A = n
        self.slot_of[self.act_buf[:n]] = torch.arange(n, device=self.dev)
        self.ref_flat = self.slot_of[ref_n] * self.B + self.ref_flat % self.B
        self._views()

    # ------------------------------------------------------------ propagation
    def _expand(self, pre: torch.Tensor, trial: torch.Tensor):
        """What the spikes ``(pre, trial)`` will deliver: ``(post ids, trials, weights, channels)``.

        With dense weight matrices the spikes themselves are kept: ``(pre, trial)``.
        """
        if self.W is not None:
            return pre, trial
        net = self.net
        start = net._indptr[pre]
        cnt = net._degree[pre]
        total = int(cnt.sum())
        if total == 0:
            return None
        excl = torch.cumsum(cnt, 0) - cnt
        e = torch.repeat_interleave(start - excl, cnt, output_size=total) + torch.arange(total, device=self.dev)
        post = net._post[e]
        if self.active:
            new = post[self.slot_of[post] < 0]
            if new.numel():
                self._grow(torch.unique(new))
        chan = net._channel_id[e] if self.C == 2 else None
        return post, torch.repeat_interleave(trial, cnt, output_size=total), self.weight[e], chan

    def _deliver(self, pack) -> None:
        if self.W is not None:
            pre, tr = pack
            for g, W in zip(self.gs, self.W):
                g.t().index_add_(0, tr, W[pre], alpha=self.scale)
            return
        post, tr, w, chan = pack
        flat = self.slot_of[post] * self.B + tr
        if chan is not None:
            flat = flat + chan * self.g2.shape[1]
        self.g_all.index_add_(0, flat, w, alpha=self.scale)

    def _above_threshold(self) -> torch.Tensor:
        if self.u_np is not None:  # numpy's flatnonzero is ~10x faster than torch.nonzero on CPU
            return torch.from_numpy(np.flatnonzero(self.u_np > self.theta))
        return torch.nonzero(self.uf > self.theta).squeeze(1)

    # -------------------------------------------------------------- the loop
    def loop(self):
        B, D, C = self.B, self.D, self.C
        empty = torch.zeros(0, dtype=torch.int64, device=self.dev)
        self.ring: list = [None] * max(D, 1)
        # refractory elements (slot * B + trial) and the step at which each is released
        self.ref_flat, ref_rel = empty, empty
        rec_n, rec_t, rec_s = [], [], []
        freeze, reset_syn = self.p.freeze_synapses_when_refractory, self.p.reset_synapses
        report_every = max(1, self.n_steps // 10)
        for s in range(self.n_steps):
            if self.active and s and s % _PRUNE_EVERY == 0:
                self._prune()
            if s in self.current_changes:
                for idx, amp in self.current_changes[s]:
                    self.I_full[torch.from_numpy(idx).to(self.dev)] += amp
                self.I_act = self.I_full[self.act].unsqueeze(1)
            ref_flat = None
            if ref_rel.numel():
                keep = ref_rel > s
                if not bool(keep.all()):
                    self.ref_flat, ref_rel = self.ref_flat[keep], ref_rel[keep]
                if ref_rel.numel():  # refractory: snapshot now, restore after the update (state frozen)
                    ref_flat = self.ref_flat
                    u_snap = self.uf[ref_flat]
                    g_snap = self.g2[:, ref_flat] if freeze else None
            i_gap = self.gap @ self.u if self.gap is not None else None  # constant over the step, as in Brian2
            # exact update: u <- a u + sum_c b_c g_c + (1 - a) I ;  g_c <- d_c g_c
            self.u.mul_(self.a)
            for ch in range(C):
                self.u.add_(self.gs[ch], alpha=self.b[ch])
            if self.I_act is not None:
                self.u.add_(self.I_act, alpha=self.c_in)
            if i_gap is not None:
                self.u.add_(i_gap, alpha=self.c_in)
            for ch in range(C):
                self.gs[ch].mul_(self.decay[ch])
            if ref_flat is not None:
                self.uf[ref_flat] = u_snap
                if freeze:
                    self.g2[:, ref_flat] = g_snap
            cand = self._above_threshold().to(self.dev)  # refractory elements sit at the reset value
            pack = None
            spiking = cand.numel() > 0
            if spiking:
                nrn, tr = self.act[cand // B], cand % B
                rec_s.append(s), rec_n.append(nrn), rec_t.append(tr)
                out_n, out_t = nrn, tr
                if self.silenced is not None:
                    ok = ~self.silenced[nrn]
                    out_n, out_t = nrn[ok], tr[ok]
                if out_n.numel():
                    pack = self._expand(out_n, out_t)  # may grow the buffers (slots do not move)
            if D == 0:
                if pack is not None:
                    self._deliver(pack)
            else:
                pending = self.ring[s % D]
                self.ring[s % D] = pack
                if pending is not None:
                    self._deliver(pending)
            if self.ev_ptr is not None:
                i0, i1 = self.ev_ptr[s], self.ev_ptr[s + 1]
                if i1 > i0:
                    self.uf.index_add_(0, self.slot_of[self.ev_n[i0:i1]] * B + self.ev_t[i0:i1], self.ev_w[i0:i1])
            if ref_flat is not None:
                # Inputs to a frozen variable during refractoriness are discarded (Brian2 semantics
                # of "(unless refractory)"): restore the snapshot once more.
                self.uf[ref_flat] = u_snap
                if freeze:
                    self.g2[:, ref_flat] = g_snap
            if spiking:
                self.uf[cand] = self.u_reset
                if reset_syn:
                    self.g2[:, cand] = 0
                if self.r_uniform is not None:
                    self.ref_flat = torch.cat([self.ref_flat, cand])
                    ref_rel = torch.cat([ref_rel, torch.full_like(cand, s + self.r_uniform)])
                else:
                    r = self.r_of[nrn]
                    m = r > 1
                    self.ref_flat = torch.cat([self.ref_flat, cand[m]])
                    ref_rel = torch.cat([ref_rel, s + r[m]])
            if self.progress is not None and (s + 1) % report_every == 0:
                self.progress(f"simulated {(s + 1) * self.p.dt:.3g} s of {self.n_steps * self.p.dt:.3g} s "
                              f"({self.A} active neurons)")
        if rec_s:
            counts = np.array([len(x) for x in rec_n])
            steps = np.repeat(np.asarray(rec_s, np.int64), counts)
            return steps, torch.cat(rec_n).cpu().numpy(), torch.cat(rec_t).cpu().numpy()
        z = np.zeros(0, np.int64)
        return z, z, z
