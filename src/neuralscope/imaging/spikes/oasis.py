"""OASIS-class deconvolution: non-negative sparse AR(1)/AR(2) spike inference.

Solves, per trace ``y``, ``min_c 1/2 ||y - b - c||^2 + lam * sum(s)`` subject to
``s = G c >= s_min`` (``G`` the AR(1) operator ``s_t = c_t - g c_{t-1}``) with
the pool-adjacent-violators algorithm of Friedrich, Zhou & Paninski (2017), in
O(T). ``lam`` is chosen so the residual matches the noise (``||y - b - c||^2 =
sigma^2 T``); ``sigma`` is estimated from the high-frequency power spectrum,
``g`` from the noise-corrected autocovariance and the baseline ``b`` jointly
with ``c``. AR(2) kernels (rise and decay) are reduced to AR(1): with roots
``d > r`` of ``z^2 - g1 z - g2``, ``u_t = c_t - r c_{t-1}`` is AR(1) with
decay ``d``, so the rise-filtered trace ``y_t - r y_{t-1}`` is deconvolved.
Written from the paper; no code from the reference implementation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit
from sklearn.base import BaseEstimator, TransformerMixin

from neuralscope.core.errors import NeuralscopeError

__all__ = ["OasisDeconvolution", "estimate_noise", "estimate_time_constants", "oasis_ar1", "oasis_deconvolve"]


@njit(cache=True)
def _pav_ar1(y: np.ndarray, g: float, lam: float, s_min: float, c: np.ndarray) -> float:
    """Fill ``c`` with the AR(1) solution for data ``y`` (baseline removed); return the RSS."""
    n = y.shape[0]
    v = np.empty(n)
    w = np.empty(n)
    start = np.empty(n, np.int64)
    length = np.empty(n, np.int64)
    shift = lam * (1.0 - g)  # the L1 penalty on s is linear in c: it shifts the data
    i = 0
    for t in range(n):
        v[i] = y[t] - (lam if t == n - 1 else shift)
        w[i] = 1.0
        start[i] = t
        length[i] = 1
        while i > 0:
            gl = g ** length[i - 1]
            if v[i] >= gl * v[i - 1] + s_min:
                break
            # Merge pool i into pool i-1 (weighted least-squares value of the fused pool).
            v[i - 1] = (w[i - 1] * v[i - 1] + gl * w[i] * v[i]) / (w[i - 1] + gl * gl * w[i])
            w[i - 1] += gl * gl * w[i]
            length[i - 1] += length[i]
            i -= 1
        i += 1
    rss = 0.0
    for k in range(i):
        val = max(v[k], 0.0)
        for j in range(length[k]):
            c[start[k] + j] = val
            val *= g
    for t in range(n):
        rss += (y[t] - c[t]) ** 2
    return rss


@njit(cache=True)
def _constrained_ar1(y: np.ndarray, g: float, sigma: float, b0: float, fit_baseline: bool,
                     s_min: float, c: np.ndarray) -> tuple[float, float]:
    """Noise-constrained AR(1): bisection on lam so that RSS = sigma^2 T; returns (lam, b)."""
    n = y.shape[0]
    target = sigma * sigma * n
    b = b0
    yb = np.empty(n)
    lam = 0.0
    for _ in range(4 if fit_baseline else 1):
        for t in range(n):
            yb[t] = y[t] - b
        lo, hi = 0.0, 0.0
        peak = 0.0
        for t in range(n):
            peak = max(peak, abs(yb[t]))
        hi = max(peak, 1e-12) * 4.0 / max(1.0 - g, 1e-3)
        if _pav_ar1(yb, g, 0.0, s_min, c) >= target:
            lam = 0.0
        else:
            for _ in range(40):
                mid = 0.5 * (lo + hi)
                if _pav_ar1(yb, g, mid, s_min, c) < target:
                    lo = mid
                else:
                    hi = mid
            lam = lo
            _pav_ar1(yb, g, lam, s_min, c)
        if fit_baseline:
            resid = 0.0
            for t in range(n):
                resid += y[t] - c[t]
            b = resid / n
    return lam, b


def oasis_ar1(y: Any, g: float, lam: float = 0.0, s_min: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact AR(1) OASIS solution for one trace at a given sparsity penalty.

    Parameters
    ----------
    y : array-like, shape (T,)
        Trace with its baseline removed.
    g : float
        AR(1) coefficient in [0, 1).
    lam : float
        L1 penalty on the spikes.
    s_min : float
        Minimal size of a non-zero spike.

    Returns
    -------
    c, s : numpy.ndarray
        Denoised calcium and spikes (``s_t = c_t - g c_{t-1}``).
    """
    y = np.ascontiguousarray(y, dtype=float)
    c = np.empty_like(y)
    _pav_ar1(y, float(g), float(lam), float(s_min), c)
    s = c.copy()
    s[1:] -= g * c[:-1]
    return c, np.maximum(s, 0.0)


def estimate_noise(y: Any, freq_range: tuple[float, float] = (0.25, 0.5)) -> float:
    """Noise standard deviation from the mean power at high frequencies (Welch PSD).

    Calcium transients have little power above a quarter of the sampling rate,
    so the one-sided PSD there is ``2 sigma^2`` (frequencies as fractions of fs).
    """
    from scipy.signal import welch

    y = np.asarray(y, dtype=float)
    f, pxx = welch(y, fs=1.0, nperseg=min(256, y.size))
    sel = (f > freq_range[0]) & (f <= freq_range[1])
    if not np.any(sel):
        return float(np.std(np.diff(y)) / math.sqrt(2.0))
    return float(math.sqrt(max(np.mean(pxx[sel]) / 2.0, 0.0)))


def estimate_time_constants(y: Any, p: int = 1, sigma: float | None = None, lags: int = 5) -> np.ndarray:
    """AR(p) coefficients from the autocovariance, correcting lag 0 for white noise.

    For an AR(p) process plus white noise, ``r(k) = sum_j g_j (r(k - j) - sigma^2
    [k == j])`` for ``k >= 1``; the system for ``k = 1 .. p + lags`` is solved by
    least squares.
    """
    y = np.asarray(y, dtype=float)
    sigma = estimate_noise(y) if sigma is None else float(sigma)
    x = y - y.mean()
    n_lags = p + lags
    r = np.array([np.dot(x[: x.size - k], x[k:]) / x.size for k in range(n_lags + 1)])
    a = np.array([[r[abs(k - j)] - (sigma**2 if k == j else 0.0) for j in range(1, p + 1)]
                  for k in range(1, n_lags + 1)])
    g, *_ = np.linalg.lstsq(a, r[1:], rcond=None)
    return g


def _ar2_roots(g: np.ndarray) -> tuple[float, float]:
    disc = g[0] ** 2 + 4 * g[1]
    if disc < 0:
        return float(np.clip(g[0], 0.0, 0.999)), 0.0
    d = (g[0] + math.sqrt(disc)) / 2.0
    r = (g[0] - math.sqrt(disc)) / 2.0
    return float(np.clip(d, 0.0, 0.999)), float(np.clip(r, 0.0, d))


def oasis_deconvolve(
    y: Any,
    p: int = 1,
    g: Any = None,
    sigma: float | None = None,
    baseline: float | None = None,
    s_min: float = 0.0,
) -> dict[str, Any]:
    """Noise-constrained OASIS deconvolution of one trace.

    Parameters
    ----------
    y : array-like, shape (T,)
        Fluorescence or dF/F.
    p : {1, 2}
        Order of the autoregressive calcium model.
    g : float or sequence of p floats, optional
        AR coefficients; estimated from the autocovariance when omitted.
    sigma : float, optional
        Noise standard deviation; estimated from the PSD when omitted.
    baseline : float, optional
        Fixed baseline; fitted jointly when omitted.
    s_min : float
        Minimal spike size (0: pure L1).

    Returns
    -------
    dict
        ``c`` (denoised calcium), ``s`` (spikes, in units of ``y``), ``b``,
        ``g`` (AR coefficients used), ``sigma``, ``lam``.
    """
    y = np.ascontiguousarray(y, dtype=float)
    if y.ndim != 1 or y.size < 4 or not np.all(np.isfinite(y)):
        raise NeuralscopeError("y", "a finite 1-D trace of >= 4 samples", f"shape {y.shape}")
    if p not in (1, 2):
        raise NeuralscopeError("p", "1 or 2", p)
    sn = estimate_noise(y) if sigma is None else float(sigma)
    if g is None:
        gs = estimate_time_constants(y, p, sn)
    else:
        gs = np.atleast_1d(np.asarray(g, dtype=float))
    if p == 1:
        d, r = float(np.clip(gs[0], 0.0, 0.999)), 0.0
    else:
        d, r = _ar2_roots(gs)
    b0 = float(np.percentile(y, 15)) if baseline is None else float(baseline)
    u = y.copy()
    if r > 0:
        u[1:] = y[1:] - r * y[:-1]
        u[0] = y[0] * (1.0 - r)
    scale = 1.0 - r  # a constant baseline b becomes b (1 - r) after the rise filter
    sn_u = sn * math.sqrt(1.0 + r * r)
    cu = np.empty_like(u)
    lam, bu = _constrained_ar1(u, d, sn_u, b0 * scale, baseline is None, float(s_min), cu)
    s = cu.copy()
    s[1:] -= d * cu[:-1]
    s = np.maximum(s, 0.0)
    c = cu.copy()
    for t in range(1, c.size):  # undo the rise filter: c_t = r c_{t-1} + u_t
        c[t] += r * c[t - 1]
    g_used = np.array([d]) if p == 1 else np.array([d + r, -d * r])
    return {"c": c, "s": s, "b": bu / scale, "g": g_used, "sigma": sn, "lam": lam}


class OasisDeconvolution(TransformerMixin, BaseEstimator):
    """scikit-learn style OASIS deconvolution of traces (rows of ``X``).

    Parameters
    ----------
    p : {1, 2}
        AR order.
    g : float or sequence, optional
        Fixed AR coefficients for every trace (estimated per trace when None).
    s_min : float
        Minimal spike size.
    spike_amplitude : float, optional
        dF/F of one spike, used to express spikes as counts; when None the
        outputs stay in the units of ``X``.

    Attributes
    ----------
    g_ : numpy.ndarray, shape (n_traces, p)
    sigma_, baseline_, lam_ : numpy.ndarray, shape (n_traces,)
    calcium_ : numpy.ndarray, shape (n_traces, T)
        Denoised calcium of the traces given to ``fit``.
    """

    def __init__(self, p: int = 1, g: Any = None, s_min: float = 0.0, spike_amplitude: float | None = None):
        self.p = p
        self.g = g
        self.s_min = s_min
        self.spike_amplitude = spike_amplitude

    def _check(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] < 4 or not np.all(np.isfinite(X)):
            raise NeuralscopeError("X", "finite traces of shape (n, T) with T >= 4", f"shape {X.shape}")
        return X

    def _run(self, X: np.ndarray, g: Any) -> tuple[list[dict], np.ndarray]:
        out = [oasis_deconvolve(x, self.p, g if g is None else g[i], s_min=self.s_min) for i, x in enumerate(X)]
        s = np.stack([o["s"] for o in out])
        if self.spike_amplitude:
            s = s / float(self.spike_amplitude)
        return out, s

    def fit(self, X: Any, y: Any = None) -> OasisDeconvolution:
        """Estimate AR coefficients, noise and baseline for each trace."""
        X = self._check(X)
        g = None if self.g is None else np.tile(np.atleast_1d(self.g), (X.shape[0], 1))
        out, s = self._run(X, g)
        self.g_ = np.stack([o["g"] for o in out])
        self.sigma_ = np.array([o["sigma"] for o in out])
        self.baseline_ = np.array([o["b"] for o in out])
        self.lam_ = np.array([o["lam"] for o in out])
        self.calcium_ = np.stack([o["c"] for o in out])
        self.spikes_ = s
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Spikes per frame of each trace, with the AR coefficients found by ``fit``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "g_")
        X = self._check(X)
        if X.shape[0] != self.g_.shape[0]:
            raise NeuralscopeError("X", f"{self.g_.shape[0]} traces (as in fit)", X.shape[0])
        return self._run(X, self.g_)[1]

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        return self.fit(X).spikes_
