"""Per-frame rigid registration against a fixed reference (phase correlation).

The reference spectrum is computed once; each frame costs one real FFT of a
tapered patch, one inverse FFT and a three-point Gaussian peak fit per axis.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import scipy.fft as sfft

from neuralscope.core.errors import NeuralscopeError


def _taper(shape: tuple[int, int], fraction: float = 0.1) -> np.ndarray:
    """A flat-topped window with cosine edges, so patch borders do not correlate."""
    out = np.ones(shape, dtype=np.float32)
    for axis, n in enumerate(shape):
        edge = max(1, int(round(fraction * n)))
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(edge) + 0.5) / edge)
        w = np.ones(n)
        w[:edge] = ramp
        w[n - edge:] = ramp[::-1]
        out *= (w[:, None] if axis == 0 else w[None, :]).astype(np.float32)
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _prepare(frame, y0, x0, taper, out):
    """out = (crop - mean(crop)) * taper, in one pass over the crop after the mean."""
    ph, pw = out.shape
    total = 0.0
    for y in range(ph):
        for x in range(pw):
            total += frame[y0 + y, x0 + x]
    mean = total / (ph * pw)
    for y in range(ph):
        for x in range(pw):
            out[y, x] = (frame[y0 + y, x0 + x] - mean) * taper[y, x]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _whiten(spec, ref_conj, eps):
    """spec <- spec * ref_conj / |spec| (``ref_conj`` already whitened and low-passed)."""
    n, m = spec.shape
    for i in range(n):
        for j in range(m):
            a = spec[i, j].real
            b = spec[i, j].imag
            c = ref_conj[i, j].real
            d = ref_conj[i, j].imag
            inv = 1.0 / (math.sqrt(a * a + b * b) + eps)
            spec[i, j] = complex((a * c - b * d) * inv, (a * d + b * c) * inv)


def _subpixel(c_m: float, c_0: float, c_p: float) -> float:
    """Offset of a peak from three samples: Gaussian fit, parabola when a sample is not positive."""
    if c_m > 0 and c_0 > 0 and c_p > 0:
        lm, l0, lp = math.log(c_m), math.log(c_0), math.log(c_p)
        den = lm - 2 * l0 + lp
        if den < 0:
            return min(max(0.5 * (lm - lp) / den, -0.5), 0.5)
    den = c_m - 2 * c_0 + c_p
    if den < 0:
        return min(max(0.5 * (c_m - c_p) / den, -0.5), 0.5)
    return 0.0


class OnlineRegistration:
    """Rigid motion estimate of each frame relative to a reference image.

    Parameters
    ----------
    reference : ndarray, shape (H, W)
        The motion-free target (e.g. the mean of the first aligned frames).
    patch : int or None
        Side of the central square patch used (``None``: the whole frame).
        A 256-px patch of a 512 x 512 frame costs a fifth of the full FFT and
        is as accurate when the field has texture.
    max_shift : float
        Largest displacement searched, in pixels.
    smooth_sigma : float
        Gaussian smoothing (pixels) of the phase-correlation surface; makes
        the peak Gaussian so the three-point fit is unbiased.
    whitening : float
        Exponent of the spectral normalisation (1 = pure phase correlation).

    Notes
    -----
    ``register(frame)`` returns ``(dy, dx)`` such that
    ``frame[y, x] ~= reference[y - dy, x - dx]``: the content of the frame
    moved by ``(dy, dx)``; the reference point ``p`` is found at ``p + shift``.
    """

    def __init__(self, reference: np.ndarray, patch: int | None = 256, max_shift: float = 20.0,
                 smooth_sigma: float = 0.8, whitening: float = 1.0):
        ref = np.asarray(reference, dtype=np.float32)
        if ref.ndim != 2 or min(ref.shape) < 16 or not np.isfinite(ref).all():
            raise NeuralscopeError("reference", "a finite 2-D image of at least 16 x 16", getattr(ref, "shape", ref))
        if not (max_shift > 0):
            raise NeuralscopeError("max_shift", "a number > 0", max_shift)
        self.reference = ref
        self.patch = patch
        self.max_shift = float(max_shift)
        self.smooth_sigma = float(smooth_sigma)
        self.whitening = float(whitening)
        h, w = ref.shape
        if patch is None:
            ph, pw = h, w
        else:
            if not (isinstance(patch, (int, np.integer)) and patch >= 16):
                raise NeuralscopeError("patch", "an integer >= 16 or None", patch)
            ph, pw = min(int(patch), h), min(int(patch), w)
        self.y0_, self.x0_ = (h - ph) // 2, (w - pw) // 2
        self.patch_shape_ = (ph, pw)
        self.max_shift_ = int(min(np.ceil(self.max_shift) + 1, ph // 2 - 2, pw // 2 - 2))
        self.taper_ = _taper((ph, pw))
        ky = sfft.fftfreq(ph).astype(np.float32)[:, None]
        kx = sfft.rfftfreq(pw).astype(np.float32)[None, :]
        self.lowpass_ = np.exp(-2 * np.pi ** 2 * self.smooth_sigma ** 2 * (ky ** 2 + kx ** 2)).astype(np.float32)
        spec = np.conj(self._spectrum(ref))
        mag = np.abs(spec)
        self.eps_ = 1e-6 * float(mag.max() + 1e-30)
        if self.whitening == 1.0:
            ref_conj = spec / (mag + self.eps_)
        else:  # partial whitening: |cross|^w = |F|^w |R|^w; only the exponent-1 case is fused
            ref_conj = spec / (mag + self.eps_) ** self.whitening
        self.ref_conj_ = (ref_conj * self.lowpass_).astype(np.complex64)
        self._work = np.empty((ph, pw), dtype=np.float32)
        m = self.max_shift_
        # The window of allowed shifts, wrapped around the origin.
        self._window = np.ix_(np.r_[ph - m:ph, 0:m + 1], np.r_[pw - m:pw, 0:m + 1])

    def _spectrum(self, image: np.ndarray) -> np.ndarray:
        ph, pw = self.patch_shape_
        crop = np.asarray(image[self.y0_:self.y0_ + ph, self.x0_:self.x0_ + pw], dtype=np.float32)
        work = crop - np.float32(crop.mean())
        work *= self.taper_
        return sfft.rfft2(work, workers=1)

    def register(self, frame: np.ndarray) -> tuple[float, float]:
        """Estimate the rigid shift ``(dy, dx)`` of ``frame`` (pixels, sub-pixel); NaN when
        the frame holds non-finite values."""
        ph, pw = self.patch_shape_
        if frame.shape != self.reference.shape:
            raise NeuralscopeError("frame", f"shape {self.reference.shape}", frame.shape)
        _prepare(frame, self.y0_, self.x0_, self.taper_, self._work)
        cross = sfft.rfft2(self._work, workers=1)
        if self.whitening == 1.0:
            _whiten(cross, self.ref_conj_, np.float32(self.eps_))
        else:
            mag = np.abs(cross)
            mag **= self.whitening
            mag += np.float32(self.eps_)
            cross *= self.ref_conj_
            cross /= mag
        corr = sfft.irfft2(cross, s=(ph, pw), workers=1)
        m = self.max_shift_
        win = corr[self._window]
        iy, ix = np.unravel_index(int(np.argmax(win)), win.shape)
        if not math.isfinite(float(win[iy, ix])):  # NaN in the frame: no estimate (argmax stops at a NaN)
            return float("nan"), float("nan")
        iy = min(max(iy, 1), 2 * m - 1)
        ix = min(max(ix, 1), 2 * m - 1)
        dy = iy - m + _subpixel(float(win[iy - 1, ix]), float(win[iy, ix]), float(win[iy + 1, ix]))
        dx = ix - m + _subpixel(float(win[iy, ix - 1]), float(win[iy, ix]), float(win[iy, ix + 1]))
        return float(dy), float(dx)


def fourier_shift(image: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    """``image`` moved by ``shift`` (sub-pixel, periodic edges): ``out[p] = image[p - shift]``."""
    img = np.asarray(image, dtype=np.float32)
    ky = sfft.fftfreq(img.shape[0])[:, None]
    kx = sfft.rfftfreq(img.shape[1])[None, :]
    phase = np.exp(-2j * np.pi * (ky * shift[0] + kx * shift[1])).astype(np.complex64)
    return sfft.irfft2(sfft.rfft2(img, workers=1) * phase, s=img.shape, workers=1).astype(np.float32)


def build_reference(frames: np.ndarray, n_iter: int = 2, patch: int | None = 256, max_shift: float = 20.0) -> np.ndarray:
    """A reference image from a batch of frames: the mean, re-aligned ``n_iter`` times.

    Parameters
    ----------
    frames : ndarray, shape (T, H, W)
        An initial batch (e.g. the first 50-200 frames of the session).
    n_iter : int
        Rounds of register-to-the-mean then average.

    Returns
    -------
    ndarray, shape (H, W), float32
    """
    stack = np.asarray(frames, dtype=np.float32)
    if stack.ndim != 3 or stack.shape[0] < 1:
        raise NeuralscopeError("frames", "a (T, H, W) batch with T >= 1", getattr(stack, "shape", stack))
    ref = stack.mean(0)
    for _ in range(max(0, int(n_iter))):
        reg = OnlineRegistration(ref, patch=patch, max_shift=max_shift)
        shifts = np.array([reg.register(f) for f in stack])
        shifts -= shifts.mean(0)  # keep the reference centred on the average position
        ref = np.mean([fourier_shift(f, (-s[0], -s[1])) for f, s in zip(stack, shifts)], axis=0)
    return ref.astype(np.float32)
