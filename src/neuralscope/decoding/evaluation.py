"""Honest evaluation of decoders: out-of-fold predictions only.

Classification uses stratified folds over trials. Continuous (time-series)
regression uses contiguous time blocks, with ``gap`` samples dropped from the
training set on both sides of each test block so that neither temporal
autocorrelation nor history windows leak test samples into training.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, r2_score
from sklearn.model_selection import StratifiedKFold
from tqdm.auto import tqdm

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.validation import check_array, check_consistent_length, check_labels


class BlockedTimeSeriesSplit:
    """K contiguous test blocks over a time series, with a guard gap.

    Parameters
    ----------
    n_splits : int
        Number of contiguous test blocks.
    gap : int
        Samples removed from the training set on each side of the test block.
    """

    def __init__(self, n_splits: int = 5, gap: int = 0):
        self.n_splits = n_splits
        self.gap = gap

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return self.n_splits

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(X)
        if self.n_splits < 2 or n < self.n_splits:
            raise NeuralscopeError("cv", f"between 2 and {n} folds", self.n_splits)
        bounds = np.linspace(0, n, self.n_splits + 1).astype(int)
        idx = np.arange(n)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            test = idx[lo:hi]
            train = idx[(idx < lo - self.gap) | (idx >= hi + self.gap)]
            yield train, test


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    """Accuracy, balanced accuracy, chance level and the confusion matrix."""
    cm = confusion_matrix(y_true, y_pred, labels=classes)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "chance": float(1.0 / len(classes)),
        "confusion_matrix": cm.tolist(),
        "classes": [c.item() if hasattr(c, "item") else c for c in classes],
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Per-output R² and Pearson correlation, and their means."""
    yt = y_true.reshape(len(y_true), -1)
    yp = y_pred.reshape(len(y_pred), -1)
    r2 = [float(r2_score(yt[:, j], yp[:, j])) for j in range(yt.shape[1])]
    corr = []
    for j in range(yt.shape[1]):
        sd = yt[:, j].std() * yp[:, j].std()
        corr.append(float(np.corrcoef(yt[:, j], yp[:, j])[0, 1]) if sd > 0 else 0.0)
    return {"r2": r2, "r2_mean": float(np.mean(r2)), "correlation": corr, "correlation_mean": float(np.mean(corr))}


@dataclass
class CVResult:
    """Out-of-fold decoding result.

    Attributes
    ----------
    task : {"classification", "regression"}
    y_true, y_pred : numpy.ndarray
        Targets and out-of-fold predictions, in the input order.
    fold : numpy.ndarray
        Test fold of every sample.
    metrics : dict
        Pooled out-of-fold metrics (see :func:`classification_metrics`,
        :func:`regression_metrics`), plus ``fit_time_s`` (mean per fold).
    fold_metrics : list of dict
        The same metrics per fold (without the confusion matrix).
    estimators : list
        The fitted estimator of each fold.
    """

    task: str
    y_true: np.ndarray
    y_pred: np.ndarray
    fold: np.ndarray
    metrics: dict[str, Any]
    fold_metrics: list[dict[str, Any]] = field(default_factory=list)
    estimators: list[Any] = field(default_factory=list)


def infer_task(estimator: Any) -> str:
    return "classification" if is_classifier(estimator) else "regression"


def make_cv(task: str, cv: int | Any, random_state: int | None, gap: int = 0) -> Any:
    """Stratified shuffled folds for trials; contiguous blocks for time series."""
    if not isinstance(cv, (int, np.integer)):
        return cv
    if cv < 2:
        raise NeuralscopeError("cv", "at least 2 folds", int(cv))
    if task == "classification":
        return StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=random_state)
    return BlockedTimeSeriesSplit(n_splits=int(cv), gap=gap)


def check_decoding_data(X: Any, y: Any, task: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate the activity and target once, at the boundary."""
    X = check_array(X, "X", ndim=(2, 3))
    if task == "classification":
        y = check_labels(y, "y", n_samples=X.shape[0])
        _, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            raise NeuralscopeError("y", "at least 2 samples of every class", f"a class with {counts.min()}")
    else:
        y = check_array(y, "y", ndim=(1, 2))
        check_consistent_length(X.shape[0], y.shape[0], "y")
    return X, y


def cross_validate_decoder(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    cv: int | Any = 5,
    gap: int = 0,
    random_state: int | None = 0,
    keep_estimators: bool = False,
    progress: str | None = None,
) -> CVResult:
    """Cross-validate ``estimator`` and return out-of-fold predictions and metrics.

    Parameters
    ----------
    estimator : sklearn-compatible decoder
        A fresh clone is fitted in every fold.
    X : array-like
        (n_trials, n_neurons, n_time) or (n_samples, n_features) for
        classification; (n_time, n_neurons) for regression.
    y : array-like
        Labels (classification) or covariates (n_time,) / (n_time, n_outputs).
    cv : int or splitter
        Number of folds (stratified for classification, contiguous time blocks
        for regression) or any scikit-learn splitter.
    gap : int
        For time series: samples dropped from training around each test block.
    random_state : int, optional
        Seed of the fold assignment; estimators keep their own ``random_state``.
    keep_estimators : bool
        Keep each fold's fitted estimator (for latents or importance).
    progress : str, optional
        Show a progress bar over folds (on stderr) with this description.

    Returns
    -------
    CVResult
    """
    task = infer_task(estimator)
    X, y = check_decoding_data(X, y, task)
    splitter = make_cv(task, cv, random_state, gap)
    y_pred = np.empty(y.shape, dtype=y.dtype if task == "classification" else float)
    fold = np.full(len(y), -1)
    fold_metrics, fitted, fit_times = [], [], []
    classes = np.unique(y) if task == "classification" else None
    folds = list(splitter.split(X, y))
    if progress is not None:
        folds = tqdm(folds, desc=progress, unit="fold", leave=False, file=sys.stderr)
    for k, (train, test) in enumerate(folds):
        model = clone(estimator)
        t0 = time.perf_counter()
        model.fit(X[train], y[train])
        fit_times.append(time.perf_counter() - t0)
        pred = np.asarray(model.predict(X[test])).reshape(y[test].shape)
        y_pred[test] = pred
        fold[test] = k
        if task == "classification":
            fm = classification_metrics(y[test], pred, classes)
            fm.pop("confusion_matrix")
            fm.pop("classes")
        else:
            fm = regression_metrics(y[test], pred)
        fold_metrics.append(fm)
        if keep_estimators:
            fitted.append(model)
    done = fold >= 0
    if task == "classification":
        metrics = classification_metrics(y[done], y_pred[done], classes)
    else:
        metrics = regression_metrics(y[done], y_pred[done])
    metrics["fit_time_s"] = float(np.mean(fit_times))
    return CVResult(task, y, y_pred, fold, metrics, fold_metrics, fitted)


def time_resolved_accuracy(
    estimator: Any, X: Any, y: Any, *, cv: int = 5, window: int = 1, random_state: int | None = 0
) -> np.ndarray:
    """Out-of-fold accuracy of a classifier fitted separately at each time bin.

    Parameters
    ----------
    X : array-like of shape (n_trials, n_neurons, n_time)
    window : int
        Bins per decoding window (activity summed over the window ending at
        each bin, so early bins use only data available by then).

    Returns
    -------
    numpy.ndarray of shape (n_time,)
    """
    X = check_array(X, "X", ndim=3)
    X, y = check_decoding_data(X, y, "classification")
    csum = np.cumsum(X, axis=2)
    acc = np.empty(X.shape[2])
    for t in range(X.shape[2]):
        lo = t - window
        feats = csum[:, :, t] - (csum[:, :, lo] if lo >= 0 else 0.0)
        res = cross_validate_decoder(estimator, feats, y, cv=cv, random_state=random_state)
        acc[t] = res.metrics["accuracy"]
    return acc


def _score(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if task == "classification":
        return float(accuracy_score(y_true, y_pred))
    return float(regression_metrics(y_true, y_pred)["r2_mean"])


def _model_score(model: Any, X: np.ndarray, y: np.ndarray, scoring: str) -> float:
    """Held-out score of a fitted model: accuracy, mean log-likelihood or R²."""
    if scoring == "log_likelihood":
        proba = np.asarray(model.predict_proba(X))
        col = np.searchsorted(model.classes_, y)
        return float(np.mean(np.log(np.clip(proba[np.arange(len(y)), col], 1e-12, 1.0))))
    task = "classification" if scoring == "accuracy" else "regression"
    return _score(task, y, np.asarray(model.predict(X)).reshape(y.shape))


def resolve_scoring(estimator: Any, scoring: str = "auto") -> str:
    """``auto``: log-likelihood for probabilistic classifiers (sensitive to small
    changes that leave the argmax alone), accuracy for other classifiers, R²
    for regressors."""
    choices = ("auto", "accuracy", "log_likelihood", "r2")
    if scoring not in choices:
        raise NeuralscopeError("scoring", f"one of {choices}", scoring)
    if scoring != "auto":
        return scoring
    if not is_classifier(estimator):
        return "r2"
    return "log_likelihood" if hasattr(estimator, "predict_proba") else "accuracy"


def permutation_importance_neurons(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    cv: int | Any = 5,
    gap: int = 0,
    n_repeats: int = 5,
    scoring: str = "auto",
    random_state: int | None = 0,
) -> np.ndarray:
    """Drop in held-out score when one neuron's activity is shuffled.

    The neuron's whole activity (its time course, for trial data) is permuted
    across the test samples of each fold, breaking its relation to the target
    while keeping its distribution. ``scoring`` (see :func:`resolve_scoring`)
    is the mean log-likelihood of the true label (nats per trial) for
    probabilistic classifiers, accuracy for other classifiers, mean R² for
    regressors.

    Returns
    -------
    numpy.ndarray of shape (n_neurons,)
        Mean drop in score over folds and repeats (larger = more important).
    """
    task = infer_task(estimator)
    X, y = check_decoding_data(X, y, task)
    scoring = resolve_scoring(estimator, scoring)
    rng = np.random.default_rng(random_state)
    splitter = make_cv(task, cv, random_state, gap)
    n_neurons = X.shape[1]
    drops = np.zeros(n_neurons)
    n_folds = 0
    for train, test in splitter.split(X, y):
        model = clone(estimator).fit(X[train], y[train])
        Xt, yt = X[test], y[test]
        base = _model_score(model, Xt, yt, scoring)
        for j in range(n_neurons):
            for _ in range(n_repeats):
                Xp = Xt.copy()
                Xp[:, j] = Xt[rng.permutation(len(Xt)), j]
                drops[j] += base - _model_score(model, Xp, yt, scoring)
        n_folds += 1
    return drops / (n_folds * n_repeats)


def learning_curve(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    train_fractions: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 1.0),
    cv: int = 5,
    random_state: int | None = 0,
) -> dict[str, list[float]]:
    """Held-out score as a function of the amount of training data.

    In each fold the training set is subsampled (stratified by shuffling with
    a seed for trials; the most recent contiguous stretch for time series)
    while the test fold stays fixed.

    Returns
    -------
    dict with ``n_train`` (mean training samples) and ``score`` (mean held-out
    score) per fraction.
    """
    task = infer_task(estimator)
    X, y = check_decoding_data(X, y, task)
    fracs = [float(f) for f in train_fractions]
    if any(not 0 < f <= 1 for f in fracs):
        raise NeuralscopeError("train_fractions", "values in (0, 1]", fracs)
    rng = np.random.default_rng(random_state)
    splitter = make_cv(task, cv, random_state)
    n_train = np.zeros(len(fracs))
    scores = np.zeros(len(fracs))
    folds = list(splitter.split(X, y))
    for train, test in folds:
        order = rng.permutation(train) if task == "classification" else train
        for i, f in enumerate(fracs):
            m = max(int(round(f * len(train))), 2)
            sub = order[:m] if task == "classification" else order[-m:]
            if task == "classification" and np.unique(y[sub]).size < 2:
                scores[i] += np.nan
                continue
            model = clone(estimator).fit(X[sub], y[sub])
            scores[i] += _score(task, y[test], np.asarray(model.predict(X[test])).reshape(y[test].shape))
            n_train[i] += m
    k = len(folds)
    return {"fraction": fracs, "n_train": (n_train / k).tolist(), "score": (scores / k).tolist()}
