"""Shortest paths and k-hop upstream / downstream sets (breadth-first over CSR)."""

from __future__ import annotations

import numpy as np

from neuralscope.connectomics.graph.adjacency import Adjacency
from neuralscope.core.errors import NeuralscopeError

_DIRECTIONS = ("downstream", "upstream", "both")


def _matrix(adj: Adjacency, direction: str):
    if direction not in _DIRECTIONS:
        raise NeuralscopeError("direction", "'downstream', 'upstream' or 'both'", direction)
    if direction == "downstream":
        return adj.weights
    if direction == "upstream":
        return adj.weights_in
    return (adj.weights + adj.weights_in).tocsr()


def _sources(adj: Adjacency, sources) -> np.ndarray:
    src = np.unique(np.atleast_1d(np.asarray(sources)))
    if src.size == 0 or src.dtype.kind not in "iu" or src.min() < 0 or src.max() >= adj.n_neurons:
        raise NeuralscopeError("sources", f"neuron indices in 0..{adj.n_neurons - 1}", sources)
    return src.astype(np.int64)


def _gather(indptr: np.ndarray, frontier: np.ndarray) -> np.ndarray:
    """Positions of all CSR entries of the rows in ``frontier`` (vectorised ranges)."""
    starts, ends = indptr[frontier], indptr[frontier + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def k_hop(adj: Adjacency, sources, k: int, direction: str = "downstream", min_synapses: float = 1.0) -> np.ndarray:
    """Hop distance (0 .. k) from ``sources`` along edges of at least ``min_synapses``; -1 beyond k.

    Parameters
    ----------
    adj : Adjacency
    sources : int or array of int
        Neuron indices (use :meth:`Connectome.index` to turn ids into indices).
    k : int
        Largest number of hops (>= 0).
    direction : {"downstream", "upstream", "both"}
        Follow outgoing edges, incoming edges or either.
    min_synapses : float
        Edges with fewer synapses are ignored (a common connectome threshold is 5).

    Returns
    -------
    numpy.ndarray of int, shape (n_neurons,)
    """
    if not (isinstance(k, (int, np.integer)) and k >= 0):
        raise NeuralscopeError("k", "an integer >= 0", k)
    m = _matrix(adj, direction)
    src = _sources(adj, sources)
    hops = np.full(adj.n_neurons, -1, np.int64)
    hops[src] = 0
    frontier = src
    strong = m.data >= min_synapses
    for hop in range(1, int(k) + 1):
        pos = _gather(m.indptr, frontier)
        nxt = m.indices[pos[strong[pos]]]
        nxt = np.unique(nxt[hops[nxt] < 0])
        if nxt.size == 0:
            break
        hops[nxt] = hop
        frontier = nxt
    return hops


def shortest_path_lengths(adj: Adjacency, sources, *, weighted: bool = False,
                          direction: str = "downstream") -> np.ndarray:
    """Shortest-path length from each source to every neuron (inf when unreachable).

    ``weighted=False`` counts hops; ``weighted=True`` uses 1 / synapse count as the
    length of an edge (strong connections are short). Runs scipy's compiled
    breadth-first search / Dijkstra over the CSR matrix.

    Returns
    -------
    numpy.ndarray, shape (n_sources, n_neurons)
    """
    from scipy.sparse.csgraph import dijkstra

    m = _matrix(adj, direction)
    src = _sources(adj, sources)
    if weighted:
        m = m.copy()
        m.data = 1.0 / m.data
    return np.atleast_2d(dijkstra(m, directed=True, indices=src, unweighted=not weighted))


def shortest_path(adj: Adjacency, source: int, target: int, *, weighted: bool = False,
                  direction: str = "downstream") -> list[int]:
    """One shortest path ``[source, ..., target]`` (empty list when there is none)."""
    from scipy.sparse.csgraph import dijkstra

    m = _matrix(adj, direction)
    src, tgt = _sources(adj, source), _sources(adj, target)
    if weighted:
        m = m.copy()
        m.data = 1.0 / m.data
    dist, pred = dijkstra(m, directed=True, indices=int(src[0]), unweighted=not weighted, return_predecessors=True)
    t = int(tgt[0])
    if not np.isfinite(dist[t]):
        return []
    path = [t]
    while path[-1] != int(src[0]):
        path.append(int(pred[path[-1]]))
    return path[::-1]
