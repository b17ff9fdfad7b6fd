"""The manifold part of ``neuralscope demo``: PCA, t-SNE, UMAP and contrastive
embeddings side by side on a simulation with known latents and on real M1."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from neuralscope.manifold.classical import PCA, TSNE, UMAP
from neuralscope.manifold.contrastive import ContrastiveEmbedding
from neuralscope.manifold.metrics import knn_holdout_score, knn_score, silhouette
from neuralscope.manifold.plots import plot_embeddings, plot_trajectories
from neuralscope.manifold.sections import behaviour_colour, colour_map
from neuralscope.manifold.trajectories import trial_trajectories
from neuralscope.report import Section

__all__ = ["demo_sections"]

# t-SNE and UMAP are fitted on a seeded subset of this many points: their cost
# grows quickly with size (t-SNE's single-threaded gradient most of all), and
# under 4096 points umap-learn stays on its exact-neighbour path.
_TSNE_POINTS = 1000
_UMAP_POINTS = 3000
_TSNE_ITER = dict(n_iter=250, early_exaggeration_iter=125)


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _decision_section(seed: int, quick: bool, say: Callable[[str], None]) -> tuple[Section, dict]:
    from neuralscope.datasets import simulate_decision

    data = simulate_decision(random_state=seed, **({"n_trials": 60} if quick else {}))
    n_trials, n_neurons, n_time = data.data.shape
    labels = data.labels("condition")
    latents = data.attrs["latents"].transpose(0, 2, 1).reshape(-1, 3)  # (trials * time, 3)
    groups = np.repeat(np.arange(n_trials), n_time)
    late = np.tile(np.arange(n_time) >= 2 * n_time // 3, n_trials)  # conditions have diverged
    per_bin = np.repeat(labels, n_time)
    sec = Section("Find the structure: decision-making population", key="manifold-decision", intro=(
        f"Simulated two-choice task ({n_trials} trials, {n_neurons} Poisson neurons, {n_time} bins at "
        f"{data.fs:g} Hz) driven by a known 3-D latent: a drift-diffusion choice variable, an urgency ramp "
        "and an onset transient. Ground truth score: how well each embedding's time bins give back the true "
        "latent (k-NN R², whole trials held out per fold); silhouette of the two conditions in the last third "
        "of the trial, where they have diverged."))
    say("manifold: decision trajectories (PCA)")
    traj = trial_trajectories(data, "condition", n_components=3, smooth=2.0, random_state=seed)
    smooth = traj.single.reshape(-1, 3)
    truth_r2 = knn_score(smooth, latents, task="regression", groups=groups)
    sec.add_figure("trajectories", plot_trajectories(traj, title="PCA of condition averages"),
                   caption="Condition-averaged (thick) and single-trial (thin) trajectories, time in colour; "
                           f"the 3 components explain {100 * traj.explained_variance_ratio.sum():.0f}% of the "
                           "condition-averaged variance.",
                   score=f"true latent from trajectories: k-NN R² {truth_r2:.2f}")
    # Each method embeds the (smoothed) time bins of every trial.
    from scipy.ndimage import gaussian_filter1d

    X = gaussian_filter1d(data.data, 2.0, axis=2).transpose(0, 2, 1).reshape(-1, n_neurons)
    rng = np.random.default_rng(seed)
    sub = np.sort(rng.choice(len(X), min(len(X), _TSNE_POINTS), replace=False))
    embeddings: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}  # name -> (Z, rows, seconds)
    say("manifold: decision PCA / contrastive")
    Z, s = _timed(lambda: PCA(3, random_state=seed).fit_transform(X))
    embeddings["PCA"] = (Z, np.arange(len(X)), s)
    model = ContrastiveEmbedding(3, positives="hybrid", n_steps=150 if quick else 400, batch_size=256,
                                 window=5, random_state=seed, device="cpu")
    Z, s = _timed(lambda: model.fit(data, "condition").transform(data).reshape(-1, 3))
    embeddings["contrastive (hybrid)"] = (Z, np.arange(len(X)), s)
    if not quick and _have("openTSNE"):
        say("manifold: decision t-SNE")
        Z, s = _timed(lambda: TSNE(2, random_state=seed, **_TSNE_ITER).fit_transform(X[sub]))
        embeddings["t-SNE"] = (Z, sub, s)
    if not quick and _have("umap"):
        say("manifold: decision UMAP")
        Z, s = _timed(lambda: UMAP(2, random_state=seed).fit_transform(X[sub]))
        embeddings["UMAP"] = (Z, sub, s)
    rows, panels, scores, result = [], [], [], {"methods": {}}
    for name, (Z, idx, s) in embeddings.items():
        r2 = knn_score(Z, latents[idx], task="regression", groups=groups[idx])
        keep = late[idx]
        sil = silhouette(Z[keep], per_bin[idx][keep], random_state=seed)
        rows.append([name, Z.shape[1], len(idx), r2, sil, s])
        result["methods"][name] = {"latent_knn_r2": r2, "silhouette_late": sil, "fit_seconds": s, "n_points": len(idx)}
        panels.append((name, Z[np.isin(idx, sub)] if len(idx) > len(sub) else Z))
        scores.append(f"latent R² {r2:.2f}, silhouette {sil:.2f}")
    sec.add_figure("embeddings", plot_embeddings(panels, per_bin[sub], labels=True, dims=2, scores=scores),
                   caption="The same time bins embedded four ways (first two dimensions), coloured by condition.",
                   score="; ".join(f"{n}: {sc}" for n, sc in zip(embeddings, scores)))
    sec.add_table("Embeddings of the decision population", ["method", "dims", "points", "latent k-NN R²",
                                                            "silhouette (late)", "fit (s)"], rows)
    result["trajectories"] = traj.to_json()
    result["trajectories"]["latent_knn_r2"] = truth_r2
    return sec, result


def _m1_section(seed: int, quick: bool, say: Callable[[str], None]) -> tuple[Section, dict]:
    from neuralscope.datasets import load_m1_builtin

    m1 = load_m1_builtin()
    X, v = m1.data, m1.covariate("velocity")
    n = X.shape[0]
    n_train = int(0.8 * n)
    sec = Section("Find the structure: real macaque M1 reaching", key="manifold-m1", intro=(
        f"Real recording shipped with neuralscope ({m1.n_neurons} M1 units, {m1.duration / 60:.1f} min in 50 ms "
        "bins, Stevenson et al. 2011). Every method is fitted on the first 80% of the recording and embeds the "
        "last 20% unseen; ground truth score: hand velocity predicted by k-NN from the training embedding, R² on "
        "the held-out 20%. t-SNE and UMAP are fitted on a subset of the training bins (their cost grows "
        "quickly with size). The contrastive model is neuralscope's own generic InfoNCE learner with "
        "positives chosen by velocity (precomputed neighbour sets: the cost per step does not depend on the "
        "recording length)."))
    rng = np.random.default_rng(seed)
    sub_tsne = np.sort(rng.choice(n_train, min(n_train, _TSNE_POINTS), replace=False))
    sub_umap = np.sort(rng.choice(n_train, min(n_train, _UMAP_POINTS), replace=False))
    results: dict[str, dict] = {}
    heldout: dict[str, np.ndarray] = {}

    def score(name: str, fit_rows: np.ndarray, Z_fit: np.ndarray, Z_test: np.ndarray, seconds: float) -> None:
        r2 = knn_holdout_score(Z_fit, v[fit_rows], Z_test, v[n_train:])
        results[name] = {"knn_r2_test": r2, "fit_seconds": seconds, "dims": int(Z_fit.shape[1]),
                         "n_fit": int(len(fit_rows))}
        heldout[name] = Z_test

    say("manifold: M1 PCA")
    pca, s = _timed(lambda: PCA(3, random_state=seed).fit(X[:n_train]))
    score("PCA", np.arange(n_train), pca.transform(X[:n_train]), pca.transform(X[n_train:]), s)
    say("manifold: M1 contrastive (velocity)")
    model = ContrastiveEmbedding(3, n_steps=200 if quick else 500, random_state=seed, device="cpu")
    _, s = _timed(lambda: model.fit(X[:n_train], v[:n_train]))
    Z = model.transform(X)
    score("contrastive (velocity)", np.arange(n_train), Z[:n_train], Z[n_train:], s)
    if not quick and _have("openTSNE"):
        say("manifold: M1 t-SNE")
        tsne = TSNE(2, random_state=seed, **_TSNE_ITER)
        Zt, s = _timed(lambda: tsne.fit_transform(X[sub_tsne]))
        score("t-SNE", sub_tsne, Zt, tsne.transform(X[n_train:]), s)
    if not quick and _have("umap"):
        say("manifold: M1 UMAP")
        um = UMAP(3, random_state=seed)
        Zu, s = _timed(lambda: um.fit_transform(X[sub_umap]))
        score("UMAP", sub_umap, Zu, um.transform(X[n_train:]), s)
    colour, _, clabel = behaviour_colour(v[n_train:])
    names = list(heldout)
    fig = plot_embeddings([(k, heldout[k]) for k in names], colour, dims=2, color_label=clabel, cmap=colour_map(clabel),
                          scores=[f"held-out velocity R² {results[k]['knn_r2_test']:.2f}" for k in names])
    best = max(results, key=lambda k: results[k]["knn_r2_test"])
    sec.add_figure("embeddings", fig, caption="Held-out 20% of the recording embedded by models fitted on the "
                   "first 80%, coloured by hand movement direction.",
                   score="; ".join(f"{k}: R² {results[k]['knn_r2_test']:.2f}" for k in names))
    sec.add_table("Held-out k-NN velocity decoding from each embedding", ["method", "dims", "fit points",
                  "k-NN velocity R² (held-out)", "fit (s)"],
                  [[k, r["dims"], r["n_fit"], r["knn_r2_test"], r["fit_seconds"]] for k, r in results.items()])
    sec.add_note(f"Best held-out velocity decoding: {best} (R² {results[best]['knn_r2_test']:.2f}). Fit times on "
                 "this machine, one run; the contrastive model trains on all training bins.")
    return sec, {"methods": results, "n_train": n_train, "n_test": n - n_train}


def demo_sections(seed: int = 0, quick: bool = False,
                  progress: Callable[[str], None] | None = None) -> list[tuple[Section, dict]]:
    """PCA vs t-SNE vs UMAP vs contrastive on the decision simulation and on real M1.

    t-SNE and UMAP need the optional extra (``pip install neuralscope[manifold]``)
    and are left out of the quick demo; umap-learn compiles itself on its first
    use in a new environment (about a minute, once).
    """
    say = progress or (lambda m: None)
    return [_decision_section(seed, quick, say), _m1_section(seed, quick, say)]
