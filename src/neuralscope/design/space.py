"""Search spaces: float, integer and categorical parameters mapped to the unit cube.

The optimiser works on an encoded vector in ``[0, 1]^D``: a float or int
parameter takes one coordinate (ints are relaxed to a continuous interval and
rounded on decoding), a choice parameter takes one coordinate per value
(one-hot; the largest coordinate wins on decoding). Linear constraints
``sum_j a_j * param_j <= b`` over numeric parameters and black-box feasibility
callables restrict the space.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

PARAMETER_TYPES = ("float", "int", "choice")


@dataclass(frozen=True)
class Parameter:
    """One parameter of a search space.

    Parameters
    ----------
    name : str
        Identifier (unique in the space).
    type : {"float", "int", "choice"}
        Kind of parameter.
    bounds : tuple of two numbers, optional
        Inclusive ``(low, high)`` for float and int parameters, ``low < high``.
    values : sequence, optional
        The allowed values of a choice parameter (at least two, distinct).
    log : bool
        Search a positive float or int parameter on a log scale.
    """

    name: str
    type: str
    bounds: tuple[float, float] | None = None
    values: tuple[Any, ...] | None = None
    log: bool = False

    def __post_init__(self) -> None:
        where = f"parameters[{self.name!r}]"
        if not isinstance(self.name, str) or not self.name:
            raise NeuralscopeError("parameters.name", "a non-empty string", self.name)
        if self.type not in PARAMETER_TYPES:
            raise NeuralscopeError(f"{where}.type", f"one of {', '.join(PARAMETER_TYPES)}", self.type)
        if self.type == "choice":
            vals = tuple(self.values or ())
            if len(vals) < 2 or len(set(map(repr, vals))) != len(vals):
                raise NeuralscopeError(f"{where}.values", "at least two distinct values", self.values)
            object.__setattr__(self, "values", vals)
            return
        b = self.bounds
        if b is None or isinstance(b, (str, bytes)) or len(b) != 2:
            raise NeuralscopeError(f"{where}.bounds", "[low, high] with low < high", b)
        try:
            low, high = float(b[0]), float(b[1])
        except (TypeError, ValueError):
            raise NeuralscopeError(f"{where}.bounds", "two numbers [low, high]", b) from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise NeuralscopeError(f"{where}.bounds", "[low, high] with finite low < high", b)
        if self.type == "int":
            low, high = float(math.ceil(low)), float(math.floor(high))
            if low > high:
                raise NeuralscopeError(f"{where}.bounds", "bounds containing at least one integer", b)
        if self.log and low <= 0:
            raise NeuralscopeError(f"{where}.bounds", "low > 0 for a log-scale parameter", b)
        object.__setattr__(self, "bounds", (low, high))

    @property
    def width(self) -> int:
        """Coordinates this parameter takes in the encoded vector."""
        return len(self.values) if self.type == "choice" else 1

    def _scale(self) -> tuple[float, float]:
        low, high = self.bounds  # type: ignore[misc]
        if self.type == "int":  # each integer owns an interval of width 1
            low, high = low - 0.5 + 1e-9, high + 0.5 - 1e-9
            if self.log:
                low = max(low, self.bounds[0] * 0.5)  # type: ignore[index]
        return (math.log(low), math.log(high)) if self.log else (low, high)

    def encode(self, value: Any) -> np.ndarray:
        """The unit-cube coordinates of ``value``."""
        if self.type == "choice":
            keys = [repr(v) for v in self.values]  # type: ignore[union-attr]
            if repr(value) not in keys:
                raise NeuralscopeError(self.name, f"one of {list(self.values)}", value)  # type: ignore[arg-type]
            out = np.zeros(self.width)
            out[keys.index(repr(value))] = 1.0
            return out
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise NeuralscopeError(self.name, "a number", value) from None
        low, high = self.bounds  # type: ignore[misc]
        if not (math.isfinite(v) and low - 1e-9 * (1 + abs(low)) <= v <= high + 1e-9 * (1 + abs(high))):
            raise NeuralscopeError(self.name, f"a number in [{low:g}, {high:g}]", value)
        a, b = self._scale()
        t = math.log(v) if self.log else v
        return np.array([min(1.0, max(0.0, (t - a) / (b - a)))])

    def decode(self, coords: np.ndarray) -> Any:
        """The parameter value at unit-cube coordinates (rounded / argmax)."""
        if self.type == "choice":
            return self.values[int(np.argmax(coords))]  # type: ignore[index]
        a, b = self._scale()
        t = a + float(np.clip(coords[0], 0.0, 1.0)) * (b - a)
        v = math.exp(t) if self.log else t
        low, high = self.bounds  # type: ignore[misc]
        if self.type == "int":
            return int(min(high, max(low, round(v))))
        return float(min(high, max(low, v)))

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == "choice":
            d["values"] = list(self.values)  # type: ignore[arg-type]
        else:
            d["bounds"] = list(self.bounds)  # type: ignore[arg-type]
            if self.log:
                d["log"] = True
        return d


@dataclass(frozen=True)
class LinearConstraint:
    """``sum_j coefficients[name_j] * param_j <= bound`` over numeric parameters."""

    coefficients: Mapping[str, float]
    bound: float

    def satisfied(self, params: Mapping[str, Any]) -> bool:
        total = sum(float(c) * float(params[n]) for n, c in self.coefficients.items())
        return total <= self.bound + 1e-9 * (1 + abs(self.bound))

    def to_dict(self) -> dict:
        return {"coefficients": dict(self.coefficients), "bound": self.bound}


@dataclass
class SearchSpace:
    """Ordered parameters plus optional constraints.

    Parameters
    ----------
    parameters : sequence of Parameter or dict
        ``{"name", "type", "bounds" | "values", "log"}`` dicts are accepted.
    linear_constraints : sequence of LinearConstraint or dict, optional
        ``{"coefficients": {name: a}, "bound": b}`` meaning ``sum a*param <= b``.
    feasible : callable, optional
        A black-box check ``feasible(params) -> bool`` (not persisted).
    """

    parameters: Sequence[Parameter | Mapping[str, Any]]
    linear_constraints: Sequence[LinearConstraint | Mapping[str, Any]] = ()
    feasible: Callable[[dict], bool] | None = None
    _params: list[Parameter] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.parameters, (str, bytes, Mapping)) or not len(self.parameters):
            raise NeuralscopeError("parameters", "a non-empty list of parameters", self.parameters)
        params = [p if isinstance(p, Parameter) else _parameter_from_dict(p) for p in self.parameters]
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise NeuralscopeError("parameters", "unique names", names)
        self._params = params
        cons = []
        for c in self.linear_constraints:
            con = c if isinstance(c, LinearConstraint) else LinearConstraint(dict(c["coefficients"]), float(c["bound"]))
            for n in con.coefficients:
                p = self.get(n)
                if p.type == "choice":
                    raise NeuralscopeError("linear_constraints", "numeric parameters only", n)
            cons.append(con)
        self.linear_constraints = tuple(cons)

    @property
    def params(self) -> list[Parameter]:
        return list(self._params)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self._params]

    @property
    def dim(self) -> int:
        """Length of the encoded vector."""
        return sum(p.width for p in self._params)

    def get(self, name: str) -> Parameter:
        for p in self._params:
            if p.name == name:
                return p
        raise NeuralscopeError("parameter", f"one of {self.names}", name)

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Unit-cube vector of one parameter dict."""
        missing = [n for n in self.names if n not in params]
        if missing:
            raise NeuralscopeError("params", f"a value for every parameter ({self.names})", f"missing {missing}")
        return np.concatenate([p.encode(params[p.name]) for p in self._params])

    def decode(self, x: np.ndarray) -> dict:
        """Parameter dict at a unit-cube vector."""
        out, i = {}, 0
        for p in self._params:
            out[p.name] = p.decode(x[i:i + p.width])
            i += p.width
        return out

    def project(self, X: np.ndarray) -> np.ndarray:
        """Snap encoded points to what they decode to (rounded ints, exact one-hot)."""
        X = np.atleast_2d(X)
        return np.stack([self.encode(self.decode(x)) for x in X])

    def is_feasible(self, params: Mapping[str, Any]) -> bool:
        if not all(c.satisfied(params) for c in self.linear_constraints):
            return False
        return bool(self.feasible(dict(params))) if self.feasible is not None else True

    def sample(self, n: int, rng: np.random.Generator, sobol: bool = True, max_tries: int = 50) -> np.ndarray:
        """``n`` feasible encoded points (scrambled Sobol or uniform), projected."""
        from scipy.stats import qmc

        found: list[np.ndarray] = []
        for _ in range(max_tries):
            m = 1 << max(4, math.ceil(math.log2(2 * n)))  # Sobol balance needs a power of 2
            raw = qmc.Sobol(self.dim, scramble=True, seed=rng).random(m) if sobol else rng.random((m, self.dim))
            for x in self.project(raw):
                if self.is_feasible(self.decode(x)):
                    found.append(x)
            if len(found) >= n:
                return np.stack(found[:n])
        raise NeuralscopeError("constraints", "a feasible region that random sampling can hit", "none found")

    def to_dict(self) -> dict:
        return {"parameters": [p.to_dict() for p in self._params],
                "linear_constraints": [c.to_dict() for c in self.linear_constraints]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SearchSpace":
        return cls(d["parameters"], d.get("linear_constraints", ()))


def _parameter_from_dict(d: Any) -> Parameter:
    if not isinstance(d, Mapping):
        raise NeuralscopeError("parameters[]", "a mapping {name, type, bounds | values}", d)
    unknown = set(d) - {"name", "type", "bounds", "values", "log"}
    if unknown:
        raise NeuralscopeError(f"parameters[{d.get('name')!r}]", "keys name, type, bounds, values, log",
                               sorted(unknown))
    values = d.get("values")
    return Parameter(name=d.get("name"), type=d.get("type"), bounds=d.get("bounds"),
                     values=tuple(values) if isinstance(values, (list, tuple)) else values,
                     log=bool(d.get("log", False)))
