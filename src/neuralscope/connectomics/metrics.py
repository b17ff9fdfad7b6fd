"""Segmentation metrics: variation of information (split / merge) and adapted Rand error.

Background handling (the same in every function here):

- voxels whose **ground-truth** label is in ``ignore_truth`` (default ``(0,)``) are left out of
  every score, as in the CREMI / FIB-25 evaluations;
- every other label of the **segmentation**, 0 included, is an ordinary segment: a voxel the
  algorithm left unlabelled (0) counts as belonging to one big "background" segment, so leaving
  voxels out is never free (pass ``ignore_seg`` to drop them instead).

VI uses base-2 logarithms. ``split`` is H(seg | truth) (over-segmentation: one true object cut into
pieces), ``merge`` is H(truth | seg) (under-segmentation: true objects glued together). The adapted
Rand error is ``1 - F`` of the Rand precision and recall over voxel pairs (Arganda-Carreras et al.
2015), the ISBI 2012 / CREMI definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError

__all__ = ["Contingency", "SegmentationScores", "adapted_rand_error", "contingency", "evaluate_segmentation",
           "variation_of_information"]


@dataclass
class Contingency:
    """Overlap counts between segmentation and truth objects (sparse, voxels kept only).

    ``seg_ids[i]``, ``truth_ids[j]`` name the objects; ``pairs`` holds one row per overlapping
    (seg, truth) pair as indices into those arrays, ``counts`` its voxel count.
    """

    seg_ids: np.ndarray
    truth_ids: np.ndarray
    seg_index: np.ndarray
    truth_index: np.ndarray
    counts: np.ndarray
    n_voxels: int

    @property
    def seg_sizes(self) -> np.ndarray:
        return np.bincount(self.seg_index, weights=self.counts, minlength=len(self.seg_ids))

    @property
    def truth_sizes(self) -> np.ndarray:
        return np.bincount(self.truth_index, weights=self.counts, minlength=len(self.truth_ids))


def _as_labels(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise NeuralscopeError(name, "an integer label array", f"dtype {arr.dtype}")
    return arr


def contingency(seg: Any, truth: Any, ignore_truth: tuple[int, ...] = (0,),
                ignore_seg: tuple[int, ...] = ()) -> Contingency:
    """Sparse overlap table of two label volumes of the same shape.

    Parameters
    ----------
    seg, truth : array-like of int
        Segmentation and ground truth, same shape (any dimensionality).
    ignore_truth : tuple of int
        Truth labels whose voxels are dropped (default: 0 = unlabelled).
    ignore_seg : tuple of int
        Segmentation labels whose voxels are dropped (default: none).

    Returns
    -------
    Contingency
    """
    s, t = _as_labels(seg, "seg"), _as_labels(truth, "truth")
    if s.shape != t.shape:
        raise NeuralscopeError("seg/truth", "two label volumes of the same shape", f"{s.shape} and {t.shape}")
    s, t = s.ravel(), t.ravel()
    keep = np.ones(s.shape, bool)
    for v in ignore_truth:
        keep &= t != v
    for v in ignore_seg:
        keep &= s != v
    if not keep.all():
        s, t = s[keep], t[keep]
    if s.size == 0:
        raise NeuralscopeError("truth", "at least one voxel outside the ignored labels", "none left")
    # Hash-based factorising is linear in the voxel count (np.unique would sort).
    s_codes, s_ids = pd.factorize(s, sort=True)
    t_codes, t_ids = pd.factorize(t, sort=True)
    key = s_codes.astype(np.int64) * len(t_ids) + t_codes
    pair_codes, pair_keys = pd.factorize(key)
    counts = np.bincount(pair_codes, minlength=len(pair_keys)).astype(np.float64)
    return Contingency(np.asarray(s_ids), np.asarray(t_ids), (pair_keys // len(t_ids)).astype(np.int64),
                       (pair_keys % len(t_ids)).astype(np.int64), counts, int(s.size))


def _xlogx(x: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x, dtype=np.float64)
    nz = x > 0
    out[nz] = x[nz] * np.log2(x[nz])
    return out


def _vi_parts(table: Contingency) -> tuple[np.ndarray, np.ndarray]:
    """Per-truth-object split entropy and per-segment merge entropy (they sum to the VI terms)."""
    n = table.n_voxels
    p = table.counts / n
    p_seg = table.seg_sizes / n
    p_truth = table.truth_sizes / n
    # H(seg|truth) = -sum p_ij log(p_ij / p_j) grouped by truth object j.
    split_terms = -p * np.log2(p / p_truth[table.truth_index])
    merge_terms = -p * np.log2(p / p_seg[table.seg_index])
    split = np.bincount(table.truth_index, weights=split_terms, minlength=len(table.truth_ids))
    merge = np.bincount(table.seg_index, weights=merge_terms, minlength=len(table.seg_ids))
    return split, merge


def variation_of_information(seg: Any, truth: Any, ignore_truth: tuple[int, ...] = (0,),
                             ignore_seg: tuple[int, ...] = ()) -> tuple[float, float]:
    """Split and merge parts of the variation of information (bits).

    Parameters
    ----------
    seg, truth : array-like of int
        Segmentation and ground truth, same shape.
    ignore_truth : tuple of int
        Truth labels left out (default 0). Segmentation label 0 is an ordinary segment.
    ignore_seg : tuple of int
        Segmentation labels left out (default none).

    Returns
    -------
    split, merge : float
        ``H(seg | truth)`` and ``H(truth | seg)``; their sum is the VI. Both are 0 exactly when
        the two partitions agree (up to relabelling) on the voxels kept.

    Examples
    --------
    >>> truth = np.array([1, 1, 2, 2])
    >>> variation_of_information(np.array([1, 2, 3, 3]), truth)  # truth object 1 split in two
    (0.5, 0.0)
    """
    split, merge = _vi_parts(contingency(seg, truth, ignore_truth, ignore_seg))
    return float(max(split.sum(), 0.0)), float(max(merge.sum(), 0.0))


def _rand_terms(table: Contingency) -> tuple[float, float, float]:
    c = table.counts
    sum_pairs = float(c @ c)
    sum_seg = float(table.seg_sizes @ table.seg_sizes)
    sum_truth = float(table.truth_sizes @ table.truth_sizes)
    return sum_pairs, sum_seg, sum_truth


def adapted_rand_error(seg: Any, truth: Any, ignore_truth: tuple[int, ...] = (0,),
                       ignore_seg: tuple[int, ...] = ()) -> float:
    """Adapted Rand error, ``1 - 2 P R / (P + R)`` over voxel pairs (0 = perfect).

    Parameters
    ----------
    seg, truth : array-like of int
        Segmentation and ground truth, same shape.
    ignore_truth, ignore_seg : tuple of int
        As in :func:`variation_of_information`.

    Returns
    -------
    float
        In [0, 1].
    """
    return _arand(contingency(seg, truth, ignore_truth, ignore_seg))[0]


def _arand(table: Contingency) -> tuple[float, float, float]:
    n = float(table.n_voxels)
    sum_pairs, sum_seg, sum_truth = _rand_terms(table)
    # Pairs counted with the voxel itself removed, as in ISBI 2012 / scikit-image.
    same_both, same_seg, same_truth = sum_pairs - n, sum_seg - n, sum_truth - n
    if same_seg <= 0 or same_truth <= 0:
        precision = recall = 1.0 if same_both == same_seg == same_truth else 0.0
    else:
        precision, recall = same_both / same_seg, same_both / same_truth
    denom = same_seg + same_truth
    error = 1.0 - (2.0 * same_both / denom if denom > 0 else 1.0)
    return float(min(max(error, 0.0), 1.0)), float(precision), float(recall)


@dataclass
class SegmentationScores:
    """All scores of a segmentation against ground truth.

    ``split_objects``: one row per truth object (``truth_id``, ``voxels``, ``n_segments`` it is cut
    into, ``vi_split`` its share of the split term, ``split_pairs`` its voxel pairs that the
    segmentation separates), worst first. ``merge_objects``: one row per segment (``seg_id``,
    ``voxels``, ``n_truth`` objects it covers, ``vi_merge``, ``merge_pairs`` its voxel pairs that
    belong to different objects), worst first. The pair columns are what the adapted Rand error
    counts: one large object cut once can outweigh hundreds of small errors.
    """

    vi_split: float
    vi_merge: float
    adapted_rand_error: float
    rand_precision: float
    rand_recall: float
    n_voxels: int
    split_objects: pd.DataFrame = field(repr=False)
    merge_objects: pd.DataFrame = field(repr=False)

    def as_dict(self) -> dict[str, float]:
        """The scalar scores (JSON-friendly)."""
        return {"vi_split": self.vi_split, "vi_merge": self.vi_merge, "vi": self.vi_split + self.vi_merge,
                "adapted_rand_error": self.adapted_rand_error, "rand_precision": self.rand_precision,
                "rand_recall": self.rand_recall, "n_voxels_scored": self.n_voxels}


def evaluate_segmentation(seg: Any, truth: Any, ignore_truth: tuple[int, ...] = (0,),
                          ignore_seg: tuple[int, ...] = ()) -> SegmentationScores:
    """VI split/merge, adapted Rand error and the per-object split and merge lists.

    Parameters
    ----------
    seg, truth : array-like of int
        Segmentation and ground truth, same shape.
    ignore_truth, ignore_seg : tuple of int
        As in :func:`variation_of_information`.

    Returns
    -------
    SegmentationScores
    """
    table = contingency(seg, truth, ignore_truth, ignore_seg)
    split, merge = _vi_parts(table)
    arand, precision, recall = _arand(table)
    # Unordered pairs of voxels in one object (or segment) that the other partition separates.
    sq = table.counts.astype(np.float64) ** 2
    split_pairs = (table.truth_sizes.astype(np.float64) ** 2
                   - np.bincount(table.truth_index, weights=sq, minlength=len(table.truth_ids))) / 2
    merge_pairs = (table.seg_sizes.astype(np.float64) ** 2
                   - np.bincount(table.seg_index, weights=sq, minlength=len(table.seg_ids))) / 2
    split_df = pd.DataFrame({
        "truth_id": table.truth_ids, "voxels": table.truth_sizes.astype(np.int64),
        "n_segments": np.bincount(table.truth_index, minlength=len(table.truth_ids)), "vi_split": np.maximum(split, 0),
        "split_pairs": np.rint(split_pairs).astype(np.int64),
    }).sort_values(["vi_split", "voxels"], ascending=False, kind="stable").reset_index(drop=True)
    merge_df = pd.DataFrame({
        "seg_id": table.seg_ids, "voxels": table.seg_sizes.astype(np.int64),
        "n_truth": np.bincount(table.seg_index, minlength=len(table.seg_ids)), "vi_merge": np.maximum(merge, 0),
        "merge_pairs": np.rint(merge_pairs).astype(np.int64),
    }).sort_values(["vi_merge", "voxels"], ascending=False, kind="stable").reset_index(drop=True)
    return SegmentationScores(float(max(split.sum(), 0)), float(max(merge.sum(), 0)), arand, precision, recall,
                              table.n_voxels, split_df, merge_df)
