"""Deep decoders: scikit-learn estimators around small torch networks.

Classifiers (:class:`CNNClassifier`, :class:`RNNClassifier`,
:class:`TransformerClassifier`) take trial-structured activity ``X`` of shape
(n_trials, n_neurons, n_time) -- or (n_samples, n_features), treated as one
time bin -- and class labels ``y``.

Regressors (:class:`CNNRegressor`, :class:`RNNRegressor`,
:class:`TransformerRegressor`) take continuous activity ``X`` of shape
(n_time, n_neurons) and targets ``y`` of shape (n_time,) or (n_time, n_outputs).
Each row is decoded from the ``n_history`` most recent bins (current bin
included, zero-padded before the start; see
:func:`neuralscope.decoding.features.lagged_windows`), so ``predict`` returns
one row per input row and cross-validation can split raw contiguous blocks.

All of them have ``transform(X)``, the network's latent representation (the
input of its final linear read-out), of shape (n_samples, latent_dim).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = np.repeat([0, 1], 20)
>>> X = rng.poisson(2.0 + 3.0 * y[:, None, None], size=(40, 5, 4)).astype(float)
>>> clf = CNNClassifier(max_epochs=20, random_state=0).fit(X, y)
>>> clf.predict_proba(X).shape, clf.transform(X).shape
((40, 2), (40, 32))
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import softmax
from sklearn.base import ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from neuralscope.core.validation import check_labels
from neuralscope.decoding._torch_base import (
    COMMON_PARAMS_DOC,
    TorchEstimator,
    check_finite,
    check_input_ndim,
    check_kernel_size,
    check_same_length,
)
from neuralscope.decoding.features import check_n_history, lagged_windows
from neuralscope.decoding.networks import (
    ConvEncoder,
    RecurrentEncoder,
    TransformerEncoder,
)

__all__ = [
    "CNNClassifier",
    "CNNRegressor",
    "RNNClassifier",
    "RNNRegressor",
    "TransformerClassifier",
    "TransformerRegressor",
]

_FLOATS = [np.float64, np.float32]
_TRIAL_SHAPE = "(n_trials, n_neurons, n_time) or (n_samples, n_features)"
_CONT_SHAPE = "(n_time, n_neurons)"


# ---------------------------------------------------------------------------
# task-level bases
# ---------------------------------------------------------------------------
class _DeepClassifier(ClassifierMixin, TransformerMixin, TorchEstimator):
    """Classification on trial windows; subclasses only build the network."""

    _task = "classification"

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # (n_trials, n_neurons, n_time)
        return tags

    def _validate(self, X: Any, y: Any = None, *, reset: bool) -> Any:
        if not reset:
            check_is_fitted(self, "model_")
        check_input_ndim(X, (2, 3), _TRIAL_SHAPE)
        if reset:
            check_same_length(X, y)
            X, y = validate_data(self, X, y, allow_nd=True, ensure_all_finite=False, dtype=_FLOATS)
        else:
            X = validate_data(self, X, reset=False, allow_nd=True, ensure_all_finite=False, dtype=_FLOATS)
        check_input_ndim(X, (2, 3), _TRIAL_SHAPE)
        check_finite(X)
        return (X, y) if reset else X

    def _sequences(self, X: np.ndarray) -> np.ndarray:
        Xs = self._scale(X)
        if Xs.ndim == 2:  # one time bin per sample
            return Xs[:, None, :]
        return np.ascontiguousarray(Xs.transpose(0, 2, 1))  # (trials, time, neurons)

    def fit(self, X: Any, y: Any) -> _DeepClassifier:
        """Train on trials ``X`` with labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_trials, n_neurons, n_time) or (n_samples, n_features)
        y : array-like of shape (n_trials,)

        Returns
        -------
        self
        """
        X, y = self._validate(X, y, reset=True)
        check_classification_targets(y)
        y = check_labels(y, "y", n_samples=X.shape[0])
        self.classes_, codes = np.unique(y, return_inverse=True)
        codes = codes.astype(np.int64)
        self._fit_network(X, codes, len(self.classes_), y_codes=codes)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        logits = self._run(self._validate(X, reset=False), encode=False)
        return softmax(logits, axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of each sample."""
        proba = self.predict_proba(X)  # first: it raises NotFittedError before classes_ is read
        return self.classes_[np.argmax(proba, axis=1)]

    def transform(self, X: Any) -> np.ndarray:
        """Latent representation, shape (n_samples, latent_dim)."""
        return self._run(self._validate(X, reset=False), encode=True)


class _DeepRegressor(RegressorMixin, TransformerMixin, TorchEstimator):
    """Regression from causal history windows; subclasses only build the network."""

    _task = "regression"

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _validate(self, X: Any, y: Any = None, *, reset: bool) -> Any:
        if not reset:
            check_is_fitted(self, "model_")
        check_input_ndim(X, (2,), _CONT_SHAPE)
        if reset:
            check_same_length(X, y)
            X, y = validate_data(
                self, X, y, multi_output=True, y_numeric=True, ensure_all_finite=False, dtype=_FLOATS
            )
        else:
            X = validate_data(self, X, reset=False, ensure_all_finite=False, dtype=_FLOATS)
        check_finite(X)
        return (X, y) if reset else X

    def _sequences(self, X: np.ndarray) -> np.ndarray:
        # Standardise before windowing so the zero padding equals the mean rate.
        return lagged_windows(self._scale(X), self.n_history).astype(np.float32)

    def fit(self, X: Any, y: Any) -> _DeepRegressor:
        """Train on continuous activity ``X`` and targets ``y``.

        The last ``validation_fraction`` of the rows (in time order) is held out
        for early stopping.

        Parameters
        ----------
        X : array-like of shape (n_time, n_neurons)
        y : array-like of shape (n_time,) or (n_time, n_outputs)

        Returns
        -------
        self
        """
        X, y = self._validate(X, y, reset=True)
        check_n_history(self.n_history)
        self._y_ndim = y.ndim
        Y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
        self.n_outputs_ = Y.shape[1]
        self._fit_network(X, Y, self.n_outputs_)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Decoded targets, one row per input row (1-D if ``y`` was 1-D)."""
        out = self._run(self._validate(X, reset=False), encode=False)
        out = out * self.target_scale_ + self.target_mean_
        return out.ravel() if self._y_ndim == 1 else out

    def transform(self, X: Any) -> np.ndarray:
        """Latent representation of each row's history window, (n_time, latent_dim)."""
        return self._run(self._validate(X, reset=False), encode=True)




# ---------------------------------------------------------------------------
# classifiers
# ---------------------------------------------------------------------------
class CNNClassifier(_DeepClassifier):
    __doc__ = (
        """1-D convolutional classifier over time, neurons as input channels.

    Parameters
    ----------
    kernel_size : int
        Temporal extent of each convolution, in bins."""
        + COMMON_PARAMS_DOC
        + """    classes_ : ndarray
        Class labels.
    """
    )

    def __init__(
        self,
        *,
        kernel_size: int = 3,
        hidden_size: int = 32,
        n_layers: int = 1,
        dropout: float = 0.1,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 32,
        max_epochs: int = 60,
        patience: int = 8,
        validation_fraction: float = 0.15,
        device: str = "auto",
        random_state: Any = None,
        standardize: bool = True,
    ):
        self.kernel_size = kernel_size
        super().__init__(
            hidden_size=hidden_size, n_layers=n_layers, dropout=dropout, lr=lr, weight_decay=weight_decay,
            batch_size=batch_size, max_epochs=max_epochs, patience=patience, validation_fraction=validation_fraction,
            device=device, random_state=random_state, standardize=standardize,
        )

    def _build_network(self, n_features: int, n_time: int, n_outputs: int) -> nn.Module:
        return ConvEncoder(
            n_features, n_outputs, hidden_size=self.hidden_size, n_layers=self.n_layers,
            kernel_size=check_kernel_size(self.kernel_size), dropout=self.dropout, pooling="mean",
        )


class RNNClassifier(_DeepClassifier):
    __doc__ = (
        """Recurrent (LSTM or GRU) classifier over the trial's time bins (mean-pooled).

    Parameters
    ----------
    cell : {"lstm", "gru"}
        Recurrent cell."""
        + COMMON_PARAMS_DOC
        + """    classes_ : ndarray
        Class labels.
    """
    )

    def __init__(
        self,
        *,
        cell: str = "lstm",
        hidden_size: int = 128,
        n_layers: int = 1,
        dropout: float = 0.5,
        lr: float = 1e-2,
        weight_decay: float = 1e-4,
        batch_size: int = 32,
        max_epochs: int = 60,
        patience: int = 8,
        validation_fraction: float = 0.15,
        device: str = "auto",
        random_state: Any = None,
        standardize: bool = True,
    ):
        self.cell = cell
        super().__init__(
            hidden_size=hidden_size, n_layers=n_layers, dropout=dropout, lr=lr, weight_decay=weight_decay,
            batch_size=batch_size, max_epochs=max_epochs, patience=patience, validation_fraction=validation_fraction,
            device=device, random_state=random_state, standardize=standardize,
        )

    def _build_network(self, n_features: int, n_time: int, n_outputs: int) -> nn.Module:
        return RecurrentEncoder(
            n_features, n_outputs, hidden_size=self.hidden_size, n_layers=self.n_layers,
            cell=self.cell, dropout=self.dropout, pooling="mean",
        )


class TransformerClassifier(_DeepClassifier):
    __doc__ = (
        """Transformer-encoder classifier over the trial's time bins (mean-pooled tokens,
    sinusoidal positions).

    Parameters
    ----------
    n_heads : int
        Attention heads; must divide ``hidden_size``."""
        + COMMON_PARAMS_DOC
        + """    classes_ : ndarray
        Class labels.
    """
    )

    def __init__(
        self,
        *,
        n_heads: int = 4,
        hidden_size: int = 32,
        n_layers: int = 1,
        dropout: float = 0.1,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 32,
        max_epochs: int = 60,
        patience: int = 8,
        validation_fraction: float = 0.15,
        device: str = "auto",
        random_state: Any = None,
        standardize: bool = True,
    ):
        self.n_heads = n_heads
        super().__init__(
            hidden_size=hidden_size, n_layers=n_layers, dropout=dropout, lr=lr, weight_decay=weight_decay,
            batch_size=batch_size, max_epochs=max_epochs, patience=patience, validation_fraction=validation_fraction,
            device=device, random_state=random_state, standardize=standardize,
        )

    def _build_network(self, n_features: int, n_time: int, n_outputs: int) -> nn.Module:
        return TransformerEncoder(
            n_features, n_outputs, hidden_size=self.hidden_size, n_layers=self.n_layers,
            n_heads=self.n_heads, dropout=self.dropout, pooling="mean", max_len=max(n_time, 1),
        )


# ---------------------------------------------------------------------------
# regressors
# ---------------------------------------------------------------------------
_REG_DOC = """
    n_history : int
        Bins of causal history per prediction, current bin included."""


class CNNRegressor(_DeepRegressor):
    __doc__ = (
        """Causal 1-D convolution over each row's history window; every window bin
    feeds the linear read-out.

    Parameters
    ----------"""
        + _REG_DOC
        + """
    kernel_size : int
        Temporal extent of each convolution, in bins."""
        + COMMON_PARAMS_DOC
        + """    n_outputs_ : int
        Number of regression targets.
    target_mean_, target_scale_ : ndarray of shape (n_outputs_,)
        Target standardisation (training split).
    """
    )

    def __init__(
        self,
        *,
        n_history: int = 10,
        kernel_size: int = 3,
        hidden_size: int = 32,
        n_layers: int = 1,
        dropout: float = 0.2,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 128,
        max_epochs: int = 60,
        patience: int = 8,
        validation_fraction: float = 0.15,
        device: str = "auto",
        random_state: Any = None,
        standardize: bool = True,
    ):
        self.n_history = n_history
        self.kernel_size = kernel_size
        super().__init__(
            hidden_size=hidden_size, n_layers=n_layers, dropout=dropout, lr=lr, weight_decay=weight_decay,
            batch_size=batch_size, max_epochs=max_epochs, patience=patience, validation_fraction=validation_fraction,
            device=device, random_state=random_state, standardize=standardize,
        )

    def _build_network(self, n_features: int, n_time: int, n_outputs: int) -> nn.Module:
        return ConvEncoder(
            n_features, n_outputs, hidden_size=self.hidden_size, n_layers=self.n_layers,
            kernel_size=check_kernel_size(self.kernel_size), dropout=self.dropout, pooling="flatten",
            n_time=n_time,
        )


class RNNRegressor(_DeepRegressor):
    __doc__ = (
        """Recurrent (LSTM or GRU) regressor: the last hidden state over each row's
    history window is read out linearly.

    Parameters
    ----------"""
        + _REG_DOC
        + """
    cell : {"lstm", "gru"}
        Recurrent cell."""
        + COMMON_PARAMS_DOC
        + """    n_outputs_ : int
        Number of regression targets.
    target_mean_, target_scale_ : ndarray of shape (n_outputs_,)
        Target standardisation (training split).
    """
    )

    def __init__(
        self,
        *,
        n_history: int = 10,
        cell: str = "lstm",
        hidden_size: int = 128,
        n_layers: int = 1,
        dropout: float = 0.4,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 128,
        max_epochs: int = 60,
        patience: int = 8,
        validation_fraction: float = 0.15,
        device: str = "auto",
        random_state: Any = None,
        standardize: bool = True,
    ):
        self.n_history = n_history
        self.cell = cell
        super().__init__(
            hidden_size=hidden_size, n_layers=n_layers, dropout=dropout, lr=lr, weight_decay=weight_decay,
            batch_size=batch_size, max_epochs=max_epochs, patience=patience, validation_fraction=validation_fraction,
            device=device, random_state=random_state, standardize=standardize,
        )

    def _build_network(self, n_features: int, n_time: int, n_outputs: int) -> nn.Module:
        return RecurrentEncoder(
            n_features, n_outputs, hidden_size=self.hidden_size, n_layers=self.n_layers,
            cell=self.cell, dropout=self.dropout, pooling="last",
        )


class TransformerRegressor(_DeepRegressor):
    __doc__ = (
        """Transformer-encoder regressor over each row's history window; the current
    bin's token is read out linearly.

    Parameters
    ----------"""
        + _REG_DOC
        + """
    n_heads : int
        Attention heads; must divide ``hidden_size``."""
        + COMMON_PARAMS_DOC
        + """    n_outputs_ : int
        Number of regression targets.
    target_mean_, target_scale_ : ndarray of shape (n_outputs_,)
        Target standardisation (training split).
    """
    )

    def __init__(
        self,
        *,
        n_history: int = 10,
        n_heads: int = 4,
        hidden_size: int = 32,
        n_layers: int = 1,
        dropout: float = 0.2,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 128,
        max_epochs: int = 60,
        patience: int = 8,
        validation_fraction: float = 0.15,
        device: str = "auto",
        random_state: Any = None,
        standardize: bool = True,
    ):
        self.n_history = n_history
        self.n_heads = n_heads
        super().__init__(
            hidden_size=hidden_size, n_layers=n_layers, dropout=dropout, lr=lr, weight_decay=weight_decay,
            batch_size=batch_size, max_epochs=max_epochs, patience=patience, validation_fraction=validation_fraction,
            device=device, random_state=random_state, standardize=standardize,
        )

    def _build_network(self, n_features: int, n_time: int, n_outputs: int) -> nn.Module:
        return TransformerEncoder(
            n_features, n_outputs, hidden_size=self.hidden_size, n_layers=self.n_layers,
            n_heads=self.n_heads, dropout=self.dropout, pooling="last", max_len=n_time,
        )
