"""The Neural Latents Benchmark spike-smoothing baseline for co-smoothing.

Gaussian-smooth the held-in spikes of each trial, fit a Poisson GLM from the
smoothed held-in activity to the held-out neurons on training trials, and
predict the held-out neurons' rates on test trials (Pei et al. 2021, the
benchmark's reference baseline; implemented here from its description).
Import it from :mod:`neuralscope.manifold.nlb` alongside the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge
from sklearn.utils.validation import check_is_fitted

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.validation import check_consistent_length, check_positive
from neuralscope.manifold.nlb import _ZERO_RATE, _flatten, _trial_array, bits_per_spike

__all__ = ["SpikeSmoothing"]

# Linear predictor cap in the Poisson GLM: exp(20) counts per bin is already
# absurd; the cap only prevents overflow while the optimiser explores.
_ETA_MAX = 20.0


def _poisson_glm(
    X: np.ndarray, Y: np.ndarray, alpha: float, init: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """L2-penalised Poisson regression of every column of ``Y`` on ``X`` at once.

    Minimises ``mean_i(exp(eta) - y * eta) + alpha / 2 * |W|^2`` summed over
    outputs (the outputs are independent, so one L-BFGS run fits them all).
    ``init`` = (W, b) warm-starts the optimiser (e.g. from a nearby penalty).
    """
    n, p = X.shape
    q = Y.shape[1]
    if init is None:
        theta0 = np.concatenate([np.zeros(p * q), np.log(np.maximum(Y.mean(axis=0), 1e-6))])
    else:
        theta0 = np.concatenate([init[0].ravel(), init[1]])

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W = theta[: p * q].reshape(p, q)
        b = theta[p * q :]
        eta = np.minimum(X @ W + b, _ETA_MAX)
        mu = np.exp(eta)
        loss = (mu - Y * eta).sum() / n + 0.5 * alpha * (W**2).sum()
        resid = (mu - Y) / n
        grad = np.concatenate([(X.T @ resid + alpha * W).ravel(), resid.sum(axis=0)])
        return float(loss), grad

    res = minimize(fun, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[: p * q].reshape(p, q), res.x[p * q :]


class SpikeSmoothing(BaseEstimator):
    """NLB spike-smoothing baseline for co-smoothing.

    Held-in spikes are smoothed in time with a Gaussian kernel (within each
    trial); a Poisson GLM (or ridge regression) maps the smoothed held-in
    activity of each bin to the held-out neurons' counts in that bin. When
    ``kernel_sd`` or ``alpha`` lists several values, the pair with the best
    held-out bits per spike in ``cv``-fold cross-validation over the fit
    trials is used.

    Parameters
    ----------
    kernel_sd : float or sequence of float
        Standard deviation of the Gaussian kernel, in bins.
    alpha : float or sequence of float
        L2 penalty of the read-out (on z-scored features).
    log_offset : float or None
        Features are ``log(smoothed + log_offset)`` (the NLB baseline's
        choice, with 1e-4); None (default) uses the smoothed counts directly,
        which scored higher on the Lorenz and M1 sets here.
    readout : {"poisson", "ridge"}
        Poisson GLM (exp link) or ridge regression (predictions clipped at
        ``1e-9``).
    cv : int
        Folds over trials for choosing the hyper-parameters (>= 2).

    Attributes
    ----------
    kernel_sd_, alpha_ : float
        The chosen hyper-parameters.
    cv_results_ : dict
        ``"params"`` and ``"bits_per_spike"`` per candidate (empty when there
        was a single candidate).
    coef_ : ndarray of shape (n_heldin, n_heldout)
    intercept_ : ndarray of shape (n_heldout,)
    n_features_in_ : int
        Number of held-in neurons.
    """

    def __init__(
        self,
        kernel_sd: float | Sequence[float] = 2.0,
        alpha: float | Sequence[float] = 1e-2,
        log_offset: float | None = None,
        readout: str = "poisson",
        cv: int = 3,
    ):
        self.kernel_sd = kernel_sd
        self.alpha = alpha
        self.log_offset = log_offset
        self.readout = readout
        self.cv = cv

    def smooth(self, X: Any, kernel_sd: float | None = None) -> np.ndarray:
        """Gaussian-smoothed counts (n_trials, n_neurons, n_time), same units.

        Uses ``kernel_sd`` when given, else the fitted ``kernel_sd_``, else the
        (single) ``kernel_sd`` hyper-parameter.
        """
        arr = _trial_array(X, "X")
        if kernel_sd is None:
            kernel_sd = getattr(self, "kernel_sd_", None)
        if kernel_sd is None:
            sds = np.atleast_1d(self.kernel_sd)
            if sds.size != 1:
                raise NeuralscopeError("kernel_sd", "a single value (or fit first)", self.kernel_sd)
            kernel_sd = sds[0]
        sd = check_positive(kernel_sd, "kernel_sd")
        # mode="nearest" treats the trial edges as continuing the edge bins,
        # which biases them less than zero padding.
        return gaussian_filter1d(arr, float(sd), axis=2, mode="nearest")

    def _features(self, smoothed: np.ndarray) -> np.ndarray:
        flat = _flatten(smoothed)
        return flat if self.log_offset is None else np.log(flat + float(self.log_offset))

    def _fit_readout(self, F: np.ndarray, Y: np.ndarray, alphas: Sequence[float]) -> list[tuple]:
        """Read-out weights (on raw features) for each penalty in ``alphas``.

        Penalties are fitted from the largest down, each warm-started from the
        previous solution: the whole path costs little more than one fit.
        """
        mu, sd = F.mean(axis=0), F.std(axis=0)
        sd = np.where(sd > 1e-12, sd, 1.0)
        Z = (F - mu) / sd
        out: dict[float, tuple] = {}
        init = None
        for alpha in sorted(set(alphas), reverse=True):
            if self.readout == "poisson":
                W, b = _poisson_glm(Z, Y, alpha, init)
                init = (W, b)
            else:
                model = Ridge(alpha=alpha * len(Z)).fit(Z, Y)  # same penalty scale as the GLM
                W, b = model.coef_.T, model.intercept_
            out[alpha] = (W / sd[:, None], b - (mu / sd) @ W)
        return [out[a] for a in alphas]

    def _predict_readout(self, F: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        eta = F @ W + b
        if self.readout == "poisson":
            return np.exp(np.minimum(eta, _ETA_MAX))
        return np.maximum(eta, _ZERO_RATE)

    def _check_params(self) -> tuple[list[float], list[float]]:
        sds = [check_positive(s, "kernel_sd") for s in np.atleast_1d(self.kernel_sd)]
        alphas = [float(a) for a in np.atleast_1d(self.alpha)]
        if any(not np.isfinite(a) or a < 0 for a in alphas):
            raise NeuralscopeError("alpha", "non-negative penalties", self.alpha)
        if self.log_offset is not None:
            check_positive(self.log_offset, "log_offset")
        if self.readout not in ("poisson", "ridge"):
            raise NeuralscopeError("readout", "'poisson' or 'ridge'", self.readout)
        if isinstance(self.cv, bool) or not isinstance(self.cv, (int, np.integer)) or self.cv < 2:
            raise NeuralscopeError("cv", "an integer >= 2", self.cv)
        return sds, alphas

    def fit(self, X_heldin: Any, Y_heldout: Any) -> SpikeSmoothing:
        """Fit the read-out on training trials.

        Parameters
        ----------
        X_heldin : array-like of shape (n_trials, n_heldin, n_time)
            Held-in spike counts.
        Y_heldout : array-like of shape (n_trials, n_heldout, n_time)
            Held-out spike counts of the same trials.

        Returns
        -------
        self
        """
        sds, alphas = self._check_params()
        X = _trial_array(X_heldin, "X_heldin", counts=True)
        Y = _trial_array(Y_heldout, "Y_heldout", counts=True)
        check_consistent_length(X.shape[0], Y.shape[0], "Y_heldout")
        if Y.shape[2] != X.shape[2]:
            raise NeuralscopeError("Y_heldout", f"{X.shape[2]} time bins as X_heldin", f"{Y.shape[2]} bins")
        self.cv_results_: dict[str, list] = {"params": [], "bits_per_spike": []}
        if len(sds) * len(alphas) > 1:
            if X.shape[0] < int(self.cv):
                raise NeuralscopeError("X_heldin", f">= cv={self.cv} trials", f"{X.shape[0]} trials")
            if Y.sum() <= 0:
                raise NeuralscopeError("Y_heldout", "at least one held-out spike", "no spikes")
            folds = np.array_split(np.arange(X.shape[0]), int(self.cv))
            for sd in sds:
                feats = self.smooth(X, sd)
                preds = [np.empty_like(Y) for _ in alphas]
                for f in folds:
                    rest = np.setdiff1d(np.arange(X.shape[0]), f)
                    path = self._fit_readout(self._features(feats[rest]), _flatten(Y[rest]), alphas)
                    for pred, (W, b) in zip(preds, path):
                        out = self._predict_readout(self._features(feats[f]), W, b)
                        pred[f] = out.reshape(len(f), Y.shape[2], Y.shape[1]).transpose(0, 2, 1)
                for alpha, pred in zip(alphas, preds):
                    self.cv_results_["params"].append({"kernel_sd": sd, "alpha": alpha})
                    self.cv_results_["bits_per_spike"].append(bits_per_spike(pred, Y))
            best = self.cv_results_["params"][int(np.argmax(self.cv_results_["bits_per_spike"]))]
            self.kernel_sd_, self.alpha_ = best["kernel_sd"], best["alpha"]
        else:
            self.kernel_sd_, self.alpha_ = sds[0], alphas[0]
        feats = self.smooth(X)
        [(self.coef_, self.intercept_)] = self._fit_readout(self._features(feats), _flatten(Y), [self.alpha_])
        self.n_features_in_ = int(X.shape[1])
        return self

    def predict(self, X_heldin: Any) -> np.ndarray:
        """Held-out rates (n_trials, n_heldout, n_time), expected counts per bin."""
        check_is_fitted(self, "coef_")
        X = _trial_array(X_heldin, "X_heldin", counts=True)
        if X.shape[1] != self.n_features_in_:
            raise NeuralscopeError("X_heldin", f"{self.n_features_in_} held-in neurons", f"{X.shape[1]}")
        out = self._predict_readout(self._features(self.smooth(X)), self.coef_, self.intercept_)
        return out.reshape(X.shape[0], X.shape[2], -1).transpose(0, 2, 1)
