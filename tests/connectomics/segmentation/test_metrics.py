"""VI split/merge and adapted Rand error: against scikit-image, known cases, background handling."""

import numpy as np
import pytest
from skimage.metrics import adapted_rand_error as sk_arand
from skimage.metrics import variation_of_information as sk_vi

from neuralscope.connectomics.metrics import adapted_rand_error, evaluate_segmentation, variation_of_information
from neuralscope.core.errors import NeuralscopeError


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_scikit_image(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 7, size=(12, 20, 20))
    seg = (truth * 3 + rng.integers(0, 3, size=truth.shape)) % 9
    split, merge = variation_of_information(seg, truth)
    ref = sk_vi(truth, seg, ignore_labels=(0,))  # [false splits, false merges]
    assert split == pytest.approx(ref[0], abs=1e-10)
    assert merge == pytest.approx(ref[1], abs=1e-10)
    assert adapted_rand_error(seg, truth) == pytest.approx(sk_arand(truth, seg, ignore_labels=(0,))[0], abs=1e-10)


def test_known_split_and_merge():
    truth = np.array([1, 1, 2, 2])
    assert variation_of_information(np.array([5, 6, 7, 7]), truth) == (0.5, 0.0)  # object 1 cut in two
    assert variation_of_information(np.array([3, 3, 3, 3]), truth) == (0.0, 1.0)  # both glued together
    assert adapted_rand_error(np.array([9, 9, 4, 4]), truth) == 0.0


def test_identical_partitions_up_to_relabelling_score_zero():
    rng = np.random.default_rng(3)
    truth = rng.integers(1, 50, size=(10, 10, 10))
    perm = rng.permutation(1000)
    seg = perm[truth]
    assert variation_of_information(seg, truth) == (0.0, 0.0)
    assert adapted_rand_error(seg, truth) == 0.0


def test_background_handling():
    truth = np.array([0, 0, 1, 1, 2, 2])
    # Truth 0 voxels are ignored whatever the segmentation says there.
    a = variation_of_information(np.array([7, 8, 1, 1, 2, 2]), truth)
    assert a == (0.0, 0.0)
    # Segmentation 0 is an ordinary segment: leaving voxels unlabelled merges them.
    seg = np.array([0, 0, 0, 0, 0, 2])
    split, merge = variation_of_information(seg, truth)
    assert merge > 0.5
    # ... unless the caller drops them explicitly.
    assert variation_of_information(seg, truth, ignore_seg=(0,)) == (0.0, 0.0)


def test_per_object_lists_sum_to_totals_and_rank_worst_first():
    truth = np.repeat([1, 2, 3], 100)
    seg = truth.copy()
    seg[:50] = 10  # truth 1 split in two halves
    seg[200:] = 2  # truth 3 merged into segment 2
    scores = evaluate_segmentation(seg, truth)
    assert scores.split_objects["vi_split"].sum() == pytest.approx(scores.vi_split)
    assert scores.merge_objects["vi_merge"].sum() == pytest.approx(scores.vi_merge)
    assert scores.split_objects.iloc[0]["truth_id"] == 1 and scores.split_objects.iloc[0]["n_segments"] == 2
    assert scores.merge_objects.iloc[0]["seg_id"] == 2 and scores.merge_objects.iloc[0]["n_truth"] == 2
    assert 0 < scores.adapted_rand_error < 1
    # Pairs: truth 1 cut 50 / 50 loses 50 * 50 pairs; segment 2 joins 100 + 100 voxels of two objects.
    split_pairs = scores.split_objects.set_index("truth_id")["split_pairs"]
    merge_pairs = scores.merge_objects.set_index("seg_id")["merge_pairs"]
    assert split_pairs[1] == 2500 and split_pairs[2] == split_pairs[3] == 0
    assert merge_pairs[2] == 100 * 100 and merge_pairs[10] == merge_pairs[1] == 0


def test_pair_columns_give_the_adapted_rand_error():
    rng = np.random.default_rng(4)
    truth = rng.integers(1, 6, 2000)
    seg = np.where(rng.random(2000) < 0.3, rng.integers(1, 9, 2000), truth)
    scores = evaluate_segmentation(seg, truth)
    n_ij = np.unique(np.stack([seg, truth]), axis=1, return_counts=True)[1].astype(float)
    same_both = ((n_ij ** 2).sum() - truth.size) / 2
    same_truth = same_both + scores.split_objects["split_pairs"].sum()
    same_seg = same_both + scores.merge_objects["merge_pairs"].sum()
    assert 1 - 2 * same_both / (same_truth + same_seg) == pytest.approx(scores.adapted_rand_error)


def test_bad_input():
    with pytest.raises(NeuralscopeError, match="same shape"):
        variation_of_information(np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(NeuralscopeError, match="integer"):
        adapted_rand_error(np.zeros(3), np.ones(3, int))
    with pytest.raises(NeuralscopeError, match="voxel"):
        variation_of_information(np.ones(3, int), np.zeros(3, int))  # everything ignored
