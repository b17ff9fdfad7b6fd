"""Fluorescence traces: overlap-aware extraction, neuropil subtraction, dF/F.

For footprints ``w_i`` and data ``y = sum_j w_j a_j + b`` (``b`` the local
neuropil), the weighted means ``F_i = sum_p l_ip y_p`` with ``l_i = w_i /
sum(w_i)`` satisfy ``F = M a + b`` with ``M_ij = l_i . w_j``. Overlapping
cells make ``M`` non-diagonal; solving ``M a = F - r N`` (``N`` the annulus
neuropil estimate, ``r`` the neuropil coefficient) is the least-squares
demixing. Traces are computed chunk by chunk over frames (sparse products),
so the movie is read once and never held whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

__all__ = ["NEUROPIL_COEFFICIENT", "TraceExtractor", "Traces", "delta_f_over_f", "neuropil_masks"]

#: Share of the annulus signal subtracted from each cell (Suite2p's and CaImAn's usual 0.7).
NEUROPIL_COEFFICIENT = 0.7


@dataclass
class Traces:
    """Extracted traces, all (n_cells, T)."""

    raw: np.ndarray        # weighted mean of the footprint pixels
    neuropil: np.ndarray   # mean of the annulus
    corrected: np.ndarray  # demixed, neuropil subtracted
    dff: np.ndarray        # dF/F of ``corrected``
    baseline: np.ndarray   # F0 used for dF/F
    neuropil_coefficient: float


def neuropil_masks(footprints: np.ndarray, inner: float = 2.0, outer: float = 12.0) -> np.ndarray:
    """Annulus around each cell, excluding every cell's pixels (dilated by ``inner`` px).

    Parameters
    ----------
    footprints : numpy.ndarray (n, H, W)
    inner, outer : float
        Gap to the cell and outer radius (px) of the annulus, from the cell's edge.

    Returns
    -------
    numpy.ndarray (n, H, W), bool
    """
    from scipy.ndimage import binary_dilation, distance_transform_edt

    fp = np.asarray(footprints) > 0
    n = len(fp)
    if n == 0:
        return fp.copy()
    anything = binary_dilation(fp.any(0), iterations=max(1, int(round(inner))))
    out = np.zeros_like(fp)
    for i in range(n):
        ys, xs = np.nonzero(fp[i])
        if not len(ys):
            continue
        pad = int(outer) + 2
        y0, y1 = max(0, ys.min() - pad), min(fp.shape[1], ys.max() + pad + 1)
        x0, x1 = max(0, xs.min() - pad), min(fp.shape[2], xs.max() + pad + 1)
        d = distance_transform_edt(~fp[i, y0:y1, x0:x1])
        ring = (d <= outer) & ~anything[y0:y1, x0:x1]
        if ring.sum() < 10:  # crowded field: take what is left within twice the radius
            ring = (d <= 2 * outer) & ~fp[i, y0:y1, x0:x1]
        out[i, y0:y1, x0:x1] = ring
    return out


def delta_f_over_f(traces: Any, fs: float, window_s: float = 60.0, percentile: float = 8.0,
                   smooth_s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """dF/F with a robust running baseline.

    The baseline ``F0`` is the running ``percentile`` (over ``window_s``) of the
    trace smoothed with a Gaussian of ``smooth_s``; it is computed on a
    decimated copy (at most ~4 points per second) and interpolated back, so
    long recordings stay cheap. ``F0`` is kept above 10 % of the trace's median
    absolute level so near-zero baselines (over-subtracted neuropil) do not blow up.

    Returns
    -------
    dff, baseline : numpy.ndarray, same shape as ``traces``
    """
    from scipy.ndimage import gaussian_filter1d, percentile_filter

    f = np.asarray(traces, np.float64)
    if f.ndim == 1:
        f = f[None]
    if not np.all(np.isfinite(f)):
        raise NeuralscopeError("traces", "finite values", "NaN or inf")
    if not (math.isfinite(fs) and fs > 0):
        raise NeuralscopeError("fs", "a frame rate > 0", fs)
    t = f.shape[1]
    sm = gaussian_filter1d(f, max(smooth_s * fs, 0.5), axis=1, mode="nearest")
    step = max(1, int(fs // 4))
    dec = sm[:, ::step]
    win = max(3, int(round(window_s * fs / step)))
    base_dec = percentile_filter(dec, percentile, size=(1, min(win, dec.shape[1] * 2 - 1)), mode="nearest")
    xs = np.arange(0, t, step)
    base = np.stack([np.interp(np.arange(t), xs, b) for b in base_dec])
    floor = 0.1 * np.median(np.abs(f), axis=1, keepdims=True) + 1e-9
    base = np.maximum(base, floor)
    return ((f - base) / base).astype(np.float32), base.astype(np.float32)


class TraceExtractor:
    """Overlap-aware trace extraction with neuropil subtraction and dF/F.

    Parameters
    ----------
    neuropil_coefficient : float
        ``r`` in ``F - r N``.
    inner, outer : float
        Annulus geometry (px), see :func:`neuropil_masks`.
    baseline_window_s, baseline_percentile : float
        Running baseline of :func:`delta_f_over_f`.
    """

    def __init__(self, neuropil_coefficient: float = NEUROPIL_COEFFICIENT, inner: float = 2.0, outer: float = 12.0,
                 baseline_window_s: float = 60.0, baseline_percentile: float = 8.0):
        self.neuropil_coefficient = neuropil_coefficient
        self.inner = inner
        self.outer = outer
        self.baseline_window_s = baseline_window_s
        self.baseline_percentile = baseline_percentile

    def fit(self, footprints: Any) -> "TraceExtractor":
        """Set up the sparse weights of the cells and of their annuli."""
        from scipy import sparse

        fp = np.maximum(np.asarray(footprints, np.float32), 0)
        if fp.ndim != 3:
            raise NeuralscopeError("footprints", "an array (n, H, W)", fp.shape)
        n = len(fp)
        flat = fp.reshape(n, -1)
        tot = flat.sum(1, keepdims=True)
        if n and np.any(tot <= 0):
            raise NeuralscopeError("footprints", "every footprint with a positive weight", "an empty footprint")
        self.weights_ = sparse.csr_matrix(flat / np.maximum(tot, 1e-12))
        ring = neuropil_masks(fp, self.inner, self.outer).reshape(n, -1).astype(np.float32)
        self.neuropil_weights_ = sparse.csr_matrix(ring / np.maximum(ring.sum(1, keepdims=True), 1))
        self.mixing_ = (self.weights_ @ sparse.csr_matrix(flat).T).toarray()  # M_ij = l_i . w_j
        self.shape_ = fp.shape[1:]
        return self

    def _chunk(self, block: np.ndarray) -> np.ndarray:
        y = np.asarray(block, np.float32).reshape(len(block), -1).T
        return np.concatenate([(self.weights_ @ y).T, (self.neuropil_weights_ @ y).T], 1).astype(np.float32)

    def transform(self, movie: Any, fs: float) -> Traces:
        """Traces of every cell from a registered (T, H, W) movie, streamed over frames."""
        import dask.array as da

        mov = movie if isinstance(movie, da.Array) else da.from_array(np.asarray(movie), chunks=(200, -1, -1),
                                                                      name=False)
        if tuple(mov.shape[1:]) != tuple(self.shape_):
            raise NeuralscopeError("movie", f"frames of shape {self.shape_}", mov.shape)
        n = self.weights_.shape[0]
        both = mov.map_blocks(self._chunk, dtype=np.float32, chunks=(mov.chunks[0], (2 * n,)), drop_axis=2).compute()
        raw, npil = both[:, :n].T, both[:, n:].T
        sub = raw - self.neuropil_coefficient * npil
        corrected = np.linalg.lstsq(self.mixing_, sub, rcond=None)[0] if n else sub
        dff, base = delta_f_over_f(corrected, fs, self.baseline_window_s, self.baseline_percentile) if n else (sub, sub)
        return Traces(raw, npil, corrected.astype(np.float32), dff, base, float(self.neuropil_coefficient))
