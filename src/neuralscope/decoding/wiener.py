"""Wiener filter and Wiener cascade: the classic linear decoders of
continuous movement variables from binned population activity.

The Wiener filter is least-squares regression of the target on a causal
window of past activity (Wiener 1949; as used for motor BMIs since Serruya
et al. 2002). The cascade adds a static per-output polynomial fitted to the
filter's training predictions, which absorbs rectification and saturation
in the neural code (the "Wiener cascade" of Glaser et al. 2020, eNeuro).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.polynomial import Polynomial
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from neuralscope.core.errors import NeuralscopeError
from neuralscope.decoding.features import (
    check_decoder_input,
    check_n_history,
    lagged_design,
)

__all__ = ["WienerCascade", "WienerFilter"]


def _check_alpha(alpha: Any) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise NeuralscopeError("alpha", "a number >= 0", alpha) from None
    if not np.isfinite(a) or a < 0:
        raise NeuralscopeError("alpha", "a finite number >= 0", alpha)
    return a


def _fit_linear(design: np.ndarray, Y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Least squares with an (unpenalised) intercept: returns (W, b), W (n_design, n_outputs)."""
    x_mean = design.mean(axis=0)
    y_mean = Y.mean(axis=0)
    Xc = design - x_mean
    Yc = Y - y_mean
    if alpha > 0:
        gram = Xc.T @ Xc
        gram[np.diag_indices_from(gram)] += alpha
        W = linalg.solve(gram, Xc.T @ Yc, assume_a="pos")
    else:
        W = _solve_least_squares(Xc, Yc)
    return W, y_mean - x_mean @ W


# Below this reciprocal condition number of the Gram matrix the normal
# equations lose too many digits; the QR-based solver takes over.
_MIN_RCOND = 1e-10


def _solve_least_squares(Xc: np.ndarray, Yc: np.ndarray) -> np.ndarray:
    """Ordinary least squares, fast when well posed, exact when not.

    The normal equations with a Cholesky factor cost one Gram product (about
    10x faster than a QR/SVD solve on a 10-bin, 170-neuron design); when the
    Gram matrix is singular or ill-conditioned (silent neurons, more columns
    than rows) the minimum-norm solution of a pivoted QR is used instead.
    """
    gram = Xc.T @ Xc
    chol, info = linalg.lapack.dpotrf(gram, lower=False)
    if info == 0:
        rcond, info = linalg.lapack.dpocon(chol, np.abs(gram).sum(axis=0).max(), uplo="U")
        if info == 0 and rcond > _MIN_RCOND:
            W, info = linalg.lapack.dpotrs(chol, Xc.T @ Yc, lower=False)
            if info == 0:
                return W
    return linalg.lstsq(Xc, Yc, lapack_driver="gelsy")[0]


class WienerFilter(RegressorMixin, BaseEstimator):
    """Linear least-squares decoder on a causal window of activity history.

    Parameters
    ----------
    n_history : int
        Bins of activity per prediction, current bin included (causal);
        bins before the first sample are zero.
    alpha : float
        Ridge penalty on the filter weights (>= 0). 0 is the classic Wiener
        filter (minimum-norm least squares).

    Attributes
    ----------
    coef_ : ndarray of shape (n_history * n_features, n_outputs)
        Filter weights; row ``j * n_features + i`` is neuron ``i`` at
        ``n_history - 1 - j`` bins in the past.
    intercept_ : ndarray of shape (n_outputs,)
    n_outputs_ : int

    Notes
    -----
    Predictions use the rows before each row, so ``predict`` must receive
    contiguous time bins in order; one prediction is returned per input row.

    Examples
    --------
    >>> from neuralscope.datasets import simulate_reaching
    >>> act = simulate_reaching(duration=60.0)
    >>> wf = WienerFilter(n_history=5).fit(act.data, act.covariate("velocity"))
    >>> wf.predict(act.data).shape
    (1200, 2)
    """

    def __init__(self, n_history: int = 10, alpha: float = 0.0):
        self.n_history = n_history
        self.alpha = alpha

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _design(self, X: Any, *, reset: bool, y: Any = "no_y") -> tuple[np.ndarray, Any]:
        X2, y2, _ = check_decoder_input(self, X, y, reset=reset, target="continuous" if reset else None)
        return lagged_design(X2, check_n_history(self.n_history)), y2

    def _fit_filter(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Fit the linear stage; return the 2-D targets and training predictions."""
        alpha = _check_alpha(self.alpha)
        design, y2 = self._design(X, reset=True, y=y)
        self._single_output = y2.ndim == 1
        Y = y2[:, None] if y2.ndim == 1 else y2
        self.coef_, self.intercept_ = _fit_linear(design, Y, alpha)
        self.n_outputs_ = Y.shape[1]
        return Y, design @ self.coef_ + self.intercept_

    def fit(self, X: Any, y: Any) -> WienerFilter:
        """Fit the filter.

        Parameters
        ----------
        X : array-like of shape (n_time, n_features)
            Activity in contiguous time bins.
        y : array-like of shape (n_time,) or (n_time, n_outputs)
            Targets on the same grid (e.g. velocity).

        Returns
        -------
        self
        """
        self._fit_filter(X, y)
        return self

    def _linear_predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        design, _ = self._design(X, reset=False)
        return design @ self.coef_ + self.intercept_

    def _shape_output(self, Y: np.ndarray) -> np.ndarray:
        return Y[:, 0] if self._single_output else Y

    def predict(self, X: Any) -> np.ndarray:
        """Decoded targets, one row per input row, shaped like the training ``y``."""
        return self._shape_output(self._linear_predict(X))


class WienerCascade(WienerFilter):
    """Wiener filter followed by a static polynomial per output.

    The linear stage is fitted as :class:`WienerFilter`; then, for each
    output, a polynomial of degree ``degree`` maps the linear prediction to
    the target by least squares on the training data.

    Parameters
    ----------
    n_history : int
        Bins of activity per prediction, current bin included.
    degree : int
        Degree of the output nonlinearity (>= 1; 1 is an affine rescaling).
    alpha : float
        Ridge penalty of the linear stage (>= 0).

    Attributes
    ----------
    coef_, intercept_ : ndarray
        The linear stage, as in :class:`WienerFilter`.
    nonlinearity_ : list of numpy.polynomial.Polynomial
        One polynomial per output.
    linear_range_ : ndarray of shape (2, n_outputs)
        Range of the training linear predictions; test predictions are
        clipped to it before the polynomial, because a cubic extrapolated
        beyond its data can diverge wildly.
    """

    def __init__(self, n_history: int = 10, degree: int = 3, alpha: float = 0.0):
        self.n_history = n_history
        self.degree = degree
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> WienerCascade:
        """Fit the linear stage, then the per-output polynomial on its training predictions.

        Parameters
        ----------
        X : array-like of shape (n_time, n_features)
        y : array-like of shape (n_time,) or (n_time, n_outputs)

        Returns
        -------
        self
        """
        degree = check_n_history(self.degree, "degree")
        Y, linear = self._fit_filter(X, y)
        self.linear_range_ = np.stack([linear.min(axis=0), linear.max(axis=0)])
        polys = []
        for k in range(Y.shape[1]):
            x = linear[:, k]
            span = np.ptp(x)
            n_distinct = np.unique(x).size
            if span <= 1e-12 * max(1.0, np.abs(x).max()):
                # A constant linear prediction carries no shape to fit.
                polys.append(Polynomial([Y[:, k].mean()]))
                continue
            with warnings.catch_warnings():
                # Fewer distinct points than coefficients is handled by
                # lowering the degree; silence numpy's RankWarning meanwhile.
                warnings.simplefilter("ignore")
                deg = min(degree, n_distinct - 1)
                polys.append(Polynomial.fit(x, Y[:, k], deg))
        self.nonlinearity_ = polys
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Decoded targets, one row per input row, shaped like the training ``y``."""
        linear = self._linear_predict(X)
        clipped = np.clip(linear, self.linear_range_[0], self.linear_range_[1])
        out = np.column_stack([p(clipped[:, k]) for k, p in enumerate(self.nonlinearity_)])
        return self._shape_output(out)
