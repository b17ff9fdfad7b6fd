"""`neuralscope embed` logic (run_embed_command): the machine-readable contract,
artefacts, and one-line errors for bad input."""

import json

import numpy as np
import pytest

from neuralscope.cli.embed import run_embed_command
from neuralscope.core import NeuralscopeError


def _ring_npz(path, n_time=1200, n_neurons=20, seed=0):
    """Neurons tuned to an angle drifting around a ring; y = (cos, sin) of the angle."""
    rng = np.random.default_rng(seed)
    theta = np.cumsum(0.08 + 0.05 * rng.standard_normal(n_time))
    pref = np.linspace(0, 2 * np.pi, n_neurons, endpoint=False)
    X = rng.poisson(3.0 * np.exp(1.2 * np.cos(theta[:, None] - pref))).astype(float)
    y = np.column_stack([np.cos(theta), np.sin(theta)])
    np.savez(path, X=X, y=y, fs=20.0)
    return X, y


def _trials_npz(path, n=60, neurons=12, bins=15, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1], n // 2)
    X = rng.poisson(2.0, size=(n, neurons, bins)).astype(float)
    X[labels == 1, :5] += np.linspace(0, 4, bins)  # condition 1 ramps up in 5 neurons
    np.savez(path, X=X, y=labels, fs=10.0)
    return X, labels


def test_train_fraction_contract_pca(tmp_path, capsys):
    _, y = _ring_npz(tmp_path / "ring.npz")
    out = tmp_path / "out"
    res = run_embed_command(data=str(tmp_path / "ring.npz"), method="pca", dims=2, train_fraction=0.7,
                            out=out, as_json=True, quiet=True)
    printed = json.loads(capsys.readouterr().out)
    assert printed["knn_r2_test"] == pytest.approx(res["knn_r2_test"])
    assert res["knn_r2_test"] > 0.7 and res["fit_seconds"] >= 0 and res["n_train"] == 840
    with np.load(out / "embedding.npz", allow_pickle=False) as f:
        assert f["embedding"].shape == (1200, 2)
        assert f["train_mask"].sum() == 840
        np.testing.assert_allclose(f["target"], y)
    assert json.loads((out / "metrics.json").read_text())["knn_r2_test"] == pytest.approx(res["knn_r2_test"])
    assert (out / "report.html").stat().st_size > 2000
    assert list((out / "figures").glob("*.png"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    pynwb = pytest.importorskip("pynwb")
    with pynwb.NWBHDF5IO(str(out / "embedding.nwb"), "r") as io:
        series = io.read().processing["manifold"]["embedding"]
        assert series.data.shape == (1200, 2) and series.rate == 20.0


def test_contrastive_behaviour_scores_held_out_time(tmp_path, capsys):
    _ring_npz(tmp_path / "ring.npz")
    res = run_embed_command(data=str(tmp_path / "ring.npz"), method="contrastive-behavior", dims=3,
                            train_fraction=0.7, steps=120, as_json=True, quiet=True)
    assert res["knn_r2_test"] > 0.8
    assert res["target"] == "y" and res["task"] == "regression"
    assert json.loads(capsys.readouterr().out)["method"] == "contrastive-behavior"


def test_trials_give_label_accuracy_and_trajectories(tmp_path, capsys):
    _trials_npz(tmp_path / "trials.npz")
    out = tmp_path / "out"
    res = run_embed_command(data=str(tmp_path / "trials.npz"), method="pca", dims=3, train_fraction=0.5,
                            out=out, as_json=True, quiet=True)
    assert res["task"] == "classification" and res["n_train"] == 30 * 15
    assert res["knn_accuracy_test"] > 0.75
    assert "silhouette" in res["metrics"] and "knn_accuracy_cv" in res["metrics"]
    names = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert any("trajectories" in n for n in names)
    with np.load(out / "embedding.npz", allow_pickle=False) as f:
        assert f["embedding"].shape == (60 * 15, 3)
        assert tuple(f["trial_shape"]) == (60, 15)


def test_contrastive_on_trials_and_without_out(tmp_path, capsys):
    _trials_npz(tmp_path / "trials.npz")
    res = run_embed_command(data=str(tmp_path / "trials.npz"), method="hybrid", dims=2, steps=40,
                            as_json=False, quiet=True)
    assert "knn_r2_test" not in res and res["metrics"]["knn_accuracy_cv"] > 0.6
    assert "hybrid embedding" in capsys.readouterr().out


def test_same_seed_same_embedding(tmp_path, capsys):
    _ring_npz(tmp_path / "ring.npz", n_time=400)
    for name in ("a", "b"):
        run_embed_command(data=str(tmp_path / "ring.npz"), method="contrastive-time", dims=2, steps=20,
                          out=tmp_path / name, quiet=True)
    capsys.readouterr()
    with np.load(tmp_path / "a" / "embedding.npz") as a, np.load(tmp_path / "b" / "embedding.npz") as b:
        np.testing.assert_allclose(a["embedding"], b["embedding"], atol=1e-6)


def _write(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize("arrays, kwargs, match", [
    (dict(X=np.random.default_rng(0).poisson(2.0, (100, 1)).astype(float)), {}, "at least 2 neurons"),
    (dict(X=np.ones((100, 5))), {}, "constant"),
    (dict(X=np.where(np.eye(100, 5) > 0, np.nan, 1.0)), {}, "NaN"),
    (dict(X=np.random.default_rng(0).normal(size=(100, 5)), y=np.zeros(90)), {}, "rows"),
    (dict(X=np.random.default_rng(0).normal(size=(100, 5))), dict(dims=6), "--dims"),
    (dict(X=np.random.default_rng(0).normal(size=(100, 5))), dict(method="contrastive-behavior"), "--target"),
    (dict(X=np.random.default_rng(0).normal(size=(100, 5))), dict(method="isomap"), "--method"),
    (dict(X=np.random.default_rng(0).normal(size=(100, 5)), y=np.zeros(100)), dict(train_fraction=1.5),
     "--train-fraction"),
    (dict(X=np.random.default_rng(0).normal(size=(100, 5)), y=np.zeros(100)), dict(target="speed"), "--target"),
])
def test_bad_input_is_one_line_error_and_writes_nothing(tmp_path, arrays, kwargs, match):
    data = _write(tmp_path / "bad.npz", **arrays)
    out = tmp_path / "out"
    with pytest.raises(NeuralscopeError, match=match) as err:
        run_embed_command(data=data, **dict(dict(method="pca", dims=2, out=out, quiet=True), **kwargs))
    assert "\n" not in str(err.value)
    assert not out.exists()


def test_registered_method_is_accepted(tmp_path, monkeypatch, capsys):
    from neuralscope.manifold import PCA, analysis

    seen = {}

    class Spy(PCA):
        def fit_transform(self, X, y=None):
            seen["shape"] = X.shape
            return super().fit_transform(X)

    spec = analysis.MethodSpec(lambda dims, seed, steps: Spy(dims), "trial-wise test method", trial_input=True)
    monkeypatch.setitem(analysis.METHODS, "spy", spec)
    _trials_npz(tmp_path / "trials.npz")
    res = run_embed_command(data=str(tmp_path / "trials.npz"), method="spy", dims=2, train_fraction=0.5, quiet=True)
    assert seen["shape"] == (30, 12, 15)  # whole trials, the first half of them
    assert res["method"] == "spy" and "knn_accuracy_test" in res
