"""How good is an embedding? Cluster separation, decodability, faithfulness
to the input, and agreement between two embeddings.

- :func:`silhouette` -- separation of labelled groups (-1 .. 1)
- :func:`knn_score` -- cross-validated k-NN accuracy (labels) or R² (continuous)
- :func:`knn_holdout_score` -- k-NN fitted on a training embedding, scored on held-out samples
- :func:`trustworthiness` -- are embedding neighbours also input neighbours? (0 .. 1)
- :func:`embedding_consistency` -- R² of the best linear map between two embeddings
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.manifold import trustworthiness as _sk_trustworthiness
from sklearn.metrics import accuracy_score, r2_score, silhouette_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.validation import check_array, check_consistent_length, check_labels
from neuralscope.decoding.evaluation import BlockedTimeSeriesSplit

__all__ = ["embedding_consistency", "infer_target_task", "knn_holdout_score", "knn_score", "silhouette",
           "trustworthiness"]

# Pairwise-distance metrics are O(n²) in memory: above this many samples a
# seeded random subset is scored instead (the estimate is unbiased).
_MAX_PAIRWISE = 3000


def _embedding(Z: Any, name: str = "embedding") -> np.ndarray:
    Z = check_array(Z, name, ndim=(1, 2, 3))
    if Z.ndim == 1:
        return Z[:, None]
    if Z.ndim == 3:  # (n_trials, n_time, d) from trial input -> samples
        return Z.reshape(-1, Z.shape[-1])
    return Z


def infer_target_task(y: Any) -> str:
    """``"classification"`` for integer, boolean or text labels, else ``"regression"``."""
    kind = np.asarray(y).dtype.kind
    return "classification" if kind in "biuOSU" else "regression"


def _subset(n: int, random_state: int) -> np.ndarray:
    if n <= _MAX_PAIRWISE:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, _MAX_PAIRWISE, replace=False))


def silhouette(Z: Any, labels: Any, *, random_state: int = 0) -> float:
    """Mean silhouette of labelled groups in the embedding.

    Parameters
    ----------
    Z : array-like of shape (n_samples, d)
        Embedding.
    labels : array-like of shape (n_samples,)
        Group of each sample (at least two groups).
    random_state : int
        Seed of the subset used above 3000 samples.

    Returns
    -------
    float
        In [-1, 1]; near 1 when groups are compact and far apart.
    """
    Z = _embedding(Z)
    labels = check_labels(labels, "labels", n_samples=Z.shape[0])
    keep = _subset(Z.shape[0], random_state)
    if np.unique(labels[keep]).size < 2:
        raise NeuralscopeError("labels", "at least 2 groups", "1 group")
    return float(silhouette_score(Z[keep], labels[keep]))


def _check_target(y: Any, n: int, task: str, name: str = "y", held_out: bool = False) -> tuple[np.ndarray, str]:
    if task == "auto":
        task = infer_target_task(y)
    if task == "classification":
        if held_out:  # a held-out stretch may hold a single label
            arr = np.asarray(y)
            if arr.ndim != 1:
                raise NeuralscopeError(name, "a 1-D array of labels", f"shape {arr.shape}")
            check_consistent_length(n, arr.shape[0], name)
            return arr, task
        return check_labels(y, name, n_samples=n), task
    if task != "regression":
        raise NeuralscopeError("task", "'auto', 'classification' or 'regression'", task)
    arr = check_array(y, name, ndim=(1, 2))
    check_consistent_length(n, arr.shape[0], name)
    return arr, task


def _knn(task: str, n_neighbors: int) -> Any:
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
        raise NeuralscopeError("n_neighbors", "an integer >= 1", n_neighbors)
    if task == "classification":
        return KNeighborsClassifier(int(n_neighbors))
    return KNeighborsRegressor(int(n_neighbors))


def _score(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if task == "classification":
        return float(accuracy_score(y_true, y_pred))
    return float(r2_score(y_true, y_pred))  # mean over outputs


def knn_score(
    Z: Any, y: Any, *, task: str = "auto", n_neighbors: int = 10, cv: int = 5, random_state: int = 0,
    groups: Any = None,
) -> float:
    """Cross-validated k-NN decoding of ``y`` from the embedding.

    Labels use stratified shuffled folds; continuous targets (time series)
    use contiguous blocks, because neighbouring time bins are near-copies and
    shuffled folds would score memory, not structure.

    Parameters
    ----------
    Z : array-like of shape (n_samples, d)
    y : array-like of shape (n_samples,) or (n_samples, k)
        Labels or continuous target (e.g. velocity).
    task : {"auto", "classification", "regression"}
        ``"auto"``: labels when ``y`` is integer / boolean / text.
    n_neighbors : int
        Neighbours of the k-NN model.
    cv : int
        Number of folds.
    random_state : int
        Seed of the stratified folds.
    groups : array-like of shape (n_samples,), optional
        Samples that must stay in the same fold (e.g. the trial of each time
        bin): folds are then whole groups (scikit-learn's ``GroupKFold``).

    Returns
    -------
    float
        Out-of-fold accuracy, or R² (averaged over outputs) of the
        out-of-fold predictions.
    """
    Z = _embedding(Z)
    y, task = _check_target(y, Z.shape[0], task)
    model = _knn(task, n_neighbors)
    if groups is not None:
        groups = np.asarray(groups)
        check_consistent_length(Z.shape[0], groups.shape[0], "groups")
        splits = GroupKFold(min(int(cv), np.unique(groups).size)).split(Z, y, groups)
    elif task == "classification":
        _, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            raise NeuralscopeError("y", "at least 2 samples of every label for cross-validation",
                                   f"a label with {counts.min()} sample")
        folds = StratifiedKFold(min(int(cv), int(counts.min())), shuffle=True, random_state=random_state)
        splits = folds.split(Z, y)
    else:
        splits = BlockedTimeSeriesSplit(int(cv)).split(Z)
    pred = np.empty_like(y)
    for train, test in splits:
        model.fit(Z[train], y[train])
        pred[test] = model.predict(Z[test])
    return _score(task, y, pred)


def knn_holdout_score(
    Z_train: Any, y_train: Any, Z_test: Any, y_test: Any, *, task: str = "auto", n_neighbors: int = 10,
) -> float:
    """k-NN fitted on a training embedding and scored on held-out samples.

    The measure of the ``embed --train-fraction`` contract: the embedding
    model never saw the held-out part, and neither does the k-NN.

    Returns
    -------
    float
        Accuracy (labels) or R² averaged over outputs (continuous).
    """
    Z_train, Z_test = _embedding(Z_train, "Z_train"), _embedding(Z_test, "Z_test")
    y_train, task = _check_target(y_train, Z_train.shape[0], task, "y_train")
    y_test, _ = _check_target(y_test, Z_test.shape[0], task, "y_test", held_out=True)
    if Z_train.shape[1] != Z_test.shape[1]:
        raise NeuralscopeError("Z_test", f"{Z_train.shape[1]} dimensions as Z_train", Z_test.shape[1])
    model = _knn(task, min(int(n_neighbors), Z_train.shape[0]))
    model.fit(Z_train, y_train)
    return _score(task, y_test, model.predict(Z_test))


def trustworthiness(X: Any, Z: Any, *, n_neighbors: int = 5, random_state: int = 0) -> float:
    """How far the embedding's nearest neighbours are input-space neighbours.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Input (e.g. activity).
    Z : array-like of shape (n_samples, d)
        Its embedding.
    n_neighbors : int
        Neighbourhood size.
    random_state : int
        Seed of the subset used above 3000 samples.

    Returns
    -------
    float
        In [0, 1]; 1 when no embedding neighbour is an intruder.
    """
    X = _embedding(X, "X")
    Z = _embedding(Z)
    check_consistent_length(X.shape[0], Z.shape[0], "embedding")
    keep = _subset(X.shape[0], random_state)
    k = int(n_neighbors)
    if k < 1 or k >= keep.size / 2:
        raise NeuralscopeError("n_neighbors", f"an integer in [1, {keep.size / 2:.0f})", n_neighbors)
    return float(_sk_trustworthiness(X[keep], Z[keep], n_neighbors=k))


def embedding_consistency(Z_a: Any, Z_b: Any) -> float:
    """Agreement of two embeddings of the same samples: R² of a linear fit.

    Each embedding is mapped onto the other by least squares (the alignment:
    rotation, scaling, reflection and offset are all free) and the two R²
    values are averaged, so the measure is symmetric. Use it across seeds,
    methods, or animals embedded into a shared space.

    Returns
    -------
    float
        1 when the two are identical up to an affine map.
    """
    Z_a, Z_b = _embedding(Z_a, "Z_a"), _embedding(Z_b, "Z_b")
    check_consistent_length(Z_a.shape[0], Z_b.shape[0], "Z_b")
    scores = []
    for src, dst in ((Z_a, Z_b), (Z_b, Z_a)):
        fit = LinearRegression().fit(src, dst)
        scores.append(r2_score(dst, fit.predict(src), multioutput="variance_weighted"))
    return float(np.mean(scores))
