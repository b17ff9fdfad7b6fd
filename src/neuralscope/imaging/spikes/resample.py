"""Frame-rate conversion that conserves integrals (traces and spike counts).

A sample ``i`` at rate ``fs`` stands for the interval ``[i / fs, (i + 1) / fs)``.
Traces are treated as piecewise constant and averaged over the new intervals
(a box anti-alias filter when downsampling); counts are redistributed so their
sum is unchanged. The deep model sees every trace at its own frame rate this way.
"""

from __future__ import annotations

import numpy as np

__all__ = ["n_frames_at", "resample_counts", "resample_trace"]


def n_frames_at(n_frames: int, fs_in: float, fs_out: float) -> int:
    """Number of whole frames at ``fs_out`` covering ``n_frames`` frames at ``fs_in``."""
    return max(1, int(np.floor(n_frames * fs_out / fs_in + 1e-9)))


def _cumulative_at(x: np.ndarray, fs_in: float, edges: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    cum = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, axis=-1)], axis=-1)
    src = np.arange(n + 1) / fs_in
    if x.ndim == 1:
        return np.interp(edges, src, cum)
    return np.stack([np.interp(edges, src, row) for row in cum])


def resample_trace(x: np.ndarray, fs_in: float, fs_out: float, n_out: int | None = None) -> np.ndarray:
    """Mean of the piecewise-constant trace over each output frame (last axis)."""
    x = np.asarray(x, dtype=float)
    if fs_in == fs_out and (n_out is None or n_out == x.shape[-1]):
        return x.copy()
    n_out = n_frames_at(x.shape[-1], fs_in, fs_out) if n_out is None else n_out
    edges = np.minimum(np.arange(n_out + 1) / fs_out, x.shape[-1] / fs_in)
    cum = _cumulative_at(x, fs_in, edges)
    width = np.maximum(np.diff(edges), 1e-12) * fs_in
    return np.diff(cum, axis=-1) / width


def resample_counts(x: np.ndarray, fs_in: float, fs_out: float, n_out: int) -> np.ndarray:
    """Counts (or expected counts) per frame moved to ``n_out`` frames at ``fs_out``; sums are kept."""
    x = np.asarray(x, dtype=float)
    if fs_in == fs_out and n_out == x.shape[-1]:
        return x.copy()
    edges = np.arange(n_out + 1) / fs_out
    return np.diff(_cumulative_at(x, fs_in, edges), axis=-1)
