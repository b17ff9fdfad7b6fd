"""Scores of inferred spikes against ground truth.

- :func:`bin_frames` -- the evaluation bins: ``max(1, round(bin_width * fs))`` frames
  (Spikefinder convention: 40 ms, i.e. 100 Hz -> 25 Hz bins)
- :func:`spike_correlation` -- Pearson r of binned inferred rates and true counts
- :func:`event_precision_recall` -- matched events within a tolerance
- :func:`cpu_seconds_per_neuron_minute` -- cost measure of a method
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["bin_frames", "cpu_seconds_per_neuron_minute", "event_precision_recall", "spike_correlation"]

#: Default evaluation bin (s): Spikefinder's 100 Hz data scored in 25 Hz bins.
SPIKEFINDER_BIN = 0.04


def bin_frames(x: Any, fs: float, bin_width: float = SPIKEFINDER_BIN) -> np.ndarray:
    """Sum consecutive frames into bins of ``max(1, round(bin_width * fs))`` frames.

    Frames left over at the end are dropped. Works on the last axis.
    """
    x = np.asarray(x, dtype=float)
    k = max(1, int(round(bin_width * fs)))
    n = x.shape[-1] // k
    return x[..., : n * k].reshape(*x.shape[:-1], n, k).sum(axis=-1)


def spike_correlation(inferred: Any, truth: Any, fs: float, bin_width: float = SPIKEFINDER_BIN) -> np.ndarray | float:
    """Pearson correlation of inferred rates and true spike counts in bins.

    Parameters
    ----------
    inferred, truth : array-like, shape (T,) or (n, T)
        Per-frame values; frames where either is NaN are dropped.
    fs : float
        Frame rate (Hz).
    bin_width : float
        Bin width (s); frames are summed in groups of ``max(1, round(bin_width * fs))``.

    Returns
    -------
    float or numpy.ndarray
        One r per trace (NaN where a binned trace is constant).
    """
    a = np.atleast_2d(np.asarray(inferred, dtype=float))
    b = np.atleast_2d(np.asarray(truth, dtype=float))
    out = np.full(a.shape[0], np.nan)
    for i in range(a.shape[0]):
        ok = np.isfinite(a[i]) & np.isfinite(b[i])
        x, y = bin_frames(a[i][ok], fs, bin_width), bin_frames(b[i][ok], fs, bin_width)
        if x.size > 2 and np.std(x) > 0 and np.std(y) > 0:
            out[i] = float(np.corrcoef(x, y)[0, 1])
    return float(out[0]) if np.ndim(inferred) == 1 else out


def _events(x: np.ndarray, threshold: float) -> np.ndarray:
    """Frames of events: local maxima of ``x`` above ``threshold`` (one per run)."""
    above = x > threshold
    if not above.any():
        return np.zeros(0, dtype=int)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(int), [0]])))
    starts, stops = edges[::2], edges[1::2]
    return np.array([s + int(np.argmax(x[s:e])) for s, e in zip(starts, stops)], dtype=int)


def event_precision_recall(
    inferred: Any, truth: Any, fs: float, tolerance: float = 0.1, threshold: float = 0.5,
) -> dict[str, float]:
    """Precision, recall and F1 of detected events against true events.

    Events are defined the same way for both: the peaks of runs where the count
    summed over a sliding ``tolerance`` window exceeds ``threshold`` (so a
    burst is one event, an isolated spike is one event). Each true event is
    matched to at most one inferred event within ``tolerance`` seconds (greedy,
    in time order).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``n_true``, ``n_inferred``.
    """
    from scipy.ndimage import uniform_filter1d

    a = np.asarray(inferred, dtype=float).ravel()
    b = np.asarray(truth, dtype=float).ravel()
    width = max(1, int(round(tolerance * fs)))
    smooth = uniform_filter1d(a, width, mode="constant") * width
    found = _events(smooth, threshold)
    true_frames = _events(uniform_filter1d(b, width, mode="constant") * width, threshold)
    tol = tolerance * fs
    used = np.zeros(found.size, dtype=bool)
    hits = 0
    j0 = 0
    for t in true_frames:
        while j0 < found.size and found[j0] < t - tol:
            j0 += 1
        j = j0
        while j < found.size and found[j] <= t + tol:
            if not used[j]:
                used[j] = True
                hits += 1
                break
            j += 1
    precision = hits / found.size if found.size else float("nan")
    recall = hits / true_frames.size if true_frames.size else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "n_true": int(true_frames.size), "n_inferred": int(found.size)}


def cpu_seconds_per_neuron_minute(method: Callable[[np.ndarray, float], Any], dff: Any, fs: float,
                                  repeats: int = 1) -> float:
    """CPU time (process time, all threads) of ``method(dff, fs)`` per neuron-minute of data."""
    dff = np.atleast_2d(np.asarray(dff, dtype=float))
    neuron_minutes = dff.shape[0] * dff.shape[1] / fs / 60.0
    best = float("inf")
    for _ in range(max(1, repeats)):
        t0 = time.process_time()
        method(dff, fs)
        best = min(best, time.process_time() - t0)
    return best / neuron_minutes
