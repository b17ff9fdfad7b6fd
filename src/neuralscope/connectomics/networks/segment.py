"""End to end: EM volume -> U-Net affinities -> watershed fragments -> mean-affinity merging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Used when the weights file carries no tuned values.
FALLBACK_THRESHOLD = 0.5
FALLBACK_SEED_THRESHOLD = 0.5


def apply_mapping(labels: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """Relabel ``labels`` by ``mapping`` (ids absent from it keep their value).

    Parameters
    ----------
    labels : ndarray of int
    mapping : dict
        Old id -> new id, e.g. the result of :func:`neuralscope.connectomics.agglomeration.agglomerate`.

    Returns
    -------
    ndarray, same shape and dtype as ``labels``.
    """
    if not mapping:
        return labels.copy()
    src = np.fromiter(mapping.keys(), np.int64, len(mapping)).astype(labels.dtype)
    dst = np.fromiter(mapping.values(), np.int64, len(mapping)).astype(labels.dtype)
    order = np.argsort(src)
    src, dst = src[order], dst[order]
    flat = labels.ravel()
    pos = np.clip(np.searchsorted(src, flat), 0, len(src) - 1)
    hit = src[pos] == flat
    out = flat.copy()
    out[hit] = dst[pos[hit]]
    return out.reshape(labels.shape)


def segment_affinities(affinities: np.ndarray, agglomeration: dict | None = None, *,
                       threshold: float | None = None, seed_threshold: float | None = None) -> np.ndarray:
    """Watershed fragments + merging, as tuned for a network (``meta["agglomeration"]``).

    Parameters
    ----------
    affinities : ndarray, shape (3, z, y, x)
        Nearest-neighbour affinities.
    agglomeration : dict, optional
        ``method`` ("mean", "learned" or "region"), ``threshold``, ``seed_threshold``, ``min_size`` (mean
        only: smaller objects join their best neighbour) and, for "learned", ``edge_model`` (see
        :mod:`neuralscope.connectomics.networks.edges`), for "region" ``region_model`` (see
        :mod:`neuralscope.connectomics.networks.region_merging`).
    threshold, seed_threshold : float, optional
        Override the tuned values.

    Returns
    -------
    ndarray of uint64, ids ``1..n``.
    """
    from neuralscope.connectomics.agglomeration import affinities_to_boundary, affinities_to_segmentation, watershed_fragments
    from neuralscope.connectomics.networks.edges import learned_agglomeration

    tuned = dict(agglomeration or {})
    threshold = float(threshold if threshold is not None else tuned.get("threshold", FALLBACK_THRESHOLD))
    seed_threshold = float(seed_threshold if seed_threshold is not None
                           else tuned.get("seed_threshold", FALLBACK_SEED_THRESHOLD))
    method = tuned.get("method", "mean")
    if method in ("learned", "region"):
        fragments = watershed_fragments(affinities_to_boundary(affinities), seed_threshold=seed_threshold)
        if method == "region":
            from neuralscope.connectomics.networks.region_merging import region_agglomeration

            return region_agglomeration(fragments, affinities, tuned["region_model"], threshold)
        return learned_agglomeration(fragments, affinities, tuned["edge_model"], threshold)
    return affinities_to_segmentation(affinities, threshold=threshold, seed_threshold=seed_threshold,
                                      min_size=int(tuned.get("min_size", 0)))


def segment_em(raw: Any, model=None, weights: str | Path | None = None, *, threshold: float | None = None,
               seed_threshold: float | None = None, device: Any = "auto",
               tile_shape: tuple[int, int, int] = (128, 128, 128), margin: int = 24,
               return_affinities: bool = False, test_time_flips: int | None = None,
               precision: str | None = None) -> Any:
    """Dense neuron segmentation of an EM volume with the affinity U-Net.

    Parameters
    ----------
    raw : array-like, shape (z, y, x)
        Grey-scale EM (numpy or dask).
    model : UNet3d, optional
        A network; otherwise loaded from ``weights`` (default: the shipped FIB-25 weights).
    weights : str or Path, optional
        Weights file; its tuned agglomeration (method, thresholds) is used unless overridden here.
    threshold : float, optional
        Merge regions while their mean affinity (or learned merge score) exceeds it.
    seed_threshold : float, optional
        Boundary level below which voxels may hold watershed seeds.
    device, tile_shape, margin
        Passed to :func:`~neuralscope.connectomics.networks.affinities.predict_affinities`.
    return_affinities : bool
        Also return the predicted affinities.
    test_time_flips : {1, 2, 4, 8}, optional
        Mirrorings averaged per tile (default: what the agglomeration was tuned with, else 1).
    precision : {"float32", "bfloat16"}, optional
        Arithmetic of the network pass (default: what the agglomeration was tuned with, else float32).

    Returns
    -------
    ndarray of uint64, shape (z, y, x)
        Ids ``1..n``; with ``return_affinities``, ``(labels, affinities)``.
    """
    from neuralscope.connectomics.networks.affinities import load_affinity_model, predict_affinities

    tuned: dict = {}
    if model is None:
        model, meta = load_affinity_model(weights)
        tuned = meta.get("agglomeration", {})
    flips = int(test_time_flips if test_time_flips is not None else tuned.get("test_time_flips", 1))
    precision = precision or tuned.get("precision", "float32")
    aff = predict_affinities(raw, model, tile_shape=tile_shape, margin=margin, device=device, test_time_flips=flips,
                             precision=precision)
    labels = segment_affinities(aff, tuned, threshold=threshold, seed_threshold=seed_threshold)
    return (labels, aff) if return_affinities else labels
