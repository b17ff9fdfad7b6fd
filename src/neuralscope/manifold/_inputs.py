"""Input handling shared by every embedding in :mod:`neuralscope.manifold`.

An embedding sees *samples* (rows) of *features* (neurons). The public
estimators accept:

- a 2-D array ``(n_samples, n_features)`` -- time bins x neurons;
- a :class:`~neuralscope.core.ContinuousActivity` -- its ``data``;
- a 3-D array ``(n_trials, n_neurons, n_time)`` or a
  :class:`~neuralscope.core.TrialActivity` -- every time bin of every trial
  is a sample; ``transform`` then returns ``(n_trials, n_time, n_components)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity
from neuralscope.core.validation import check_array

__all__ = ["Samples", "as_samples", "check_n_components", "check_varies", "require_extra"]


@dataclass
class Samples:
    """Rows to embed, and how to give the embedding back the input's shape."""

    X: np.ndarray  # (n_samples, n_features)
    trial_shape: tuple[int, int] | None = None  # (n_trials, n_time) for trial input

    def restore(self, Z: np.ndarray) -> np.ndarray:
        """(n_samples, d) -> the input's layout ((n_trials, n_time, d) for trials)."""
        if self.trial_shape is None:
            return Z
        return Z.reshape(self.trial_shape[0], self.trial_shape[1], Z.shape[1])


def as_samples(X: Any, name: str = "X") -> Samples:
    """Validate ``X`` (array or core object) and flatten trials into samples.

    Raises
    ------
    NeuralscopeError
        For non-numeric, non-finite, empty, or wrongly shaped input.
    """
    if isinstance(X, ContinuousActivity):
        return Samples(np.asarray(X.data, dtype=float))
    if isinstance(X, TrialActivity):
        X = X.data
    arr = check_array(X, name, ndim=(2, 3))
    if arr.ndim == 3:
        n_trials, n_neurons, n_time = arr.shape
        # trials x neurons x time -> (trials * time) x neurons, trial-major so
        # that restore() can reshape without copying.
        flat = np.ascontiguousarray(arr.transpose(0, 2, 1)).reshape(n_trials * n_time, n_neurons)
        return Samples(flat, (n_trials, n_time))
    return Samples(arr)


def check_varies(X: np.ndarray, name: str = "X", min_features: int = 2) -> None:
    """Reject input that has no structure to find: too few neurons or no variance."""
    if X.shape[1] < min_features:
        raise NeuralscopeError(name, f"at least {min_features} neurons (features) to embed",
                               f"{X.shape[1]} neuron")
    if X.shape[0] < 3:
        raise NeuralscopeError(name, "at least 3 samples (time bins)", f"{X.shape[0]} samples")
    if not np.any(np.ptp(X, axis=0) > 0):
        raise NeuralscopeError(name, "activity that varies over time", "constant data (every neuron flat)")


def check_n_components(n_components: Any, n_features: int, name: str = "n_components",
                       n_samples: int | None = None) -> int:
    """An integer in ``[1, n_features]`` (and below ``n_samples`` when given)."""
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise NeuralscopeError(name, "an integer >= 1", n_components)
    if n_components > n_features:
        raise NeuralscopeError(name, f"at most the number of neurons ({n_features})", int(n_components))
    if n_samples is not None and n_components > n_samples:
        raise NeuralscopeError(name, f"at most the number of samples ({n_samples})", int(n_components))
    return int(n_components)


def require_extra(module: str, what: str) -> Any:
    """Import an optional dependency or say how to install it.

    Parameters
    ----------
    module : str
        Importable module name (``"openTSNE"``, ``"umap"``).
    what : str
        The method that needs it, for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise NeuralscopeError(
            what, f"the optional package '{module}' (pip install neuralscope[manifold])", "not installed"
        ) from None
