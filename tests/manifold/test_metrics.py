"""Embedding metrics against cases whose answer is known."""

import numpy as np
import pytest

from neuralscope.core import NeuralscopeError
from neuralscope.manifold import embedding_consistency, knn_holdout_score, knn_score, silhouette, trustworthiness


def test_silhouette_high_for_separated_clusters_and_near_zero_for_random_labels(clusters):
    X, labels = clusters
    assert silhouette(X, labels) > 0.6
    shuffled = np.random.default_rng(0).permutation(labels)
    assert abs(silhouette(X, shuffled)) < 0.05


def test_knn_score_classification_and_chance(clusters):
    X, labels = clusters
    assert knn_score(X, labels, cv=5) == pytest.approx(1.0)
    shuffled = np.random.default_rng(0).permutation(labels)
    assert knn_score(X, shuffled, cv=5) < 0.55  # chance is 1/3


def test_knn_score_regression_uses_time_blocks(make_ring, to_circle):
    X, theta = make_ring(n_time=1500, poisson=False)
    r2 = knn_score(X, to_circle(theta), cv=5)
    assert r2 > 0.8
    # Unrelated target: nothing to decode (R² at or below 0).
    noise = np.random.default_rng(3).standard_normal((len(X), 2))
    assert knn_score(X, noise, cv=5) < 0.05


def test_knn_holdout_score_contract(make_ring, to_circle):
    X, theta = make_ring(n_time=1500, poisson=False)
    y = to_circle(theta)
    assert knn_holdout_score(X[:1000], y[:1000], X[1000:], y[1000:]) > 0.8
    with pytest.raises(NeuralscopeError, match="Z_test"):
        knn_holdout_score(X[:1000], y[:1000], X[1000:, :3], y[1000:])


def test_trustworthiness_of_faithful_and_random_embeddings():
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((400, 2))
    X = latent @ rng.standard_normal((2, 12))
    assert trustworthiness(X, latent) > 0.99
    assert trustworthiness(X, rng.standard_normal((400, 2))) < 0.6


def test_consistency_is_one_for_affine_copies_and_low_for_unrelated():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((500, 3))
    A = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    assert embedding_consistency(Z, Z @ A + 5.0) == pytest.approx(1.0, abs=1e-9)
    assert embedding_consistency(Z, rng.standard_normal((500, 3))) < 0.05


def test_metric_inputs_are_checked(clusters):
    X, labels = clusters
    with pytest.raises(NeuralscopeError, match="labels"):
        silhouette(X, labels[:-1])
    with pytest.raises(NeuralscopeError, match="NaN"):
        knn_score(np.full((10, 2), np.nan), np.arange(10.0))
    with pytest.raises(NeuralscopeError, match="task"):
        knn_score(X, labels, task="ranking")
