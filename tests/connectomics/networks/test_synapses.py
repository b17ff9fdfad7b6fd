"""Synapse detection: point matching, probability -> points, the shipped simulated-data model."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuralscope.connectomics.networks import detect_synapses, load_synapse_model, match_points  # noqa: E402
from neuralscope.connectomics.networks.simulate_synapses import simulate_synapse_volume  # noqa: E402
from neuralscope.connectomics.networks.synapses import (  # noqa: E402
    DEFAULT_SYNAPSE_WEIGHTS,
    downsample_volume,
    probability_to_points,
    truth_points,
)
from neuralscope.core.errors import NeuralscopeError  # noqa: E402


def test_match_points_tolerance_and_one_to_one():
    truth = np.array([[0, 0, 0], [0, 10, 10], [0, 50, 50]])
    pred = np.array([[0, 1, 0], [0, 0, 1], [0, 11, 10], [0, 90, 90]])
    r = match_points(pred, truth, tolerance=2.0)
    # two predictions near the first point: only one may match it
    assert (r["n_matched"], r["n_predicted"], r["n_true"]) == (2, 4, 3)
    assert r["precision"] == pytest.approx(0.5) and r["recall"] == pytest.approx(2 / 3)
    # anisotropic voxels: one section apart is 45 nm, beyond a 40 nm tolerance
    r2 = match_points(np.array([[1, 0, 0]]), np.array([[0, 0, 0]]), tolerance=40.0, voxel_size=(45, 4.6, 4.6))
    assert r2["n_matched"] == 0
    empty = match_points(np.zeros((0, 3)), np.zeros((0, 3)), 1.0)
    assert empty["precision"] == empty["recall"] == 1.0


def test_probability_to_points_and_truth_points():
    prob = np.zeros((3, 20, 20), np.float32)
    prob[1, 4:7, 4:7] = 0.9
    prob[:, 14:16, 10:12] = 0.8
    prob[0, 0, 19] = 0.95  # a single voxel: below min_size
    pts = probability_to_points(prob, 0.5, min_size=4)
    assert len(pts) == 2
    np.testing.assert_allclose(sorted(pts[:, :3].tolist()), [[1, 5, 5], [1, 14.5, 10.5]])
    np.testing.assert_allclose(truth_points(prob > 0.5, min_size=4), pts[:, :3])


def test_downsample_volume_block_mean():
    vol = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    small = downsample_volume(vol, 2)
    assert small.shape == (2, 2, 3)
    assert small[0, 0, 0] == pytest.approx(np.mean([0, 1, 6, 7]))
    with pytest.raises(NeuralscopeError):
        downsample_volume(vol, 8)


def test_simulator_is_seeded():
    a = simulate_synapse_volume(shape=(3, 48, 48), n_cells=8, n_synapses=3, seed=5)
    b = simulate_synapse_volume(shape=(3, 48, 48), n_cells=8, n_synapses=3, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1].any()


def test_shipped_synapse_model_finds_simulated_synapses():
    assert DEFAULT_SYNAPSE_WEIGHTS.is_file() and DEFAULT_SYNAPSE_WEIGHTS.stat().st_size < 5e6
    model, meta = load_synapse_model()
    raw, mask = simulate_synapse_volume(shape=(6, 128, 128), seed=4242)  # seed not used in training
    det = detect_synapses(raw, model, {**meta, "downsample": 1}, device="cpu")
    assert list(det.columns) == ["z", "y", "x", "probability", "size"]
    r = match_points(det[["z", "y", "x"]].to_numpy(), truth_points(mask, min_size=20), tolerance=6.0)
    assert r["recall"] >= 0.6 and r["precision"] >= 0.5, r
    with pytest.raises(NeuralscopeError, match="threshold"):
        detect_synapses(raw, model, meta, threshold=1.5, device="cpu")


def test_shipped_synapse_model_finds_isotropic_simulated_synapses():
    from neuralscope.datasets.em import simulate_em_volume

    model, meta = load_synapse_model()
    vol = simulate_em_volume((32, 96, 96), n_synapses=20, random_state=4243)  # seeds 5000+ trained on
    det = detect_synapses(np.asarray(vol.raw), model, {**meta, "downsample": 1}, device="cpu")
    r = match_points(det[["z", "y", "x"]].to_numpy(), vol.synapses[["z", "y", "x"]].to_numpy(float), tolerance=5.0)
    assert r["recall"] >= 0.7 and r["precision"] >= 0.7, r


def test_detection_streams_in_slabs_with_the_whole_volume_result():
    model, meta = load_synapse_model()
    raw, _ = simulate_synapse_volume(shape=(12, 64, 64), n_synapses=4, seed=4243)
    meta1 = {**meta, "downsample": 1}
    whole = detect_synapses(raw, model, meta1, device="cpu", slab_slices=64)
    slabs = detect_synapses(raw, model, meta1, device="cpu", slab_slices=4, halo_slices=6)
    assert len(whole) >= 2
    cols = ["z", "y", "x"]
    np.testing.assert_allclose(slabs.sort_values(cols)[cols].to_numpy(), whole.sort_values(cols)[cols].to_numpy(),
                               atol=1e-4)
    with pytest.raises(NeuralscopeError):
        detect_synapses(raw, model, meta1, device="cpu", slab_slices=0)
