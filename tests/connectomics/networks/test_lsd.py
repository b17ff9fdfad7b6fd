"""Local shape descriptors: values on shapes with known moments, augmentation, training with them."""

from __future__ import annotations

import numpy as np
import pytest

from neuralscope.connectomics.networks.lsd import local_shape_descriptors, transform_descriptors
from neuralscope.connectomics.networks.training import augment, sample_patch


def _blocks():
    """Four objects: two half-volumes, one of them cut again, and a thin bar across them."""
    lab = np.zeros((30, 32, 34), np.int64)
    lab[:, :16] = 1
    lab[:, 16:, :20] = 2
    lab[:, 16:, 20:] = 3
    lab[5:12, 3:9, 4:30] = 4
    return lab


def test_one_object_filling_the_window_has_the_window_moments():
    lab = np.ones((41, 41, 41), np.int64)
    d = local_shape_descriptors(lab, sigma=3.0)
    centre = d[:, 20, 20, 20]
    np.testing.assert_allclose(centre[:3], 0.5, atol=1e-6)  # no offset
    k = np.arange(-9, 10)  # the discrete kernel, cut at 3 sigma: its variance is a little under sigma**2
    w = np.exp(-k ** 2 / 18.0)
    np.testing.assert_allclose(centre[3:6], (w * k ** 2).sum() / w.sum() / 9.0, atol=1e-4)
    assert 0.95 < centre[3] < 1.0
    np.testing.assert_allclose(centre[6:9], 0.5, atol=1e-6)  # uncorrelated coordinates
    np.testing.assert_allclose(centre[9], 1.0, atol=1e-3)  # the whole window is the object


def test_voxel_at_an_object_face_points_into_its_object():
    lab = np.ones((21, 21, 40), np.int64)
    lab[..., 20:] = 2
    d = local_shape_descriptors(lab, sigma=3.0)
    left, right = d[:, 10, 10, 19], d[:, 10, 10, 20]
    assert left[2] < 0.4 and right[2] > 0.6  # centre of mass lies back inside each object, along x only
    np.testing.assert_allclose([left[0], left[1], right[0], right[1]], 0.5, atol=1e-6)
    assert left[5] < 0.5 and left[3] > 0.95  # half a window: narrower along x only
    assert 0.5 < left[9] < 0.6  # a little over half a window: the voxel's own column counts


def test_diagonal_bar_has_correlated_coordinates():
    lab = np.ones((5, 40, 40), np.int64)
    yy, xx = np.mgrid[:40, :40]
    lab[:, np.abs(yy - xx) <= 2] = 2
    d = local_shape_descriptors(lab, sigma=3.0)
    assert d[8, 2, 20, 20] > 0.9  # (y, x): the bar runs along y = x
    assert abs(d[6, 2, 20, 20] - 0.5) < 0.05 and abs(d[7, 2, 20, 20] - 0.5) < 0.05


def test_unlabelled_voxels_are_zero_and_values_stay_in_range():
    lab = _blocks()
    lab[0] = 0
    d = local_shape_descriptors(lab, sigma=3.0)
    assert d.shape == (10, *lab.shape) and d.dtype == np.float32
    assert np.all(d[:, 0] == 0)
    assert d.min() >= 0.0 and d.max() <= 1.0
    # ids need not be consecutive or start at 1
    np.testing.assert_array_equal(local_shape_descriptors(lab * 7 + np.where(lab > 0, 100, 0), sigma=3.0), d)


@pytest.mark.parametrize("seed", range(12))
def test_augmenting_descriptors_equals_descriptors_of_augmented_labels(seed):
    lab = _blocks()
    d = local_shape_descriptors(lab, sigma=3.0)
    raw = np.zeros(lab.shape, np.float32)
    _, lab2, d2 = augment(raw, lab, np.random.default_rng(seed), True, descriptors=d)
    np.testing.assert_allclose(d2, local_shape_descriptors(lab2, sigma=3.0), atol=1e-4)
    # the random stream is the same with or without descriptors
    raw_a, lab_a = augment(raw, lab, np.random.default_rng(seed), True)
    np.testing.assert_array_equal(lab_a, lab2)


def test_transform_without_change_is_identity_and_flip_twice_returns():
    d = local_shape_descriptors(_blocks(), sigma=3.0)
    np.testing.assert_array_equal(transform_descriptors(d, (False,) * 3, (0, 1, 2)), d)
    once = transform_descriptors(d, (True, False, True), (0, 1, 2))
    np.testing.assert_allclose(transform_descriptors(once, (True, False, True), (0, 1, 2)), d, atol=1e-6)


def test_sample_patch_cuts_the_same_window_of_descriptors():
    lab = _blocks()
    d = local_shape_descriptors(lab, sigma=3.0)
    raw = np.arange(lab.size, dtype=np.float32).reshape(lab.shape)
    r1, l1 = sample_patch(raw, lab, (8, 8, 8), np.random.default_rng(3))
    r2, l2, d2 = sample_patch(raw, lab, (8, 8, 8), np.random.default_rng(3), descriptors=d)
    np.testing.assert_array_equal(r1, r2)
    z, y, x = np.unravel_index(int(r2[0, 0, 0]), lab.shape)
    np.testing.assert_array_equal(d2, d[:, z:z + 8, y:y + 8, x:x + 8])


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="3-D"):
        local_shape_descriptors(np.ones((4, 4), np.int64))
    with pytest.raises(ValueError, match="integers"):
        local_shape_descriptors(np.ones((4, 4, 4), np.float32))
    with pytest.raises(ValueError, match="sigma"):
        local_shape_descriptors(np.ones((4, 4, 4), np.int64), sigma=0)


def test_training_with_descriptors_learns_them_and_is_seeded():
    torch = pytest.importorskip("torch")
    from neuralscope.connectomics.networks import AffinityTrainer, UNet3d, UNetConfig, predict_affinities

    lab = _blocks()[:, :, :32]
    rng = np.random.default_rng(0)
    boundary = np.zeros(lab.shape, bool)
    for axis in range(3):
        cut = np.diff(lab, axis=axis) != 0
        sl = [slice(None)] * 3
        sl[axis] = slice(1, None)
        boundary[tuple(sl)] |= cut
    raw = np.where(boundary, -1.0, 1.0).astype(np.float32) + rng.normal(0, 0.2, lab.shape).astype(np.float32)
    d = local_shape_descriptors(lab, sigma=3.0)
    offsets = [(1, 0, 0), (0, 1, 0), (0, 0, 1)]

    def run(seed):
        torch.manual_seed(seed)
        model = UNet3d(UNetConfig(out_channels=13, widths=(4, 8), pool=((2, 2, 2),), extra={"offsets": offsets, "lsd": {"channels": 10}}))
        trainer = AffinityTrainer(model, offsets, patch=(16, 16, 16), lr=1e-2, loss_margin=2, seed=seed, lsd=1.0)
        return model, trainer, [trainer.step(raw, lab, descriptors=d) for _ in range(30)]

    model, trainer, losses = run(2)
    assert np.mean(losses[-6:]) < 0.8 * np.mean(losses[:6])
    assert losses == run(2)[2]
    with pytest.raises(ValueError, match="descriptors"):
        trainer.step(raw, lab)
    with pytest.raises(ValueError, match="13 outputs"):
        AffinityTrainer(model, offsets, lsd=0.0)
    # the descriptor outputs are never returned as affinities
    assert predict_affinities(raw, model, device="cpu", channels="all").shape == (3, *lab.shape)
