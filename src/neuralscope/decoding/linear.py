"""Linear and kernel decoders: multinomial logistic regression, support
vector machines, and ridge regression with activity history.

These wrap scikit-learn's solvers; what they add is the neuroscience-facing
input handling (trial-structured 3-D activity is flattened neuron-major,
history windows are built causally), neuralscope's input errors, and
coefficients laid out so per-neuron importance can be read off directly.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.validation import check_positive
from neuralscope.decoding.features import (
    check_decoder_input,
    check_n_history,
    lagged_design,
)

__all__ = ["LinearDecoder", "RidgeDecoder", "SVMDecoder"]

_KERNELS = ("linear", "rbf", "poly", "sigmoid")


def _check_trial_shape(estimator: Any, shape: tuple[int, ...] | None) -> None:
    """Reject 3-D input whose (neurons, time) layout differs from fit's."""
    fitted = estimator.trial_shape_
    if shape is not None and fitted is not None and shape != fitted:
        raise NeuralscopeError(
            "X", f"trials of shape (n, {fitted[0]}, {fitted[1]}) as in fit", f"(n, {shape[0]}, {shape[1]})"
        )


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise NeuralscopeError(name, "True or False", value)
    return bool(value)


class _TrialClassifier(ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """Shared plumbing: validate, flatten trials, delegate to a fitted pipeline."""

    @abstractmethod
    def _make_model(self) -> Any:
        """The unfitted scikit-learn model the subclass delegates to."""

    def fit(self, X: Any, y: Any) -> _TrialClassifier:
        """Fit the decoder.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_trials, n_neurons, n_time)
            Activity; 3-D trials are flattened so feature ``i * n_time + k``
            is neuron ``i`` at bin ``k``.
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).

        Returns
        -------
        self
        """
        X2, y, shape = check_decoder_input(self, X, y, reset=True, trials=True, target="classes")
        standardize = _check_bool(self.standardize, "standardize")
        model = self._make_model()
        steps = [("scale", StandardScaler() if standardize else "passthrough"), ("model", model)]
        self.pipeline_ = Pipeline(steps).fit(X2, y)
        self.classes_ = self.pipeline_.classes_
        self.trial_shape_ = shape
        return self

    def _transform_input(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X2, _, shape = check_decoder_input(self, X, reset=False, trials=True)
        _check_trial_shape(self, shape)
        return X2

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class of each sample (trial).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_trials, n_neurons, n_time)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        X2 = self._transform_input(X)  # checks fitted state first
        return self.pipeline_.predict(X2)

    def decision_function(self, X: Any) -> np.ndarray:
        """Signed class scores: (n_samples,) for two classes, else (n_samples, n_classes)."""
        X2 = self._transform_input(X)  # checks fitted state first
        return self.pipeline_.decision_function(X2)


class LinearDecoder(_TrialClassifier):
    """Multinomial logistic-regression decoder of discrete labels.

    Parameters
    ----------
    C : float
        Inverse L2 regularisation strength (> 0); smaller is stronger.
    max_iter : int
        Maximum solver (L-BFGS) iterations.
    standardize : bool
        Z-score every feature with training statistics before the fit, so
        ``coef_`` compares neurons with different firing rates on one scale.
    random_state : int or None
        Passed to the solver (kept for API symmetry; L-BFGS is deterministic).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for 2 classes else (n_classes, n_features)
        Weights on the (standardised) features; for 3-D input, feature
        ``i * n_time + k`` is neuron ``i`` at time bin ``k``.
    intercept_ : ndarray
    neuron_importance_ : ndarray of shape (n_neurons,) or (n_features,)
        Mean absolute weight per neuron, over classes and time bins (per
        feature for 2-D input): a quick, comparable importance score when
        ``standardize`` is True.
    trial_shape_ : tuple (n_neurons, n_time) or None
        Layout of 3-D training input, None for 2-D.
    n_iter_ : ndarray
        Solver iterations.
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted scaler + logistic regression.

    Examples
    --------
    >>> from neuralscope.datasets import simulate_tuning
    >>> act = simulate_tuning(n_trials_per_stimulus=10)
    >>> dec = LinearDecoder().fit(act.data, act.labels("stimulus"))
    >>> dec.neuron_importance_.shape
    (60,)
    """

    def __init__(
        self,
        C: float = 1.0,
        max_iter: int = 1000,
        standardize: bool = True,
        random_state: int | None = None,
    ):
        self.C = C
        self.max_iter = max_iter
        self.standardize = standardize
        self.random_state = random_state

    def _make_model(self) -> LogisticRegression:
        C = check_positive(self.C, "C")
        max_iter = check_n_history(self.max_iter, "max_iter")
        # With more than two classes, lbfgs fits the multinomial (softmax) model.
        return LogisticRegression(C=C, max_iter=max_iter, random_state=self.random_state)

    def fit(self, X: Any, y: Any) -> LinearDecoder:
        super().fit(X, y)
        model = self.pipeline_.named_steps["model"]
        self.coef_ = model.coef_
        self.intercept_ = model.intercept_
        self.n_iter_ = model.n_iter_
        weights = np.abs(self.coef_).mean(axis=0)
        if self.trial_shape_ is not None:
            weights = weights.reshape(self.trial_shape_).mean(axis=1)
        self.neuron_importance_ = weights
        return self

    fit.__doc__ = _TrialClassifier.fit.__doc__

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        X2 = self._transform_input(X)  # checks fitted state first
        return self.pipeline_.predict_proba(X2)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`."""
        X2 = self._transform_input(X)  # checks fitted state first
        return self.pipeline_.predict_log_proba(X2)


class SVMDecoder(_TrialClassifier):
    """Support-vector-machine decoder of discrete labels.

    Parameters
    ----------
    kernel : {"rbf", "linear", "poly", "sigmoid"}
        Kernel; ``"rbf"`` captures non-linear population codes, ``"linear"``
        is the classic linear SVM.
    C : float
        Soft-margin penalty (> 0).
    gamma : {"scale", "auto"} or float
        Kernel coefficient for rbf/poly/sigmoid.
    standardize : bool
        Z-score features with training statistics before the fit.
    random_state : int or None
        Passed to :class:`sklearn.svm.SVC`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    trial_shape_ : tuple (n_neurons, n_time) or None
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted scaler + SVC (one-vs-rest ``decision_function``).
    """

    def __init__(
        self,
        kernel: str = "rbf",
        C: float = 1.0,
        gamma: str | float = "scale",
        standardize: bool = True,
        random_state: int | None = None,
    ):
        self.kernel = kernel
        self.C = C
        self.gamma = gamma
        self.standardize = standardize
        self.random_state = random_state

    def _make_model(self) -> SVC:
        if self.kernel not in _KERNELS:
            raise NeuralscopeError("kernel", f"one of {list(_KERNELS)}", self.kernel)
        C = check_positive(self.C, "C")
        gamma = self.gamma
        if not (isinstance(gamma, str) and gamma in ("scale", "auto")):
            gamma = check_positive(gamma, "gamma")
        return SVC(kernel=self.kernel, C=C, gamma=gamma, random_state=self.random_state)


class RidgeDecoder(RegressorMixin, BaseEstimator):
    """Ridge regression of continuous variables on causal activity history.

    Parameters
    ----------
    alpha : float
        L2 penalty (>= 0).
    n_history : int
        Bins of activity per prediction, current bin included; bins before
        the first sample are zero. 1 uses the current bin only.

    Attributes
    ----------
    coef_ : ndarray of shape (n_outputs, n_history * n_features) or (n_history * n_features,)
        Weights on the lagged design; column ``j * n_features + i`` is neuron
        ``i`` at ``n_history - 1 - j`` bins in the past.
    intercept_ : float or ndarray of shape (n_outputs,)
    n_outputs_ : int

    Notes
    -----
    With ``n_history > 1`` each prediction uses the rows before it, so
    ``predict`` must be given contiguous time bins in order.
    """

    def __init__(self, alpha: float = 1.0, n_history: int = 1):
        self.alpha = alpha
        self.n_history = n_history

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any) -> RidgeDecoder:
        """Fit on activity ``X`` (n_time, n_features) and targets ``y`` (n_time,) or (n_time, n_outputs)."""
        X2, y, _ = check_decoder_input(self, X, y, reset=True, target="continuous")
        try:
            alpha = float(self.alpha)
        except (TypeError, ValueError):
            alpha = np.nan
        if not np.isfinite(alpha) or alpha < 0:
            raise NeuralscopeError("alpha", "a finite number >= 0", self.alpha)
        h = check_n_history(self.n_history)
        model = Ridge(alpha=alpha).fit(lagged_design(X2, h), y)
        self.coef_ = model.coef_
        self.intercept_ = model.intercept_
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets, one row per input row: (n_time,) or (n_time, n_outputs) like ``y``."""
        check_is_fitted(self)
        X2, _, _ = check_decoder_input(self, X, reset=False)
        design = lagged_design(X2, check_n_history(self.n_history))
        return design @ self.coef_.T + self.intercept_
