"""Figures of the graph analyses (matplotlib, Agg)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuralscope.connectomics.graph.adjacency import Adjacency  # noqa: E402
from neuralscope.connectomics.graph.blocks import BlockConnectivity  # noqa: E402
from neuralscope.connectomics.graph.community import Communities  # noqa: E402
from neuralscope.connectomics.graph.motifs import MotifResult  # noqa: E402
from neuralscope.connectomics.graph.stats import ccdf  # noqa: E402


def degree_figure(adj: Adjacency, title: str = ""):
    """Log-log complementary CDFs of degrees, synapse strengths and synapses per edge."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, (label_a, a), (label_b, b), unit in (
        (axes[0], ("in-degree", adj.in_degree), ("out-degree", adj.out_degree), "partners"),
        (axes[1], ("input synapses", adj.in_strength), ("output synapses", adj.out_strength), "synapses"),
    ):
        for label, values in ((label_a, a), (label_b, b)):
            x, p = ccdf(values)
            ax.loglog(x, p, label=label)
        ax.set_xlabel(unit)
        ax.set_ylabel("P(X >= x)")
        ax.legend(frameon=False, fontsize=8)
    x, p = ccdf(adj.weights.data)
    axes[2].loglog(x, p, color="k")
    axes[2].set_xlabel("synapses per connected pair")
    axes[2].set_ylabel("P(X >= x)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def block_figure(blocks: BlockConnectivity, value: str = "probability", title: str = "", max_groups: int = 40):
    """Heat map of the group x group table ``value`` (probability, synapses or edges), log colour scale."""
    from matplotlib.colors import LogNorm

    table = getattr(blocks, value).iloc[:max_groups, :max_groups]
    m = table.to_numpy(dtype=float)
    positive = m[np.isfinite(m) & (m > 0)]
    size = 2.5 + 0.22 * len(table)
    fig, ax = plt.subplots(figsize=(min(size + 1.5, 11), min(size, 9.5)))
    if positive.size:
        im = ax.imshow(np.where(m > 0, m, np.nan), cmap="viridis",
                       norm=LogNorm(vmin=positive.min(), vmax=positive.max()))
        fig.colorbar(im, ax=ax, label=value.replace("_", " "), shrink=0.8)
    ax.set_xticks(range(len(table)), table.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(len(table)), table.index, fontsize=7)
    ax.set_xlabel("postsynaptic group")
    ax.set_ylabel("presynaptic group")
    ax.set_title(title or f"block connectivity ({value})", fontsize=10)
    fig.tight_layout()
    return fig


def motif_figure(motifs: MotifResult, title: str = ""):
    """z-scores (symlog) and observed / null ratios of the mutual dyad and the 13 connected triads."""
    table = motifs.table()
    names = list(table.index)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    z = table["z"].to_numpy(dtype=float)
    colors = ["tab:red" if v > 0 else "tab:blue" for v in np.nan_to_num(z)]
    axes[0].bar(range(len(names)), np.nan_to_num(z), color=colors)
    axes[0].set_yscale("symlog", linthresh=2)
    for thr in (-2, 2):
        axes[0].axhline(thr, color="grey", lw=0.7, ls="--")
    axes[0].set_ylabel("z vs configuration null")
    ratio = table["ratio"].to_numpy(dtype=float)
    axes[1].bar(range(len(names)), np.where(np.isfinite(ratio) & (ratio > 0), ratio, np.nan), color="tab:grey")
    axes[1].set_yscale("log")
    axes[1].axhline(1.0, color="k", lw=0.7)
    axes[1].set_ylabel("observed / null mean")
    for ax in axes:
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=8)
    fig.suptitle(title or f"motifs vs {len(motifs.null_triads)} configuration-model samples", fontsize=10)
    fig.tight_layout()
    return fig


def community_figure(adj: Adjacency, communities: Communities, title: str = "", max_points: int = 200_000):
    """Community sizes and the adjacency matrix ordered by community (a random subset of edges when large)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    axes[0].bar(range(min(40, communities.n_communities)), communities.sizes[:40], color="tab:green")
    axes[0].set_xlabel("community (largest first)")
    axes[0].set_ylabel("neurons")
    order = np.argsort(communities.labels, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    w = adj.loops_removed.tocoo()
    rows, cols = w.row, w.col
    if len(rows) > max_points:
        pick = np.random.default_rng(0).choice(len(rows), max_points, replace=False)
        rows, cols = rows[pick], cols[pick]
    axes[1].scatter(position[cols], position[rows], s=0.3 if len(rows) > 5000 else 2, c="k", alpha=0.5, lw=0)
    bounds = np.cumsum(communities.sizes)[:-1]
    for b in bounds[:60]:
        axes[1].axhline(b, color="tab:green", lw=0.4)
        axes[1].axvline(b, color="tab:green", lw=0.4)
    axes[1].set_xlim(0, adj.n_neurons)
    axes[1].set_ylim(adj.n_neurons, 0)
    axes[1].set_xlabel("postsynaptic (ordered by community)")
    axes[1].set_ylabel("presynaptic")
    fig.suptitle(title or f"Louvain: {communities.n_communities} communities, modularity {communities.modularity:.3f}",
                 fontsize=10)
    fig.tight_layout()
    return fig
