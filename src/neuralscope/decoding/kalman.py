"""Kalman-filter decoder of continuous variables (Wu et al. 2003 style).

The decoded variables (e.g. hand position and velocity) are the hidden state
of a linear-Gaussian model whose parameters are all fitted by least squares
on training data:

- transition  ``z_t = A z_{t-1} + w_t``,          ``w_t ~ N(0, W)``
- observation ``x_{t-lag} = H z_t + c + q_t``,    ``q_t ~ N(0, Q)``

where ``z`` is the target centred on its training mean and ``x`` the
activity. Decoding runs the filter forward from the training mean and
covariance of the state, so it never needs the true initial state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.validation import check_positive
from neuralscope.decoding.features import check_decoder_input

__all__ = ["KalmanDecoder"]


def _check_lag(lag: Any) -> int:
    if isinstance(lag, (bool, np.bool_)) or not isinstance(lag, (int, np.integer)) or lag < 0:
        raise NeuralscopeError("lag", "an integer >= 0 (bins)", lag)
    return int(lag)


def _covariance(residuals: np.ndarray) -> np.ndarray:
    n = residuals.shape[0]
    return residuals.T @ residuals / max(n - 1, 1)


def _regularize(cov: np.ndarray) -> np.ndarray:
    """Add a small ridge so a covariance can be inverted: silent neurons or a
    perfectly predictable state otherwise make it singular."""
    scale = np.trace(cov) / cov.shape[0] if cov.size else 0.0
    eps = 1e-6 * scale if scale > 0 else 1e-9
    return cov + eps * np.eye(cov.shape[0])


class KalmanDecoder(RegressorMixin, BaseEstimator):
    """Kalman-filter decoder with least-squares fitted dynamics and tuning.

    Parameters
    ----------
    lag : int
        Bins by which the activity leads the decoded variables: the state at
        bin ``t`` is observed through ``X[t - lag]`` (motor cortex fires
        ~100 ms before the movement it encodes). The first ``lag`` bins of a
        prediction have no observation and are extrapolated by the dynamics.
    noise_scale : float
        Multiplies the fitted transition-noise covariance ``W`` (> 0). Larger
        values trust the neural evidence more (faster, noisier estimates);
        smaller values smooth more.

    Attributes
    ----------
    A_ : ndarray of shape (n_outputs, n_outputs)
        State transition matrix (of the centred state).
    W_ : ndarray of shape (n_outputs, n_outputs)
        Transition-noise covariance (before ``noise_scale``).
    H_ : ndarray of shape (n_features, n_outputs)
        Observation (tuning) matrix.
    obs_intercept_ : ndarray of shape (n_features,)
        Observation offset ``c``: each feature's mean activity at the mean state.
    Q_ : ndarray of shape (n_features, n_features)
        Observation-noise covariance (slightly regularised).
    state_mean_ : ndarray of shape (n_outputs,)
        Training mean of the target; the filter starts here.
    state_cov_ : ndarray of shape (n_outputs, n_outputs)
        Training covariance of the target; the filter's initial uncertainty.
    n_outputs_ : int

    Notes
    -----
    Predictions depend on all previous rows, so ``predict`` must receive
    contiguous time bins in order; one prediction is returned per row. A
    state containing both position and velocity lets ``A`` learn that
    position integrates velocity, which is where the filter gains most over
    static decoders.

    Examples
    --------
    >>> from neuralscope.datasets import simulate_reaching
    >>> act = simulate_reaching(duration=60.0)
    >>> kin = np.hstack([act.covariate("position"), act.covariate("velocity")])
    >>> KalmanDecoder(lag=2).fit(act.data, kin).predict(act.data).shape
    (1200, 4)
    """

    def __init__(self, lag: int = 0, noise_scale: float = 1.0):
        self.lag = lag
        self.noise_scale = noise_scale

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any) -> KalmanDecoder:
        """Fit transition and observation models by least squares.

        Parameters
        ----------
        X : array-like of shape (n_time, n_features)
            Activity in contiguous time bins.
        y : array-like of shape (n_time,) or (n_time, n_outputs)
            Decoded variables on the same grid.

        Returns
        -------
        self
        """
        X2, y2, _ = check_decoder_input(self, X, y, reset=True, target="continuous")
        lag = _check_lag(self.lag)
        check_positive(self.noise_scale, "noise_scale")
        n = X2.shape[0]
        if n < lag + 2:
            raise NeuralscopeError("X", f"at least lag + 2 = {lag + 2} samples (time bins)", f"{n} sample(s)")
        Z = y2[:, None] if y2.ndim == 1 else y2
        self._single_output = y2.ndim == 1

        self.state_mean_ = Z.mean(axis=0)
        Zc = Z - self.state_mean_
        self.state_cov_ = _regularize(_covariance(Zc))

        # Transition: z_t = A z_{t-1}; lstsq copes with a rank-deficient state.
        prev, curr = Zc[:-1], Zc[1:]
        A = linalg.lstsq(prev, curr, lapack_driver="gelsy")[0].T
        self.A_ = A
        self.W_ = _regularize(_covariance(curr - prev @ A.T))

        # Observation: x_{t-lag} = H z_t + c, fitted with an intercept.
        states = np.hstack([Zc[lag:], np.ones((n - lag, 1))])
        obs = X2[: n - lag]
        coef = linalg.lstsq(states, obs, lapack_driver="gelsy")[0]
        self.H_ = coef[:-1].T
        self.obs_intercept_ = coef[-1]
        self.Q_ = _regularize(_covariance(obs - states @ coef))
        self.n_outputs_ = Z.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Filtered estimate of the state at every bin.

        Parameters
        ----------
        X : array-like of shape (n_time, n_features)
            Activity in contiguous time bins.

        Returns
        -------
        numpy.ndarray of shape (n_time,) or (n_time, n_outputs), like the training ``y``.
        """
        check_is_fitted(self)
        X2, _, _ = check_decoder_input(self, X, reset=False)
        lag = _check_lag(self.lag)
        A, W = self.A_, self.W_ * float(self.noise_scale)
        k = A.shape[0]
        # Information form: only (n_outputs x n_outputs) systems are solved per
        # step, instead of (n_features x n_features) innovation covariances.
        HtQinv = linalg.solve(self.Q_, self.H_, assume_a="pos").T  # k x n_features
        info = HtQinv @ self.H_  # H' Q^-1 H
        evidence = (X2 - self.obs_intercept_) @ HtQinv.T  # per-bin H' Q^-1 (x - c)
        eye = np.eye(k)

        n = X2.shape[0]
        out = np.empty((n, k))
        m = np.zeros(k)  # centred state: the training mean
        P = self.state_cov_.copy()
        for t in range(n):
            if t > 0:
                m = A @ m
                P = A @ P @ A.T + W
            if t >= lag:
                # Posterior covariance (P^-1 + H'Q^-1H)^-1 written as
                # P (I + info P)^-1, which stays valid when P is singular.
                P = np.linalg.solve((eye + info @ P).T, P.T).T
                P = 0.5 * (P + P.T)
                m = m + P @ (evidence[t - lag] - info @ m)
            out[t] = m
        out += self.state_mean_
        return out[:, 0] if self._single_output else out
