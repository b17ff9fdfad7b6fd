"""Compiled merging that re-scores every edge of a grown region with a learned model.

Behind :mod:`neuralscope.connectomics.networks.region_merging`. Each edge keeps a histogram of the
affinities across its face (plus exact sum, sum of squares, minimum, maximum and count), so the
features of a merged face are exact sums of its parts; node sizes are summed too. After each merge
all edges of the merged region are re-scored (its size changed), which is what the static
face-weighted mean score of :mod:`~neuralscope.connectomics.networks.edges` cannot do.
A module of its own so that numba caches the typed-container kernel on disk.
"""

from __future__ import annotations

import heapq

import numba
import numpy as np

from neuralscope.connectomics._merge_kernel import empty_graph, find, relink

#: Histogram bins of the face affinities in [0, 1].
N_BINS = 32
#: Same order as :data:`neuralscope.connectomics.networks.edges.FEATURES`.
N_FEATURES = 13
_QS = (0.1, 0.25, 0.5, 0.75, 0.9)


@numba.njit(cache=True, nogil=True)
def edge_feature_row(hist, s1, s2, mn, mx, n, size_a, size_b, out):
    """Features of one face from its histogram and moments (``out``: length ``N_FEATURES``)."""
    nb = hist.shape[0]
    mean = s1 / n
    out[0] = mean
    out[1] = np.sqrt(max(s2 / n - mean * mean, 0.0))
    out[2] = mn
    for qi in range(5):
        rank = _QS[qi] * (n - 1.0)
        cum = 0.0
        val = mx
        for k in range(nb):
            h = hist[k]
            if h > 0 and cum + h > rank:
                val = (k + (rank - cum + 0.5) / h) / nb
                break
            cum += h
        out[3 + qi] = min(max(val, mn), mx)
    out[8] = mx
    out[9] = np.log1p(n)
    out[10] = np.log1p(min(size_a, size_b))
    out[11] = np.log1p(max(size_a, size_b))
    out[12] = mean * out[9]


@numba.njit(cache=True, nogil=True)
def _score(row, mean, scale, coef, intercept):
    z = intercept
    for f in range(row.shape[0]):
        z += (row[f] - mean[f]) / scale[f] * coef[f]
    return 1.0 / (1.0 + np.exp(-z))


@numba.njit(cache=True, nogil=True)
def region_merges(u, v, hist, s1, s2, mn, mx, cnt, sizes, labels, mean, scale, coef, intercept, threshold, oracle):
    """Merge greedily by learned score; returns (root of each node, recorded features, recorded labels).

    ``oracle`` (training): every edge popped with a score above ``threshold`` is recorded with
    its label (1 when both regions carry the same true label >= 0), and merged only when that
    label is 1; edges touching an unlabelled region (label < 0) are neither recorded nor merged.
    Otherwise (inference) the best edge merges while its score exceeds ``threshold``.
    """
    n_edges = len(u)
    n_nodes = len(sizes)
    cap = 2 * n_edges + 1
    eh = np.zeros((cap, hist.shape[1]), np.float64)
    e1 = np.zeros(cap)
    e2 = np.zeros(cap)
    emn = np.full(cap, np.inf)
    emx = np.full(cap, -np.inf)
    en = np.zeros(cap)
    ep = np.full(cap, -1.0)
    eh[:n_edges] = hist
    e1[:n_edges] = s1
    e2[:n_edges] = s2
    emn[:n_edges] = mn
    emx[:n_edges] = mx
    en[:n_edges] = cnt
    size = sizes.astype(np.float64).copy()
    top = n_edges
    row = np.zeros(N_FEATURES)
    adjacency, heap = empty_graph(n_nodes)
    for e in range(n_edges):
        a, b = u[e], v[e]
        adjacency[a][b] = e
        adjacency[b][a] = e
        edge_feature_row(eh[e], e1[e], e2[e], emn[e], emx[e], en[e], size[a], size[b], row)
        ep[e] = _score(row, mean, scale, coef, intercept)
        if ep[e] > threshold:
            heap.append((-ep[e], min(a, b), max(a, b)))
    heapq.heapify(heap)
    parent = np.arange(n_nodes)
    rec_x = numba.typed.List()
    rec_y = numba.typed.List()
    while len(heap) > 0:
        neg, a, b = heapq.heappop(heap)
        if find(parent, a) != a or find(parent, b) != b or b not in adjacency[a]:
            continue  # stale: one side was merged away since
        e = adjacency[a][b]
        if abs(ep[e] + neg) > 1e-12:
            continue  # stale score
        if oracle:
            if labels[a] < 0 or labels[b] < 0:
                continue
            edge_feature_row(eh[e], e1[e], e2[e], emn[e], emx[e], en[e], size[a], size[b], row)
            rec_x.append(row.copy())
            same = labels[a] == labels[b]
            rec_y.append(1 if same else 0)
            if not same:
                continue  # kept apart; re-examined if one side grows
        if len(adjacency[a]) < len(adjacency[b]):  # the smaller neighbourhood moves
            a, b = b, a
        parent[b] = a
        size[a] += size[b]
        nb_a, nb_b = adjacency[a], adjacency[b]
        del nb_a[b]
        for c, eb in nb_b.items():
            if c == a:
                continue
            ea, top = relink(adjacency, a, b, c, top)  # a new slot starts empty (min +inf, max -inf)
            eh[ea] += eh[eb]
            e1[ea] += e1[eb]
            e2[ea] += e2[eb]
            emn[ea] = min(emn[ea], emn[eb])
            emx[ea] = max(emx[ea], emx[eb])
            en[ea] += en[eb]
        nb_b.clear()
        for c, ea in nb_a.items():  # the region grew: every one of its edges changes
            edge_feature_row(eh[ea], e1[ea], e2[ea], emn[ea], emx[ea], en[ea], size[a], size[c], row)
            ep[ea] = _score(row, mean, scale, coef, intercept)
            if ep[ea] > threshold:
                heapq.heappush(heap, (-ep[ea], min(a, c), max(a, c)))
    for i in range(n_nodes):
        find(parent, i)
    n_rec = len(rec_x)
    xs = np.zeros((n_rec, N_FEATURES))
    ys = np.zeros(n_rec, np.int64)
    for i in range(n_rec):
        xs[i] = rec_x[i]
        ys[i] = rec_y[i]
    return parent, xs, ys


@numba.njit(cache=True, nogil=True)
def feature_table(hist, s1, s2, mn, mx, cnt, size_u, size_v):
    """:func:`edge_feature_row` of every edge: an (n_edges, N_FEATURES) array."""
    out = np.zeros((len(s1), N_FEATURES))
    for e in range(len(s1)):
        edge_feature_row(hist[e], s1[e], s2[e], mn[e], mx[e], cnt[e], size_u[e], size_v[e], out[e])
    return out
