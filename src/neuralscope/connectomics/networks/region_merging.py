"""Agglomeration that re-scores grown regions with a learned model (GALA-style).

:mod:`~neuralscope.connectomics.networks.edges` scores each pair of *initial* fragments once and
merges on the face-weighted mean of those scores, so a region's score never sees how large the
region has become or how the affinities along its whole face are spread. Here every face keeps a
histogram of its affinities; after each merge the merged region's faces are re-scored from their
summed histograms and the new region sizes. The model is a logistic regression on the same
features as :data:`~neuralscope.connectomics.networks.edges.FEATURES`, trained as in GALA (Nunez-
Iglesias et al. 2013): agglomerate a labelled volume following the ground truth, record every
face the current model proposes with its true label, refit on all records, repeat.
"""

from __future__ import annotations

import numpy as np

from neuralscope.connectomics.networks.edges import face_pairs, fit_edge_model, majority_truth


def face_statistics(fragments: np.ndarray, affinities: np.ndarray) -> dict[str, np.ndarray]:
    """Per pair of touching fragments: histogram, moments and count of the face affinities.

    Returns ``ids`` (fragment id of each dense node), ``u``, ``v`` (dense node numbers),
    ``hist`` (n_edges, N_BINS), ``s1``, ``s2``, ``min``, ``max``, ``count`` and ``sizes`` (voxels
    per node).
    """
    from neuralscope.connectomics._region_kernel import N_BINS

    frag = np.asarray(fragments).astype(np.int64, copy=False)
    u, v, val = face_pairs(frag, affinities)
    ids, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    sizes_all = np.bincount(frag.ravel(), minlength=int(frag.max()) + 1).astype(np.float64)
    du, dv = inverse[: len(u)], inverse[len(u):]
    key = du * max(len(ids), 1) + dv
    codes, inv = np.unique(key, return_inverse=True)
    n_e = len(codes)
    bins = np.minimum((np.clip(val, 0, 1) * N_BINS).astype(np.int64), N_BINS - 1)
    hist = np.bincount(inv * N_BINS + bins, minlength=n_e * N_BINS).astype(np.float64).reshape(n_e, N_BINS)
    s1 = np.bincount(inv, weights=val, minlength=n_e)
    s2 = np.bincount(inv, weights=val * val, minlength=n_e)
    count = np.bincount(inv, minlength=n_e).astype(np.float64)
    mn = np.full(n_e, np.inf)
    mx = np.full(n_e, -np.inf)
    np.minimum.at(mn, inv, val)
    np.maximum.at(mx, inv, val)
    n_nodes = max(len(ids), 1)
    return {"ids": ids, "u": codes // n_nodes, "v": codes % n_nodes, "hist": hist, "s1": s1, "s2": s2,
            "min": mn, "max": mx, "count": count, "sizes": sizes_all[ids]}


def fragment_truth(ids: np.ndarray, fragments: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Majority true id (> 0) of each fragment in ``ids``; -1 where a fragment is mostly unlabelled."""
    frag_ids, best = majority_truth(fragments, truth, ignore_unlabelled=False)
    pos = np.clip(np.searchsorted(frag_ids, ids), 0, max(len(frag_ids) - 1, 0))
    lab = np.where(frag_ids[pos] == ids, best[pos], 0) if len(frag_ids) else np.zeros(len(ids), np.int64)
    lab[lab == 0] = -1
    return lab


def _run(stats, model, threshold, labels=None):
    from neuralscope.connectomics._region_kernel import region_merges

    oracle = labels is not None
    lab = labels if oracle else np.zeros(len(stats["ids"]), np.int64)
    return region_merges(stats["u"], stats["v"], stats["hist"], stats["s1"], stats["s2"], stats["min"],
                         stats["max"], stats["count"], stats["sizes"], lab,
                         np.asarray(model["mean"], np.float64), np.asarray(model["scale"], np.float64),
                         np.asarray(model["coef"], np.float64), float(model["intercept"]), float(threshold), oracle)


def _fit(X, y, C, seed):
    return {"kind": "region", **fit_edge_model(X, y, C=C, seed=seed, max_iter=3000)}


def train_region_model(fragments: np.ndarray, affinities: np.ndarray, truth: np.ndarray, epochs: int = 3,
                       C: float = 1.0, seed: int = 0) -> dict:
    """GALA-style training of the region score on a labelled volume.

    Epoch 0 fits the initial fragment pairs; each further epoch agglomerates following the truth
    with the current model, records every face it proposes (features at that moment, true label)
    and refits on everything recorded so far.

    Returns
    -------
    dict
        Plain numbers (``mean``, ``scale``, ``coef``, ``intercept``, ``features``), storable with
        network weights and loadable with ``weights_only=True``.
    """
    from neuralscope.connectomics._region_kernel import feature_table

    stats = face_statistics(fragments, affinities)
    labels = fragment_truth(stats["ids"], fragments, truth)
    X = feature_table(stats["hist"], stats["s1"], stats["s2"], stats["min"], stats["max"], stats["count"],
                      stats["sizes"][stats["u"]], stats["sizes"][stats["v"]])
    lu, lv = labels[stats["u"]], labels[stats["v"]]
    known = (lu >= 0) & (lv >= 0)
    Xs, ys = [X[known]], [(lu == lv)[known].astype(np.int64)]
    model = _fit(np.concatenate(Xs), np.concatenate(ys), C, seed)
    for _ in range(int(epochs)):
        _, xr, yr = _run(stats, model, -1.0, labels)
        Xs.append(xr)
        ys.append(yr)
        model = _fit(np.concatenate(Xs), np.concatenate(ys), C, seed)
    model["epochs"] = int(epochs)
    return model


def region_agglomeration(fragments: np.ndarray, affinities: np.ndarray, model: dict, threshold: float) -> np.ndarray:
    """Merge fragments while the learned score of the best face exceeds ``threshold``; ids ``1..n``."""
    from neuralscope.connectomics.agglomeration import relabel_consecutive
    from neuralscope.connectomics.networks.segment import apply_mapping

    stats = face_statistics(fragments, affinities)
    if len(stats["u"]) == 0:
        return relabel_consecutive(np.asarray(fragments).astype(np.uint64))[0]
    root, _, _ = _run(stats, model, threshold)
    ids = stats["ids"]
    moved = np.flatnonzero(root != np.arange(len(ids)))
    mapping = dict(zip(ids[moved].tolist(), ids[root[moved]].tolist()))
    return relabel_consecutive(apply_mapping(np.asarray(fragments).astype(np.uint64), mapping))[0]
