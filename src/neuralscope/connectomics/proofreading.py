"""Merge suggestions for proofreading: the contacts between segments most worth a look.

The adapted Rand error counts voxel pairs, so one missed merge between two large pieces of a
neurite can outweigh hundreds of small errors (on the FIB-25 held-out half one such cut decides
most of the error). A proofreader's time is best spent where a correct answer joins the most
pairs. :func:`merge_suggestions` ranks every pair of touching segments by

    priority = size_a * size_b * mean affinity across their contact,

the number of voxel pairs a merge would join, weighted by how strongly the affinities say the
contact is not a membrane, and gives a contact voxel to inspect (where that affinity is
highest). :func:`apply_merges` applies the accepted answers; :func:`truth_answers` answers
from a ground truth, so benchmarks can score "ARAND after k answers" without a person.

The volume is held in memory (use it on a segmentation that fits, or on a crop of one).

Split suggestions were tried the same way and are not offered: cutting each segment's maximum
spanning tree of watershed fragments where size_1 * size_2 * (1 - affinity) is largest found none
of the large false merges on FIB-25 (the first 30 answers moved the held-out ARAND from 0.135 to
0.134), where the merge suggestions above bring it to 0.083
(``benchmarks/connectomics_proofreading.py``). Weighting by the shipped U-Net's learned merge
probability instead of the mean affinity was also tried, on the weights' validation block only: ARAND
0.063 / 0.061 / 0.061 after 10 / 30 / 100 answers against 0.068 / 0.065 / 0.061. The rule set
beforehand (better after both 30 and 100 answers) did not adopt it.

Answering the suggestions automatically with a learned merge checker was tried and not kept: a
small 3-D CNN (three stages of 8 / 16 / 32 channels with batch norm) on a 64-voxel window around the
contact voxel, averaged down to 32^3, with raw EM, both segments' masks and (second run) the mean
affinity as channels. It was trained on 1,432 ranked pairs with their whole window in z < 125,
x < 150 (the shipped learned agglomeration at thresholds 0.8-0.995, 241 true merges), and it
was measured on 1,101 pairs in the weights' validation block (x >= 150, 128 true merges). There
its ROC AUC was 0.64 (raw and masks) and 0.66 (with affinities), against 0.97 for the mean contact
affinity alone. Accepting its p > 0.5 among the first 30 suggestions of the shipped
segmentation raised the block's ARAND from 0.067 to 0.55 (14 accepted, 4 of them true). Too few
examples of the decisive kind exist: in the training block only 11 of 984 pairs with mean
affinity <= 0.3 are true merges, and the FIB-25 held-out neck has mean affinity 0.27.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from neuralscope.connectomics.networks.edges import face_pairs, majority_truth
from neuralscope.core.errors import NeuralscopeError

__all__ = ["apply_merges", "merge_mapping", "merge_suggestions", "relabel", "truth_answers"]

COLUMNS = ("segment_a", "segment_b", "size_a", "size_b", "contact_faces", "mean_affinity", "priority", "z", "y", "x")


def _check_segmentation(segmentation: Any, name: str = "segmentation") -> np.ndarray:
    seg = np.asarray(segmentation)
    if seg.ndim != 3 or seg.size == 0:
        raise NeuralscopeError(name, "a non-empty 3-D label volume (z, y, x)", f"shape {seg.shape}")
    if seg.dtype.kind not in "iub":
        raise NeuralscopeError(name, "integer labels", f"dtype {seg.dtype}")
    return seg


def _check_affinities(affinities: Any, shape: tuple[int, ...]) -> np.ndarray:
    aff = np.asarray(affinities)
    if aff.ndim != 4 or aff.shape[0] < 3 or aff.shape[1:] != shape:
        raise NeuralscopeError("affinities", f"an array of shape (3, {', '.join(map(str, shape))})",
                               f"shape {aff.shape}")
    aff = aff[:3]  # nearest-neighbour channels first, as predict_affinities returns them
    if aff.dtype == np.uint8:
        return aff.astype(np.float32) / np.float32(255)
    if aff.dtype.kind != "f":
        raise NeuralscopeError("affinities", "float values in [0, 1] or uint8", f"dtype {aff.dtype}")
    aff = aff.astype(np.float32, copy=False)
    if not np.isfinite(aff).all() or aff.min() < 0 or aff.max() > 1:
        raise NeuralscopeError("affinities", "finite values in [0, 1]", "values outside [0, 1] or not finite")
    return aff


def merge_suggestions(segmentation: Any, affinities: Any, top: int | None = 100, min_size: int = 0,
                      background: int | None = 0) -> pd.DataFrame:
    """Rank pairs of touching segments by how many voxel pairs a correct merge would join.

    Parameters
    ----------
    segmentation : ndarray of int, (z, y, x)
        The segmentation to proofread.
    affinities : ndarray, (3, z, y, x)
        Nearest-neighbour affinities (voxel to the one before it along z, y, x), in [0, 1] or
        uint8 (255 = certainly the same object); extra channels after the first three are ignored.
    top : int or None
        Number of suggestions returned (None: all pairs).
    min_size : int
        Pairs where either segment has fewer voxels are left out.
    background : int or None
        A label that is never suggested (None: every label is a segment).

    Returns
    -------
    pandas.DataFrame
        One row per pair, highest priority first (ties: smaller ids first), columns
        ``segment_a < segment_b``, ``size_a``, ``size_b``, ``contact_faces``, ``mean_affinity``,
        ``priority`` and ``z``, ``y``, ``x``: the voxel of ``segment_a`` or ``segment_b`` on the
        contact face with the highest affinity.
    """
    seg = _check_segmentation(segmentation)
    aff = _check_affinities(affinities, seg.shape)
    if top is not None and int(top) < 1:
        raise NeuralscopeError("top", "a positive number of suggestions (or None for all)", top)
    if int(min_size) < 0:
        raise NeuralscopeError("min_size", "a non-negative voxel count", min_size)
    ids, dense = np.unique(seg, return_inverse=True)
    dense = dense.reshape(seg.shape)
    sizes = np.bincount(dense.ravel(), minlength=len(ids))
    skip = sizes < int(min_size)
    if background is not None:
        skip |= ids == background
    # Skipped segments become 0, which face_pairs leaves out; the others keep their index + 1.
    labels = np.where(skip[dense], 0, dense + 1)
    u, v, val, pos = face_pairs(labels, aff, positions=True)
    u, v = u - 1, v - 1
    if len(u) == 0:
        return pd.DataFrame({c: np.zeros(0, np.float64 if c in ("mean_affinity", "priority") else np.int64)
                             for c in COLUMNS})
    key = u * len(ids) + v
    order = np.lexsort((val, key))  # per pair, faces by affinity: the last one is the pair's strongest
    key, val, pos = key[order], val[order], pos[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)] - 1
    faces = np.diff(np.r_[starts, len(key)])
    mean = np.add.reduceat(val, starts) / faces
    ea, eb = key[starts] // len(ids), key[starts] % len(ids)
    size_a, size_b = sizes[ea].astype(np.int64), sizes[eb].astype(np.int64)
    priority = size_a.astype(np.float64) * size_b.astype(np.float64) * mean
    table = pd.DataFrame({"segment_a": ids[ea].astype(np.int64), "segment_b": ids[eb].astype(np.int64),
                          "size_a": size_a, "size_b": size_b, "contact_faces": faces.astype(np.int64),
                          "mean_affinity": mean, "priority": priority,
                          "z": pos[ends, 0], "y": pos[ends, 1], "x": pos[ends, 2]})
    table = table.sort_values(["priority", "segment_a", "segment_b"], ascending=[False, True, True], kind="mergesort")
    if top is not None:
        table = table.head(int(top))
    return table.reset_index(drop=True)


def merge_mapping(pairs: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, roots)``: every id named in ``pairs`` (sorted) and the id it becomes once they are joined.

    Joined segments take the smallest id among them, so the mapping does not depend on the order
    of the pairs; it is computed from the pairs alone (no volume needed).
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if (pairs < 0).any():
        raise NeuralscopeError("pairs", "non-negative segment ids", f"id {int(pairs.min())}")
    ids = np.unique(pairs)
    index = np.searchsorted(ids, pairs)
    parent = np.arange(len(ids))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in index:
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)  # ids are sorted: the smallest id is the root
    return ids, ids[[find(i) for i in range(len(ids))]]


def relabel(labels: np.ndarray, ids: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """``labels`` with each id in ``ids`` replaced by its ``roots`` entry (others unchanged); a new array."""
    labels = np.asarray(labels)
    if len(ids) == 0:
        return labels.copy()
    # In the labels' own dtype: mixing uint64 with int64 would compare as float64.
    ids, roots = np.asarray(ids).astype(labels.dtype), np.asarray(roots).astype(labels.dtype)
    index = np.clip(np.searchsorted(ids, labels), 0, len(ids) - 1)
    return np.where(ids[index] == labels, roots[index], labels)


def apply_merges(segmentation: Any, pairs: Any) -> np.ndarray:
    """A copy of ``segmentation`` with each accepted pair ``(a, b)`` joined.

    Joined segments take the smallest id among them, so the result does not depend on the order
    of the pairs. ``segmentation`` itself is not modified.
    """
    seg = _check_segmentation(segmentation)
    ids, roots = merge_mapping(pairs)
    missing = ~np.isin(ids, np.unique(seg))
    if missing.any():
        raise NeuralscopeError("pairs", "ids of segments in the segmentation", f"unknown id {int(ids[missing][0])}")
    return relabel(seg, ids, roots)


def truth_answers(suggestions: pd.DataFrame, segmentation: Any, truth: Any) -> np.ndarray:
    """What a proofreader who knows ``truth`` answers: merge when both segments' majority truth object agrees.

    The majority is taken over each segment's voxels with a truth label other than 0 (unlabelled;
    ties: the smaller id); a segment with no such voxel is never merged.
    """
    seg = _check_segmentation(segmentation)
    gt = _check_segmentation(truth, "truth")
    if gt.shape != seg.shape:
        raise NeuralscopeError("truth", f"labels of the segmentation's shape {seg.shape}", f"shape {gt.shape}")
    majority = dict(zip(*(ids.tolist() for ids in majority_truth(seg, gt, ignore_unlabelled=True))))
    a = [majority.get(int(s)) for s in suggestions["segment_a"]]
    b = [majority.get(int(s)) for s in suggestions["segment_b"]]
    return np.array([x is not None and x == y for x, y in zip(a, b)], dtype=bool)
