"""Trial-aware latent trajectories: condition averages and single trials in
one low-dimensional space, with the variance it explains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d
from sklearn.base import clone

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import TrialActivity
from neuralscope.core.validation import check_array, check_consistent_length
from neuralscope.manifold._inputs import check_n_components, check_varies

__all__ = ["Trajectories", "embedding_trajectories", "trial_trajectories"]


@dataclass
class Trajectories:
    """Latent trajectories of trials.

    Attributes
    ----------
    single : ndarray of shape (n_trials, n_time, n_components)
        Every trial projected into the space.
    mean : ndarray of shape (n_conditions, n_time, n_components)
        Condition-averaged trajectories (one condition when unlabelled).
    conditions : ndarray of shape (n_conditions,)
        The condition of each row of ``mean``.
    labels : ndarray of shape (n_trials,)
        Condition of each trial.
    times : ndarray of shape (n_time,)
        Bin times (s) relative to the trial's alignment.
    explained_variance_ratio : ndarray of shape (n_components,) or None
        Share of the fitted data's variance along each component (PCA).
    single_trial_variance_explained : float
        Share of the single-trial variance (after smoothing, neurons centred)
        captured by the space; how much of each trial the trajectory shows.
    method : str
        The estimator's class name.
    """

    single: np.ndarray
    mean: np.ndarray
    conditions: np.ndarray
    labels: np.ndarray
    times: np.ndarray
    explained_variance_ratio: np.ndarray | None
    single_trial_variance_explained: float
    method: str
    estimator: Any = field(repr=False, default=None)

    @property
    def n_components(self) -> int:
        return int(self.single.shape[-1])

    def to_json(self) -> dict[str, Any]:
        evr = None if self.explained_variance_ratio is None else [float(v) for v in self.explained_variance_ratio]
        return {
            "method": self.method, "n_components": self.n_components,
            "n_trials": int(self.single.shape[0]), "n_time": int(self.single.shape[1]),
            "conditions": [c.item() if hasattr(c, "item") else c for c in self.conditions],
            "explained_variance_ratio": evr,
            "single_trial_variance_explained": float(self.single_trial_variance_explained),
        }


def _estimator(method: Any, n_components: int, random_state: int) -> Any:
    from neuralscope.manifold.classical import PCA, FactorAnalysis

    if isinstance(method, str):
        if method == "pca":
            return PCA(n_components, random_state=random_state)
        if method == "fa":
            return FactorAnalysis(n_components, random_state=random_state)
        raise NeuralscopeError("method", "'pca', 'fa' or an estimator with fit/transform", method)
    if not (hasattr(method, "fit") and hasattr(method, "transform")):
        raise NeuralscopeError("method", "'pca', 'fa' or an estimator with fit/transform", type(method).__name__)
    return clone(method)


def trial_trajectories(
    data: TrialActivity | Any,
    condition: str | Any | None = None,
    *,
    n_components: int = 3,
    method: Any = "pca",
    fit_on: str = "mean",
    smooth: float | None = None,
    fs: float = 1.0,
    random_state: int = 0,
) -> Trajectories:
    """Project trials into a low-dimensional space fitted on their activity.

    Parameters
    ----------
    data : TrialActivity or array-like of shape (n_trials, n_neurons, n_time)
    condition : str or array-like of shape (n_trials,), optional
        A label column of ``data.trials`` or labels; trials of one condition
        are averaged together (all trials form one condition when omitted).
    n_components : int
        Dimensions of the space (2 or 3 to plot).
    method : {"pca", "fa"} or estimator
        ``"pca"``, ``"fa"`` (factor analysis), or any estimator with
        ``fit``/``transform`` on (samples x neurons).
    fit_on : {"mean", "single"}
        Fit the space on condition-averaged activity (the classic choice: it
        finds the dimensions that carry the task) or on all single-trial bins.
    smooth : float, optional
        Gaussian smoothing along time, standard deviation in bins, applied to
        each trial before anything else (spike counts are noisy).
    fs : float
        Sampling rate for ``times`` when ``data`` is an array.
    random_state : int
        Seed of the estimator.

    Returns
    -------
    Trajectories
    """
    if isinstance(data, TrialActivity):
        X, times = data.data, data.times
        labels = data.labels(condition) if isinstance(condition, str) else condition
    else:
        if isinstance(condition, str):
            raise NeuralscopeError("condition", "labels (a name needs a TrialActivity)", condition)
        X = check_array(data, "data", ndim=3)
        times = np.arange(X.shape[2]) / float(fs)
        labels = condition
    n_trials, n_neurons, n_time = X.shape
    labels = np.zeros(n_trials, dtype=int) if labels is None else np.asarray(labels)
    if labels.ndim != 1:
        raise NeuralscopeError("condition", "one label per trial", f"shape {labels.shape}")
    check_consistent_length(n_trials, labels.shape[0], "condition")
    if fit_on not in ("mean", "single"):
        raise NeuralscopeError("fit_on", "'mean' or 'single'", fit_on)
    if smooth is not None:
        if not float(smooth) > 0:
            raise NeuralscopeError("smooth", "a positive width in bins", smooth)
        X = gaussian_filter1d(X, float(smooth), axis=2, mode="nearest")
    flat = X.transpose(0, 2, 1).reshape(-1, n_neurons)  # (trials * time, neurons)
    check_varies(flat, "data")
    conditions = np.unique(labels)
    means = np.stack([X[labels == c].mean(axis=0) for c in conditions])  # (cond, neurons, time)
    fit_rows = means.transpose(0, 2, 1).reshape(-1, n_neurons) if fit_on == "mean" else flat
    check_n_components(n_components, n_neurons, n_samples=fit_rows.shape[0])
    est = _estimator(method, n_components, random_state).fit(fit_rows)
    single = np.asarray(est.transform(flat)).reshape(n_trials, n_time, -1)
    mean_rows = means.transpose(0, 2, 1).reshape(-1, n_neurons)
    mean = np.asarray(est.transform(mean_rows)).reshape(len(conditions), n_time, -1)
    evr = getattr(est, "explained_variance_ratio_", None)
    return Trajectories(single, mean, conditions, labels, np.asarray(times, float),
                        None if evr is None else np.asarray(evr, float),
                        _captured_variance(flat, est, n_components), type(est).__name__, est)


def _captured_variance(flat: np.ndarray, est: Any, n_components: int) -> float:
    """Share of single-trial variance in the span of the estimator's components."""
    comps = getattr(est, "components_", None)
    if comps is None:
        return float("nan")
    centred = flat - flat.mean(axis=0)
    q, _ = np.linalg.qr(np.asarray(comps, float).T)  # orthonormal basis of the span
    total = float(np.sum(centred ** 2))
    return float(np.sum((centred @ q) ** 2) / total) if total > 0 else float("nan")


def embedding_trajectories(Z: Any, labels: Any = None, times: Any = None, method: str = "embedding") -> Trajectories:
    """Trajectories from an embedding already computed per trial.

    Parameters
    ----------
    Z : array-like of shape (n_trials, n_time, n_components)
    labels : array-like of shape (n_trials,), optional
    times : array-like of shape (n_time,), optional
        Defaults to bin indices.
    method : str
        Name shown on figures.
    """
    Z = check_array(Z, "Z", ndim=3)
    labels = np.zeros(Z.shape[0], dtype=int) if labels is None else np.asarray(labels)
    check_consistent_length(Z.shape[0], labels.shape[0], "labels")
    conditions = np.unique(labels)
    mean = np.stack([Z[labels == c].mean(axis=0) for c in conditions])
    t = np.arange(Z.shape[1], dtype=float) if times is None else np.asarray(times, float)
    return Trajectories(Z, mean, conditions, labels, t, None, float("nan"), method)
