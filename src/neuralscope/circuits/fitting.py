"""Fit the global synaptic scale of a network to a target firing rate."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neuralscope.circuits.engine import LIFNetwork
from neuralscope.circuits.experiment import Experiment
from neuralscope.circuits.params import LIFParameters
from neuralscope.core.errors import NeuralscopeError


@dataclass
class ScaleFit:
    """Result of :func:`fit_synaptic_scale`.

    Attributes
    ----------
    scale : float
        Fitted factor on every chemical synaptic weight.
    rate_hz : float
        Mean rate of the target neurons at ``scale``.
    target_hz : float
        The rate asked for.
    converged : bool
        Whether ``|rate - target| <= rtol * target`` was reached.
    params : LIFParameters
        The network's parameters with ``w_syn`` (and ``w_syn_inh``) multiplied by ``scale``.
    history : list of (scale, rate)
        Every evaluation, in order.
    """

    scale: float
    rate_hz: float
    target_hz: float
    converged: bool
    params: LIFParameters
    history: list[tuple[float, float]] = field(default_factory=list)


def fit_synaptic_scale(network: LIFNetwork, experiment: Experiment, target_rate: float, *, neurons: Any = None,
                       bounds: tuple[float, float] = (0.05, 20.0), duration: float = 0.5, n_trials: int = 4,
                       seed: int = 0, rtol: float = 0.05, max_iter: int = 25,
                       progress: Callable[[str], None] | None = None) -> ScaleFit:
    """Find the global synaptic scale at which ``neurons`` fire at ``target_rate`` on average.

    Bisection on log(scale) between ``bounds``: it needs the mean rate to be
    below the target at the lower bound and above it at the upper one, and
    then converges to a crossing even where the rate jumps (recurrent
    excitation often switches on abruptly). Every evaluation reuses the same
    seed (common random numbers), so the rate is a deterministic function of
    the scale.

    Parameters
    ----------
    network : LIFNetwork
        The network (built once; only the weight scale changes between runs).
    experiment : Experiment
        Inputs and perturbations during the fit.
    target_rate : float
        Target mean rate (Hz) of ``neurons``.
    neurons : sequence of ids, optional
        Neurons whose mean rate is fitted (default: every neuron not driven by the experiment).
    bounds : (float, float)
        Search interval for the scale.
    duration, n_trials, seed : float, int, int
        Simulation per evaluation.
    rtol : float
        Relative tolerance on the rate.
    max_iter : int
        Maximum number of bisection steps.
    """
    if not (math.isfinite(target_rate) and target_rate > 0):
        raise NeuralscopeError("target_rate", "a positive rate in Hz", target_rate)
    lo, hi = (float(b) for b in bounds)
    if not (0 <= lo < hi and math.isfinite(hi)):
        raise NeuralscopeError("bounds", "0 <= low < high", bounds)
    c = network.connectome
    if neurons is None:
        driven = set(c.index(list(experiment.driven_ids()), "experiment").tolist()) if experiment.driven_ids() else set()
        neurons = c.neuron_ids[[i for i in range(c.n_neurons) if i not in driven]]
    history: list[tuple[float, float]] = []

    def rate(scale: float) -> float:
        res = network.run(experiment, duration=duration, n_trials=n_trials, seed=seed, weight_scale=scale)
        r = float(res.trial_rates(neurons).mean())
        history.append((scale, r))
        if progress is not None:
            progress(f"scale {scale:.4g}: {r:.3g} Hz (target {target_rate:g} Hz)")
        return r

    r_lo, r_hi = rate(lo), rate(hi)
    if not r_lo <= target_rate <= r_hi:
        raise NeuralscopeError("bounds", f"an interval whose rates bracket {target_rate:g} Hz",
                               f"{bounds}: {r_lo:.3g} Hz to {r_hi:.3g} Hz")
    best = min(history, key=lambda h: abs(h[1] - target_rate))
    for _ in range(max_iter):
        if abs(best[1] - target_rate) <= rtol * target_rate:
            break
        mid = math.sqrt(lo * hi) if lo > 0 else hi / 2
        r_mid = rate(mid)
        if r_mid < target_rate:
            lo = mid
        else:
            hi = mid
        if abs(r_mid - target_rate) < abs(best[1] - target_rate):
            best = (mid, r_mid)
        if hi / max(lo, 1e-300) < 1 + 1e-4:
            break
    scale, r = best
    p = network.params
    params = p.replace(w_syn=p.w_syn * scale, w_syn_inh=None if p.w_syn_inh is None else p.w_syn_inh * scale)
    return ScaleFit(scale=float(scale), rate_hz=float(r), target_hz=float(target_rate),
                    converged=bool(abs(r - target_rate) <= rtol * target_rate), params=params,
                    history=[(float(a), float(b)) for a, b in history])

