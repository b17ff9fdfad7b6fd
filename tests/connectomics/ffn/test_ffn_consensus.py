"""Consensus of two flood-filling runs and the segment_ffn entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from neuralscope.connectomics.ffn.consensus import consensus_merge, consensus_split, segment_ffn
from neuralscope.connectomics.metrics import evaluate_segmentation
from neuralscope.core.errors import NeuralscopeError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ffn_helpers import OracleFFN, voronoi_labels  # noqa: E402


def test_overlapping_partial_objects_are_merged():
    """Run A saw the left 70 % of a bar, run B the right 70 %: one object in the consensus."""
    a = np.zeros((4, 4, 100), np.int64)
    b = np.zeros_like(a)
    a[..., :70] = 5
    b[..., 30:] = 9
    out = consensus_merge(a, b)
    assert np.unique(out).tolist() == [1]


def test_weak_overlap_is_not_merged_and_disputed_voxels_go_to_the_larger_object():
    a = np.zeros((4, 4, 100), np.int64)
    b = np.zeros_like(a)
    a[..., :62] = 1   # large object
    b[..., 60:] = 1   # smaller object in run B claims 2 columns of A's object
    out = consensus_merge(a, b)
    assert len(np.unique(out)) == 2
    assert np.all(out[..., :62] == out[0, 0, 0])  # A (62 columns) beats B (40) on columns 60-61
    assert np.all(out[..., 62:] != out[0, 0, 0])


def test_consensus_is_transitive_and_keeps_unsegmented_zero():
    a = np.zeros((2, 2, 30), np.int64)
    b = np.zeros_like(a)
    a[..., 0:10], a[..., 12:22] = 1, 2
    b[..., 5:16] = 7   # bridges 1 and 2: both overlaps >= half of the smaller object
    out = consensus_merge(a, b, merge_overlap=0.4)
    assert len(np.unique(out[..., :22])) == 1 and np.all(out[..., 22:] == 0)


def test_consensus_checks_input():
    with pytest.raises(NeuralscopeError):
        consensus_merge(np.zeros((2, 2, 2)), np.zeros((2, 2, 3)))
    with pytest.raises(NeuralscopeError):
        consensus_merge(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), merge_overlap=0)


def test_segment_ffn_with_consensus_on_the_oracle():
    labels = voronoi_labels((16, 32, 32), n_cells=8, seed=3)
    seg = segment_ffn(labels.astype(np.float32), model=OracleFFN(), normalize=False, min_segment_size=10,
                      device="cpu")
    assert evaluate_segmentation(seg, labels).adapted_rand_error < 0.05
    with pytest.raises(NeuralscopeError):
        segment_ffn(np.zeros((0, 4, 4)), model=OracleFFN())


def test_split_consensus_undoes_a_merge_made_by_one_run_only():
    a = np.zeros((2, 2, 40), np.int64)
    b = np.zeros_like(a)
    a[..., :40] = 3               # run A merged two objects
    b[..., :20], b[..., 20:] = 1, 2
    b[..., 38:] = 0               # run B left the end unsegmented: it keeps A's id there
    out = consensus_split(a, b)
    assert len(np.unique(out)) == 3 and out[0, 0, 0] != out[0, 0, 25] != out[0, 0, 39]
    assert np.all(out > 0)
    seg = segment_ffn(np.ones((8, 8, 8), np.float32), model=OracleFFN(), normalize=False, consensus="split",
                      min_segment_size=1, device="cpu")
    assert np.unique(seg).tolist() == [1]
    with pytest.raises(NeuralscopeError):
        segment_ffn(np.ones((8, 8, 8)), model=OracleFFN(), consensus="vote")
