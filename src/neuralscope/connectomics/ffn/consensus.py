"""Consensus of flood-filling runs and the one-call entry point :func:`segment_ffn`.

Two consensus rules are offered. The merge rule (default):

Two runs from different seed orders see the same objects from different starting points: an
object cut short in one run (its FOV stopped moving) is often whole, or cut elsewhere, in the
other. :func:`consensus_merge` joins objects of the two runs whose masks overlap strongly
(intersection / smaller object >= ``merge_overlap``, transitively), and gives each voxel the two
runs disagree on (claimed by two different, unjoined objects) to the larger joined object.
The split rule (:func:`consensus_split`, as in Januszewski et al. 2018) keeps voxels together
only where both runs agree, which undoes merges made by one run only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError


def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        parent[i], i = root, parent[i]
    return root


def _same_shape(seg_a: Any, seg_b: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(seg_a), np.asarray(seg_b)
    if a.shape != b.shape:
        raise NeuralscopeError("seg_b", f"shape {a.shape}", b.shape)
    return a, b


def consensus_merge(seg_a: Any, seg_b: Any, merge_overlap: float = 0.5) -> np.ndarray:
    """Combine two segmentations of one volume (0 = not segmented) into one.

    Parameters
    ----------
    seg_a, seg_b : array-like of int
        Same shape; ids are independent between the two.
    merge_overlap : float
        Objects ``a`` and ``b`` are joined when ``|a & b| / min(|a|, |b|) >= merge_overlap``.

    Returns
    -------
    numpy.ndarray of uint64
        Consecutive ids from 1, 0 where neither run segmented the voxel.
    """
    a, b = _same_shape(seg_a, seg_b)
    if not 0 < merge_overlap <= 1:
        raise NeuralscopeError("merge_overlap", "a value in (0, 1]", merge_overlap)
    a_ids, a_inv = np.unique(a.ravel(), return_inverse=True)
    b_ids, b_inv = np.unique(b.ravel(), return_inverse=True)
    na = len(a_ids)
    # Node i < na: object a_ids[i]; node na + j: object b_ids[j]; label 0 is not a node.
    a_node = np.where(a_ids[a_inv] != 0, a_inv, -1)
    b_node = np.where(b_ids[b_inv] != 0, na + b_inv, -1)
    sizes = np.bincount(np.concatenate([a_node[a_node >= 0], b_node[b_node >= 0]]), minlength=na + len(b_ids))
    both = (a_node >= 0) & (b_node >= 0)
    pairs, counts = np.unique(np.stack([a_node[both], b_node[both]]), axis=1, return_counts=True)
    parent = np.arange(na + len(b_ids))
    for (i, j), n in zip(pairs.T, counts):
        if n >= merge_overlap * min(sizes[i], sizes[j]):
            ri, rj = _find(parent, int(i)), _find(parent, int(j))
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([_find(parent, i) for i in range(len(parent))])
    strength = np.bincount(roots, weights=sizes, minlength=len(parent))
    ga = np.where(a_node >= 0, roots[np.maximum(a_node, 0)], -1)
    gb = np.where(b_node >= 0, roots[np.maximum(b_node, 0)], -1)
    sa = np.where(ga >= 0, strength[np.maximum(ga, 0)], -1.0)
    sb = np.where(gb >= 0, strength[np.maximum(gb, 0)], -1.0)
    # Stronger group wins a disputed voxel; ties go to the lower group index (deterministic).
    pick_b = (sb > sa) | ((sb == sa) & (gb >= 0) & (gb < ga))
    group = np.where(pick_b, gb, ga)
    out = np.zeros(group.shape, np.uint64)
    keep = group >= 0
    _, out[keep] = np.unique(group[keep], return_inverse=True)
    out[keep] += 1
    return out.reshape(a.shape)


def consensus_split(seg_a: Any, seg_b: Any) -> np.ndarray:
    """Over-segmentation consensus: voxels stay together only where both runs put them together.

    Each voxel gets the pair (id in ``seg_a``, id in ``seg_b``); every 6-connected piece of one
    pair is a segment (a voxel segmented by one run only keeps that run's object). This removes
    merges that only one run made, at the price of more splits (the paper's consensus).

    Returns
    -------
    numpy.ndarray of uint64
        Consecutive ids from 1, 0 where neither run segmented the voxel.
    """
    from skimage.measure import label

    a, b = _same_shape(seg_a, seg_b)
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    pair = ai.reshape(a.shape).astype(np.int64) * (int(bi.max()) + 1) + bi.reshape(b.shape) + 1
    pair[(a == 0) & (b == 0)] = 0
    return label(pair, background=0, connectivity=1).astype(np.uint64)


def segment_ffn(raw: Any, model: Any = None, consensus: bool | str | None = None, merge_overlap: float = 0.5,
                seeds: Any = None, device: str = "auto", progress: Any = None, **filler_kwargs: Any) -> np.ndarray:
    """Segment an EM volume with a flood-filling network.

    Parameters
    ----------
    raw : array-like, 3-D
        EM volume (z, y, x).
    model : FFNModel or str or Path, optional
        A model, a weights file, or ``None`` for the shipped FIB-25 weights.
    consensus : bool or {"merge", "split"}, optional
        Run twice (seeds forward and reverse) and combine with :func:`consensus_merge`
        (``True`` or ``"merge"``) or :func:`consensus_split` (``"split"``); ``False``: one run.
        Default: the rule stored with the weights, else ``"merge"``.
    merge_overlap : float
        Overlap needed to join objects of the two runs.
    seeds : array-like, shape (n, 3), optional
        Seed positions (default: :func:`~neuralscope.connectomics.ffn.inference.peak_seeds`).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda[:i]"``.
    progress : callable, optional
        ``progress(done, total)`` per seed.
    **filler_kwargs
        Passed to :class:`~neuralscope.connectomics.ffn.inference.FloodFiller`; defaults come
        from ``model.config.extra["inference"]`` when the weights carry tuned settings.

    Returns
    -------
    numpy.ndarray of uint64
        Object ids, 0 = not segmented.

    Examples
    --------
    >>> seg = segment_ffn(raw)  # doctest: +SKIP
    """
    from neuralscope.connectomics.ffn.inference import FloodFiller, check_raw
    from neuralscope.connectomics.ffn.model import load_ffn_model

    raw = check_raw(raw)
    if model is None or not hasattr(model, "config"):
        model, _ = load_ffn_model(model, device="cpu")
    # Settings tuned on validation data travel with the weights (config.extra["inference"]);
    # explicit keyword arguments win.
    settings = dict(getattr(model.config, "extra", {}).get("inference", {}))
    if "delta" in settings:
        settings["delta"] = tuple(settings["delta"])
    stored_consensus = settings.pop("consensus", "merge")
    consensus = stored_consensus if consensus is None else consensus
    if consensus not in (True, False, "merge", "split"):
        raise NeuralscopeError("consensus", "True, False, 'merge' or 'split'", consensus)
    settings.update(filler_kwargs)
    filler = FloodFiller(model, device=device, **settings)
    first = filler.segment(raw, seeds=seeds, seed_order="forward", progress=progress)
    if not consensus:
        return first
    second = filler.segment(raw, seeds=seeds, seed_order="reverse", progress=progress)
    if consensus == "split":
        return consensus_split(first, second)
    return consensus_merge(first, second, merge_overlap)
