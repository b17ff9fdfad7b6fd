"""Constrained MALIS: pair counts per edge against hand-countable cases, and the loss."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuralscope.connectomics.networks.malis import malis_loss, malis_weights  # noqa: E402
from neuralscope.connectomics.networks.training import AffinityTrainer  # noqa: E402
from neuralscope.connectomics.networks.unet import UNet3d, UNetConfig  # noqa: E402


def two_blocks(shape=(4, 6, 8)):
    labels = np.zeros(shape, np.int64)
    labels[..., : shape[2] // 2] = 5
    labels[..., shape[2] // 2:] = 9
    return labels


def test_counts_cover_every_pair_once():
    # A spanning forest decides each pair exactly once: within-object pairs on the positive
    # pass, pairs of different objects on the negative one.
    labels = two_blocks()
    aff = np.random.default_rng(0).uniform(0.2, 1.0, (3, *labels.shape)).astype(np.float32)
    weights, target = malis_weights(aff, labels)
    n = int((labels == 5).sum())
    assert weights[target == 1].sum() == pytest.approx(2 * n * (n - 1) / 2)
    assert weights[target == 0].sum() == pytest.approx(n * n)
    assert (weights >= 0).all()


def test_a_weak_neck_is_charged_the_product_of_the_parts():
    labels = np.ones((4, 6, 8), np.int64)
    aff = np.ones((3, *labels.shape), np.float32)
    aff[2, :, :, 4] = 0.1          # a wall of low affinities across x = 4 ...
    aff[2, 2, 3, 4] = 0.3          # ... with one slightly stronger edge: the maximin edge
    weights, target = malis_weights(aff, labels)
    half = 4 * 6 * 4
    assert weights[2, 2, 3, 4] == half * half
    wall = weights[2, :, :, 4].copy()
    wall[2, 3] = 0
    assert wall.sum() == 0
    assert target[2, :, :, 1:].all() and not target[2, :, :, 0].any()  # edges leaving the volume are not edges


def test_unlabelled_voxels_take_no_part():
    labels = two_blocks()
    labels[:, :, 3] = 0
    aff = np.full((3, *labels.shape), 0.5, np.float32)
    weights, target = malis_weights(aff, labels)
    assert weights[2, :, :, 3:5].sum() == 0  # both x-edges touching the unlabelled column
    assert weights[target == 0].sum() == 0   # the objects no longer touch


def test_shape_and_dtype_are_checked():
    with pytest.raises(ValueError, match="shape"):
        malis_weights(np.zeros((3, 2, 2, 2), np.float32), np.ones((2, 2, 3), np.int64))
    with pytest.raises(ValueError, match="integers"):
        malis_weights(np.zeros((3, 2, 2, 2), np.float32), np.ones((2, 2, 2), np.float32))


def test_loss_is_zero_for_the_truth_and_pulls_wrong_edges():
    labels = two_blocks()[None]
    _, target = malis_weights(np.zeros((3, *labels.shape[1:]), np.float32), labels[0])
    perfect = torch.from_numpy(np.where(target > 0, 20.0, -20.0).astype(np.float32))[None]
    assert float(malis_loss(perfect, labels)) < 1e-6
    wrong = (-perfect / 10).clone().requires_grad_(True)  # unsaturated, so gradients flow
    loss = malis_loss(wrong, labels)
    assert float(loss.detach()) > 0.5
    loss.backward()
    # Gradient descent raises within-object logits and lowers the ones between objects.
    assert float(wrong.grad[0][torch.from_numpy(target) > 0].sum()) < 0
    assert float(wrong.grad[0][torch.from_numpy(target) == 0].sum()) > 0


def test_trainer_with_malis_is_deterministic():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.repeat(rng.integers(1, 6, (4, 4, 4)), 6, 0), 6, 1).repeat(6, 2)
    raw = (labels % 3).astype(np.float32) + rng.normal(0, 0.1, labels.shape).astype(np.float32)
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        model = UNet3d(UNetConfig(out_channels=3, widths=(4, 8), pool=((2, 2, 2),)))
        trainer = AffinityTrainer(model, [(1, 0, 0), (0, 1, 0), (0, 0, 1)], patch=(16, 16, 16), loss_margin=2,
                                  seed=3, malis=1.0)
        losses.append([trainer.step(raw, labels) for _ in range(2)])
    assert losses[0] == losses[1]
    assert all(np.isfinite(losses[0]))
