"""Bilinear warping of frames by a smooth displacement field (numba kernel).

A field is given on a coarse grid of control points (block centres) per frame
and interpolated bilinearly to every pixel inside the kernel, so the per-pixel
field is never stored. A rigid shift is a 1 x 1 grid.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def grid_weights(n_pixels: int, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left control-point index and weight of the right one, per pixel (edges clamp)."""
    c = np.asarray(centres, dtype=np.float64)
    pix = np.arange(n_pixels, dtype=np.float64)
    if c.size == 1:
        return np.zeros(n_pixels, np.int64), np.zeros(n_pixels, np.float32)
    i0 = np.clip(np.searchsorted(c, pix, side="right") - 1, 0, c.size - 2)
    w = np.clip((pix - c[i0]) / (c[i0 + 1] - c[i0]), 0.0, 1.0)
    return i0.astype(np.int64), w.astype(np.float32)


@njit(cache=True, nogil=True)
def _warp_kernel(frames, grid, iy0, wy, ix0, wx, off_y, off_x, out):  # pragma: no cover - compiled
    n_t, h, w = out.shape
    hs, ws = frames.shape[1], frames.shape[2]
    gy, gx = grid.shape[2], grid.shape[3]
    for t in range(n_t):
        for y in range(h):
            a0 = iy0[y]
            a1 = min(a0 + 1, gy - 1)
            ay = wy[y]
            for x in range(w):
                b0 = ix0[x]
                b1 = min(b0 + 1, gx - 1)
                bx = wx[x]
                dy = ((1 - ay) * ((1 - bx) * grid[t, 0, a0, b0] + bx * grid[t, 0, a0, b1])
                      + ay * ((1 - bx) * grid[t, 0, a1, b0] + bx * grid[t, 0, a1, b1]))
                dx = ((1 - ay) * ((1 - bx) * grid[t, 1, a0, b0] + bx * grid[t, 1, a0, b1])
                      + ay * ((1 - bx) * grid[t, 1, a1, b0] + bx * grid[t, 1, a1, b1]))
                sy = y + off_y + dy
                sx = x + off_x + dx
                if sy < 0.0:
                    sy = 0.0
                elif sy > hs - 1.0:
                    sy = hs - 1.0
                if sx < 0.0:
                    sx = 0.0
                elif sx > ws - 1.0:
                    sx = ws - 1.0
                y0 = int(sy)
                x0 = int(sx)
                y1 = min(y0 + 1, hs - 1)
                x1 = min(x0 + 1, ws - 1)
                fy = sy - y0
                fx = sx - x0
                out[t, y, x] = ((1 - fy) * ((1 - fx) * frames[t, y0, x0] + fx * frames[t, y0, x1])
                                + fy * ((1 - fx) * frames[t, y1, x0] + fx * frames[t, y1, x1]))


def warp_frames(frames: np.ndarray, grid: np.ndarray, centres_y: np.ndarray, centres_x: np.ndarray,
                out_shape: tuple[int, int] | None = None, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Sample ``frames`` at ``pixel + offset + field(pixel)``, bilinearly.

    Parameters
    ----------
    frames : numpy.ndarray, shape (T, Hs, Ws)
    grid : numpy.ndarray, shape (T, 2, gy, gx)
        Displacement (rows, columns; pixels) at the control points.
    centres_y, centres_x : numpy.ndarray
        Pixel positions of the control points (in output coordinates).
    out_shape : (H, W), optional
        Output frame size (default: the input's).
    offset : (float, float)
        Constant added to the sampling position (e.g. a margin).

    Returns
    -------
    numpy.ndarray, float32, shape (T, H, W)
    """
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    h, w = out_shape if out_shape is not None else frames.shape[1:]
    iy0, wy = grid_weights(h, centres_y)
    ix0, wx = grid_weights(w, centres_x)
    out = np.empty((frames.shape[0], h, w), np.float32)
    _warp_kernel(frames, np.ascontiguousarray(grid, dtype=np.float32), iy0, wy, ix0, wx,
                 float(offset[0]), float(offset[1]), out)
    return out


def field_at(grid: np.ndarray, centres_y: np.ndarray, centres_x: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The interpolated displacement at ``points`` (n x 2, row/col) for every frame: (T, n, 2)."""
    pts = np.asarray(points, dtype=np.float64)
    cy, cx = np.asarray(centres_y, float), np.asarray(centres_x, float)
    out = np.empty((grid.shape[0], len(pts), 2))
    for k, (py, px) in enumerate(pts):
        if cy.size > 1:
            a0 = int(np.clip(np.searchsorted(cy, py, side="right") - 1, 0, cy.size - 2))
            ay = float(np.clip((py - cy[a0]) / (cy[a0 + 1] - cy[a0]), 0, 1))
            a1 = a0 + 1
        else:
            a0 = a1 = 0
            ay = 0.0
        if cx.size > 1:
            b0 = int(np.clip(np.searchsorted(cx, px, side="right") - 1, 0, cx.size - 2))
            bx = float(np.clip((px - cx[b0]) / (cx[b0 + 1] - cx[b0]), 0, 1))
            b1 = b0 + 1
        else:
            b0 = b1 = 0
            bx = 0.0
        g = grid
        out[:, k, :] = ((1 - ay) * ((1 - bx) * g[:, :, a0, b0] + bx * g[:, :, a0, b1])
                        + ay * ((1 - bx) * g[:, :, a1, b0] + bx * g[:, :, a1, b1]))
    return out


@njit(cache=True, nogil=True, fastmath=True)
def _shift_kernel(frames, shifts, out):  # pragma: no cover - compiled
    n_t, h, w = out.shape
    for t in range(n_t):
        dy = shifts[t, 0]
        dx = shifts[t, 1]
        iy = int(np.floor(dy))
        ix = int(np.floor(dx))
        fy = dy - iy
        fx = dx - ix
        for y in range(h):
            y0 = min(max(y + iy, 0), h - 1)
            y1 = min(max(y + iy + 1, 0), h - 1)
            for x in range(w):
                x0 = min(max(x + ix, 0), w - 1)
                x1 = min(max(x + ix + 1, 0), w - 1)
                out[t, y, x] = ((1 - fy) * ((1 - fx) * frames[t, y0, x0] + fx * frames[t, y0, x1])
                                + fy * ((1 - fx) * frames[t, y1, x0] + fx * frames[t, y1, x1]))


def shift_frames(frames: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """``out(x) = frame(x + d)`` for one rigid ``d`` (row, col) per frame, bilinear, edges clamped."""
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    out = np.empty_like(frames)
    _shift_kernel(frames, np.ascontiguousarray(shifts, dtype=np.float64), out)
    return out


@njit(cache=True, nogil=True, fastmath=True)
def _whiten_kernel(spec, ref):  # pragma: no cover - compiled
    """In place: ``spec * ref / (|spec| + eps)`` over the last two axes (ref broadcast over the first)."""
    s = spec.reshape(-1, ref.size)
    r = ref.reshape(-1)
    for i in range(s.shape[0]):
        for j in range(r.size):
            v = s[i, j]
            a = np.sqrt(v.real * v.real + v.imag * v.imag) + 1e-6
            s[i, j] = v * r[j] / a


def whiten_multiply(spec: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Whitened cross-power spectrum, computed in place on ``spec``."""
    spec = np.ascontiguousarray(spec)
    _whiten_kernel(spec, np.ascontiguousarray(ref))
    return spec
