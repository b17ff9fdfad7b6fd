"""The compiled hierarchical mean-affinity merging behind :func:`neuralscope.connectomics._kernels.mean_affinity_merges`.

A module of its own, imported on first use: numba caches module-level functions on disk, so the
typed-container kernel compiles once per installation rather than once per process.
"""

from __future__ import annotations

import heapq

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@numba.njit(cache=True, nogil=True)
def empty_graph(n_nodes):
    """Per-node neighbour -> edge-slot dicts and an empty (score, a, b) heap list of the right types."""
    adjacency = numba.typed.List()
    for _ in range(n_nodes):
        adjacency.append(numba.typed.Dict.empty(key_type=numba.types.int64, value_type=numba.types.int64))
    heap = [(np.float64(0.0), np.int64(0), np.int64(0))]
    heap.pop()
    return adjacency, heap


@numba.njit(cache=True, nogil=True)
def relink(adjacency, a, b, c, top):
    """Region ``b`` merges into ``a``: its neighbour ``c`` drops ``b`` and gets the a-c edge slot.

    Returns ``(slot, top)``: the existing a-c slot, or a new one (``top``, then incremented).
    """
    del adjacency[c][b]
    nb_a = adjacency[a]
    if c in nb_a:
        return nb_a[c], top
    nb_a[c] = top
    adjacency[c][a] = top
    return top, top + 1


@numba.njit(cache=True, nogil=True)
def merges(u, v, sums, counts, n_nodes, threshold):
    n_edges = len(u)
    # Merging b into a turns each edge b-c into a-c: either added to an existing a-c edge or
    # re-using one new slot, so n_edges new slots always suffice.
    es = np.zeros(2 * n_edges + 1, np.float64)
    en = np.zeros(2 * n_edges + 1, np.float64)
    es[:n_edges] = sums
    en[:n_edges] = counts
    top = n_edges
    adjacency, heap = empty_graph(n_nodes)
    for e in range(n_edges):
        a, b = u[e], v[e]
        adjacency[a][b] = e
        adjacency[b][a] = e
        m = es[e] / en[e]
        if m > threshold:
            heap.append((-m, a, b))
    heapq.heapify(heap)
    parent = np.arange(n_nodes)
    while len(heap) > 0:
        neg, a, b = heapq.heappop(heap)
        if find(parent, a) != a or find(parent, b) != b or b not in adjacency[a]:
            continue  # stale: one side was merged away since
        e = adjacency[a][b]
        if abs(es[e] / en[e] + neg) > 1e-12:
            continue  # stale score
        if len(adjacency[a]) < len(adjacency[b]):  # the smaller neighbourhood moves
            a, b = b, a
        parent[b] = a
        nb_a, nb_b = adjacency[a], adjacency[b]
        del nb_a[b]
        for c, eb in nb_b.items():
            if c == a:
                continue
            ea, top = relink(adjacency, a, b, c, top)
            es[ea] += es[eb]
            en[ea] += en[eb]
            m = es[ea] / en[ea]
            if m > threshold:
                heapq.heappush(heap, (-m, a, c))
        nb_b.clear()
    for i in range(n_nodes):
        find(parent, i)
    return parent
