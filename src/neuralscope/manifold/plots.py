"""Figures of embeddings and trajectories (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuralscope.core.errors import NeuralscopeError  # noqa: E402
from neuralscope.manifold.trajectories import Trajectories  # noqa: E402

__all__ = ["plot_embedding", "plot_embeddings", "plot_trajectories"]

# Scatter plots of long recordings are drawn from a seeded subset: beyond a few
# thousand points a figure only gets slower, not more informative.
_MAX_POINTS = 4000


def _dims(n_available: int, dims: int | None) -> int:
    d = min(3, n_available) if dims is None else int(dims)
    if d not in (2, 3) or d > n_available:
        raise NeuralscopeError("dims", f"2 or 3 (at most {n_available})", dims)
    return d


def _axes(fig: Any, d: int, pos: tuple[int, int, int] = (1, 1, 1)) -> Any:
    return fig.add_subplot(*pos, projection="3d") if d == 3 else fig.add_subplot(*pos)


def _draw_points(ax: Any, Z: np.ndarray, color: Any, labels: bool, d: int, seed: int = 0,
                 cmap: str = "viridis") -> Any:
    n = Z.shape[0]
    keep = np.arange(n) if n <= _MAX_POINTS else np.sort(np.random.default_rng(seed).choice(n, _MAX_POINTS, False))
    pts = Z[keep, :d].T
    if color is None:
        return ax.scatter(*pts, s=3, c="#3465a4", alpha=0.6, linewidths=0)
    c = np.asarray(color)[keep]
    if labels:
        classes = np.unique(c)
        cmap = plt.get_cmap("tab10")
        for i, cls in enumerate(classes):
            m = c == cls
            ax.scatter(*Z[keep][m, :d].T, s=4, color=cmap(i % 10), alpha=0.7, linewidths=0, label=str(cls))
        ax.legend(fontsize=7, markerscale=3, loc="best")
        return None
    return ax.scatter(*pts, s=3, c=c, cmap=cmap, alpha=0.7, linewidths=0)


def plot_embedding(Z: Any, color: Any = None, *, labels: bool = False, dims: int | None = None,
                   title: str = "", color_label: str = "", cmap: str = "viridis") -> Any:
    """Scatter of an embedding coloured by behaviour or labels.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
    color : array-like of shape (n_samples,), optional
        Continuous value (e.g. movement direction) or labels.
    labels : bool
        Treat ``color`` as categorical (legend) instead of a colour scale.
    dims : {2, 3}, optional
        Plotted dimensions (default: 3 when available).
    title, color_label : str
    cmap : str
        Colour map of continuous colours (use a cyclic one, e.g. "twilight",
        for angles).

    Returns
    -------
    matplotlib.figure.Figure
    """
    return plot_embeddings([(title, Z)], color, labels=labels, dims=dims, color_label=color_label, cmap=cmap)


def plot_embeddings(panels: Sequence[tuple[str, Any]], color: Any = None, *, labels: bool = False,
                    dims: int | None = None, color_label: str = "", scores: Sequence[str] | None = None,
                    cmap: str = "viridis") -> Any:
    """Several embeddings of the same samples side by side, coloured alike.

    Parameters
    ----------
    panels : sequence of (title, Z)
        Each ``Z`` of shape (n_samples, >= 2).
    color, labels, dims, color_label, cmap
        As in :func:`plot_embedding`.
    scores : sequence of str, optional
        A line under each title (e.g. its k-NN score).
    """
    fig = plt.figure(figsize=(3.6 * len(panels) + 0.6, 3.6))
    mappable = None
    for i, (title, Z) in enumerate(panels):
        Z = np.asarray(Z, float).reshape(-1, np.shape(Z)[-1])
        d = _dims(Z.shape[1], dims) if Z.shape[1] >= 2 else 2
        if Z.shape[1] == 1:
            Z = np.column_stack([Z[:, 0], np.zeros(len(Z))])
        ax = _axes(fig, d, (1, len(panels), i + 1))
        c = None if color is None else np.asarray(color).reshape(-1)
        mappable = _draw_points(ax, Z, c, labels, d, cmap=cmap) or mappable
        head = title if not scores else f"{title}\n{scores[i]}"
        ax.set_title(head, fontsize=9)
        ax.tick_params(labelsize=6)
    if mappable is not None and not labels:
        fig.colorbar(mappable, ax=fig.axes, shrink=0.7, label=color_label)
    return fig


def plot_trajectories(traj: Trajectories, *, dims: int | None = None, show_single: bool = True,
                      max_single: int = 8, title: str = "") -> Any:
    """Condition-averaged trajectories (thick), a few single trials (thin),
    points coloured by time, a circle at the start and a square at the end.

    Parameters
    ----------
    traj : Trajectories
        From :func:`~neuralscope.manifold.trial_trajectories`.
    dims : {2, 3}, optional
    show_single : bool
        Draw single trials behind the averages.
    max_single : int
        Single trials drawn per condition.
    title : str
    """
    d = _dims(traj.n_components, dims)
    fig = plt.figure(figsize=(5.4, 4.4))
    ax = _axes(fig, d)
    cmap = plt.get_cmap("tab10")
    for i, cond in enumerate(traj.conditions):
        colour = cmap(i % 10)
        if show_single:
            for trial in traj.single[traj.labels == cond][:max_single]:
                ax.plot(*trial[:, :d].T, color=colour, lw=0.6, alpha=0.35)
        m = traj.mean[i, :, :d]
        ax.plot(*m.T, color=colour, lw=2.2, label=f"{cond}")
        sc = ax.scatter(*m.T, c=traj.times, cmap="viridis", s=10, zorder=3)
        ax.scatter(*m[0], marker="o", s=60, facecolor="white", edgecolor="black", zorder=4)
        ax.scatter(*m[-1], marker="s", s=60, facecolor=colour, edgecolor="black", zorder=4)
    fig.colorbar(sc, ax=ax, shrink=0.7, label="time in trial (s)")
    evr = traj.explained_variance_ratio
    axis_names = [f"dim {k + 1}" + (f" ({100 * evr[k]:.0f}%)" if evr is not None else "") for k in range(d)]
    ax.set_xlabel(axis_names[0], fontsize=8)
    ax.set_ylabel(axis_names[1], fontsize=8)
    if d == 3:
        ax.set_zlabel(axis_names[2], fontsize=8)
    ax.legend(fontsize=7, title="condition (o start, \u25a0 end)", title_fontsize=7)
    ax.set_title(title or f"{traj.method} trajectories", fontsize=10)
    return fig
