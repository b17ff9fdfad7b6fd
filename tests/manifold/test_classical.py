"""PCA / factor analysis / t-SNE / UMAP wrappers: structure recovered, shapes, errors."""

import os
import sys
import types

import numpy as np
import pytest

from neuralscope.core import ContinuousActivity, NeuralscopeError, TrialActivity
from neuralscope.manifold import PCA, TSNE, UMAP, FactorAnalysis, classical, embedding_consistency, knn_holdout_score


def test_pca_recovers_the_ring(make_ring, to_circle):
    X, theta = make_ring(n_time=1500, poisson=False)
    pca = PCA(2).fit(X[:1000])
    Z = pca.transform(X)
    # A ring: the angle is decodable from the 2-D embedding of held-out time.
    assert knn_holdout_score(Z[:1000], to_circle(theta[:1000]), Z[1000:], to_circle(theta[1000:])) > 0.9
    assert pca.explained_variance_ratio_.sum() > 0.5
    assert np.all(np.diff(pca.explained_variance_ratio_) <= 0)


def test_factor_analysis_finds_the_latent_plane():
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((800, 2))
    noise_sd = rng.uniform(0.2, 2.0, size=15)  # very different private noise per neuron
    X = latent @ rng.standard_normal((2, 15)) + noise_sd * rng.standard_normal((800, 15))
    fa = FactorAnalysis(2).fit(X)
    assert embedding_consistency(fa.transform(X), latent) > 0.85
    assert np.corrcoef(fa.noise_variance_, noise_sd ** 2)[0, 1] > 0.9


def test_inputs_as_arrays_trials_and_objects():
    rng = np.random.default_rng(0)
    X3 = rng.poisson(3.0, size=(7, 6, 11)).astype(float)  # trials x neurons x time
    Z3 = PCA(2).fit_transform(X3)
    assert Z3.shape == (7, 11, 2)
    trials = TrialActivity(X3, fs=10.0)
    np.testing.assert_allclose(PCA(2).fit(trials).transform(trials), Z3)
    # Trial-major flattening: trial 2, bin 5 is sample 2 * 11 + 5.
    flat = PCA(2).fit(X3).transform(X3[2][:, 5][None, :])
    np.testing.assert_allclose(flat[0], Z3[2, 5])
    cont = ContinuousActivity(rng.poisson(2.0, size=(50, 6)), fs=20.0)
    assert PCA(3).fit_transform(cont).shape == (50, 3)


@pytest.mark.parametrize("bad, match", [
    (np.ones((40, 1)), "at least 2 neurons"),
    (np.full((40, 5), 2.0), "constant"),
    (np.where(np.eye(40, 5) > 0, np.nan, 1.0), "NaN"),
])
def test_bad_inputs_are_one_line_errors(bad, match):
    with pytest.raises(NeuralscopeError, match=match) as err:
        PCA(1).fit(bad)
    assert "\n" not in str(err.value)


def test_more_components_than_neurons_is_refused():
    X = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises(NeuralscopeError, match="n_components"):
        PCA(5).fit(X)
    with pytest.raises(NeuralscopeError, match="4 neurons as in fit"):
        PCA(2).fit(X).transform(X[:, :3])


def test_tsne_separates_clusters_and_places_new_points(clusters):
    X, labels = clusters
    train = np.arange(len(X)) % 4 != 0
    tsne = TSNE(2, perplexity=15, n_iter=150, early_exaggeration_iter=100, random_state=0)
    Z = tsne.fit_transform(X[train])
    assert Z.shape == (train.sum(), 2)
    new = tsne.transform(X[~train])
    # New points land next to training points of their own cluster.
    assert knn_holdout_score(Z, labels[train], new, labels[~train], n_neighbors=5) == pytest.approx(1.0)
    again = TSNE(2, perplexity=15, n_iter=150, early_exaggeration_iter=100, random_state=0).fit_transform(X[train])
    np.testing.assert_allclose(again, Z)


def test_tsne_small_input_lowers_perplexity():
    X = np.random.default_rng(0).normal(size=(40, 5))
    tsne = TSNE(2, perplexity=30, n_iter=50, early_exaggeration_iter=20).fit(X)
    assert tsne.perplexity_ == pytest.approx(13.0)


def test_missing_optional_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "openTSNE", None)  # makes the import fail
    with pytest.raises(NeuralscopeError, match=r"pip install neuralscope\[manifold\]"):
        TSNE().fit(np.random.default_rng(0).normal(size=(50, 4)))


class _FakeUMAP:
    """Records how the wrapper drives umap-learn (the real one compiles for a minute)."""

    last = None

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        _FakeUMAP.last = self

    def fit_transform(self, data):
        self.fit_data = data
        return data[:, : self.kwargs["n_components"]] * 0 + np.arange(self.kwargs["n_components"])

    def transform(self, data):
        self.transform_data = data
        return np.zeros((data.shape[0], self.kwargs["n_components"]))


def test_umap_wrapper_passes_distances_and_seed(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=_FakeUMAP))
    monkeypatch.setattr(classical, "_UMAP_JIT_CACHED", True)
    X = np.random.default_rng(0).normal(size=(30, 4))
    model = UMAP(2, n_neighbors=50, random_state=3).fit(X)
    kw = _FakeUMAP.last.kwargs
    assert kw["n_neighbors"] == 29 and kw["random_state"] == 3 and kw["n_jobs"] == 1
    assert kw["metric"] == "precomputed"  # small input: exact distances computed by scikit-learn
    np.testing.assert_allclose(_FakeUMAP.last.fit_data[0, 1], np.linalg.norm(X[0] - X[1]))
    assert model.transform(X[:5]).shape == (5, 2)
    assert _FakeUMAP.last.transform_data.shape == (5, 30)  # new-to-training distances


@pytest.mark.skipif(not os.environ.get("NEURALSCOPE_SLOW_TESTS"),
                    reason="umap-learn JIT-compiles for about a minute in a fresh environment; "
                           "set NEURALSCOPE_SLOW_TESTS=1")
def test_real_umap_separates_clusters(clusters):
    pytest.importorskip("umap")
    X, labels = clusters
    model = UMAP(2, n_neighbors=10, random_state=0)
    Z = model.fit_transform(X)
    assert knn_holdout_score(Z, labels, model.transform(X[::9]), labels[::9]) == pytest.approx(1.0)
