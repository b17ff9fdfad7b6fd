"""A learned merge score for fragment pairs (NeuroProof / GALA-style, kept tiny).

Mean affinity alone treats a face of 3 voxels like one of 3,000 and ignores the shape of
the affinity distribution along the face. Here each pair of touching watershed fragments
gets features (quantiles of the affinities across the shared face, face area, fragment
sizes), a logistic regression trained on labelled data turns them into a merge
probability, and hierarchical merging runs on the face-weighted mean of that probability.
Coefficients are stored as plain numbers with the network weights (no pickle).
"""

from __future__ import annotations

import numpy as np

FEATURES = ("mean", "std", "min", "q10", "q25", "q50", "q75", "q90", "max", "log_faces", "log_size_min",
            "log_size_max", "mean_x_log_faces")
_QUANTILES = {"q10": 0.1, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q90": 0.9}


def face_pairs(fragments: np.ndarray, affinities: np.ndarray, positions: bool = False) -> tuple[np.ndarray, ...]:
    """Every voxel face between two different non-zero fragments: ``(u, v, affinity)``, ``u < v``.

    With ``positions`` also an ``(n, 3)`` array: each face's voxel on the far side along its axis
    (the voxel the affinity belongs to).
    """
    frag = np.asarray(fragments).astype(np.int64, copy=False)
    us, vs, vals, where = [], [], [], []
    for d in range(3):
        hi = [slice(None)] * 3
        lo = [slice(None)] * 3
        hi[d], lo[d] = slice(1, None), slice(None, -1)
        a, b = frag[tuple(hi)], frag[tuple(lo)]
        cut = (a != b) & (a != 0) & (b != 0)
        aa, bb = a[cut], b[cut]
        us.append(np.minimum(aa, bb))
        vs.append(np.maximum(aa, bb))
        vals.append(np.asarray(affinities[d])[tuple(hi)][cut].astype(np.float64))
        if positions:
            coords = np.argwhere(cut)
            coords[:, d] += 1  # from the cropped array back to volume coordinates
            where.append(coords)
    found = (np.concatenate(us), np.concatenate(vs), np.concatenate(vals))
    return (*found, np.concatenate(where)) if positions else found


def edge_features(fragments: np.ndarray, affinities: np.ndarray) -> dict[str, np.ndarray]:
    """Features of every pair of touching fragments.

    Parameters
    ----------
    fragments : ndarray of int, shape (z, y, x)
        Fragment ids, 0 = background (no edges).
    affinities : ndarray, shape (3, z, y, x)
        Nearest-neighbour affinities (voxel to the one before it along each axis).

    Returns
    -------
    dict
        ``u``, ``v`` (fragment ids, ``u < v``), ``faces`` (face voxel count) and one array per
        name in :data:`FEATURES`.
    """
    frag = np.asarray(fragments).astype(np.int64, copy=False)
    u, v, val = face_pairs(frag, affinities)
    base = int(frag.max()) + 1
    key = u * base + v
    order = np.lexsort((val, key))
    key, val = key[order], val[order]
    if len(key) == 0:
        empty = np.zeros(0)
        return {"u": empty.astype(np.int64), "v": empty.astype(np.int64), "faces": empty, **{f: empty for f in FEATURES}}
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    counts = np.diff(np.r_[starts, len(key)]).astype(np.float64)
    sums = np.add.reduceat(val, starts)
    mean = sums / counts
    sq = np.add.reduceat(val * val, starts) / counts
    sizes = np.bincount(frag.ravel(), minlength=base).astype(np.float64)
    eu, ev = key[starts] // base, key[starts] % base
    su, sv = sizes[eu], sizes[ev]
    out = {"u": eu, "v": ev, "faces": counts, "mean": mean, "std": np.sqrt(np.maximum(sq - mean ** 2, 0)),
           "min": val[starts], "max": val[starts + counts.astype(np.int64) - 1]}
    for name, q in _QUANTILES.items():
        out[name] = val[starts + np.floor(q * (counts - 1)).astype(np.int64)]
    out["log_faces"] = np.log1p(counts)
    out["log_size_min"] = np.log1p(np.minimum(su, sv))
    out["log_size_max"] = np.log1p(np.maximum(su, sv))
    out["mean_x_log_faces"] = mean * out["log_faces"]
    return out


def feature_matrix(table: dict[str, np.ndarray]) -> np.ndarray:
    """Stack :data:`FEATURES` of an :func:`edge_features` table into an (n_edges, n_features) array."""
    return np.column_stack([table[f] for f in FEATURES]) if len(table["u"]) else np.zeros((0, len(FEATURES)))


def majority_truth(fragments: np.ndarray, truth: np.ndarray, ignore_unlabelled: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each fragment's true id of largest overlap: ``(fragment ids, majority ids)``, sorted by fragment.

    With ``ignore_unlabelled`` the voxels with true id 0 are not counted; otherwise 0 competes
    like any other id (a mostly unlabelled fragment gets 0). Ties go to the smaller true id.
    """
    from neuralscope.connectomics.metrics import contingency

    frag = np.asarray(fragments).astype(np.int64, copy=False)
    gt = np.asarray(truth).astype(np.int64, copy=False)
    if frag.size == 0 or (ignore_unlabelled and not (gt != 0).any()):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    table = contingency(frag, gt, ignore_truth=(0,) if ignore_unlabelled else ())
    order = np.lexsort((table.truth_index, -table.counts, table.seg_index))  # per fragment, the largest first
    seg_index, truth_index = table.seg_index[order], table.truth_index[order]
    first = np.r_[True, seg_index[1:] != seg_index[:-1]]
    return (table.seg_ids[seg_index[first]].astype(np.int64, copy=False),
            table.truth_ids[truth_index[first]].astype(np.int64, copy=False))


def edge_targets(table: dict[str, np.ndarray], fragments: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """1 where both fragments belong mostly to the same true object (ids > 0), else 0."""
    ids, best = majority_truth(fragments, truth, ignore_unlabelled=True)
    majority = np.zeros(int(max(ids.max(initial=0), table["v"].max(initial=0))) + 1, np.int64)
    majority[ids] = best
    mu, mv = majority[table["u"]], majority[table["v"]]
    return ((mu == mv) & (mu > 0)).astype(np.int64)


def fit_edge_model(X: np.ndarray, y: np.ndarray, C: float = 1.0, seed: int = 0, max_iter: int = 2000) -> dict:
    """Balanced logistic regression on standardised features; returns plain-number coefficients."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(0), X.std(0)
    scale[scale == 0] = 1.0
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter, random_state=seed)
    clf.fit((X - mean) / scale, y)
    return {"features": list(FEATURES), "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": clf.coef_[0].tolist(), "intercept": float(clf.intercept_[0])}


def merge_probability(model: dict, X: np.ndarray) -> np.ndarray:
    """Merge probability of each edge under a :func:`fit_edge_model` result."""
    z = ((X - np.asarray(model["mean"])) / np.asarray(model["scale"])) @ np.asarray(model["coef"]) + model["intercept"]
    return 1.0 / (1.0 + np.exp(-z))


def learned_agglomeration(fragments: np.ndarray, affinities: np.ndarray, model: dict, threshold: float) -> np.ndarray:
    """Hierarchical merging on face-weighted mean merge probability; returns relabelled ids 1..n."""
    from neuralscope.connectomics.agglomeration import RegionGraph, agglomerate, relabel_consecutive
    from neuralscope.connectomics.networks.segment import apply_mapping

    table = edge_features(fragments, affinities)
    p = merge_probability(model, feature_matrix(table))
    graph = RegionGraph(table["u"].astype(np.uint64), table["v"].astype(np.uint64), p * table["faces"],
                        table["faces"].astype(np.int64))
    labels = apply_mapping(np.asarray(fragments).astype(np.uint64), agglomerate(graph, threshold))
    return relabel_consecutive(labels)[0]
