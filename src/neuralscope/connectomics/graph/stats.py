"""Degree, strength and weight distributions, and reciprocity (vectorised over CSR)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from neuralscope.connectomics.graph.adjacency import Adjacency


def degree_table(adj: Adjacency, neuron_ids: np.ndarray | None = None) -> pd.DataFrame:
    """Per neuron: in/out degree (partners) and in/out strength (synapses).

    Parameters
    ----------
    adj : Adjacency
    neuron_ids : array, optional
        Index of the table (default 0 .. n-1).

    Returns
    -------
    pandas.DataFrame
        Columns ``in_degree``, ``out_degree``, ``in_synapses``, ``out_synapses``.
    """
    index = pd.Index(neuron_ids if neuron_ids is not None else np.arange(adj.n_neurons), name="neuron")
    return pd.DataFrame({"in_degree": adj.in_degree, "out_degree": adj.out_degree,
                         "in_synapses": adj.in_strength, "out_synapses": adj.out_strength}, index=index)


def summarize(values: np.ndarray) -> dict[str, float]:
    """Mean, sd, quantiles, max and the coefficient of variation of a distribution."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {"mean": float("nan"), "sd": float("nan"), "median": float("nan"), "q90": float("nan"),
                "q99": float("nan"), "max": float("nan"), "cv": float("nan")}
    q50, q90, q99 = np.quantile(v, [0.5, 0.9, 0.99])
    mean = float(v.mean())
    sd = float(v.std())
    return {"mean": mean, "sd": sd, "median": float(q50), "q90": float(q90), "q99": float(q99),
            "max": float(v.max()), "cv": sd / mean if mean > 0 else float("nan")}


def degree_distributions(adj: Adjacency) -> dict[str, dict[str, float]]:
    """Summaries of in/out degree, in/out strength and edge weight (synapses per connected pair)."""
    return {"in_degree": summarize(adj.in_degree), "out_degree": summarize(adj.out_degree),
            "in_synapses": summarize(adj.in_strength), "out_synapses": summarize(adj.out_strength),
            "edge_weight": weight_summary(adj)}


def weight_summary(adj: Adjacency) -> dict[str, float]:
    """Summary of synapses per connected pair, plus the share of single-synapse pairs."""
    w = adj.weights.data
    out = summarize(w)
    out["single_synapse_fraction"] = float((w == 1).mean()) if w.size else float("nan")
    return out


def ccdf(values: np.ndarray, n_points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Complementary cumulative distribution P(X >= x) on log-spaced x (for heavy-tailed plots)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    v = v[v > 0]
    if v.size == 0:
        return np.zeros(0), np.zeros(0)
    x = np.unique(np.geomspace(v[0], v[-1], n_points))
    p = 1.0 - np.searchsorted(v, x, side="left") / v.size
    return x, p


def reciprocity(adj: Adjacency) -> dict[str, float]:
    """Edge and weighted reciprocity between distinct neurons.

    Returns
    -------
    dict
        ``reciprocity``: share of directed edges whose reverse edge exists;
        ``weighted_reciprocity``: sum_ij min(w_ij, w_ji) / sum_ij w_ij (Squartini
        et al. 2013); ``reciprocity_rho``: (r - density) / (1 - density), above 0
        when reciprocal pairs are more common than in a random graph of the same
        density (Garlaschelli & Loffredo 2004); ``mutual_pairs``.
    """
    w = adj.loops_removed
    n = adj.n_neurons
    _, _, code = adj.undirected
    n_edges = int(w.nnz)
    mutual = int((code == 3).sum()) // 2
    r = 2 * mutual / n_edges if n_edges else float("nan")
    density = n_edges / (n * (n - 1)) if n > 1 else float("nan")
    both = w.minimum(adj.weights_in if w is adj.weights else w.T.tocsr())
    total = float(w.data.sum())
    rw = float(both.data.sum()) / total if total > 0 else float("nan")
    rho = (r - density) / (1 - density) if n_edges and density < 1 else float("nan")
    return {"reciprocity": r, "weighted_reciprocity": rw, "reciprocity_rho": rho, "mutual_pairs": mutual,
            "density": density}
