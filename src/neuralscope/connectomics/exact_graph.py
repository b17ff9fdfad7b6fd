"""The global step of the exact block-wise pipeline (:mod:`neuralscope.connectomics.exact`).

Block-local trees -> fragments (union-find over the pointers that cross block faces, numbered by
first voxel), the summed region graph (integer affinity sums, or exact per-edge histograms for the
learned edge score), one agglomeration, small-segment merging and segment numbering. Every input
is an integer or is computed in one fixed order, so the outcome does not depend on the blocks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["aggregate_edges", "edge_table", "final_segments", "global_fragments", "global_graph",
           "histogram_features", "merge_small_segments"]


def aggregate_edges(u: np.ndarray, v: np.ndarray, w: np.ndarray, c: np.ndarray, histogram: bool,
               ordered: bool = False) -> tuple[np.ndarray, ...]:
    """Sum face counts per pair (and per affinity value with ``histogram``), sorted by key.

    ``w`` is a summed affinity (uint8 units) or, with ``histogram``, the affinity value itself.
    Unless ``ordered`` (ids of two different blocks), pairs are unordered: (u, v) = (v, u).
    """
    u, v, w, c = (np.asarray(x, np.int64) for x in (u, v, w, c))
    if not ordered:
        u, v = np.minimum(u, v), np.maximum(u, v)
    if u.size == 0:
        return tuple(np.zeros(0, np.int64) for _ in range(4))
    top = int(v.max()) + 1
    key = u * top + v
    if histogram:
        key = key * 256 + w
    uniq, inverse = np.unique(key, return_inverse=True)  # sorted: one order for every blocking
    counts = np.bincount(inverse, weights=c).astype(np.int64)
    if histogram:
        return uniq // 256 // top, uniq // 256 % top, uniq % 256, counts
    sums = np.bincount(inverse, weights=w).astype(np.int64)  # integers < 2**53: exact in any order
    return uniq // top, uniq % top, sums, counts


def edge_table(a: np.ndarray, b: np.ndarray, values: np.ndarray, histogram: bool,
               ordered: bool = False) -> tuple[np.ndarray, ...]:
    """Voxel pairs (a, b) across faces with their affinities -> aggregated edges (see :func:`aggregate_edges`)."""
    keep = a != b if not ordered else np.ones(a.shape, bool)
    return aggregate_edges(a[keep], b[keep], values[keep], np.ones(int(keep.sum()), np.int64), histogram, ordered)


def global_fragments(summaries: list[dict], faces: list[tuple[int, int, dict]]):
    """Union-find over block-local trees -> fragment id (1..F by first voxel) per local tree."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    counts = np.array([s["n"] for s in summaries], np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    total = int(offsets[-1])
    rows, cols = [], []
    for i, j, face in faces:
        p = face["pairs"]
        rows.append(p[:, 0] - 1 + offsets[i])
        cols.append(p[:, 1] - 1 + offsets[j])
    rows_a = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols_a = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    graph = coo_matrix((np.ones(len(rows_a), np.int8), (rows_a, cols_a)), shape=(total, total))
    n_comp, comp = connected_components(graph, directed=False)
    first = np.concatenate([s["first"] for s in summaries]) if summaries else np.zeros(0, np.int64)
    key = np.full(n_comp, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(key, comp, first)
    rank = np.empty(n_comp, np.int64)
    rank[np.argsort(key, kind="stable")] = np.arange(1, n_comp + 1)
    fragment = rank[comp]  # per local tree (global index offsets[i] + local - 1)
    sizes = np.bincount(fragment, weights=np.concatenate([s["sizes"] for s in summaries]),
                        minlength=n_comp + 1).astype(np.int64)
    return offsets, fragment, n_comp, sizes, len(rows_a)


def global_graph(summaries, faces, offsets, fragment, sizes, edge_model: dict | None):
    """The region graph over fragments: mean affinity, or the learned merge probability."""
    from neuralscope.connectomics.agglomeration import RegionGraph

    parts = [(fragment[s["edges"][0] - 1 + offsets[i]], fragment[s["edges"][1] - 1 + offsets[i]], *s["edges"][2:])
             for i, s in enumerate(summaries)]
    parts += [(fragment[f["edges"][0] - 1 + offsets[i]], fragment[f["edges"][1] - 1 + offsets[j]], *f["edges"][2:])
              for i, j, f in faces]
    cat = (lambda k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, np.int64))
    u, v, w, c = (cat(k) for k in range(4))
    keep = u != v
    u, v, w, c = aggregate_edges(u[keep], v[keep], w[keep], c[keep], histogram=edge_model is not None)
    if edge_model is None:
        return RegionGraph(u.astype(np.uint64), v.astype(np.uint64), w / 255.0, c)
    from neuralscope.connectomics.networks.edges import merge_probability

    table = histogram_features(u, v, w, c, sizes)
    p = merge_probability(edge_model, np.column_stack([table[f] for f in edge_model["features"]]))
    return RegionGraph(table["u"].astype(np.uint64), table["v"].astype(np.uint64), p * table["faces"],
                       table["faces"].astype(np.int64))


def histogram_features(u, v, value, count, sizes) -> dict[str, np.ndarray]:
    """Edge features of :mod:`neuralscope.connectomics.networks.edges` from exact per-edge histograms.

    Rows are sorted by (u, v, value), so each edge's quantiles are read off its cumulative counts.
    """
    if u.size == 0:
        empty = np.zeros(0)
        return {k: empty for k in ("u", "v", "faces", "mean", "std", "min", "max", "q10", "q25", "q50", "q75", "q90",
                                   "log_faces", "log_size_min", "log_size_max", "mean_x_log_faces")}
    starts = np.flatnonzero(np.r_[True, (u[1:] != u[:-1]) | (v[1:] != v[:-1])])
    stops = np.r_[starts[1:], len(u)]
    val = value / 255.0
    faces = np.add.reduceat(count, starts).astype(np.float64)
    mean = np.add.reduceat(val * count, starts) / faces
    sq = np.add.reduceat(val * val * count, starts) / faces
    cum = np.cumsum(count)
    before = np.r_[0, cum[:-1]][starts]  # faces of the edges before this one
    out = {"u": u[starts], "v": v[starts], "faces": faces, "mean": mean, "std": np.sqrt(np.maximum(sq - mean ** 2, 0)),
           "min": val[starts], "max": val[stops - 1]}
    for name, q in (("q10", 0.1), ("q25", 0.25), ("q50", 0.5), ("q75", 0.75), ("q90", 0.9)):
        # The value of the floor(q (n - 1))-th face (0-based) in sorted order, as edges.edge_features.
        rank = before + np.floor(q * (faces - 1)).astype(np.int64)
        out[name] = val[np.searchsorted(cum, rank, side="right")]
    su, sv = sizes[out["u"]].astype(np.float64), sizes[out["v"]].astype(np.float64)
    out["log_faces"] = np.log1p(faces)
    out["log_size_min"] = np.log1p(np.minimum(su, sv))
    out["log_size_max"] = np.log1p(np.maximum(su, sv))
    out["mean_x_log_faces"] = mean * out["log_faces"]
    return out


def merge_small_segments(segment: np.ndarray, sizes: np.ndarray, graph, min_size: int, rounds: int = 5) -> np.ndarray:
    """Segments (by fragment) below ``min_size`` voxels join the neighbour of highest mean affinity.

    ``segment`` maps fragment id -> segment id, ``sizes`` fragment id -> voxels, ``graph`` is the
    fragment region graph; ``rounds`` passes, since a small segment may first join another small one.
    """
    for _ in range(rounds):
        seg_size = np.bincount(segment, weights=sizes, minlength=int(segment.max()) + 1)
        a, b = segment[graph.u.astype(np.int64)], segment[graph.v.astype(np.int64)]
        keep = a != b
        if not keep.any():
            break
        a, b = a[keep], b[keep]
        s, n = graph.affinity_sum[keep], graph.n_faces[keep]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        key = lo * (int(hi.max()) + 1) + hi
        uniq, inverse = np.unique(key, return_inverse=True)
        first = np.zeros(len(uniq), np.int64)
        first[inverse] = np.arange(len(key))
        mean = np.bincount(inverse, weights=s) / np.bincount(inverse, weights=n)
        lo, hi = lo[first], hi[first]
        # Each small segment picks its best neighbour: highest mean, then smallest id.
        cand_x = np.concatenate([lo, hi])
        cand_y = np.concatenate([hi, lo])
        cand_m = np.concatenate([mean, mean])
        small = (seg_size[cand_x] < min_size) & (seg_size[cand_x] > 0)
        if not small.any():
            break
        cand_x, cand_y, cand_m = cand_x[small], cand_y[small], cand_m[small]
        order = np.lexsort((cand_y, -cand_m, cand_x))
        cand_x, cand_y = cand_x[order], cand_y[order]
        pick = np.r_[True, cand_x[1:] != cand_x[:-1]]
        target = np.arange(len(seg_size), dtype=np.int64)
        target[cand_x[pick]] = cand_y[pick]
        # Best-neighbour choices form chains and 2-cycles only (ties go to the smallest id):
        # a 2-cycle settles on its larger member, then chains are followed to their end.
        idx = np.arange(len(target))
        mutual = (target[target] == idx) & (target != idx)
        target[mutual & (idx > target)] = idx[mutual & (idx > target)]
        while True:
            nxt = target[target]
            if np.array_equal(nxt, target):
                break
            target = nxt
        segment = target[segment]
    return segment


def final_segments(graph, n_fragments: int, sizes: np.ndarray, threshold: float, min_size: int) -> np.ndarray:
    """Fragment id -> segment id (1..S by first voxel); index 0 stays 0."""
    from neuralscope.connectomics.agglomeration import agglomerate

    mapping = agglomerate(graph, threshold)
    segment = np.arange(n_fragments + 1, dtype=np.int64)
    if mapping:
        src = np.fromiter(mapping.keys(), np.int64, len(mapping))
        segment[src] = np.fromiter(mapping.values(), np.int64, len(mapping))
    if min_size > 0:
        segment = merge_small_segments(segment, sizes, graph, min_size)
    # Fragments are numbered by first voxel, so a segment's smallest fragment is its first voxel.
    smallest = np.full(n_fragments + 1, n_fragments + 1, np.int64)
    np.minimum.at(smallest, segment, np.arange(n_fragments + 1))
    present = np.zeros(n_fragments + 2, bool)
    present[smallest[segment[1:]]] = True
    rank = np.cumsum(present)
    out = rank[smallest[segment]]
    out[0] = 0
    return out
