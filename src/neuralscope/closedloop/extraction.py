"""Trace extraction for known ROIs, one frame at a time.

Footprints live in reference coordinates; instead of warping the whole frame
we sample the frame at the (shifted) footprint pixels only, with bilinear
interpolation, so the cost scales with the number of ROI pixels, not with the
frame. Overlapping footprints are unmixed by least squares with a
precomputed inverse Gram matrix; a neuropil annulus per ROI is subtracted.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from neuralscope.core.errors import NeuralscopeError


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _gather(frame, indptr, rows, cols, weights, bounds, dy, dx, bilinear, out):
    """out[i] = sum_k weights[k] * frame(rows[k] + dy, cols[k] + dx).

    Bilinear interpolation (or the nearest pixel when ``bilinear`` is False).
    ``bounds[i]`` = (min row, max row, min col, max col) of group ``i``: edges
    are clamped only for groups whose shifted pixels can leave the frame.
    """
    h, w = frame.shape
    flat = frame.ravel()
    if bilinear:
        fy0 = math.floor(dy)
        fx0 = math.floor(dx)
    else:
        fy0 = int(round(dy))
        fx0 = int(round(dx))
    ty = dy - fy0 if bilinear else 0.0
    tx = dx - fx0 if bilinear else 0.0
    w00 = (1.0 - ty) * (1.0 - tx)
    w01 = (1.0 - ty) * tx
    w10 = ty * (1.0 - tx)
    w11 = ty * tx
    off = fy0 * w + fx0
    for i in range(indptr.shape[0] - 1):
        acc = 0.0
        inside = (bounds[i, 0] + fy0 >= 0 and bounds[i, 1] + fy0 + 1 <= h - 1
                  and bounds[i, 2] + fx0 >= 0 and bounds[i, 3] + fx0 + 1 <= w - 1)
        if inside and bilinear:
            for k in range(indptr[i], indptr[i + 1]):
                j = rows[k] * w + cols[k] + off
                acc += weights[k] * (w00 * flat[j] + w01 * flat[j + 1] + w10 * flat[j + w] + w11 * flat[j + w + 1])
        elif inside:
            for k in range(indptr[i], indptr[i + 1]):
                acc += weights[k] * flat[rows[k] * w + cols[k] + off]
        else:
            for k in range(indptr[i], indptr[i + 1]):
                y = rows[k] + fy0
                x = cols[k] + fx0
                y0 = min(max(y, 0), h - 1)
                x0 = min(max(x, 0), w - 1)
                if bilinear:
                    y1 = min(max(y + 1, 0), h - 1)
                    x1 = min(max(x + 1, 0), w - 1)
                    acc += weights[k] * (w00 * frame[y0, x0] + w01 * frame[y0, x1]
                                         + w10 * frame[y1, x0] + w11 * frame[y1, x1])
                else:
                    acc += weights[k] * frame[y0, x0]
        out[i] = acc


def _bounds(indptr: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    out = np.zeros((len(indptr) - 1, 4), dtype=np.int64)
    for i in range(len(indptr) - 1):
        r, c = rows[indptr[i]:indptr[i + 1]], cols[indptr[i]:indptr[i + 1]]
        if r.size:
            out[i] = (r.min(), r.max(), c.min(), c.max())
    return out


def as_sparse_footprints(footprints, frame_shape: tuple[int, int] | None = None):
    """Footprints as a CSR matrix (n_rois x H*W) plus the frame shape.

    Accepts a dense ``(n_rois, H, W)`` array or a ``scipy.sparse`` matrix
    (``n_rois x H*W``, then ``frame_shape`` is required).
    """
    import scipy.sparse as sp

    if sp.issparse(footprints):
        if frame_shape is None or len(frame_shape) != 2:
            raise NeuralscopeError("frame_shape", "(H, W) for sparse footprints", frame_shape)
        h, w = int(frame_shape[0]), int(frame_shape[1])
        mat = sp.csr_matrix(footprints, dtype=np.float64)
        if mat.shape[1] != h * w or mat.shape[0] < 1:
            raise NeuralscopeError("footprints", f"n_rois x {h * w} (H*W)", mat.shape)
    else:
        fp = np.asarray(footprints, dtype=np.float64)
        if fp.ndim != 3 or fp.shape[0] < 1:
            raise NeuralscopeError("footprints", "an (n_rois, H, W) array with n_rois >= 1", getattr(fp, "shape", fp))
        h, w = fp.shape[1:]
        mat = sp.csr_matrix(fp.reshape(fp.shape[0], -1))
    mat.eliminate_zeros()
    if not np.isfinite(mat.data).all() or (mat.data < 0).any():
        raise NeuralscopeError("footprints", "finite, non-negative weights", "negative or non-finite values")
    empty = np.flatnonzero(np.diff(mat.indptr) == 0)
    if empty.size:
        raise NeuralscopeError("footprints", "every ROI with at least one pixel", f"empty ROI(s) {empty[:5].tolist()}")
    return mat, (h, w)


def neuropil_pixel_indices(footprints, frame_shape: tuple[int, int] | None = None, inner_gap: float = 2.0,
                   min_pixels: int = 100, max_pixels: int | None = 100) -> list[np.ndarray]:
    """Flat pixel indices of a neuropil annulus around each ROI (no ROI pixels in it).

    The annulus starts ``inner_gap`` pixels outside the ROI's radius and grows
    until it holds ``min_pixels`` pixels; larger annuli are thinned evenly to
    ``max_pixels`` (neuropil is smooth, so this costs little accuracy and
    bounds the per-frame work). Unlike the offline
    :func:`neuralscope.imaging.traces.neuropil_masks` (dense boolean rings of any
    size), this returns capped flat indices so the per-frame cost is fixed.
    """
    mat, (h, w) = as_sparse_footprints(footprints, frame_shape)
    any_roi = np.zeros(h * w, dtype=bool)
    any_roi[mat.indices] = True
    any_roi = any_roi.reshape(h, w)
    # Keep a one-pixel guard around every ROI: their edges carry somatic signal.
    guard = any_roi.copy()
    guard[1:] |= any_roi[:-1]
    guard[:-1] |= any_roi[1:]
    guard[:, 1:] |= any_roi[:, :-1]
    guard[:, :-1] |= any_roi[:, 1:]
    masks = []
    for i in range(mat.shape[0]):
        idx = mat.indices[mat.indptr[i]:mat.indptr[i + 1]]
        ys, xs = idx // w, idx % w
        cy, cx = ys.mean(), xs.mean()
        radius = float(np.sqrt(((ys - cy) ** 2 + (xs - cx) ** 2).max())) + inner_gap
        outer = radius + 4.0
        while True:
            r = int(np.ceil(outer)) + 1
            y0, y1 = max(0, int(cy) - r), min(h, int(cy) + r + 1)
            x0, x1 = max(0, int(cx) - r), min(w, int(cx) + r + 1)
            yy, xx = np.mgrid[y0:y1, x0:x1]
            d2 = (yy - cy) ** 2 + (xx - cx) ** 2
            sel = (d2 >= radius ** 2) & (d2 <= outer ** 2) & ~guard[y0:y1, x0:x1]
            if sel.sum() >= min_pixels or outer > max(h, w):
                break
            outer += 2.0
        sy, sx = np.nonzero(sel)
        if sy.size == 0:  # a field covered by ROIs: fall back to the ROI's own pixels
            masks.append(idx.astype(np.int64))
        else:
            flat_idx = ((sy + y0) * w + (sx + x0)).astype(np.int64)
            if max_pixels is not None and flat_idx.size > max_pixels:
                flat_idx = flat_idx[np.linspace(0, flat_idx.size - 1, max_pixels).round().astype(np.int64)]
            masks.append(flat_idx)
    return masks


def _csr(groups: list[tuple[np.ndarray, np.ndarray]], width: int):
    indptr = np.zeros(len(groups) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(g[0]) for g in groups])
    flat = np.concatenate([g[0] for g in groups]).astype(np.int64)
    weights = np.concatenate([g[1] for g in groups]).astype(np.float64)
    rows, cols = (flat // width).astype(np.int64), (flat % width).astype(np.int64)
    return indptr, rows, cols, weights, _bounds(indptr, rows, cols)


class OnlineExtractor:
    """Fluorescence of known ROIs from one frame, motion-compensated.

    Parameters
    ----------
    footprints : ndarray, shape (n_rois, H, W)
        Non-negative spatial weights in reference coordinates.
    neuropil_coef : float
        Fraction of the neuropil signal subtracted (0 disables the term).
    ridge : float
        Tikhonov term (relative to the mean Gram diagonal) that keeps the
        unmixing of heavily overlapping footprints stable.
    min_neuropil_pixels : int
        Size of each neuropil annulus.

    Notes
    -----
    For each frame, with ``A`` the pixels x ROIs footprint matrix and ``y``
    the frame sampled at the reference pixels, ``raw = (A^T A + r I)^-1 A^T y``
    (the least-squares unmixing), ``neuropil = mean of the annulus`` and
    ``F = raw - neuropil_coef * k * neuropil`` (the neuropil is read at the
    nearest pixel: it is smooth, and that saves three quarters of its cost) with ``k = (A^T A + r I)^-1 A^T 1``
    the amount a flat background adds to each ROI's coefficient.
    """

    def __init__(self, footprints, neuropil_coef: float = 0.7, ridge: float = 1e-6, min_neuropil_pixels: int = 100,
                 frame_shape: tuple[int, int] | None = None):
        mat, (h, w) = as_sparse_footprints(footprints, frame_shape)
        if not (0.0 <= float(neuropil_coef) <= 2.0):
            raise NeuralscopeError("neuropil_coef", "a number in [0, 2]", neuropil_coef)
        self.neuropil_coef = float(neuropil_coef)
        self.ridge = float(ridge)
        self.min_neuropil_pixels = int(min_neuropil_pixels)
        self.frame_shape = frame_shape
        n = mat.shape[0]
        self.n_rois_, self.frame_shape_ = n, (h, w)
        indptr, rows, cols = mat.indptr.astype(np.int64), (mat.indices // w).astype(np.int64), (mat.indices % w).astype(np.int64)
        self.roi_csr_ = (indptr, rows, cols, mat.data.astype(np.float64), _bounds(indptr, rows, cols))
        gram = (mat @ mat.T).toarray()
        gram[np.diag_indices(n)] += self.ridge * float(np.mean(np.diag(gram)))
        self.unmix_ = np.linalg.inv(gram)
        # A flat background b adds b * G A^T 1 to the coefficients.
        self.background_gain_ = self.unmix_ @ np.asarray(mat.sum(1)).ravel()
        if self.neuropil_coef > 0:
            masks = neuropil_pixel_indices(mat, (h, w), min_pixels=self.min_neuropil_pixels)
            self.neuropil_csr_ = _csr([(m, np.full(len(m), 1.0 / len(m))) for m in masks], w)
        else:
            self.neuropil_csr_ = _csr([(np.zeros(1, np.int64), np.zeros(1))] * n, w)
        self._proj = np.empty(n)
        self._neuropil = np.empty(n)
        self.raw_ = np.empty(n)
        self.neuropil_ = np.empty(n)
        self.F_ = np.empty(n)

    def extract(self, frame: np.ndarray, shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Neuropil-corrected fluorescence of every ROI in ``frame``.

        ``shift`` is the registration output: reference pixel ``p`` is read
        at ``p + shift`` in the frame. Returns a view of an internal buffer
        (copy it to keep it past the next call); ``raw_`` and ``neuropil_``
        hold the two terms.
        """
        if frame.shape != self.frame_shape_:
            raise NeuralscopeError("frame", f"shape {self.frame_shape_}", frame.shape)
        dy, dx = float(shift[0]), float(shift[1])
        _gather(frame, *self.roi_csr_, dy, dx, True, self._proj)
        np.dot(self.unmix_, self._proj, out=self.raw_)
        if self.neuropil_coef > 0:
            _gather(frame, *self.neuropil_csr_, dy, dx, False, self.neuropil_)
            np.multiply(self.neuropil_, self.background_gain_, out=self._neuropil)
            self._neuropil *= self.neuropil_coef
            np.subtract(self.raw_, self._neuropil, out=self.F_)
        else:
            self.neuropil_[:] = 0.0
            self.F_[:] = self.raw_
        return self.F_


def extract_traces(movie: np.ndarray, footprints, shifts: np.ndarray | None = None, neuropil_coef: float = 0.7,
                   min_neuropil_pixels: int = 100) -> np.ndarray:
    """Offline reference for :class:`OnlineExtractor` on a whole movie (dense least squares).

    Each frame is resampled at the reference pixels (``scipy.ndimage.map_coordinates``,
    bilinear, edges clamped), the soma coefficients come from
    ``numpy.linalg.lstsq`` on all frames at once, and the same neuropil annuli
    are subtracted.

    Returns
    -------
    ndarray, shape (n_rois, T)
    """
    from scipy.ndimage import map_coordinates

    mov = np.asarray(movie, dtype=np.float64)
    t, h, w = mov.shape
    mat, _ = as_sparse_footprints(footprints, (h, w))
    if shifts is not None:
        shifts = np.asarray(shifts, dtype=np.float64).reshape(t, 2)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        mov = np.stack([map_coordinates(f, [yy + s[0], xx + s[1]], order=1, mode="nearest")
                        for f, s in zip(mov, shifts)])
    A = mat.toarray().T
    Y = mov.reshape(t, -1).T
    npil_movie = np.asarray(movie, dtype=np.float64)
    if shifts is not None:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        npil_movie = np.stack([map_coordinates(f, [yy + np.round(s[0]), xx + np.round(s[1])], order=0, mode="nearest")
                               for f, s in zip(npil_movie, shifts)])
    Y_npil = npil_movie.reshape(t, -1).T
    raw = np.linalg.lstsq(A, Y, rcond=None)[0]
    if neuropil_coef <= 0:
        return raw
    masks = neuropil_pixel_indices(mat, (h, w), min_pixels=min_neuropil_pixels)
    neuropil = np.stack([Y_npil[m].mean(0) for m in masks])
    gain = np.linalg.lstsq(A, np.ones(A.shape[0]), rcond=None)[0]
    return raw - neuropil_coef * gain[:, None] * neuropil
