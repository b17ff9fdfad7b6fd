"""Merge suggestions: exact numbers on a hand-built volume, truth answers that undo known cuts."""

from __future__ import annotations

import numpy as np
import pytest

from neuralscope.connectomics.metrics import adapted_rand_error
from neuralscope.connectomics.networks.targets import labels_to_affinities
from neuralscope.connectomics.proofreading import apply_merges, merge_mapping, merge_suggestions, truth_answers
from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets.em import simulate_em_volume


@pytest.fixture()
def boxes():
    """Truth: object 1 fills x < 6, object 2 fills x >= 6 of a 4 x 5 x 8 box.

    Segmentation: object 1 cut at x = 3 into 10 | 11 (contact affinity 0.9 except one face at
    0.95), object 2 kept whole as 20 (contact with 11 at affinity 0.2).
    """
    truth = np.ones((4, 5, 8), np.int64)
    truth[..., 6:] = 2
    seg = np.full(truth.shape, 10, np.int64)
    seg[..., 3:6] = 11
    seg[..., 6:] = 20
    aff = np.full((3, *truth.shape), 0.99, np.float32)
    aff[2, :, :, 3] = 0.9  # x-edge between voxel x=3 and x=2: the 10 | 11 contact
    aff[2, 1, 2, 3] = 0.95
    aff[2, :, :, 6] = 0.2  # the 11 | 20 contact
    return seg, aff, truth


def test_numbers_on_hand_built_volume(boxes):
    seg, aff, _ = boxes
    table = merge_suggestions(seg, aff, top=None)
    assert list(zip(table.segment_a, table.segment_b)) == [(10, 11), (11, 20)]
    first, second = table.iloc[0], table.iloc[1]
    assert (first.size_a, first.size_b, first.contact_faces) == (60, 60, 20)
    assert first.mean_affinity == pytest.approx((19 * 0.9 + 0.95) / 20, abs=1e-6)
    assert first.priority == pytest.approx(60 * 60 * first.mean_affinity, rel=1e-9)
    assert (first.z, first.y, first.x) == (1, 2, 3)  # the strongest face of the contact
    assert (second.size_a, second.size_b, second.contact_faces) == (60, 40, 20)
    assert second.mean_affinity == pytest.approx(0.2, abs=1e-6)
    assert merge_suggestions(seg, aff, top=1).segment_b.tolist() == [11]
    # uint8 affinities (255 = same object) give the same table up to their rounding
    q = np.round(aff * 255).astype(np.uint8)
    np.testing.assert_allclose(merge_suggestions(seg, q, top=None).mean_affinity, table.mean_affinity, atol=1 / 255)


def test_truth_answers_and_merging(boxes):
    seg, aff, truth = boxes
    before = seg.copy()
    table = merge_suggestions(seg, aff, top=None)
    accepted = truth_answers(table, seg, truth)
    assert accepted.tolist() == [True, False]
    merged = apply_merges(seg, table[["segment_a", "segment_b"]].to_numpy()[accepted])
    np.testing.assert_array_equal(seg, before)  # the input is not modified
    assert set(np.unique(merged)) == {10, 20}  # joined segments take the smallest id
    assert adapted_rand_error(merged, truth) == pytest.approx(0.0, abs=1e-12)
    assert adapted_rand_error(seg, truth) > 0.1


def test_apply_merges_is_order_free():
    seg = np.arange(1, 9, dtype=np.int64).reshape(2, 2, 2)
    a = apply_merges(seg, [(8, 3), (3, 5), (2, 1)])
    b = apply_merges(seg, [(2, 1), (5, 3), (3, 8)])
    np.testing.assert_array_equal(a, b)
    assert sorted(np.unique(a).tolist()) == [1, 3, 4, 6, 7]
    np.testing.assert_array_equal(apply_merges(seg, []), seg)
    # uint64 ids beyond float64's 2**53: relabelled exactly, in the input's dtype
    big = np.array([[[2**60 + 1, 2**60 + 2], [2**60 + 3, 5]]], np.uint64)
    out = apply_merges(big, [(2**60 + 3, 2**60 + 2)])
    assert out.dtype == np.uint64 and out.ravel().tolist() == [2**60 + 1, 2**60 + 2, 2**60 + 2, 5]
    ids, roots = merge_mapping([(9, 4), (4, 7), (1, 2)])
    assert ids.tolist() == [1, 2, 4, 7, 9] and roots.tolist() == [1, 1, 4, 4, 4]
    with pytest.raises(NeuralscopeError, match="non-negative"):
        merge_mapping([(-1, 2)])


def test_background_and_min_size_left_out(boxes):
    seg, aff, _ = boxes
    seg = seg.copy()
    seg[0, 0, :] = 0
    assert 0 not in set(merge_suggestions(seg, aff, top=None)[["segment_a", "segment_b"]].to_numpy().ravel())
    assert 0 in set(merge_suggestions(seg, aff, top=None, background=None)[["segment_a", "segment_b"]].to_numpy().ravel())
    small = merge_suggestions(seg, aff, top=None, min_size=50)  # 20 has 38 voxels now
    assert list(zip(small.segment_a, small.segment_b)) == [(10, 11)]
    empty = merge_suggestions(np.ones((3, 3, 3), np.int64), np.ones((3, 3, 3, 3)), top=None)
    assert len(empty) == 0 and "priority" in empty.columns


def test_cut_simulated_neurites_are_ranked_first_and_undone():
    """Every simulated cell cut in two along z: with truth-derived affinities the true merges rank
    above every false pair, and answering them restores the truth exactly."""
    vol = simulate_em_volume((16, 32, 32), random_state=4)
    truth = np.asarray(vol.labels).astype(np.int64)
    seg = truth * 2 + (np.arange(16)[:, None, None] >= 8)
    aff, _mask = labels_to_affinities(truth)
    rng = np.random.default_rng(0)
    aff = np.clip(aff[:3] * 0.8 + 0.1 + rng.normal(0, 0.05, aff[:3].shape), 0, 1).astype(np.float32)
    table = merge_suggestions(seg, aff, top=None)
    accepted = truth_answers(table, seg, truth)
    n_cut = len(np.intersect1d(np.unique(seg[7]) // 2, np.unique(seg[8]) // 2))
    assert accepted.sum() == n_cut > 5
    # true merges have contacts at affinity ~0.9, false ones ~0.1: ranked by priority,
    # a true merge with a small piece can still follow a false pair of two big ones, so compare scores
    assert table.mean_affinity[accepted].min() > table.mean_affinity[~accepted].max()
    merged = apply_merges(seg, table[["segment_a", "segment_b"]].to_numpy()[accepted])
    assert adapted_rand_error(merged, truth) == pytest.approx(0.0, abs=1e-12)
    assert adapted_rand_error(seg, truth) > 0.2
    again = merge_suggestions(seg, aff, top=None)
    assert again.equals(table)  # deterministic


def test_bad_input(boxes):
    seg, aff, truth = boxes
    with pytest.raises(NeuralscopeError, match="shape"):
        merge_suggestions(seg, aff[:, :2])
    with pytest.raises(NeuralscopeError, match="integer"):
        merge_suggestions(seg.astype(float), aff)
    with pytest.raises(NeuralscopeError, match=r"\[0, 1\]"):
        merge_suggestions(seg, aff * 2)
    bad = aff.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(NeuralscopeError, match="finite"):
        merge_suggestions(seg, bad)
    with pytest.raises(NeuralscopeError, match="top"):
        merge_suggestions(seg, aff, top=0)
    with pytest.raises(NeuralscopeError, match="min_size"):
        merge_suggestions(seg, aff, min_size=-1)
    with pytest.raises(NeuralscopeError, match="3-D"):
        merge_suggestions(seg[0], aff[:, 0])
    with pytest.raises(NeuralscopeError, match="unknown id 99"):
        apply_merges(seg, [(10, 99)])
    with pytest.raises(NeuralscopeError, match="shape"):
        truth_answers(merge_suggestions(seg, aff), seg, truth[:2])
