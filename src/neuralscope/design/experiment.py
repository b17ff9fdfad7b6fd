"""An ask/tell optimisation experiment persisted to JSON after every observation.

The state file is rewritten atomically (temporary file + rename) each time a
trial is recorded, so a killed process leaves either the previous or the new
state, never half of one: resuming from it loses no recorded observation.
Suggestions are seeded by ``(seed, trials so far, pending)``, so a resumed
experiment makes the same choices the uninterrupted one would have made.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.design.bo import BayesianOptimizer
from neuralscope.design.space import SearchSpace

STATE_VERSION = 1


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


class Experiment:
    """Ask/tell Bayesian optimisation with failure handling and crash-safe state.

    Parameters
    ----------
    space : SearchSpace or list of parameter dicts
    maximize : bool
        Maximise (default) or minimise the observed values.
    initial : int
        Scrambled-Sobol points suggested before the model takes over.
    seed : int
        Seed of the initial design and of every suggestion.
    acquisition, kernel : str
        Passed to :class:`BayesianOptimizer`.
    state : path, optional
        JSON file written after every observation; an existing file is
        resumed (its space and settings must match).

    Examples
    --------
    >>> exp = Experiment([{"name": "x", "type": "float", "bounds": [0, 1]}], seed=0)
    >>> p = exp.suggest()
    >>> record = exp.observe(p, -(p["x"] - 0.3) ** 2)
    """

    def __init__(self, space: SearchSpace | Sequence[Mapping[str, Any]], *, maximize: bool = True, initial: int = 10,
                 seed: int = 0, acquisition: str = "logei", kernel: str = "matern52",
                 state: str | Path | None = None):
        self.space = space if isinstance(space, SearchSpace) else SearchSpace(space)
        if not (isinstance(initial, int) and initial >= 1):
            raise NeuralscopeError("initial", "an integer >= 1", initial)
        if not isinstance(seed, (int, np.integer)):
            raise NeuralscopeError("seed", "an integer", seed)
        self.maximize = bool(maximize)
        self.initial = initial
        self.seed = int(seed)
        self.acquisition = acquisition
        self.kernel = kernel
        self.state = Path(state) if state is not None else None
        self.trials: list[dict] = []
        self.suggestion_seconds: list[float] = []
        self._pending: list[dict] = []
        self._theta: np.ndarray | None = None
        self._optimizer = BayesianOptimizer(self.space, acquisition=acquisition, kernel=kernel, random_state=self.seed)
        if self.state is not None and self.state.exists():
            self._load()

    # ------------------------------------------------------------- persistence
    def _settings(self) -> dict:
        return {"space": self.space.to_dict(), "maximize": self.maximize, "initial": self.initial,
                "seed": self.seed, "acquisition": self.acquisition, "kernel": self.kernel}

    def _load(self) -> None:
        try:
            data = json.loads(self.state.read_text(encoding="utf-8"))  # type: ignore[union-attr]
            saved = data["settings"]
            trials = list(data["trials"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NeuralscopeError("state", "a neuralscope experiment state file", f"{self.state} ({exc})") from None
        if saved != json.loads(json.dumps(self._settings())):
            raise NeuralscopeError("state", "the same parameters and settings as the saved experiment",
                                   f"{self.state} was saved with different ones")
        self.trials = trials
        self.suggestion_seconds = [float(s) for s in data.get("suggestion_seconds", [])]
        theta = data.get("gp_theta")
        self._theta = np.asarray(theta, float) if theta else None

    def save(self) -> None:
        """Write the state file atomically (done after every observation)."""
        if self.state is None:
            return
        from neuralscope.io.atomic import write_text_atomic

        data = {"version": STATE_VERSION, "settings": self._settings(), "trials": self.trials,
                "suggestion_seconds": self.suggestion_seconds,
                "gp_theta": None if self._theta is None else self._theta.tolist()}
        write_text_atomic(self.state, json.dumps(data, indent=1, allow_nan=False))

    # --------------------------------------------------------------- ask/tell
    @property
    def completed(self) -> list[dict]:
        return [t for t in self.trials if t["status"] == "completed"]

    @property
    def failed(self) -> list[dict]:
        return [t for t in self.trials if t["status"] == "failed"]

    def _initial_design(self) -> np.ndarray:
        return self.space.sample(self.initial, np.random.default_rng([self.seed, 0]))

    def suggest(self) -> dict:
        """The next parameters to try (a dict by parameter name)."""
        return self.suggest_batch(1)[0]

    def suggest_batch(self, n: int) -> list[dict]:
        """``n`` parameter dicts to evaluate together (Kriging-believer batch)."""
        if not (isinstance(n, (int, np.integer)) and n >= 1):
            raise NeuralscopeError("n", "an integer >= 1", n)
        out: list[dict] = []
        n_done = len(self.trials)
        design = None
        while len(out) < n:
            k = n_done + len(self._pending)
            if k < self.initial or len(self.completed) < 2:
                design = self._initial_design() if design is None else design
                if k < self.initial:
                    x = design[k]
                else:  # too few successes to model: keep sampling the space
                    x = self.space.sample(1, np.random.default_rng([self.seed, k + 1]))[0]
                params = self.space.decode(x)
            else:
                t0 = time.perf_counter()
                rng = np.random.default_rng([self.seed, n_done, len(self._pending), 7])
                X, y = self._training_data()
                pending = np.stack([self.space.encode(p) for p in self._pending]) if self._pending else None
                xs = self._optimizer.suggest(X, y, n=n - len(out), rng=rng, warm_start=self._theta, pending=pending)
                self._theta = self._optimizer.model_.theta_
                self.suggestion_seconds.append((time.perf_counter() - t0) / len(xs))
                batch = [self.space.decode(x) for x in xs]
                self._pending.extend(batch)
                out.extend(batch)
                continue
            self._pending.append(params)
            out.append(params)
        return [{k: _plain(v) for k, v in p.items()} for p in out]

    def _training_data(self) -> tuple[np.ndarray, np.ndarray]:
        done = self.completed
        X = [self.space.encode(t["params"]) for t in done]
        y = [t["value"] if self.maximize else -t["value"] for t in done]
        worst = min(y)
        # A failed point counts as the worst value seen: the model then steers away from it
        # instead of proposing it again and again.
        for t in self.failed:
            X.append(self.space.encode(t["params"]))
            y.append(worst)
        return np.stack(X), np.asarray(y, float)

    def observe(self, params: Mapping[str, Any], value: Any, info: str | None = None) -> dict:
        """Record one evaluation; a value that is None, NaN, inf or not a number is a failed trial.

        Returns the trial record. The state file is updated before returning.
        """
        self.space.encode(params)  # validates names, bounds and choices
        params = {k: _plain(params[k]) for k in self.space.names}
        status, reason, val = "completed", info, None
        try:
            val = float(value)
        except (TypeError, ValueError):
            status, reason = "failed", info or f"value {value!r} is not a number"
        if val is not None and not math.isfinite(val):
            status, reason, val = "failed", info or f"value {value!r}", None
        record = {"index": len(self.trials), "params": params, "value": val, "status": status,
                  "time": time.time()}
        if reason:
            record["info"] = str(reason)
        self.trials.append(record)
        for i, p in enumerate(self._pending):
            if p == params:
                del self._pending[i]
                break
        self.save()
        return record

    def observe_failure(self, params: Mapping[str, Any], reason: str) -> dict:
        """Record a trial whose evaluation failed (an error, a crash of the rig)."""
        return self.observe(params, None, info=reason)

    def best(self) -> tuple[dict | None, float | None]:
        """The best completed trial's parameters and value (``(None, None)`` before any)."""
        done = self.completed
        if not done:
            return None, None
        key = (lambda t: t["value"]) if self.maximize else (lambda t: -t["value"])
        top = max(done, key=key)
        return dict(top["params"]), float(top["value"])

    @property
    def seconds_per_suggestion(self) -> float:
        """Mean wall time of the model-based suggestions (fit + acquisition)."""
        return float(np.mean(self.suggestion_seconds)) if self.suggestion_seconds else 0.0

    def __len__(self) -> int:
        return len(self.trials)
