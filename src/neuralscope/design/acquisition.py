"""Acquisition functions (log EI, noisy log EI, UCB) and their multi-start optimiser.

Every acquisition returns its value and its gradient with respect to the
candidate points, so many L-BFGS-B starts run as one vectorised problem.
Log EI follows Ament et al. (2023), "Unexpected improvements to expected
improvement": ``log h(z)`` with ``h(z) = phi(z) + z Phi(z)`` evaluated in
three regimes so it stays finite and smooth far below the incumbent, where
plain EI underflows to 0 and gives no gradient.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import linalg, optimize, special

from neuralscope.core.errors import NeuralscopeError

ACQUISITIONS = ("logei", "noisy_logei", "qnei", "ucb")
_C1 = 0.5 * math.log(2 * math.pi)
_C2 = 0.5 * math.log(math.pi / 2)
_INV_SQRT_EPS = 1.0 / math.sqrt(np.finfo(float).eps)


def _log1mexp(a: np.ndarray) -> np.ndarray:
    """log(1 - exp(a)) for a < 0, accurate at both ends (Mächler 2012)."""
    return np.where(a > -math.log(2), np.log(-np.expm1(a)), np.log1p(-np.exp(a)))


def log_h(z: np.ndarray) -> np.ndarray:
    """``log(phi(z) + z * Phi(z))``, stable for all z (Ament et al. 2023, eq. 9)."""
    z = np.asarray(z, float)
    out = np.empty_like(z)
    hi = z > -1
    zh = z[hi]
    out[hi] = np.log(np.exp(-0.5 * zh**2 - _C1) + zh * special.ndtr(zh))
    mid = (~hi) & (z > -_INV_SQRT_EPS)
    zm = z[mid]
    out[mid] = -0.5 * zm**2 - _C1 + _log1mexp(np.log(special.erfcx(-zm / math.sqrt(2)) * np.abs(zm)) + _C2)
    lo = ~(hi | mid)
    zl = z[lo]
    out[lo] = -0.5 * zl**2 - _C1 - 2.0 * np.log(np.abs(zl))
    return out


def _dlog_h(z: np.ndarray, logh: np.ndarray) -> np.ndarray:
    # h'(z) = Phi(z), so d log h / dz = exp(log Phi(z) - log h(z)), stable in log space.
    return np.exp(special.log_ndtr(z) - logh)


class LogExpectedImprovement:
    """log E[max(f(x) - best, 0)] (maximisation, standardised units).

    Parameters
    ----------
    best : float
        Incumbent value in the GP's standardised output units.
    """

    def __init__(self, best: float):
        self.best = best

    def __call__(self, gp, X: np.ndarray, grad: bool = False):
        if grad:
            mean, var, dmean, dvar = gp.predict_normalized(X, grad=True)
        else:
            mean, var = gp.predict_normalized(X)
        sd = np.sqrt(var)
        z = (mean - self.best) / sd
        lh = log_h(z)
        val = lh + np.log(sd)
        if not grad:
            return val
        dsd = dvar / (2.0 * sd[:, None])
        dz = (dmean - z[:, None] * dsd) / sd[:, None]
        return val, _dlog_h(z, lh)[:, None] * dz + dsd / sd[:, None]


class NoisyLogExpectedImprovement(LogExpectedImprovement):
    """Log EI against a noise-robust incumbent: the best posterior mean over the observed points.

    With noisy observations the largest observed value is biased upwards (it
    is the luckiest draw); the posterior mean at the observed points is not.
    This is the plug-in incumbent of noisy EI (Picheny et al. 2013), not the
    Monte-Carlo integration over the incumbent of Letham et al. (2019).
    """

    def __init__(self, gp):
        mean, _ = gp.predict_normalized(gp.X_train_ * gp.x_span_ + gp.x_lo_)
        super().__init__(float(np.max(mean)))


class MonteCarloNoisyLogEI:
    """Noisy expected improvement integrated over the unknown incumbent (Letham et al. 2019), in log space.

    Draws ``n_samples`` joint posterior samples ``f_s`` of the latent function
    at the observed points. Given ``f_s`` the GP is the prior conditioned on
    noiseless values, whose variance at ``x`` is the same for every sample and
    whose mean is linear in ``f_s``; so each sample's EI is analytic and
    ``log mean_s EI_s(x)`` is a log-sum-exp of log EIs, with an exact gradient.
    """

    def __init__(self, gp, n_samples: int = 32, rng: np.random.Generator | None = None):
        from neuralscope.design.gp import _kernel, cholesky_with_jitter

        rng = rng if rng is not None else np.random.default_rng(0)
        Xb = gp.X_train_
        mean, _ = gp.predict_normalized(Xb * gp.x_span_ + gp.x_lo_)
        cov = gp.posterior_covariance_normalized(Xb * gp.x_span_ + gp.x_lo_, Xb * gp.x_span_ + gp.x_lo_)
        Lc, _ = cholesky_with_jitter(0.5 * (cov + cov.T) + 1e-9 * gp.signal_var_ * np.eye(len(Xb)))
        F = mean[None, :] + rng.standard_normal((n_samples, len(Xb))) @ Lc.T  # (S, n)
        Kf = _kernel(gp._sqdist(Xb, Xb), gp.kernel, gp.signal_var_)[0]
        # Noiseless conditioning on near-duplicate points is singular: a small floor keeps it stable.
        self.Lf, _ = cholesky_with_jitter(Kf + 1e-6 * gp.signal_var_ * np.eye(len(Xb)))
        self.A = linalg.cho_solve((self.Lf, True), (F - gp.mean_).T, check_finite=False)  # (n, S)
        self.best = F.max(axis=1)  # (S,)
        self.n_samples = n_samples

    def __call__(self, gp, X: np.ndarray, grad: bool = False):
        from neuralscope.design.gp import _kernel

        Xn = (np.atleast_2d(X) - gp.x_lo_) / gp.x_span_
        ls2 = gp.lengthscales_**2
        if grad:
            delta = Xn[:, None, :] - gp.X_train_[None, :, :]
            r2 = (delta**2 / ls2).sum(-1)
        else:
            r2 = gp._sqdist(Xn, gp.X_train_)
        k, G = _kernel(r2, gp.kernel, gp.signal_var_)
        means = k @ self.A + gp.mean_  # (m, S)
        v = linalg.solve_triangular(self.Lf, k.T, lower=True, check_finite=False)
        var = np.maximum(gp.signal_var_ - np.sum(v * v, axis=0), 1e-12 * gp.signal_var_)
        sd = np.sqrt(var)
        z = (means - self.best[None, :]) / sd[:, None]
        lh = log_h(z.ravel()).reshape(z.shape)
        val = special.logsumexp(lh, axis=1) + np.log(sd) - math.log(self.n_samples)
        if not grad:
            return val
        dk = G[..., None] * (2.0 * delta / ls2)  # (m, n, d)
        w = linalg.solve_triangular(self.Lf.T, v, lower=False, check_finite=False)  # (n, m)
        dvar = -2.0 * np.einsum("mnd,nm->md", dk, w) / gp.x_span_
        dmeans = np.einsum("mnd,ns->msd", dk, self.A) / gp.x_span_  # (m, S, d)
        dsd = dvar / (2.0 * sd[:, None])
        weights = np.exp(lh - special.logsumexp(lh, axis=1, keepdims=True))  # softmax over samples
        dlh = _dlog_h(z.ravel(), lh.ravel()).reshape(z.shape)
        dz = (dmeans - z[..., None] * dsd[:, None, :]) / sd[:, None, None]
        g = np.einsum("ms,ms,msd->md", weights, dlh, dz) + dsd / sd[:, None]
        return val, g


class UpperConfidenceBound:
    """``mean + sqrt(beta) * sd`` (standardised units)."""

    def __init__(self, beta: float = 4.0):
        if not beta >= 0:
            raise NeuralscopeError("beta", "a number >= 0", beta)
        self.beta = beta

    def __call__(self, gp, X: np.ndarray, grad: bool = False):
        s = math.sqrt(self.beta)
        if not grad:
            mean, var = gp.predict_normalized(X)
            return mean + s * np.sqrt(var)
        mean, var, dmean, dvar = gp.predict_normalized(X, grad=True)
        sd = np.sqrt(var)
        return mean + s * sd, dmean + s * dvar / (2.0 * sd[:, None])


def make_acquisition(name: str, gp, best: float, beta: float = 4.0, rng: np.random.Generator | None = None):
    """An acquisition by name: ``logei``, ``noisy_logei`` (plug-in), ``qnei`` (Monte Carlo) or ``ucb``."""
    if name == "logei":
        return LogExpectedImprovement(best)
    if name == "noisy_logei":
        return NoisyLogExpectedImprovement(gp)
    if name == "qnei":
        return MonteCarloNoisyLogEI(gp, rng=rng)
    if name == "ucb":
        return UpperConfidenceBound(beta)
    raise NeuralscopeError("acquisition", f"one of {ACQUISITIONS}", name)


def optimize_acquisition(acq, gp, space, rng: np.random.Generator, X_obs: np.ndarray | None = None,
                         n_raw: int = 1024, n_starts: int = 8, maxiter: int = 200,
                         exclude: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Maximise ``acq`` over the unit cube of ``space`` by multi-start L-BFGS-B.

    Starts are the best of ``n_raw`` scrambled-Sobol points plus Gaussian
    perturbations of the best observed points (where the optimum usually is),
    all optimised jointly. The optimised points are then projected (ints
    rounded, one-hot exact) and checked against the constraints; the best
    feasible projected point wins.

    Returns
    -------
    x : ndarray (D,)
        Encoded point.
    value : float
        Its acquisition value.
    """
    from scipy.stats import qmc

    d = space.dim
    raw = qmc.Sobol(d, scramble=True, seed=rng).random(n_raw)
    if X_obs is not None and len(X_obs):
        mean, _ = gp.predict_normalized(X_obs)
        top = X_obs[np.argsort(-mean)[:5]]
        near = top[rng.integers(len(top), size=n_raw // 4)] + rng.normal(0, 0.05, size=(n_raw // 4, d))
        raw = np.vstack([raw, np.clip(near, 0, 1)])
    constrained = bool(space.linear_constraints) or space.feasible is not None
    if constrained:
        ok = np.array([space.is_feasible(space.decode(x)) for x in raw])
        raw = raw[ok] if np.any(ok) else space.sample(64, rng)
    vals = acq(gp, raw)
    order = np.argsort(-vals)
    # Half the starts from the very best, half sampled among the top decile for diversity.
    k = min(n_starts, len(raw))
    best_idx = list(order[: (k + 1) // 2])
    pool = order[(k + 1) // 2: max(k, len(raw) // 10)]
    if len(pool):
        best_idx += list(rng.choice(pool, size=min(k // 2, len(pool)), replace=False))
    starts = raw[best_idx]
    m = len(starts)

    def objective(flat: np.ndarray):
        X = flat.reshape(m, d)
        v, g = acq(gp, X, grad=True)
        return -float(np.sum(v)), -g.reshape(-1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = optimize.minimize(objective, starts.reshape(-1), jac=True, method="L-BFGS-B",
                                bounds=[(0.0, 1.0)] * (m * d), options={"maxiter": maxiter})
    ends = np.clip(res.x.reshape(m, d), 0, 1)
    if constrained:
        ends = np.stack([_pull_into_feasible(space, s, e) for s, e in zip(starts, ends)])
    pool = order
    if exclude is not None and len(exclude):
        near = np.any(np.linalg.norm(raw[:, None, :] - exclude[None, :, :], axis=-1) < 1e-3, axis=1)
        pool = np.concatenate([order[: 4 * k], order[~near[order]][: 4 * k]])
    cand = np.vstack([ends, starts, raw[pool[: 8 * k]]])
    cand = space.project(cand)
    feasible = np.array([space.is_feasible(space.decode(x)) for x in cand])
    if exclude is not None and len(exclude):
        # Re-measuring (almost) the same point teaches the model nothing new: keep 1e-3 away when possible.
        dup = np.any(np.linalg.norm(cand[:, None, :] - exclude[None, :, :], axis=-1) < 1e-3, axis=1)
        if np.any(feasible & ~dup):
            feasible &= ~dup
    if not np.any(feasible):
        fallback = space.sample(1, rng)
        return fallback[0], float(acq(gp, fallback)[0])
    cv = acq(gp, cand)
    cv[~feasible] = -np.inf
    i = int(np.argmax(cv))
    return cand[i], float(cv[i])


def _pull_into_feasible(space, start: np.ndarray, end: np.ndarray, steps: int = 30) -> np.ndarray:
    """The point furthest along start -> end that is still feasible (bisection).

    L-BFGS-B knows only the box; an optimum that crossed a constraint is
    pulled back to the boundary, where constrained optima usually sit.
    """
    if space.is_feasible(space.decode(end)):
        return end
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if space.is_feasible(space.decode(start + mid * (end - start))):
            lo = mid
        else:
            hi = mid
    return start + lo * (end - start)
