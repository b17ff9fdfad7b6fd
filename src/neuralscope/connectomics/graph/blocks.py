"""Block connectivity: synapses and connection probability between groups of neurons
(cell types, neurotransmitters, communities), in one pass over the edges."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from neuralscope.connectomics.graph.adjacency import Adjacency
from neuralscope.core.connectome import Connectome
from neuralscope.core.errors import NeuralscopeError


@dataclass
class BlockConnectivity:
    """Group x group tables (rows = presynaptic group, columns = postsynaptic group).

    Attributes
    ----------
    synapses : pandas.DataFrame
        Total synapse count from group to group.
    edges : pandas.DataFrame
        Connected neuron pairs from group to group.
    probability : pandas.DataFrame
        edges / possible ordered pairs of distinct neurons (connection probability).
    sizes : pandas.Series
        Neurons per group.
    """

    synapses: pd.DataFrame
    edges: pd.DataFrame
    probability: pd.DataFrame
    sizes: pd.Series

    def to_dict(self) -> dict:
        return {"groups": [str(g) for g in self.sizes.index], "sizes": self.sizes.astype(int).tolist(),
                "synapses": self.synapses.to_numpy().tolist(), "edges": self.edges.to_numpy().astype(int).tolist(),
                "probability": self.probability.to_numpy().tolist()}


def group_labels(connectome: Connectome, by: str | np.ndarray | pd.Series, missing: str = "unknown") -> np.ndarray:
    """Per-neuron group names from a metadata column (or given labels); missing values -> ``missing``."""
    if isinstance(by, str):
        if by not in connectome.neurons.columns:
            cols = ", ".join(map(str, connectome.neurons.columns)) or "none"
            raise NeuralscopeError("labels", f"a neuron metadata column (available: {cols})", by)
        values = connectome.neurons[by]
    else:
        values = pd.Series(np.asarray(by, dtype=object))
        if len(values) != connectome.n_neurons:
            raise NeuralscopeError("labels", f"one label per neuron ({connectome.n_neurons})", f"{len(values)} labels")
    return values.astype(object).where(values.notna(), missing).astype(str).to_numpy()


def block_connectivity(adj: Adjacency, labels: np.ndarray, order: list | None = None) -> BlockConnectivity:
    """Synapse, edge and probability tables between the groups named by ``labels``.

    Parameters
    ----------
    adj : Adjacency
    labels : array, shape (n_neurons,)
        Group of each neuron.
    order : list, optional
        Groups in display order (default: by decreasing size).

    Returns
    -------
    BlockConnectivity
    """
    labels = np.asarray(labels)
    if labels.shape != (adj.n_neurons,):
        raise NeuralscopeError("labels", f"one label per neuron ({adj.n_neurons})", f"shape {labels.shape}")
    groups, codes = np.unique(labels, return_inverse=True)
    sizes = np.bincount(codes, minlength=len(groups))
    if order is None:
        order = list(groups[np.argsort(-sizes, kind="stable")])
    missing = set(order) ^ set(groups.tolist())
    if missing:
        raise NeuralscopeError("order", "each group exactly once", f"mismatch {sorted(map(str, missing))[:5]}")
    k = len(groups)
    w = adj.loops_removed
    rows = np.repeat(codes[: adj.n_neurons], np.diff(w.indptr))
    pair = rows.astype(np.int64) * k + codes[w.indices]
    syn = np.bincount(pair, weights=w.data, minlength=k * k).reshape(k, k)
    edges = np.bincount(pair, minlength=k * k).reshape(k, k).astype(np.float64)
    possible = np.outer(sizes, sizes) - np.diag(sizes)
    with np.errstate(invalid="ignore", divide="ignore"):
        prob = np.where(possible > 0, edges / np.maximum(possible, 1), np.nan)
    pos = [int(np.flatnonzero(groups == g)[0]) for g in order]
    names = pd.Index([str(g) for g in order], name="pre")
    cols = pd.Index([str(g) for g in order], name="post")

    def frame(m: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(m[np.ix_(pos, pos)], index=names, columns=cols)

    return BlockConnectivity(frame(syn), frame(edges), frame(prob), pd.Series(sizes[pos], index=names, name="neurons"))
