"""In-silico experiments as data: what to drive, what to silence, what to scale.

An :class:`Experiment` is an immutable description (it can be written to and
read from JSON); the simulator resolves its neuron ids against a connectome.
Builder methods return a new experiment::

    exp = (Experiment("sugar")
           .activate(sugar_grns, rate=200.0)
           .silence(["720575940622695448"])
           .scale(0.5, kind="inhibitory"))
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuralscope.core.connectome import Connectome
from neuralscope.core.errors import NeuralscopeError

SCALE_KINDS = ("chemical", "excitatory", "inhibitory", "electrical", "all")


def _ids(ids: Any) -> tuple:
    if isinstance(ids, (str, int, np.integer)):
        ids = [ids]
    out = tuple(x.item() if isinstance(x, np.generic) else x for x in ids)
    if not out:
        raise NeuralscopeError("ids", "at least one neuron id", "an empty list")
    return out


def _window(start: float, stop: float | None, what: str) -> tuple[float, float | None]:
    if not (math.isfinite(start) and start >= 0):
        raise NeuralscopeError(f"{what}.start", "a time >= 0 (s)", start)
    if stop is not None and not (math.isfinite(stop) and stop > start):
        raise NeuralscopeError(f"{what}.stop", f"a time after start ({start} s) or None", stop)
    return float(start), None if stop is None else float(stop)


@dataclass(frozen=True)
class Activation:
    """Poisson input (``rate`` Hz, ``weight`` mV per input spike) to ``ids`` during [start, stop)."""

    ids: tuple
    rate: float | None = None
    start: float = 0.0
    stop: float | None = None
    weight: float | None = None


@dataclass(frozen=True)
class Current:
    """A constant input of ``amplitude`` mV (the steady depolarisation it causes) during [start, stop)."""

    ids: tuple
    amplitude: float
    start: float = 0.0
    stop: float | None = None


@dataclass(frozen=True)
class Scale:
    """Multiply the weights of one connection class by ``factor``.

    The class is every edge of ``kind`` (``chemical``, ``excitatory``,
    ``inhibitory``, ``electrical`` or ``all``) from a neuron in ``pre`` to a
    neuron in ``post`` (``None`` = any neuron).
    """

    factor: float
    pre: tuple | None = None
    post: tuple | None = None
    kind: str = "chemical"


@dataclass(frozen=True)
class Experiment:
    """A named set of perturbations applied to every trial of a simulation."""

    name: str = "experiment"
    activations: tuple[Activation, ...] = ()
    currents: tuple[Current, ...] = ()
    silenced: tuple = ()
    scales: tuple[Scale, ...] = field(default=())

    def activate(self, ids: Any, rate: float | None = None, *, start: float = 0.0, stop: float | None = None,
                 weight: float | None = None) -> Experiment:
        """Drive ``ids`` with independent Poisson inputs (default rate and weight from the parameters)."""
        if rate is not None and not (math.isfinite(rate) and rate >= 0):
            raise NeuralscopeError("rate", "a rate >= 0 Hz", rate)
        if weight is not None and not math.isfinite(weight):
            raise NeuralscopeError("weight", "a finite weight in mV", weight)
        start, stop = _window(start, stop, "activate")
        act = Activation(_ids(ids), None if rate is None else float(rate), start, stop,
                         None if weight is None else float(weight))
        return dataclasses.replace(self, activations=self.activations + (act,))

    def inject(self, ids: Any, amplitude: float, *, start: float = 0.0, stop: float | None = None) -> Experiment:
        """Add a constant input (a current step, in mV of steady depolarisation) to ``ids``."""
        if not math.isfinite(amplitude):
            raise NeuralscopeError("amplitude", "a finite amplitude in mV", amplitude)
        start, stop = _window(start, stop, "inject")
        return dataclasses.replace(self, currents=self.currents + (Current(_ids(ids), float(amplitude), start, stop),))

    def silence(self, ids: Any) -> Experiment:
        """Zero every outgoing synapse (chemical and electrical) of ``ids``; they still spike."""
        return dataclasses.replace(self, silenced=self.silenced + _ids(ids))

    def scale(self, factor: float, *, pre: Any = None, post: Any = None, kind: str = "chemical") -> Experiment:
        """Multiply the weights of the connections ``pre -> post`` of ``kind`` by ``factor``."""
        if not (math.isfinite(factor) and factor >= 0):
            raise NeuralscopeError("factor", "a scale factor >= 0", factor)
        if kind not in SCALE_KINDS:
            raise NeuralscopeError("kind", f"one of {SCALE_KINDS}", kind)
        sc = Scale(float(factor), None if pre is None else _ids(pre), None if post is None else _ids(post), kind)
        return dataclasses.replace(self, scales=self.scales + (sc,))

    # ----------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Experiment:
        """Rebuild an experiment written by :meth:`to_dict` (validated again)."""
        exp = cls(str(d.get("name", "experiment")))
        for a in d.get("activations", ()):
            exp = exp.activate(a["ids"], a.get("rate"), start=a.get("start", 0.0), stop=a.get("stop"), weight=a.get("weight"))
        for c in d.get("currents", ()):
            exp = exp.inject(c["ids"], c["amplitude"], start=c.get("start", 0.0), stop=c.get("stop"))
        if d.get("silenced"):
            exp = exp.silence(d["silenced"])
        for s in d.get("scales", ()):
            exp = exp.scale(s["factor"], pre=s.get("pre"), post=s.get("post"), kind=s.get("kind", "chemical"))
        return exp

    @classmethod
    def from_json(cls, text: str) -> Experiment:
        return cls.from_dict(json.loads(text))

    def control(self) -> Experiment:
        """The same drive without silencing or scaling: the control condition."""
        return Experiment(f"{self.name} (control)", self.activations, self.currents)

    def driven_ids(self) -> tuple:
        return tuple(i for a in self.activations for i in a.ids) + tuple(i for c in self.currents for i in c.ids)


def edge_scale(connectome: Connectome, scales: Iterable[Scale]) -> np.ndarray | None:
    """Per-edge weight factor for the connection classes of ``scales`` (``None`` if none)."""
    scales = list(scales)
    if not scales:
        return None
    factor = np.ones(connectome.n_edges, np.float32)
    el = connectome.is_electrical
    for sc in scales:
        mask = {"chemical": ~el, "electrical": el, "all": np.ones_like(el),
                "excitatory": ~el & (connectome.sign > 0), "inhibitory": ~el & (connectome.sign < 0)}[sc.kind]
        if sc.pre is not None:
            sel = np.zeros(connectome.n_neurons, bool)
            sel[connectome.index(list(sc.pre), "scale.pre")] = True
            mask = mask & sel[connectome.pre]
        if sc.post is not None:
            sel = np.zeros(connectome.n_neurons, bool)
            sel[connectome.index(list(sc.post), "scale.post")] = True
            mask = mask & sel[connectome.post]
        factor[mask] *= sc.factor
    return factor
