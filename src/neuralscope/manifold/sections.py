"""Report sections for embeddings (``neuralscope embed`` and the demo)."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuralscope.manifold.analysis import EmbeddingAnalysis  # noqa: E402
from neuralscope.manifold.plots import _axes, _draw_points, plot_trajectories  # noqa: E402
from neuralscope.manifold.trajectories import embedding_trajectories  # noqa: E402
from neuralscope.report import Section  # noqa: E402

__all__ = ["behaviour_colour", "colour_map", "embedding_section", "score_line"]


def colour_map(label: str) -> str:
    """A cyclic colour map for directions (-180 and 180 deg are the same), else viridis."""
    return "twilight" if label.startswith("direction") else "viridis"


def behaviour_colour(y: np.ndarray | None) -> tuple[np.ndarray | None, bool, str]:
    """(colour per sample, is categorical, colour-bar label) for a target."""
    if y is None:
        return None, False, ""
    y = np.asarray(y)
    if y.dtype.kind in "biuOSU":
        return y, True, ""
    if y.ndim == 2 and y.shape[1] == 2:
        # A 2-D movement variable: colour by its direction, the structure a
        # reaching population is known to encode.
        return np.degrees(np.arctan2(y[:, 1], y[:, 0])), False, "direction (deg)"
    return (y if y.ndim == 1 else y[:, 0]), False, "target"


def score_line(metrics: dict[str, Any]) -> str:
    """The embedding's ground-truth scores in one line."""
    names = (("knn_r2_test", "k-NN R² held-out"), ("knn_accuracy_test", "k-NN acc. held-out"),
             ("knn_r2_cv", "k-NN R² (CV)"), ("knn_accuracy_cv", "k-NN acc. (CV)"),
             ("silhouette", "silhouette"), ("trustworthiness", "trustworthiness"))
    return ", ".join(f"{label} {metrics[key]:.2f}" for key, label in names if key in metrics)


def embedding_section(analysis: EmbeddingAnalysis, title: str, *, key: str = "embed", intro: str = "",
                      fs: float | None = None, trial_labels: np.ndarray | None = None) -> Section:
    """Embedding coloured by the target, trajectories for trials, and the training loss."""
    sec = Section(title, intro=intro, key=key)
    Z = analysis.embedding
    colour, categorical, clabel = behaviour_colour(analysis.y)
    parts = [(analysis.method, slice(None))]
    if analysis.n_train is not None:
        parts = [("fitted part", slice(0, analysis.n_train)), ("held-out part", slice(analysis.n_train, None))]
    dims = 3 if Z.shape[1] >= 3 else 2
    fig = plt.figure(figsize=(3.8 * len(parts) + 0.6, 3.6))
    mappable = None
    for i, (name, sl) in enumerate(parts):
        ax = _axes(fig, dims, (1, len(parts), i + 1))
        points = Z[sl] if Z.shape[1] >= 2 else np.column_stack([Z[sl, 0], np.zeros(len(Z[sl]))])
        mappable = _draw_points(ax, points, None if colour is None else colour[sl], categorical, dims,
                                cmap=colour_map(clabel)) or mappable
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=6)
    if mappable is not None and colour is not None and not categorical:
        fig.colorbar(mappable, ax=fig.axes, shrink=0.7, label=clabel)
    sec.add_figure("embedding", fig, caption=(f"{analysis.method} embedding ({Z.shape[1]}-D, first "
                                              f"{dims} shown), coloured by {analysis.target or 'nothing'}."),
                   score=score_line(analysis.metrics))
    if analysis.trial_shape is not None:
        n_trials, n_time = analysis.trial_shape
        Z3 = Z.reshape(n_trials, n_time, -1)
        times = None if fs is None else np.arange(n_time) / fs
        traj = embedding_trajectories(Z3, trial_labels, times, method=analysis.method)
        sec.add_figure("trajectories", plot_trajectories(traj, dims=min(3, Z.shape[1]) if Z.shape[1] >= 2 else None),
                       caption="Condition-averaged trajectories in the embedding (thick), single trials (thin).")
    history = getattr(analysis.estimator, "loss_history_", None)
    if history:
        fig, ax = plt.subplots(figsize=(4.2, 2.8))
        ax.plot(history, lw=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("InfoNCE loss")
        fig.tight_layout()
        sec.add_figure("loss", fig, caption="Training loss of the contrastive encoder.")
    rows = [[k, v] for k, v in analysis.metrics.items()]
    sec.add_table("Scores of the embedding", ["metric", "value"], rows)
    return sec
