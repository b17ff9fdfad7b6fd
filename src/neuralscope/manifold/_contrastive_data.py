"""Turning what a user passes to :class:`ContrastiveEmbedding` into sessions:
samples x neurons, the lengths of their segments (trials), and behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity
from neuralscope.core.validation import check_array, check_consistent_length
from neuralscope.manifold._inputs import as_samples, check_varies
from neuralscope.manifold.metrics import infer_target_task

__all__ = ["Session", "is_session_list", "parse_sessions"]


@dataclass
class Session:
    X: np.ndarray  # (n_samples, n_neurons)
    lengths: list[int]  # segment (trial) lengths, summing to n_samples
    y: np.ndarray | None = None  # (n_samples, k) float or (n_samples,) int codes
    trial_shape: tuple[int, int] | None = None

    def restore(self, Z: np.ndarray) -> np.ndarray:
        if self.trial_shape is None:
            return Z
        return Z.reshape(self.trial_shape[0], self.trial_shape[1], Z.shape[1])


def is_session_list(X: Any) -> bool:
    """A list/tuple of recordings (arrays of 2 or 3 dimensions or data objects)."""
    if not isinstance(X, (list, tuple)) or not X:
        return False
    return all(isinstance(x, (ContinuousActivity, TrialActivity)) or (isinstance(x, np.ndarray) and x.ndim in (2, 3))
               for x in X)


def _behaviour_rows(X: Any, y: Any, n_samples: int, trial_shape: tuple[int, int] | None,
                    name: str) -> np.ndarray | None:
    if y is None:
        return None
    if isinstance(y, str):
        if isinstance(X, ContinuousActivity):
            return np.asarray(X.covariate(y))
        if not isinstance(X, TrialActivity):
            raise NeuralscopeError(name, "an array (a name needs a ContinuousActivity or TrialActivity)", y)
        y = X.labels(y)
    arr = np.asarray(y)
    if arr.ndim == 0:
        raise NeuralscopeError(name, "one value per time bin (or per trial)", "a scalar")
    if trial_shape is not None:
        n_trials, n_time = trial_shape
        if arr.shape[0] == n_trials and arr.ndim == 1 and n_time > 1:
            return np.repeat(arr, n_time)  # a label per trial holds for each of its bins
        if arr.shape[:2] == (n_trials, n_time):
            return arr.reshape(n_trials * n_time, *arr.shape[2:])
    check_consistent_length(n_samples, arr.shape[0], name)
    return arr


def _one_session(X: Any, y: Any, name: str, yname: str) -> tuple[Session, np.ndarray | None]:
    samples = as_samples(X, name)
    check_varies(samples.X, name)
    lengths = [samples.trial_shape[1]] * samples.trial_shape[0] if samples.trial_shape else [samples.X.shape[0]]
    raw = _behaviour_rows(X, y, samples.X.shape[0], samples.trial_shape, yname)
    if raw is not None:
        check_consistent_length(samples.X.shape[0], raw.shape[0], yname)
    return Session(samples.X, lengths, None, samples.trial_shape), raw


def parse_sessions(X: Any, y: Any, behavior: str,
                   single: bool = False) -> tuple[list[Session], str | None, np.ndarray | None]:
    """Sessions, the behaviour type (None, "continuous", "discrete") and the label classes.

    Parameters
    ----------
    X, y
        As accepted by :meth:`ContrastiveEmbedding.fit`.
    behavior : {"auto", "continuous", "discrete"}
        Type of ``y``.
    single : bool
        Refuse a list of sessions (``transform`` embeds one at a time).
    """
    if is_session_list(X):
        if single:
            raise NeuralscopeError("X", "one recording (embed sessions one at a time with session=i)",
                                   f"a list of {len(X)}")
        if y is not None and (not isinstance(y, (list, tuple)) or len(y) != len(X)):
            raise NeuralscopeError("y", f"a list of {len(X)} behaviours, one per session", type(y).__name__)
        pairs = [_one_session(x, None if y is None else y[i], f"X[{i}]", f"y[{i}]") for i, x in enumerate(X)]
    else:
        pairs = [_one_session(X, y, "X", "y")]
    sessions = [p[0] for p in pairs]
    raws = [p[1] for p in pairs]
    if all(r is None for r in raws):
        return sessions, None, None
    if any(r is None for r in raws):
        raise NeuralscopeError("y", "behaviour for every session", "None for some")
    kind = behavior
    if kind == "auto":
        kind = "discrete" if infer_target_task(raws[0]) == "classification" else "continuous"
    if kind == "discrete":
        for i, r in enumerate(raws):
            if r.ndim != 1:
                raise NeuralscopeError("y", "one label per time bin for discrete behaviour", f"shape {r.shape}")
            if r.dtype.kind in "fc" and not np.all(np.isfinite(r)):
                raise NeuralscopeError("y", "labels without NaN or inf", "non-finite labels")
        classes, codes = np.unique(np.concatenate(raws), return_inverse=True)
        if classes.size < 2:
            raise NeuralscopeError("y", "at least 2 distinct labels", f"{classes.size} label")
        bounds = np.cumsum([0] + [r.shape[0] for r in raws])
        for i, s in enumerate(sessions):
            s.y = codes[bounds[i]:bounds[i + 1]].astype(np.int64)
        return sessions, "discrete", classes
    for i, (s, r) in enumerate(zip(sessions, raws)):
        arr = check_array(r, "y" if len(raws) == 1 else f"y[{i}]", ndim=(1, 2))
        s.y = arr.reshape(arr.shape[0], -1)
    dims = {s.y.shape[1] for s in sessions}
    if len(dims) > 1:
        raise NeuralscopeError("y", "the same behaviour variables in every session", f"widths {sorted(dims)}")
    return sessions, "continuous", None
