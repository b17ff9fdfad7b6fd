"""ContrastiveEmbedding: structure recovered from time, behaviour or labels;
determinism, persistence, several sessions, and bad input."""

import json

import numpy as np
import pytest
import torch

from neuralscope.core import NeuralscopeError, TrialActivity
from neuralscope.manifold import ContrastiveEmbedding, knn_holdout_score
from neuralscope.manifold import _contrastive_sampling as sampling

FAST = dict(batch_size=128, n_steps=150, hidden_size=16, device="cpu", random_state=0)


def _heldout_r2(model, X, y, n_train):
    Z = model.transform(X)
    return knn_holdout_score(Z[:n_train], y[:n_train], Z[n_train:], y[n_train:])


def test_time_contrastive_recovers_the_ring(make_ring, to_circle):
    X, theta = make_ring()
    model = ContrastiveEmbedding(3, positives="time", time_offset=3, **FAST).fit(X[:800])
    assert model.positives_ == "time" and model.behavior_type_ is None
    assert _heldout_r2(model, X, to_circle(theta), 800) > 0.7
    assert np.mean(model.loss_history_[-20:]) < np.mean(model.loss_history_[:5])


@pytest.mark.parametrize("encoder", ["mlp", "conv"])
def test_behaviour_contrastive_decodes_held_out_behaviour(make_ring, to_circle, encoder):
    X, theta = make_ring()
    y = to_circle(theta)
    model = ContrastiveEmbedding(3, encoder=encoder, **FAST).fit(X[:800], y[:800])
    assert model.positives_ == "behavior" and model.behavior_type_ == "continuous"
    assert _heldout_r2(model, X, y, 800) > 0.8
    Z = model.transform(X)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-5)  # cosine: on the sphere


def test_discrete_labels_and_hybrid(make_ring):
    X, theta = make_ring()
    quadrant = (theta // (np.pi / 2)).astype(int)
    model = ContrastiveEmbedding(3, **FAST).fit(X[:800], quadrant[:800])
    assert model.behavior_type_ == "discrete" and list(model.classes_) == [0, 1, 2, 3]
    Z = model.transform(X)
    assert knn_holdout_score(Z[:800], quadrant[:800], Z[800:], quadrant[800:]) > 0.85
    hybrid = ContrastiveEmbedding(3, positives="hybrid", **FAST).fit(X[:800], quadrant[:800])
    Zh = hybrid.transform(X)
    assert knn_holdout_score(Zh[:800], quadrant[:800], Zh[800:], quadrant[800:]) > 0.8


def test_euclidean_similarity_is_not_normalised(make_ring, to_circle):
    X, theta = make_ring()
    model = ContrastiveEmbedding(2, similarity="euclidean", temperature=1.0, **FAST)
    model.fit(X[:800], to_circle(theta[:800]))
    Z = model.transform(X)
    assert np.std(np.linalg.norm(Z, axis=1)) > 1e-3
    assert _heldout_r2(model, X, to_circle(theta), 800) > 0.7


def test_same_seed_same_embedding_and_global_state_untouched(make_ring):
    X, _ = make_ring(n_time=400)
    threads = torch.get_num_threads()
    rng_state = torch.random.get_rng_state()
    kw = dict(FAST, n_steps=30)
    a = ContrastiveEmbedding(3, positives="time", **kw).fit(X).transform(X)
    b = ContrastiveEmbedding(3, positives="time", **kw).fit(X).transform(X)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    c = ContrastiveEmbedding(3, positives="time", **dict(kw, random_state=1)).fit(X).transform(X)
    assert np.abs(a - c).max() > 1e-2
    plain = ContrastiveEmbedding(3, positives="time", neuron_dropout=0.0, **kw).fit(X).transform(X)
    assert np.abs(a - plain).max() > 1e-3  # the augmentation is on by default and changes training
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), rng_state)


def test_save_load_round_trip(tmp_path, make_ring, to_circle):
    X, theta = make_ring(n_time=400)
    model = ContrastiveEmbedding(3, **dict(FAST, n_steps=20)).fit(X, to_circle(theta))
    out = model.save(tmp_path / "model")
    assert sorted(p.name for p in out.iterdir()) == ["model.pt", "params.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind
    meta = json.loads((out / "params.json").read_text())
    assert meta["params"]["n_components"] == 3 and meta["behavior_type"] == "continuous"
    loaded = ContrastiveEmbedding.load(out, device="cpu")
    np.testing.assert_allclose(loaded.transform(X), model.transform(X), atol=1e-6)
    assert loaded.get_params()["n_steps"] == 20
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "params.json").write_text("{}")
    with pytest.raises(NeuralscopeError, match="ContrastiveEmbedding.save"):
        ContrastiveEmbedding.load(tmp_path / "junk")


def test_two_sessions_share_one_space(make_ring, to_circle):
    # Two "animals": different neurons (24 vs 17), the same behaviour variable.
    Xa, ta = make_ring(n_time=900, n_neurons=24, seed=0)
    Xb, tb = make_ring(n_time=900, n_neurons=17, seed=5)
    model = ContrastiveEmbedding(3, **dict(FAST, n_steps=250)).fit([Xa, Xb], [to_circle(ta), to_circle(tb)])
    assert model.n_features_per_session_ == [24, 17]
    Za, Zb = model.transform(Xa, session=0), model.transform(Xb, session=1)
    # Behaviour read out of session A's embedding from session B's: the spaces agree.
    assert knn_holdout_score(Za, to_circle(ta), Zb, to_circle(tb)) > 0.7
    with pytest.raises(NeuralscopeError, match="17 neurons"):
        model.transform(Xa, session=1)


def test_trials_keep_windows_and_time_positives_inside_trials():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 30)
    X = rng.poisson(2.0, size=(60, 10, 20)).astype(float)
    X[labels == 1, :4] += 3.0
    trials = TrialActivity(X, fs=20.0, trials=__import__("pandas").DataFrame({"side": labels}))
    model = ContrastiveEmbedding(2, window=5, **dict(FAST, n_steps=60)).fit(trials, "side")
    Z = model.transform(trials)
    assert Z.shape == (60, 20, 2)
    per_bin = np.repeat(labels, 20)
    assert knn_holdout_score(Z[::2].reshape(-1, 2), per_bin.reshape(60, 20)[::2].ravel(),
                             Z[1::2].reshape(-1, 2), per_bin.reshape(60, 20)[1::2].ravel()) > 0.9
    layout = sampling.make_layout([20] * 60, 2, 2)
    sampler = sampling.PairSampler([layout], None, "time", 10, 5, False)
    group = sampler.sample(np.random.default_rng(0), 4000)[0]
    assert np.all(group.refs // 20 == group.pos // 20) and np.all(group.refs != group.pos)


def test_behaviour_index_is_built_once_not_per_step(monkeypatch, make_ring, to_circle):
    X, theta = make_ring(n_time=600)
    queries = []
    real_tree = sampling.cKDTree

    class SpyTree(real_tree):
        def query(self, *args, **kwargs):
            queries.append(1)
            return super().query(*args, **kwargs)

    monkeypatch.setattr(sampling, "cKDTree", SpyTree)
    ContrastiveEmbedding(2, **dict(FAST, n_steps=40)).fit(X, to_circle(theta))
    assert len(queries) == 1  # one query of the whole recording before training, none per step


@pytest.mark.parametrize("kwargs, y, match", [
    (dict(positives="behavior"), None, "behaviour or labels"),
    (dict(), "short", "samples to match"),
    (dict(n_components=30), None, "n_components"),
    (dict(temperature=0.0), None, "temperature"),
    (dict(similarity="dot"), None, "similarity"),
    (dict(window=0), None, "window"),
    (dict(neuron_dropout=1.0), None, "neuron_dropout"),
])
def test_bad_arguments(make_ring, kwargs, y, match):
    X, theta = make_ring(n_time=200)
    if isinstance(y, str):
        y = np.cos(theta[:-5])
    with pytest.raises(NeuralscopeError, match=match):
        ContrastiveEmbedding(**dict(FAST, n_steps=2, **kwargs)).fit(X, y)


def test_bad_data():
    with pytest.raises(NeuralscopeError, match="at least 2 neurons"):
        ContrastiveEmbedding(1, **FAST).fit(np.arange(100.0)[:, None])
    with pytest.raises(NeuralscopeError, match="constant"):
        ContrastiveEmbedding(1, **FAST).fit(np.ones((100, 4)))
    X = np.random.default_rng(0).normal(size=(100, 4))
    X[3, 2] = np.nan
    with pytest.raises(NeuralscopeError, match="NaN"):
        ContrastiveEmbedding(1, **FAST).fit(X)
    y = np.random.default_rng(0).normal(size=100)
    y[7] = np.inf
    with pytest.raises(NeuralscopeError, match="finite"):
        ContrastiveEmbedding(1, **FAST).fit(np.random.default_rng(0).normal(size=(100, 4)), y)
