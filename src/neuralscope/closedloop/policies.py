"""Policies: from the per-frame state estimate to stimulation decisions.

A policy's ``step(state)`` returns a list of :class:`Decision`; the runner
sends each ``stimulate`` decision to the stimulator and logs every decision
with its timestamps.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

SIGNALS = ("dff", "calcium", "spikes", "F")


@dataclass
class Decision:
    """One decision of a policy (``kind``: ``stimulate``, ``observe`` or ``wait``)."""

    kind: str
    policy: str
    reason: str
    stimulus: dict | None = None
    value: float | None = None
    extra: dict = field(default_factory=dict)


def _signal(state, name: str) -> np.ndarray:
    return {"dff": state.dff, "calcium": state.calcium, "spikes": state.spikes, "F": state.F}[name]


def _check_rois(rois: Any) -> np.ndarray | None:
    if rois is None:
        return None
    arr = np.atleast_1d(np.asarray(rois))
    if arr.size == 0 or arr.dtype.kind not in "iu" or (arr < 0).any():
        raise NeuralscopeError("policy.rois", "a non-empty list of ROI indices >= 0", rois)
    return arr.astype(np.int64)


class Policy(abc.ABC):
    """Base class: ``reset`` before a run, ``step`` once per frame."""

    name = "policy"

    def reset(self, fs: float, n_rois: int, realtime: bool) -> None:
        self.fs, self.n_rois, self.realtime = float(fs), int(n_rois), bool(realtime)

    @abc.abstractmethod
    def step(self, state) -> list[Decision]:
        """The decisions (possibly none) for this frame's state."""

    def close(self) -> None:
        """Release background resources."""


class ThresholdTrigger(Policy):
    """Stimulate when a signal crosses a threshold (rising edge), then wait ``refractory_s``.

    Parameters
    ----------
    threshold : float
        Level of the (mean) signal that triggers.
    rois : list of int, optional
        ROIs watched (default: all).
    signal : {"dff", "calcium", "spikes", "F"}
        Which per-ROI estimate is compared.
    combine : {"mean", "any"}
        Trigger on the mean over ``rois`` or when any one crosses.
    refractory_s : float
        Dead time after a trigger.
    stimulus : dict, optional
        What the stimulator receives (default ``{"targets": rois}``).
    """

    name = "threshold"

    def __init__(self, threshold: float, rois: Any = None, signal: str = "dff", combine: str = "mean",
                 refractory_s: float = 1.0, stimulus: dict | None = None):
        if not math.isfinite(float(threshold)):
            raise NeuralscopeError("policy.threshold", "a finite number", threshold)
        if signal not in SIGNALS:
            raise NeuralscopeError("policy.signal", f"one of {SIGNALS}", signal)
        if combine not in ("mean", "any"):
            raise NeuralscopeError("policy.combine", "mean or any", combine)
        if not (float(refractory_s) >= 0):
            raise NeuralscopeError("policy.refractory_s", "a number >= 0", refractory_s)
        self.threshold, self.rois, self.signal = float(threshold), rois, signal
        self.combine, self.refractory_s, self.stimulus = combine, float(refractory_s), stimulus

    def reset(self, fs: float, n_rois: int, realtime: bool) -> None:
        super().reset(fs, n_rois, realtime)
        self.rois_ = _check_rois(self.rois)
        if self.rois_ is not None and self.rois_.max() >= n_rois:
            raise NeuralscopeError("policy.rois", f"indices < {n_rois}", self.rois_.tolist())
        self._above = True  # no trigger on the very first frame: need a rising edge
        self._blocked_until = -1
        self._refractory = int(round(self.refractory_s * self.fs))

    def step(self, state) -> list[Decision]:
        x = _signal(state, self.signal)
        x = x if self.rois_ is None else x[self.rois_]
        level = float(x.mean()) if self.combine == "mean" else float(x.max())
        above = level >= self.threshold
        rising = above and not self._above
        self._above = above
        if not state.warm or not rising or state.index < self._blocked_until:
            return []
        self._blocked_until = state.index + self._refractory
        stim = dict(self.stimulus) if self.stimulus is not None else {
            "targets": (self.rois_.tolist() if self.rois_ is not None else [])}
        return [Decision("stimulate", self.name, f"{self.combine} {self.signal} {level:.3g} >= {self.threshold:g}",
                         stim, level)]


class DecodedStateTrigger(Policy):
    """Stimulate when the streaming decoder reports ``target`` for ``hold_frames`` frames in a row.

    Parameters
    ----------
    target : object
        The decoded value (class label) that triggers.
    hold_frames : int
        Consecutive frames required (debounces a noisy decoder).
    refractory_s : float
        Dead time after a trigger.
    stimulus : dict, optional
        What the stimulator receives.
    """

    name = "decoded-state"

    def __init__(self, target: Any = 1, hold_frames: int = 3, refractory_s: float = 2.0, stimulus: dict | None = None):
        if not (isinstance(hold_frames, (int, np.integer)) and hold_frames >= 1):
            raise NeuralscopeError("policy.hold_frames", "an integer >= 1", hold_frames)
        if not (float(refractory_s) >= 0):
            raise NeuralscopeError("policy.refractory_s", "a number >= 0", refractory_s)
        self.target, self.hold_frames, self.refractory_s = target, int(hold_frames), float(refractory_s)
        self.stimulus = stimulus

    def reset(self, fs: float, n_rois: int, realtime: bool) -> None:
        super().reset(fs, n_rois, realtime)
        self._run = 0
        self._blocked_until = -1
        self._refractory = int(round(self.refractory_s * self.fs))

    def step(self, state) -> list[Decision]:
        if state.decoded is None:
            raise NeuralscopeError("policy", "a pipeline with a decoder for the decoded-state trigger", "no decoder")
        hit = bool(np.all(state.decoded == self.target))
        self._run = self._run + 1 if hit else 0
        if self._run != self.hold_frames or not state.warm or state.index < self._blocked_until:
            return []
        self._blocked_until = state.index + self._refractory
        stim = dict(self.stimulus) if self.stimulus is not None else {}
        return [Decision("stimulate", self.name, f"decoded {self.target!r} for {self.hold_frames} frames", stim,
                         None, {"decoded": _plain(state.decoded)})]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class RandomSearch:
    """A seeded ask/tell random search over box bounds (fallback optimiser).

    ``parameters``: list of ``{"name", "type": "float"|"int"|"choice", "bounds"|"values"}``.
    """

    def __init__(self, parameters: list[dict], seed: int = 0):
        self.parameters = _check_space(parameters)
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)
        self.observations: list[tuple[dict, float]] = []

    def suggest(self) -> dict:
        out = {}
        for p in self.parameters:
            if p["type"] == "choice":
                out[p["name"]] = p["values"][int(self._rng.integers(len(p["values"])))]
            elif p["type"] == "int":
                out[p["name"]] = int(self._rng.integers(p["bounds"][0], p["bounds"][1] + 1))
            else:
                out[p["name"]] = float(self._rng.uniform(*p["bounds"]))
        return out

    def observe(self, params: dict, value: float) -> None:
        self.observations.append((dict(params), float(value)))


def _check_space(parameters: Any) -> list[dict]:
    if not isinstance(parameters, list) or not parameters:
        raise NeuralscopeError("policy.parameters", "a non-empty list of {name, type, bounds|values}", parameters)
    out = []
    for p in parameters:
        if not isinstance(p, dict) or "name" not in p:
            raise NeuralscopeError("policy.parameters", "entries with a name", p)
        kind = p.get("type", "float")
        if kind not in ("float", "int", "choice"):
            raise NeuralscopeError(f"policy.parameters.{p['name']}.type", "float, int or choice", kind)
        if kind == "choice":
            if not p.get("values"):
                raise NeuralscopeError(f"policy.parameters.{p['name']}.values", "a non-empty list", p.get("values"))
        else:
            b = p.get("bounds")
            if not (isinstance(b, (list, tuple)) and len(b) == 2 and float(b[0]) < float(b[1])):
                raise NeuralscopeError(f"policy.parameters.{p['name']}.bounds", "[low, high] with low < high", b)
        out.append({**p, "type": kind})
    return out


def default_optimizer(parameters: list[dict], seed: int = 0, initial: int = 5) -> Any:
    """Bayesian optimisation (``neuralscope.design.Experiment``: GP, log EI) when that
    capability is installed, else a seeded :class:`RandomSearch`."""
    try:
        from neuralscope.design import Experiment  # the design capability (optional here)
    except ImportError:
        return RandomSearch(parameters, seed=seed)
    return Experiment([dict(p) for p in parameters], seed=int(seed), initial=int(initial))


class BOStimulusPolicy(Policy):
    """Choose each trial's stimulus with an ask/tell optimiser on the measured response.

    A trial: ``baseline_s`` of the watched signal, the stimulus (the
    optimiser's suggestion merged into ``stimulus``), ``response_s`` of
    signal; the response is ``mean(response) - mean(baseline)`` of the mean
    over ``rois`` and is told to the optimiser. The next suggestion is computed
    in a worker (process or thread) so a slow optimiser never stalls a frame; in
    as-fast-as-possible runs the loop waits for it (deterministic logs).

    Parameters
    ----------
    parameters : list of dict
        The stimulus space (``{"name", "type", "bounds" | "values"}``).
    rois : list of int, optional
        ROIs whose response is optimised (default: all).
    optimizer : object, optional
        Anything with ``suggest() -> dict`` and ``observe(params, value)``
        (default: :func:`default_optimizer`).
    n_trials : int, optional
        Stop after this many trials.
    seed : int
        Seed of the default optimiser.
    initial : int
        Space-filling trials before the default optimiser's model takes over.
    isolation : {"process", "thread"}, optional
        Where the optimiser runs. Default: a worker process for the default
        optimiser (a GP suggestion holding the GIL would stall frames), a
        worker thread for a given ``optimizer`` object.
    """

    name = "bo-stimulus"

    def __init__(self, parameters: list[dict], rois: Any = None, signal: str = "dff", baseline_s: float = 0.5,
                 response_s: float = 1.0, gap_s: float = 1.0, stimulus: dict | None = None, optimizer: Any = None,
                 n_trials: int | None = None, seed: int = 0, initial: int = 5, isolation: str | None = None):
        self.parameters = _check_space(parameters)
        if signal not in SIGNALS:
            raise NeuralscopeError("policy.signal", f"one of {SIGNALS}", signal)
        for name, v in (("baseline_s", baseline_s), ("response_s", response_s), ("gap_s", gap_s)):
            if not (float(v) > 0):
                raise NeuralscopeError(f"policy.{name}", "a number > 0", v)
        self.rois, self.signal = rois, signal
        self.baseline_s, self.response_s, self.gap_s = float(baseline_s), float(response_s), float(gap_s)
        self.stimulus, self.optimizer, self.n_trials, self.seed = stimulus, optimizer, n_trials, int(seed)
        if not (isinstance(initial, (int, np.integer)) and initial >= 1):
            raise NeuralscopeError("policy.initial", "an integer >= 1", initial)
        self.initial = int(initial)
        if isolation not in (None, "process", "thread"):
            raise NeuralscopeError("policy.isolation", "process or thread", isolation)
        self.isolation = isolation

    def reset(self, fs: float, n_rois: int, realtime: bool) -> None:
        super().reset(fs, n_rois, realtime)
        self.rois_ = _check_rois(self.rois)
        from neuralscope.closedloop._optimizer_host import ProcessHost, ThreadHost

        isolation = self.isolation or ("thread" if self.optimizer is not None else "process")
        if isolation == "process":
            if self.optimizer is not None:
                raise NeuralscopeError("policy.isolation", "thread for a given optimizer object", "process")
            self._host = ProcessHost(self.parameters, self.seed, self.initial)
        else:
            opt = self.optimizer if self.optimizer is not None else default_optimizer(self.parameters, self.seed,
                                                                                     self.initial)
            self._host = ThreadHost(opt)
        self.optimizer_name_ = self._host.name
        self._frames = {k: max(1, int(round(getattr(self, f"{k}_s") * self.fs))) for k in ("baseline", "response", "gap")}
        self._pending = self._host.submit_suggest()
        self._phase, self._count, self._acc, self._base = "gap", 0, 0.0, 0.0
        self._params: dict | None = None
        self.trials_: list[dict] = []

    def _level(self, state) -> float:
        x = _signal(state, self.signal)
        return float((x if self.rois_ is None else x[self.rois_]).mean())

    def step(self, state) -> list[Decision]:
        if self.n_trials is not None and len(self.trials_) >= self.n_trials:
            return []
        level = self._level(state)
        self._count += 1
        out: list[Decision] = []
        if self._phase == "gap":
            if self._count >= self._frames["gap"] and state.warm:
                self._phase, self._count, self._acc = "baseline", 0, 0.0
        elif self._phase == "baseline":
            self._acc += level
            if self._count >= self._frames["baseline"]:
                if not self._pending.done() and self.realtime:
                    if self._count == self._frames["baseline"]:  # log the first frame of a wait only
                        return [Decision("wait", self.name, "suggestion not ready; trial start postponed")]
                    return []
                self._params = dict(self._pending.result())
                self._base = self._acc / self._count
                stim = {**(self.stimulus or {}), **self._params}
                out.append(Decision("stimulate", self.name, f"trial {len(self.trials_)}: suggested stimulus", stim,
                                    None, {"trial": len(self.trials_)}))
                self._phase, self._count, self._acc = "response", 0, 0.0
        elif self._phase == "response":
            self._acc += level
            if self._count >= self._frames["response"]:
                value = self._acc / self._count - self._base
                self._host.observe(self._params, value)
                self.trials_.append({"params": self._params, "value": value})
                out.append(Decision("observe", self.name, f"trial {len(self.trials_) - 1}: response", None, value,
                                    {"trial": len(self.trials_) - 1, "params": self._params,
                                     "optimizer": self.optimizer_name_}))
                self._pending = self._host.submit_suggest()
                self._phase, self._count = "gap", 0
        return out

    def close(self) -> None:
        host = getattr(self, "_host", None)
        if host is not None:
            host.close()
            self._host = None
