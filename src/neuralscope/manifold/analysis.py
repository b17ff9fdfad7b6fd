"""One embedding run on a data set: fit (optionally on the first part of the
time axis only), embed everything, score the embedding; used by
``neuralscope embed`` and the demo."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity
from neuralscope.manifold._inputs import check_n_components, check_varies
from neuralscope.manifold.metrics import knn_holdout_score, knn_score, silhouette, trustworthiness

__all__ = ["METHODS", "EmbeddingAnalysis", "MethodSpec", "make_estimator", "register_method", "run_embedding",
           "select_target"]


@dataclass(frozen=True)
class MethodSpec:
    """How ``run_embedding`` builds and drives one ``--method``.

    Attributes
    ----------
    factory : callable
        ``factory(dims, seed, n_steps) -> estimator`` with ``fit_transform``
        and ``transform``.
    description : str
    needs_target : bool
        The method cannot run without a behaviour / label (an error otherwise).
    uses_target : bool
        ``fit_transform(X, y)`` receives the target (one value per sample, or
        per trial with ``trial_input``).
    trial_input : bool
        For trial data, the estimator receives the (n_trials, n_neurons,
        n_time) array (and splits by whole trials) instead of pooled time bins.
    """

    factory: Callable[[int, int, int], Any]
    description: str
    needs_target: bool = False
    uses_target: bool = False
    trial_input: bool = False


def _classical(name: str) -> Callable[[int, int, int], Any]:
    def build(dims: int, seed: int, n_steps: int) -> Any:
        from neuralscope.manifold import classical

        return getattr(classical, name)(dims, random_state=seed)

    return build


def _contrastive(positives: str) -> Callable[[int, int, int], Any]:
    def build(dims: int, seed: int, n_steps: int) -> Any:
        from neuralscope.manifold.contrastive import ContrastiveEmbedding

        return ContrastiveEmbedding(dims, positives=positives, n_steps=n_steps, random_state=seed)

    return build


def _seqvae(dims: int, seed: int, n_steps: int) -> Any:
    from neuralscope.manifold.seqvae_embedding import SeqVAEEmbedding

    return SeqVAEEmbedding(dims, random_state=seed)


#: ``--method`` name -> how to build and run it. Add one with :func:`register_method`.
METHODS: dict[str, MethodSpec] = {
    "pca": MethodSpec(_classical("PCA"), "principal component analysis"),
    "fa": MethodSpec(_classical("FactorAnalysis"), "factor analysis"),
    "tsne": MethodSpec(_classical("TSNE"), "t-SNE (openTSNE)"),
    "umap": MethodSpec(_classical("UMAP"), "UMAP (umap-learn)"),
    "contrastive-time": MethodSpec(_contrastive("time"), "contrastive, positives by time offset",
                                   trial_input=True),
    "contrastive-behavior": MethodSpec(_contrastive("behavior"), "contrastive, positives by behaviour or label",
                                       needs_target=True, uses_target=True, trial_input=True),
    "hybrid": MethodSpec(_contrastive("hybrid"), "contrastive, positives by behaviour and by time",
                         needs_target=True, uses_target=True, trial_input=True),
    "seqvae": MethodSpec(_seqvae, "sequential VAE (LFADS-class) latent factors", trial_input=True),
}


def register_method(name: str, spec: MethodSpec) -> None:
    """Make ``name`` available to :func:`run_embedding` and ``neuralscope embed --method``."""
    METHODS[name] = spec


_PREFERRED_LABELS = ("condition", "stimulus", "label", "y", "choice", "target")
_PREFERRED_COVARIATES = ("y", "velocity", "position")


def make_estimator(method: str, dims: int, seed: int, n_steps: int = 1000) -> Any:
    """The estimator behind a method name."""
    if method not in METHODS:
        raise NeuralscopeError("--method", f"one of {', '.join(METHODS)}", method)
    return METHODS[method].factory(dims, seed, n_steps)


def select_target(data: ContinuousActivity | TrialActivity, target: str | None,
                  required: bool) -> tuple[str | None, str | None]:
    """(target name, "regression" | "classification") or (None, None) when there is none."""
    if isinstance(data, TrialActivity):
        names = list(data.trials.columns)
        task = "classification"
        preferred = _PREFERRED_LABELS
    else:
        names = list(data.covariates)
        task = "regression"
        preferred = _PREFERRED_COVARIATES
    if target is None:
        target = next((c for c in preferred if c in names), names[0] if len(names) == 1 else None)
        if target is None:
            if required:
                raise NeuralscopeError("--target", f"a behaviour or label to guide the method, among {names}", "none")
            return None, None
    if target not in names:
        raise NeuralscopeError("--target", f"one of {names}", target)
    return target, task


@dataclass
class EmbeddingAnalysis:
    """The result of :func:`run_embedding`."""

    method: str
    embedding: np.ndarray  # (n_samples, dims), trial-major for trial data
    target: str | None
    task: str | None
    y: np.ndarray | None  # per sample
    n_train: int | None
    train_fraction: float | None
    fit_seconds: float
    metrics: dict[str, Any]
    n_neurons: int
    trial_shape: tuple[int, int] | None
    estimator: Any = field(repr=False, default=None)

    def to_json(self) -> dict[str, Any]:
        out = {
            "method": self.method, "dims": int(self.embedding.shape[1]), "n_samples": int(self.embedding.shape[0]),
            "n_neurons": self.n_neurons, "target": self.target, "task": self.task,
            "train_fraction": self.train_fraction, "n_train": self.n_train,
            "fit_seconds": round(float(self.fit_seconds), 4),
        }
        for key in ("knn_r2_test", "knn_accuracy_test"):
            if key in self.metrics:
                out[key] = self.metrics[key]
        out["metrics"] = dict(self.metrics)
        return out


def _samples(data: ContinuousActivity | TrialActivity) -> tuple[np.ndarray, tuple[int, int] | None]:
    if isinstance(data, TrialActivity):
        n_trials, n_neurons, n_time = data.data.shape
        return data.data.transpose(0, 2, 1).reshape(-1, n_neurons), (n_trials, n_time)
    return data.data, None


def _target_rows(data: ContinuousActivity | TrialActivity, target: str | None) -> np.ndarray | None:
    if target is None:
        return None
    if isinstance(data, TrialActivity):
        return np.repeat(data.labels(target), data.n_time)
    y = data.covariate(target)
    return y[:, 0] if y.shape[1] == 1 else y


def run_embedding(
    data: ContinuousActivity | TrialActivity, *, method: str = "pca", dims: int = 3, target: str | None = None,
    train_fraction: float | None = None, seed: int = 0, n_steps: int = 1000,
    progress: Callable[[str], None] | None = None, estimator: Any = None,
) -> EmbeddingAnalysis:
    """Fit an embedding and score it.

    Parameters
    ----------
    data : ContinuousActivity or TrialActivity
    method : str
        A key of :data:`METHODS`.
    dims : int
        Embedding dimension (at most the number of neurons).
    target : str, optional
        Covariate (continuous data) or trial label used to guide the
        behaviour / hybrid methods and to score every method (default: a
        conventional name when present).
    train_fraction : float, optional
        Fit on the first fraction of the time axis (of the trials, for trial
        data) and embed the rest with the fitted model; the k-NN from the
        training embedding to the target is then scored on the held-out part
        (``knn_r2_test`` / ``knn_accuracy_test``).
    seed : int
        Seed of the estimator.
    n_steps : int
        Training steps of the contrastive methods.
    estimator : object, optional
        Use this (unfitted) estimator instead of building one; ``method`` still
        says how to drive it.
    """
    say = progress or (lambda m: None)
    if method not in METHODS:
        raise NeuralscopeError("--method", f"one of {', '.join(METHODS)}", method)
    spec = METHODS[method]
    target, task = select_target(data, target, required=spec.needs_target)
    X, trial_shape = _samples(data)
    check_varies(X, "DATA")
    check_n_components(dims, X.shape[1], "--dims")
    y = _target_rows(data, target)
    n_train = None
    if train_fraction is not None:
        f = float(train_fraction)
        if not 0.0 < f < 1.0:
            raise NeuralscopeError("--train-fraction", "a fraction in (0, 1)", train_fraction)
        unit = trial_shape[1] if trial_shape else 1
        n_units = X.shape[0] // unit
        n_first = int(round(f * n_units))
        if n_first < 2 or n_units - n_first < 2:
            raise NeuralscopeError("--train-fraction", f"a fraction leaving 2+ {'trials' if unit > 1 else 'bins'} "
                                   "on each side", train_fraction)
        n_train = n_first * unit
    est = estimator if estimator is not None else make_estimator(method, dims, seed, n_steps)
    if trial_shape is not None and spec.trial_input:
        # Hand over whole trials (windows and time positives stay inside a
        # trial) with one label per trial.
        per_trial = trial_shape[1]
        inputs = data.data
        targets = None if y is None else y.reshape(-1, per_trial)[:, 0]
        cut = None if n_train is None else n_train // per_trial
    else:
        inputs, targets, cut = X, y, n_train
    fit_X = inputs if cut is None else inputs[:cut]
    fit_y = None if targets is None or not spec.uses_target else (targets if cut is None else targets[:cut])
    say(f"fitting {method} on {len(fit_X)} {'trials' if fit_X.ndim == 3 else 'samples'}")
    t0 = time.perf_counter()
    train_Z = est.fit_transform(fit_X, fit_y) if spec.uses_target else est.fit_transform(fit_X)
    fit_seconds = time.perf_counter() - t0
    Z = np.asarray(train_Z).reshape(-1, dims)
    if cut is not None:
        Z = np.concatenate([Z, np.asarray(est.transform(inputs[cut:])).reshape(-1, dims)])
    groups = None if trial_shape is None else np.repeat(np.arange(trial_shape[0]), trial_shape[1])
    metrics = _score(X, Z, y, task, n_train, seed, groups)
    fraction = None if train_fraction is None else float(train_fraction)
    return EmbeddingAnalysis(method, Z, target, task, y, n_train, fraction, fit_seconds, metrics, int(X.shape[1]),
                             trial_shape, est)


def _score(X: np.ndarray, Z: np.ndarray, y: np.ndarray | None, task: str | None, n_train: int | None,
           seed: int, groups: np.ndarray | None) -> dict[str, Any]:
    """Trustworthiness, and with a target: held-out k-NN (with a training
    part), silhouette (labels) and cross-validated k-NN (whole trials per fold)."""
    metrics: dict[str, Any] = {"trustworthiness": trustworthiness(X, Z, n_neighbors=10, random_state=seed)}
    if y is None:
        return metrics
    if n_train is not None:
        key = "knn_accuracy_test" if task == "classification" else "knn_r2_test"
        metrics[key] = knn_holdout_score(Z[:n_train], y[:n_train], Z[n_train:], y[n_train:], task=task)
    if task == "classification":
        metrics["silhouette"] = silhouette(Z, y, random_state=seed)
        metrics["knn_accuracy_cv"] = knn_score(Z, y, task=task, random_state=seed, groups=groups)
    else:
        metrics["knn_r2_cv"] = knn_score(Z, y, task=task, random_state=seed, groups=groups)
    return metrics
