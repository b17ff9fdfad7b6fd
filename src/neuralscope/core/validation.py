"""Input checks used at every public boundary.

Each function returns a clean numpy array (or raises :class:`NeuralscopeError`
naming the parameter, what was expected and what was received).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError


def _describe(a: np.ndarray) -> str:
    return f"array of shape {a.shape} and dtype {a.dtype}"


def check_array(
    value: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtype: type | str = float,
    allow_empty: bool = False,
    finite: bool = True,
    nonnegative: bool = False,
) -> np.ndarray:
    """Convert ``value`` to a numeric array and check it.

    Parameters
    ----------
    value : array-like
        The input.
    name : str
        Parameter name used in the error message.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    dtype : type or str
        Target dtype (default float64).
    allow_empty : bool
        Whether a zero-size array is allowed.
    finite : bool
        Reject NaN and inf.
    nonnegative : bool
        Reject negative values (e.g. spike counts, rates).

    Returns
    -------
    numpy.ndarray
    """
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise NeuralscopeError(name, "a numeric array", f"{type(value).__name__} ({exc})") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise NeuralscopeError(name, f"a {want} array", _describe(arr))
    if not allow_empty and arr.size == 0:
        raise NeuralscopeError(name, "a non-empty array", _describe(arr))
    if finite and arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise NeuralscopeError(name, "finite values (no NaN or inf)", f"{n_bad} non-finite values")
    if nonnegative and arr.size and np.min(arr) < 0:
        raise NeuralscopeError(name, "non-negative values", f"minimum {np.min(arr)!r}")
    return arr


def check_labels(value: Any, name: str = "y", *, n_samples: int | None = None) -> np.ndarray:
    """Check class labels: 1-D, no missing values, at least two classes."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise NeuralscopeError(name, "a 1-D array of labels", _describe(arr))
    if arr.size == 0:
        raise NeuralscopeError(name, "a non-empty array of labels", _describe(arr))
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        raise NeuralscopeError(name, "labels without NaN or inf", "non-finite labels")
    if n_samples is not None:
        check_consistent_length(n_samples, arr.shape[0], name)
    n_classes = np.unique(arr).size
    if n_classes < 2:
        raise NeuralscopeError(name, "labels with at least 2 classes", f"{n_classes} class")
    return arr


def check_consistent_length(n_expected: int, n_received: int, name: str) -> None:
    """Raise when ``name`` does not have ``n_expected`` samples."""
    if int(n_expected) != int(n_received):
        raise NeuralscopeError(name, f"{n_expected} samples to match the activity", f"{n_received} samples")


def check_positive(value: Any, name: str) -> float:
    """Check a strictly positive finite scalar (e.g. a sampling rate)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise NeuralscopeError(name, "a positive number", value) from None
    if not np.isfinite(v) or v <= 0:
        raise NeuralscopeError(name, "a positive finite number", v)
    return v
