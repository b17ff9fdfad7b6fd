"""FloodFiller: oracle recovery, movement over objects larger than the FOV, acceptance, checks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neuralscope.connectomics.ffn.inference import FloodFiller, peak_seeds
from neuralscope.connectomics.ffn.model import FFNConfig, FFNModel
from neuralscope.connectomics.metrics import evaluate_segmentation
from neuralscope.core.errors import NeuralscopeError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ffn_helpers import OracleFFN, voronoi_labels  # noqa: E402


def test_oracle_recovers_every_object():
    labels = voronoi_labels((20, 40, 40), n_cells=12, seed=0)
    filler = FloodFiller(OracleFFN(), normalize=False, min_segment_size=10, device="cpu")
    seg = filler.segment(labels.astype(np.float32))
    scores = evaluate_segmentation(seg, labels)
    assert scores.adapted_rand_error < 0.05
    assert filler.stats_["objects"] == 12 and (seg == 0).mean() < 0.01


def test_movement_covers_a_long_thin_object():
    """A 4 x 4 x 90 tube in a 9^3 FOV: only FOV moves along the mask can reach its far end."""
    labels = np.ones((12, 12, 100), np.int64)
    labels[4:8, 4:8, 5:95] = 2
    oracle = OracleFFN()
    filler = FloodFiller(oracle, normalize=False, min_segment_size=10, device="cpu")
    seg = filler.segment(labels.astype(np.float32), seeds=[(6, 6, 50)])
    tube = labels == 2
    assert np.all(seg[tube] == seg[6, 6, 50]) and seg[6, 6, 50] != 0
    assert not np.any(seg[~tube] == seg[6, 6, 50])
    # The tube needs ~90 / delta steps; a bounded search, not a sweep of the whole volume.
    assert 40 <= filler.stats_["steps"] < 200


def test_tiny_objects_are_rejected_and_seeds_skip_segmented_voxels():
    labels = np.ones((16, 16, 16), np.int64)
    labels[2:4, 2:4, 2:3] = 2  # 4 voxels
    filler = FloodFiller(OracleFFN(), normalize=False, min_segment_size=20, device="cpu")
    seg = filler.segment(labels.astype(np.float32), seeds=[(8, 8, 8), (3, 3, 2), (9, 9, 9), (10, 10, 10)])
    assert np.all(seg[labels == 1] == 1) and np.all(seg[labels == 2] == 0)
    assert filler.stats_["seeds_tried"] == 2  # the last two seeds lie in object 1 already
    assert filler.stats_["rejected"] == 1


def test_real_network_inference_is_deterministic():
    torch.manual_seed(0)
    model = FFNModel(FFNConfig(fov=(9, 9, 9), delta=(2, 2, 2), channels=4, depth=1))
    torch.nn.init.normal_(model.head.weight, std=0.5)
    torch.nn.init.constant_(model.head.bias, 3.0)  # spreads, so the FOV moves
    raw = np.random.default_rng(0).integers(0, 255, (12, 20, 20)).astype(np.uint8)
    a = FloodFiller(model, min_segment_size=5, device="cpu", max_steps_per_object=30).segment(raw)
    b = FloodFiller(model, min_segment_size=5, device="cpu", max_steps_per_object=30).segment(raw)
    assert a.dtype == np.uint64 and a.shape == raw.shape and a.max() >= 1
    np.testing.assert_array_equal(a, b)
    s1 = FloodFiller(model, device="cpu", max_steps_per_object=30).segment(raw, seed_order="shuffle", random_state=4)
    s2 = FloodFiller(model, device="cpu", max_steps_per_object=30).segment(raw, seed_order="shuffle", random_state=4)
    np.testing.assert_array_equal(s1, s2)
    eager = FloodFiller(model, min_segment_size=5, device="cpu", max_steps_per_object=30, optimize=False).segment(raw)
    assert (eager == a).mean() > 0.999  # traced graph = eager model up to float32 rounding


def test_inference_delta_override_and_check():
    labels = np.ones((12, 12, 100), np.int64)
    labels[4:8, 4:8, 5:95] = 2
    coarse = FloodFiller(OracleFFN(), normalize=False, delta=(4, 4, 4), device="cpu")
    seg = coarse.segment(labels.astype(np.float32), seeds=[(6, 6, 50)])
    assert np.all(seg[labels == 2] == seg[6, 6, 50]) and coarse.stats_["steps"] < 40
    with pytest.raises(NeuralscopeError):
        FloodFiller(OracleFFN(), delta=(5, 2, 2), device="cpu").segment(labels.astype(np.float32))


def test_peak_seeds_are_inside_cells_and_farthest_first():
    labels = voronoi_labels((16, 32, 32), n_cells=6, seed=2)
    seeds = peak_seeds(labels.astype(np.float32), min_distance=3)
    assert len(seeds) >= 6
    edge = np.zeros(labels.shape, bool)
    for ax in range(3):
        d = np.diff(labels, axis=ax) != 0
        lo = [slice(None)] * 3
        lo[ax] = slice(0, -1)
        edge[tuple(lo)] |= d
    assert not edge[tuple(seeds[:6].T)].any()
    # every cell gets at least one seed
    assert set(np.unique(labels[tuple(seeds.T)])) == set(range(1, 7))


@pytest.mark.parametrize("raw", [np.zeros((8, 8)), np.zeros((0, 8, 8)), np.full((8, 8, 8), np.nan),
                                 np.array([["a"]])])
def test_bad_volume_raises(raw):
    with pytest.raises(NeuralscopeError):
        FloodFiller(OracleFFN(), device="cpu").segment(raw)


def test_bad_options_raise():
    raw = np.ones((8, 8, 8), np.float32)
    with pytest.raises(NeuralscopeError):
        FloodFiller(OracleFFN(), device="cpu").segment(raw, seeds=[(8, 0, 0)])
    with pytest.raises(NeuralscopeError):
        FloodFiller(OracleFFN(), device="cpu").segment(raw, seed_order="sideways")
    with pytest.raises(NeuralscopeError):
        FloodFiller(OracleFFN(), move_threshold=1.5, device="cpu").segment(raw)
    with pytest.raises(NeuralscopeError):
        FloodFiller(OracleFFN(), device="tpu").segment(raw)


def test_padding_outside_the_volume_does_not_join_objects():
    """Two slabs of the same raw value at opposite faces: the zero padding around the volume
    looks like them to the oracle, but objects are connected only through voxels inside."""
    raw = np.ones((10, 10, 30), np.float32)
    raw[..., :3] = 0.0
    raw[..., -3:] = 0.0
    filler = FloodFiller(OracleFFN(), normalize=False, min_segment_size=10, device="cpu")
    seg = filler.segment(raw, seeds=[(5, 5, 1), (5, 5, 28), (5, 5, 15)])
    assert seg[5, 5, 1] != seg[5, 5, 28] and np.all(seg[..., :3] == seg[5, 5, 1])
    assert len(np.unique(seg)) == 3 and np.all(seg > 0)
