"""Motion correction: rigid and piecewise-rigid phase correlation.

Shifts follow one convention everywhere: a frame's content is displaced by
``d`` relative to the reference (``frame(x) = reference(x - d)``); the
registered frame is ``frame(x + d)``.

Speed comes from working on float32 batches of frames with real FFTs, a
reference spectrum computed once, and a compiled bilinear warp; blocks are
located at the rigidly shifted positions, so each frame is interpolated once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft as sfft

from neuralscope.core.errors import NeuralscopeError
from neuralscope.imaging._warp import shift_frames, warp_frames, whiten_multiply

__all__ = ["Registration", "RegistrationResult", "apply_shifts", "crispness", "shift_error"]


def _taper(h: int, w: int, width: float) -> np.ndarray:
    """A smooth window that falls to 0 at the frame edges (avoids wrap-around edges in the FFT)."""
    def ramp(n):
        x = np.arange(n, dtype=np.float32)
        d = np.minimum(x, n - 1 - x)
        return 1.0 / (1.0 + np.exp(-(d - width) / max(width / 4, 1.0)))
    return np.outer(ramp(h), ramp(w)).astype(np.float32)


def _gauss_spectrum(h: int, w: int, sigma: float) -> np.ndarray:
    fy = sfft.fftfreq(h)[:, None]
    fx = sfft.rfftfreq(w)[None, :]
    return np.exp(-2 * (math.pi * sigma) ** 2 * (fy**2 + fx**2)).astype(np.float32)


def _subpixel_peak(win: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel peak of correlation windows (..., 2m+1, 2n+1) centred on zero shift, and its height.

    The integer maximum is refined with a separable parabola through its
    3 x 3 neighbourhood.
    """
    my, mx = (win.shape[-2] - 1) // 2, (win.shape[-1] - 1) // 2
    flat = win.reshape(*win.shape[:-2], -1)
    k = np.argmax(flat, axis=-1)
    py, px = np.unravel_index(k, win.shape[-2:])
    py = np.clip(py, 1, win.shape[-2] - 2)
    px = np.clip(px, 1, win.shape[-1] - 2)
    lead = np.indices(k.shape)
    c0 = win[(*lead, py, px)]
    up, dn = win[(*lead, py - 1, px)], win[(*lead, py + 1, px)]
    lf, rt = win[(*lead, py, px - 1)], win[(*lead, py, px + 1)]
    den_y = up - 2 * c0 + dn
    den_x = lf - 2 * c0 + rt
    sub_y = np.where(den_y < 0, 0.5 * (up - dn) / np.where(den_y < 0, den_y, -1), 0.0)
    sub_x = np.where(den_x < 0, 0.5 * (lf - rt) / np.where(den_x < 0, den_x, -1), 0.0)
    dy = py - my + np.clip(sub_y, -0.5, 0.5)
    dx = px - mx + np.clip(sub_x, -0.5, 0.5)
    return np.stack([dy, dx], axis=-1).astype(np.float32), c0


def _window(cc: np.ndarray, max_shift: int) -> np.ndarray:
    """The part of periodic correlation maps (..., h, w) within +-max_shift of zero shift."""
    h, w = cc.shape[-2:]
    my, mx = min(max_shift, h // 2 - 1), min(max_shift, w // 2 - 1)
    iy = np.r_[h - my:h, 0:my + 1]
    ix = np.r_[w - mx:w, 0:mx + 1]
    return cc[..., iy, :][..., ix]


def _peak(cc: np.ndarray, max_shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel peak of correlation maps (..., h, w) within +-max_shift, and its height."""
    return _subpixel_peak(_window(cc, max_shift))


def _block_grid(n: int, block: int) -> np.ndarray:
    """Block starts along one axis: overlapping by half a block, covering the frame."""
    block = min(block, n)
    if block == n:
        return np.array([0])
    k = int(math.ceil((n - block) / (block / 2))) + 1
    return np.round(np.linspace(0, n - block, k)).astype(int)


@dataclass
class RegistrationResult:
    """Shifts found by :class:`Registration` (all in pixels, rows then columns)."""

    shifts: np.ndarray          # (T, 2): rigid displacement of each frame
    block_shifts: np.ndarray    # (T, 2, gy, gx): full displacement at the block centres (rigid included)
    block_centres: tuple[np.ndarray, np.ndarray]
    correlation: np.ndarray     # (T,): peak phase correlation of the rigid step


class Registration:
    """Rigid or piecewise-rigid motion correction by phase correlation.

    Parameters
    ----------
    nonrigid : bool
        Add a piecewise-rigid step: overlapping blocks, each registered by
        phase correlation, the block shifts smoothed across neighbours and
        interpolated into a smooth per-pixel field.
    block_size : int
        Block side (px) of the non-rigid step.
    max_shift : float
        Largest rigid shift searched, as a fraction of the smaller frame side.
    max_block_shift : int
        Largest extra shift of a block relative to the rigid shift (px).
    smooth_sigma : float
        Gaussian smoothing (px) of the whitened cross-power spectrum.
    n_reference : int
        Frames used to build the reference image.
    random_state : int
        Seeds the choice of reference frames.

    Attributes
    ----------
    reference_ : numpy.ndarray (H, W)
        The reference image, after :meth:`fit_reference`.
    """

    def __init__(self, nonrigid: bool = False, block_size: int = 128, max_shift: float = 0.1,
                 max_block_shift: int = 5, smooth_sigma: float = 1.15, n_reference: int = 200,
                 random_state: int = 0):
        self.nonrigid = nonrigid
        self.block_size = block_size
        self.max_shift = max_shift
        self.max_block_shift = max_block_shift
        self.smooth_sigma = smooth_sigma
        self.n_reference = n_reference
        self.random_state = random_state

    # -- reference ----------------------------------------------------------------------------------------
    def fit_reference(self, movie: Any) -> "Registration":
        """Build the reference from up to ``n_reference`` frames spread over the movie.

        The frames most correlated with each other seed a first mean image;
        two rounds of rigid registration of the sampled frames to it and
        averaging of the best-matching half refine it.
        """
        n = int(movie.shape[0])
        rng = np.random.default_rng(self.random_state)
        k = min(n, int(self.n_reference))
        idx = np.sort(rng.choice(n, size=k, replace=False)) if k < n else np.arange(n)
        frames = np.asarray(movie[idx] if not hasattr(movie, "compute") else movie[idx].compute(), np.float32)
        flat = frames.reshape(k, -1)
        flat = flat - flat.mean(1, keepdims=True)
        flat /= np.linalg.norm(flat, axis=1, keepdims=True) + 1e-9
        cc = flat @ flat.T
        n_seed = max(1, min(20, k // 2))
        best = int(np.argmax(np.sort(cc, axis=1)[:, -n_seed:].mean(1)))
        seeds = np.argsort(cc[best])[-n_seed:]
        ref = frames[seeds].mean(0)
        for _ in range(2):
            self._set_reference(ref)
            shifts, corr = self._rigid_shifts(frames)
            reg = self._warp(frames, shifts[:, :, None, None], None)
            keep = corr >= np.median(corr)
            ref = reg[keep].mean(0)
        self._set_reference(ref)
        return self

    def _set_reference(self, ref: np.ndarray) -> None:
        ref = np.asarray(ref, np.float32)
        h, w = ref.shape
        if self.max_shift <= 0 or self.max_shift >= 0.5:
            raise NeuralscopeError("max_shift", "a fraction of the frame side in (0, 0.5)", self.max_shift)
        self.reference_ = ref
        self._h, self._w = h, w
        self._taper = _taper(h, w, max(2.0, min(h, w) * 0.05))
        self._gauss = _gauss_spectrum(h, w, self.smooth_sigma)
        self._max_px = max(1, int(round(self.max_shift * min(h, w))))
        spec = sfft.rfft2((ref - ref.mean()) * self._taper, workers=1)
        self._ref_spec = (np.conj(spec) / (np.abs(spec) + 1e-6) * self._gauss).astype(np.complex64)
        self._ref_spec[0, 0] = 0
        gy, gx = _block_grid(h, self.block_size), _block_grid(w, self.block_size)
        bh, bw = min(self.block_size, h), min(self.block_size, w)
        self._blocks = (gy, gx, bh, bw)
        self.block_centres_ = (gy + (bh - 1) / 2.0, gx + (bw - 1) / 2.0)
        if self.nonrigid:
            bt = _taper(bh, bw, max(2.0, min(bh, bw) * 0.1))
            bref = np.stack([[ref[y:y + bh, x:x + bw] for x in gx] for y in gy])
            bref = (bref - bref.mean(axis=(-1, -2), keepdims=True)) * bt
            bspec = sfft.rfft2(bref, workers=1)
            self._block_taper = bt
            self._block_spec = (np.conj(bspec) / (np.abs(bspec) + 1e-6) * _gauss_spectrum(bh, bw, self.smooth_sigma)
                                ).astype(np.complex64)
            self._block_spec[..., 0, 0] = 0

    # -- shifts -------------------------------------------------------------------------------------------
    def _rigid_shifts(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # The taper removes the frame edges; the mean (zero frequency) is dropped in the reference spectrum.
        spec = sfft.rfft2(np.asarray(frames, np.float32) * self._taper, workers=1)
        spec = whiten_multiply(spec, self._ref_spec)
        cc = sfft.irfft2(spec, s=(self._h, self._w), workers=1)
        return _peak(cc, self._max_px)

    def _block_shifts(self, frames: np.ndarray, rigid: np.ndarray) -> np.ndarray:
        gy, gx, bh, bw = self._blocks
        t = frames.shape[0]
        blocks = np.empty((t, len(gy), len(gx), bh, bw), np.float32)
        for i, y in enumerate(gy):
            for j, x in enumerate(gx):
                blocks[:, i, j] = frames[:, y:y + bh, x:x + bw]
        spec = sfft.rfft2(blocks * self._block_taper, workers=1)
        spec = whiten_multiply(spec, self._block_spec)
        cc = sfft.irfft2(spec, s=(bh, bw), workers=1)
        # Search each block around the frame's (rounded) rigid shift r, +-max_block_shift.
        r = np.rint(rigid).astype(np.int64)
        m = int(min(self.max_block_shift, bh // 2 - 1, bw // 2 - 1))
        offs = np.arange(-m, m + 1)
        iy = (r[:, 0, None] + offs) % bh
        ix = (r[:, 1, None] + offs) % bw
        tt = np.arange(t)[:, None, None]
        ny, nx = len(gy), len(gx)
        win = np.empty((t, ny, nx, 2 * m + 1, 2 * m + 1), np.float32)
        for i in range(ny):
            for j in range(nx):
                win[:, i, j] = cc[:, i, j][tt, iy[:, :, None], ix[:, None, :]]
        # Neighbouring blocks see nearly the same motion: pool their correlation windows (weight 1/2).
        pooled = win.copy()
        if ny > 1:
            pooled[:, 1:] += 0.5 * win[:, :-1]
            pooled[:, :-1] += 0.5 * win[:, 1:]
        if nx > 1:
            pooled[:, :, 1:] += 0.5 * win[:, :, :-1]
            pooled[:, :, :-1] += 0.5 * win[:, :, 1:]
        local, _ = _subpixel_peak(pooled)
        out = np.moveaxis(local, -1, 1) + r[:, :, None, None].astype(np.float32)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _warp(self, frames: np.ndarray, grid: np.ndarray, centres) -> np.ndarray:
        if centres is None:
            return shift_frames(frames, grid[:, :, 0, 0])
        return warp_frames(frames, grid, *centres)

    def register_frames(self, frames: np.ndarray) -> tuple[np.ndarray, RegistrationResult]:
        """Register a batch of frames (T, H, W) to the reference.

        Returns
        -------
        registered : numpy.ndarray, float32 (T, H, W)
        result : RegistrationResult
        """
        if not hasattr(self, "reference_"):
            raise NeuralscopeError("Registration", "fit_reference(movie) called first", "no reference")
        x = np.asarray(frames, np.float32)
        if x.ndim != 3 or x.shape[1:] != self.reference_.shape:
            raise NeuralscopeError("frames", f"frames of shape {self.reference_.shape}", x.shape)
        rigid, corr = self._rigid_shifts(x)
        if self.nonrigid:
            grid = self._block_shifts(x, rigid)
            reg = self._warp(x, grid, self.block_centres_)
        else:
            grid = rigid[:, :, None, None]
            reg = self._warp(x, grid, None)
        return reg, RegistrationResult(rigid, grid, self.block_centres_ if self.nonrigid else
                                       (np.array([(self._h - 1) / 2]), np.array([(self._w - 1) / 2])), corr)

    def _n_packed(self) -> int:
        gy, gx = (self._blocks[0].size, self._blocks[1].size) if self.nonrigid else (1, 1)
        return 2 + 2 * gy * gx + 1

    def _pack(self, res: RegistrationResult) -> np.ndarray:
        n = len(res.shifts)
        return np.concatenate([res.shifts, res.block_shifts.reshape(n, -1), res.correlation[:, None]], 1)

    def transform(self, movie: Any) -> Any:
        """Lazily registered frames of a (T, H, W) dask movie (float32, same chunks)."""
        mov = _as_dask(movie)
        self._require_reference(mov)
        return mov.map_blocks(lambda b: self.register_frames(b)[0], dtype=np.float32)

    def register(self, movie: Any, out: Any) -> Any:
        """Register a (T, H, W) movie chunk by chunk, writing frames into ``out``.

        Parameters
        ----------
        movie : dask.array.Array or array-like
        out : zarr.Array or numpy.ndarray
            Destination of the registered frames (same shape); each chunk's
            task writes its own frames, so memory stays at a few chunks and the
            graph runs on a distributed cluster when ``out`` is on a shared disk.

        Returns
        -------
        dask.array.Array
            Packed shifts (T, n) -- compute it to run the registration, then
            :meth:`unpack` it.
        """
        mov = _as_dask(movie)
        self._require_reference(mov)

        def one_chunk(block, block_info=None):
            t0, t1 = block_info[0]["array-location"][0]
            reg, res = self.register_frames(block)
            out[t0:t1] = reg
            return self._pack(res).astype(np.float32)

        return mov.map_blocks(one_chunk, dtype=np.float32, chunks=(mov.chunks[0], (self._n_packed(),)), drop_axis=2)

    def _require_reference(self, movie: Any) -> None:
        if not hasattr(self, "reference_"):
            self.fit_reference(movie)

    def unpack(self, packed: np.ndarray) -> RegistrationResult:
        """The :class:`RegistrationResult` from :meth:`register`'s packed shifts."""
        p = np.asarray(packed)
        gy, gx = (self._blocks[0].size, self._blocks[1].size) if self.nonrigid else (1, 1)
        grid = p[:, 2:2 + 2 * gy * gx].reshape(len(p), 2, gy, gx)
        centres = (self.block_centres_ if self.nonrigid
                   else (np.array([(self._h - 1) / 2]), np.array([(self._w - 1) / 2])))
        return RegistrationResult(p[:, :2], grid, centres, p[:, -1])


def _as_dask(movie: Any) -> Any:
    import dask.array as da

    return movie if isinstance(movie, da.Array) else da.from_array(np.asarray(movie), chunks=(200, -1, -1), name=False)


def apply_shifts(frames: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Undo rigid displacements ``shifts`` (T x 2) of ``frames`` (T, H, W): ``out(x) = frame(x + d)``."""
    x = np.asarray(frames, np.float32)
    s = np.asarray(shifts, np.float32)
    if x.ndim != 3 or s.shape != (x.shape[0], 2):
        raise NeuralscopeError("shifts", "one (row, col) shift per frame", f"{s.shape} for {x.shape}")
    return shift_frames(x, s)


def shift_error(estimated: np.ndarray, true: np.ndarray) -> dict:
    """Registration error against ground truth, after removing the constant
    offset between the two (the reference has its own position).

    ``estimated`` and ``true`` are (T, 2) rigid shifts or (T, n_points, 2)
    displacements at fixed points; for the latter each point's offset is
    removed (the reference image is itself the average of warped frames).

    Returns ``{"rms_px", "median_px", "p95_px", "offset"}``; the error of a
    frame (and point) is the Euclidean norm of its residual displacement.
    """
    e = np.asarray(estimated, float)
    t = np.asarray(true, float)
    if e.shape != t.shape or e.shape[-1] != 2 or e.ndim not in (2, 3):
        raise NeuralscopeError("estimated", f"(T, 2) or (T, n, 2) like the truth {t.shape}", e.shape)
    d = e - t
    offset = np.median(d, axis=0)
    err = np.linalg.norm(d - offset, axis=-1)
    return {"rms_px": float(np.sqrt(np.mean(err**2))), "median_px": float(np.median(err)),
            "p95_px": float(np.percentile(err, 95)), "offset": np.asarray(offset).tolist()}


def crispness(image: np.ndarray) -> float:
    """Mean gradient magnitude of a (mean) image divided by its mean intensity: higher is sharper."""
    img = np.asarray(image, float)
    gy, gx = np.gradient(img)
    return float(np.mean(np.hypot(gy, gx)) / (np.abs(img.mean()) + 1e-12))
