"""Compiled loops (numba) over CSR arrays: triangles, row de-duplication, Louvain moves.

Kept in one module so the JIT cost is paid once per process (``cache=True``
keeps the machine code between processes where the package folder, or
``NUMBA_CACHE_DIR``, is writable). Every kernel releases the GIL
(``nogil``): parallel work is split over Python threads by the caller, which
compiles faster than numba's ``parallel=True`` and needs no threading layer.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def triangle_tricodes(indptr, indices, code, nodes):
    """Per-node histograms of the 64 directed codes of the triangles found at ``nodes``.

    ``indptr, indices, code``: for each node ``u`` its forward neighbours ``v``
    (higher degree rank) with the direction code of ``u - v`` (bit 0: u -> v,
    bit 1: v -> u). A triangle ``u < v < w`` (in rank) is found exactly once, at
    its lowest node ``u``, and gets tricode ``c_uv | c_uw << 2 | c_vw << 4``.
    Returns an int64 array of shape (len(nodes), 64). Releases the GIL, so
    threads can share the nodes.
    """
    n = len(indptr) - 1
    hist = np.zeros((len(nodes), 64), np.int64)
    mark = np.zeros(n, np.int8)  # code of u - w, or 0 when w is no forward neighbour of u
    for k in range(len(nodes)):
        u = nodes[k]
        a, b = indptr[u], indptr[u + 1]
        if b - a < 2:
            continue
        for e in range(a, b):
            mark[indices[e]] = code[e]
        for e in range(a, b):
            v = indices[e]
            c_uv = code[e]
            for f in range(indptr[v], indptr[v + 1]):
                c_uw = mark[indices[f]]
                if c_uw != 0:
                    hist[k, c_uv | (c_uw << 2) | (code[f] << 4)] += 1
        for e in range(a, b):
            mark[indices[e]] = 0
    return hist


@numba.njit(cache=True, nogil=True)
def dedupe_rows(indptr, indices, drop_self):
    """Sort each row's column indices and drop repeats (and self-loops); returns (indptr, indices)."""
    n = len(indptr) - 1
    out_ptr = np.zeros(n + 1, np.int64)
    out = np.empty(len(indices), np.int32)
    k = 0
    for u in range(n):
        row = np.sort(indices[indptr[u]:indptr[u + 1]])
        last = -1
        for j in row:
            if j != last and not (drop_self and j == u):
                out[k] = j
                k += 1
            last = j
        out_ptr[u + 1] = k
    return out_ptr, out[:k].copy()


@numba.njit(cache=True, nogil=True)
def louvain_move(indptr, indices, weights, node_w, community, total_w, resolution, max_sweeps, seed):
    """Local moving phase of Louvain (modularity) on a symmetric weighted graph.

    ``weights`` are the symmetric edge weights (each undirected edge stored in
    both rows, no self-loops: a node's own loop weight does not change which
    move is best), ``node_w`` its strength (self-loops counted twice),
    ``total_w`` the sum of all strengths (2 m). Nodes are visited in a seeded
    random order and moved to the neighbouring community with the largest
    modularity gain until a sweep moves (almost) nothing. Returns the number of moves.
    """
    n = len(indptr) - 1
    comm_w = np.zeros(n, np.float64)
    for u in range(n):
        comm_w[community[u]] += node_w[u]
    neigh_w = np.zeros(n, np.float64)
    neigh_c = np.empty(n, np.int64)
    np.random.seed(seed)
    order = np.random.permutation(n)
    moves_total = 0
    for _ in range(max_sweeps):
        moves = 0
        for u in order:
            cu = community[u]
            k_u = node_w[u]
            n_neigh = 0
            for e in range(indptr[u], indptr[u + 1]):
                c = community[indices[e]]
                if neigh_w[c] == 0.0:
                    neigh_c[n_neigh] = c
                    n_neigh += 1
                neigh_w[c] += weights[e]
            comm_w[cu] -= k_u
            # Gain of joining c, up to terms that do not depend on c: w(u, c) - gamma k_u K_c / 2m.
            best_c = cu
            best_gain = neigh_w[cu] - resolution * k_u * comm_w[cu] / total_w
            for t in range(n_neigh):
                c = neigh_c[t]
                gain = neigh_w[c] - resolution * k_u * comm_w[c] / total_w
                if gain > best_gain + 1e-12:
                    best_gain, best_c = gain, c
            comm_w[best_c] += k_u
            if best_c != cu:
                community[u] = best_c
                moves += 1
            for t in range(n_neigh):
                neigh_w[neigh_c[t]] = 0.0
            neigh_w[cu] = 0.0
        moves_total += moves
        if moves <= n // 1000:
            break
    return moves_total


@numba.njit(cache=True, nogil=True)
def aggregate(indptr, indices, weights, community, n_communities):
    """Community graph of a symmetric graph: summed weights between communities (CSR, diagonal separate).

    Returns ``(indptr, indices, weights, internal)`` where ``internal[c]`` is the
    summed weight of the entries inside community ``c`` (each edge counted from
    both ends) and the CSR holds the off-diagonal entries only.
    """
    n = len(indptr) - 1
    counts = np.zeros(n_communities + 1, np.int64)
    for u in range(n):
        counts[community[u] + 1] += 1
    starts = np.cumsum(counts)
    members = np.empty(n, np.int64)
    fill = starts[:-1].copy()
    for u in range(n):
        c = community[u]
        members[fill[c]] = u
        fill[c] += 1
    acc = np.zeros(n_communities, np.float64)
    seen = np.empty(n_communities, np.int64)
    out_ptr = np.zeros(n_communities + 1, np.int64)
    out_idx = np.empty(len(indices), np.int64)
    out_w = np.empty(len(indices), np.float64)
    internal = np.zeros(n_communities, np.float64)
    k = 0
    for c in range(n_communities):
        n_seen = 0
        for t in range(starts[c], starts[c + 1]):
            u = members[t]
            for e in range(indptr[u], indptr[u + 1]):
                d = community[indices[e]]
                if d == c:
                    internal[c] += weights[e]
                    continue
                if acc[d] == 0.0:
                    seen[n_seen] = d
                    n_seen += 1
                acc[d] += weights[e]
        for t in range(n_seen):
            d = seen[t]
            out_idx[k] = d
            out_w[k] = acc[d]
            acc[d] = 0.0
            k += 1
        out_ptr[c + 1] = k
    return out_ptr, out_idx[:k].copy(), out_w[:k].copy(), internal


@numba.njit(cache=True, nogil=True)
def transpose_pattern(indptr, indices, n):
    """Sparsity pattern of the transpose (rows come out sorted): (indptr, indices)."""
    counts = np.zeros(n + 1, np.int64)
    for e in range(len(indices)):
        counts[indices[e] + 1] += 1
    t_ptr = np.cumsum(counts)
    fill = t_ptr[:-1].copy()
    t_idx = np.empty(len(indices), np.int32)
    for u in range(n):
        for e in range(indptr[u], indptr[u + 1]):
            j = indices[e]
            t_idx[fill[j]] = u
            fill[j] += 1
    return t_ptr, t_idx


@numba.njit(cache=True, nogil=True)
def merge_codes(indptr, indices, t_ptr, t_idx):
    """Union of a loop-free graph (sorted rows) and its transpose with codes 1 out, 2 in, 3 both."""
    n = len(indptr) - 1
    out_ptr = np.zeros(n + 1, np.int64)
    out_idx = np.empty(len(indices) + len(t_idx), np.int32)
    out_code = np.empty(len(indices) + len(t_idx), np.int8)
    k = 0
    for u in range(n):
        a, a_end = indptr[u], indptr[u + 1]
        b, b_end = t_ptr[u], t_ptr[u + 1]
        while a < a_end or b < b_end:
            if b >= b_end or (a < a_end and indices[a] < t_idx[b]):
                out_idx[k], out_code[k] = indices[a], 1
                a += 1
            elif a >= a_end or t_idx[b] < indices[a]:
                out_idx[k], out_code[k] = t_idx[b], 2
                b += 1
            else:
                out_idx[k], out_code[k] = indices[a], 3
                a += 1
                b += 1
            k += 1
        out_ptr[u + 1] = k
    return out_ptr, out_idx[:k].copy(), out_code[:k].copy()


@numba.njit(cache=True, nogil=True)
def orient_forward(indptr, indices, code, rank):
    """Keep each undirected pair once, from lower to higher rank; returns (ptr, idx, code, work).

    ``work[u]``: inner steps of the triangle enumeration at ``u`` (sum of the forward
    degrees of its forward neighbours; 0 when it has fewer than two).
    """
    n = len(indptr) - 1
    f_ptr = np.zeros(n + 1, np.int64)
    f_idx = np.empty(len(indices) // 2 + 1, np.int32)
    f_code = np.empty(len(indices) // 2 + 1, np.int8)
    k = 0
    for u in range(n):
        ru = rank[u]
        for e in range(indptr[u], indptr[u + 1]):
            if rank[indices[e]] > ru:
                f_idx[k], f_code[k] = indices[e], code[e]
                k += 1
        f_ptr[u + 1] = k
    work = np.zeros(n, np.float64)
    for u in range(n):
        if f_ptr[u + 1] - f_ptr[u] < 2:
            continue
        s = 0.0
        for e in range(f_ptr[u], f_ptr[u + 1]):
            v = f_idx[e]
            s += f_ptr[v + 1] - f_ptr[v]
        work[u] = s
    return f_ptr, f_idx[:k].copy(), f_code[:k].copy(), work


@numba.njit(cache=True, nogil=True)
def wedge_terms(indptr, indices, code):
    """Per-node neighbour counts by code (out only, in only, mutual) and, over pairs i < j,
    the sums of n - deg_i - deg_j for one-way and for mutual pairs."""
    n = len(indptr) - 1
    abc = np.zeros((n, 3), np.float64)
    for u in range(n):
        for e in range(indptr[u], indptr[u + 1]):
            abc[u, code[e] - 1] += 1.0
    spare_asym = 0.0
    spare_mutual = 0.0
    for u in range(n):
        du = indptr[u + 1] - indptr[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            if v > u:
                s = float(n - du - (indptr[v + 1] - indptr[v]))
                if code[e] == 3:
                    spare_mutual += s
                else:
                    spare_asym += s
    return abc, spare_asym, spare_mutual


@numba.njit(cache=True, nogil=True)
def shuffled(values, seed):
    """A seeded Fisher-Yates shuffle of a copy of ``values`` (releases the GIL, unlike numpy's)."""
    out = values.copy()
    np.random.seed(seed)
    for i in range(len(out) - 1, 0, -1):
        j = np.random.randint(0, i + 1)
        out[i], out[j] = out[j], out[i]
    return out
