"""Feature builders shared by the decoders: causal history windows and
trial flattening.

Decoders that use past activity (Wiener filter, ridge with history, recurrent
and convolutional networks) all build their inputs here, so every model sees
the same causal convention: row ``t`` holds bins ``t - n_history + 1 .. t``
(current bin included), zero-padded before the first sample. Keeping one row
per input row lets cross-validation split raw contiguous blocks of time without
leaking future activity into the past.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.validation import (
    check_array,
    check_consistent_length,
    check_labels,
)

__all__ = [
    "check_decoder_input",
    "check_n_history",
    "flatten_trials",
    "lagged_design",
    "lagged_windows",
]


def check_n_history(n_history: Any, name: str = "n_history") -> int:
    """Check that ``n_history`` is an integer >= 1 and return it as ``int``.

    Parameters
    ----------
    n_history : int
        Number of bins of history, current bin included.
    name : str
        Parameter name used in the error message.

    Returns
    -------
    int
    """
    # bool is an int subclass; True as "1 bin" is almost certainly a mistake.
    if isinstance(n_history, (bool, np.bool_)) or not isinstance(n_history, (int, np.integer)):
        raise NeuralscopeError(name, "an integer >= 1", n_history)
    if int(n_history) < 1:
        raise NeuralscopeError(name, "an integer >= 1", n_history)
    return int(n_history)


def lagged_windows(X: Any, n_history: int) -> np.ndarray:
    """Causal history windows, one per time bin.

    Parameters
    ----------
    X : array-like of shape (n_time, n_features)
        Activity on a regular time grid. A 1-D array is one feature.
    n_history : int
        Number of bins per window, current bin included (``>= 1``).

    Returns
    -------
    numpy.ndarray of shape (n_time, n_history, n_features)
        ``out[t, j]`` is ``X[t - n_history + 1 + j]``, i.e. the last entry of
        each window is the current bin; bins before the first sample are 0.

    Examples
    --------
    >>> lagged_windows(np.array([[1.0], [2.0], [3.0]]), 2)[:, :, 0]
    array([[0., 1.],
           [1., 2.],
           [2., 3.]])
    """
    arr = check_array(X, "X", ndim=(1, 2))
    if arr.ndim == 1:
        arr = arr[:, None]
    h = check_n_history(n_history)
    n_time, n_features = arr.shape
    padded = np.zeros((n_time + h - 1, n_features), dtype=float)
    padded[h - 1 :] = arr
    # Index matrix rather than a strided view so the result is an ordinary,
    # writable array that does not alias the caller's input.
    idx = np.arange(n_time)[:, None] + np.arange(h)[None, :]
    return padded[idx]


def lagged_design(X: Any, n_history: int) -> np.ndarray:
    """Flattened causal history design matrix.

    Parameters
    ----------
    X : array-like of shape (n_time, n_features)
    n_history : int
        Bins per window, current bin included.

    Returns
    -------
    numpy.ndarray of shape (n_time, n_history * n_features)
        Row ``t`` is ``lagged_windows(X, n_history)[t].ravel()``: the oldest
        bin's features first and the current bin's features last.
    """
    win = lagged_windows(X, n_history)
    return win.reshape(win.shape[0], -1)


def flatten_trials(X: Any, name: str = "X") -> np.ndarray:
    """Turn trial-structured activity into one feature row per trial.

    Parameters
    ----------
    X : array-like of shape (n_trials, n_neurons, n_time) or (n_samples, n_features)
        3-D arrays are flattened neuron-major, so feature ``i * n_time + k``
        is neuron ``i`` at time bin ``k``; 2-D arrays are returned unchanged.
    name : str
        Parameter name used in the error message.

    Returns
    -------
    numpy.ndarray of shape (n_samples, n_features)
    """
    arr = check_array(X, name, ndim=(2, 3))
    if arr.ndim == 3:
        return arr.reshape(arr.shape[0], -1)
    return arr


def _n_rows(value: Any) -> int | None:
    """Number of samples of an array-like, or None when it cannot be told cheaply."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) >= 1 else None
    if isinstance(value, (list, tuple)):
        return len(value)
    return None


def _ndim(value: Any) -> int | None:
    """Number of dimensions without numpy's array-function protocol (which
    some array-likes refuse), or None when it cannot be told."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return len(shape)
    try:
        return np.asarray(value).ndim
    except (TypeError, ValueError):
        return None


def check_decoder_input(
    estimator: Any,
    X: Any,
    y: Any = "no_y",
    *,
    reset: bool,
    trials: bool = False,
    target: str | None = None,
) -> tuple[np.ndarray, np.ndarray | None, tuple[int, ...] | None]:
    """Validate decoder inputs once, for scikit-learn and for neuralscope.

    scikit-learn's :func:`~sklearn.utils.validation.validate_data` does the
    bookkeeping its estimator checks rely on (``n_features_in_``, feature
    names, sparse/complex/object rejection with the messages they expect);
    any ``ValueError`` it raises is re-raised as
    :class:`~neuralscope.core.NeuralscopeError` with sklearn's text kept, and
    NaN/inf, length mismatches and single-class targets are reported by the
    neuralscope checks with their usual one-line messages.

    Parameters
    ----------
    estimator : BaseEstimator
        The decoder being fitted or applied (receives ``n_features_in_``).
    X : array-like of shape (n_samples, n_features) or (n_trials, n_neurons, n_time)
        Activity. 3-D input is accepted only when ``trials`` is True and is
        flattened with :func:`flatten_trials`.
    y : array-like or None, optional
        Targets; leave out when validating ``predict`` input.
    reset : bool
        True in ``fit`` (records ``n_features_in_``), False afterwards (checks it).
    trials : bool
        Whether 3-D trial-structured input is allowed.
    target : {"classes", "continuous"}, optional
        Kind of ``y``: class labels (at least two classes) or numeric targets
        of shape (n,) or (n, n_outputs).

    Returns
    -------
    X2 : numpy.ndarray of shape (n_samples, n_features), float64
    y : numpy.ndarray or None
    trial_shape : tuple of int or None
        ``(n_neurons, n_time)`` when ``X`` was 3-D, else None.
    """
    trial_shape = None
    if trials and not sparse.issparse(X) and _ndim(X) == 3:
        arr = check_array(X, "X", ndim=3)
        trial_shape = tuple(int(d) for d in arr.shape[1:])
        X = arr.reshape(arr.shape[0], -1)
    has_y = not (isinstance(y, str) and y == "no_y")
    if has_y and y is not None:
        n_x, n_y = _n_rows(X), _n_rows(y)
        if n_x is not None and n_y is not None:
            check_consistent_length(n_x, n_y, "y")
    continuous = target == "continuous"
    try:
        # Finiteness is left to check_array below so NaN/inf get the
        # neuralscope message rather than sklearn's.
        if has_y:
            X, y = validate_data(
                estimator, X, y, reset=reset, dtype=np.float64, ensure_all_finite=False,
                multi_output=continuous, y_numeric=continuous,
            )
        else:
            X = validate_data(estimator, X, reset=reset, dtype=np.float64, ensure_all_finite=False)
        if target == "classes":
            check_classification_targets(y)
    except NeuralscopeError:
        raise
    except ValueError as exc:
        name = "y" if has_y and re.search(r"\by\b|label|target", str(exc)) else "X"
        raise NeuralscopeError(name, "input a decoder can use", str(exc)) from None
    X = check_array(X, "X", ndim=2)
    if target == "classes":
        y = check_labels(y, "y")
    elif continuous:
        y = check_array(y, "y", ndim=(1, 2))
    return X, (y if has_y else None), trial_shape
