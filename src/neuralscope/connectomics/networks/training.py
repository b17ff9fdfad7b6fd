"""Training an affinity U-Net on labelled EM: patch sampling, augmentation, steps.

Used by ``scripts/train_affinities.py`` (the shipped weights) and by the tests
(a few steps on a synthetic volume). Everything random draws from one seeded
``numpy.random.Generator`` so that a seed fixes the run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuralscope.connectomics.networks.targets import DEFAULT_OFFSETS, balanced_bce, labels_to_affinities


def volume_stats(raw: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of a volume from a strided subsample (cheap, deterministic)."""
    step = max(1, int(round((np.prod(raw.shape) / 2e6) ** (1 / 3))))
    sample = np.asarray(raw[::step, ::step, ::step], dtype=np.float64)
    std = float(sample.std())
    return float(sample.mean()), std if std > 0 else 1.0


def augment(raw: np.ndarray, labels: np.ndarray, rng: np.random.Generator, isotropic: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Random flips, axis permutations (isotropic data only) and intensity changes.

    Geometry is applied to raw and labels alike; targets are computed afterwards from the
    transformed labels, so affinities stay consistent. ``raw`` is float (standardised).
    """
    for axis in range(3):
        if rng.random() < 0.5:
            raw, labels = np.flip(raw, axis), np.flip(labels, axis)
    if isotropic:
        perm = tuple(rng.permutation(3))
    else:  # keep z first, y/x may swap
        perm = (0, *tuple(1 + rng.permutation(2)))
    raw, labels = raw.transpose(perm), labels.transpose(perm)
    raw = raw * rng.uniform(0.7, 1.3) + rng.uniform(-0.3, 0.3)
    raw = raw + rng.normal(0.0, rng.uniform(0.0, 0.15), raw.shape).astype(np.float32)
    return np.ascontiguousarray(raw, dtype=np.float32), np.ascontiguousarray(labels)


def sample_patch(raw: np.ndarray, labels: np.ndarray, shape: Sequence[int], rng: np.random.Generator,
                 z_range: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A random patch of ``shape`` from ``raw``/``labels`` (z restricted to ``z_range``)."""
    z0, z1 = z_range if z_range is not None else (0, raw.shape[0])
    lims = (z1 - z0, raw.shape[1], raw.shape[2])
    if any(s > lim for s, lim in zip(shape, lims)):
        raise ValueError(f"patch {tuple(shape)} larger than the training region {lims}")
    start = [int(rng.integers(0, lim - s + 1)) for s, lim in zip(shape, lims)]
    start[0] += z0
    sl = tuple(slice(a, a + s) for a, s in zip(start, shape))
    return raw[sl], labels[sl]


class ResumableTrainer:
    """Checkpointing shared by the trainers: subclasses set ``model``, ``optimizer`` and ``rng``."""

    def state_dict(self) -> dict:
        """Everything needed to resume (model, optimiser, random generator)."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Resume from :meth:`state_dict`."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]


class AffinityTrainer(ResumableTrainer):
    """Stateful trainer: one :meth:`step` = one augmented batch and an Adam update.

    Parameters
    ----------
    model : UNet3d
        Network to train (its ``config.out_channels`` must equal ``len(offsets)``).
    offsets : sequence of (dz, dy, dx)
        Affinity offsets predicted, nearest-neighbour first.
    patch : tuple of int
        Patch shape (z, y, x); divisible by the network's total pooling.
    batch_size : int
        Patches per step.
    lr : float
        Adam learning rate.
    loss_margin : int
        Voxels cropped from each patch side before the loss (zero-padding artefacts).
    isotropic : bool
        Allow permuting z with y/x in augmentation.
    seed : int
        Seed of patch sampling and augmentation (torch initialisation is seeded by the caller).
    malis : float
        Weight of the constrained MALIS loss (:mod:`~neuralscope.connectomics.networks.malis`) added to
        the balanced per-edge loss; 0 (default) trains on the per-edge loss alone.
    """

    def __init__(self, model, offsets: Sequence[Sequence[int]] = DEFAULT_OFFSETS, patch=(64, 64, 64),
                 batch_size: int = 1, lr: float = 1e-3, loss_margin: int = 8, isotropic: bool = True, seed: int = 0,
                 malis: float = 0.0):
        import torch

        self.model = model
        self.offsets = [tuple(int(v) for v in o) for o in offsets]
        self.patch = tuple(int(p) for p in patch)
        self.batch_size = int(batch_size)
        self.loss_margin = int(loss_margin)
        self.isotropic = bool(isotropic)
        self.malis = float(malis)
        self.rng = np.random.default_rng(seed)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def batch(self, raw: np.ndarray, labels: np.ndarray, z_range=None):
        """Draw one augmented batch: tensors (input, target, mask) and the labels (numpy)."""
        import torch

        xs, ts, ms, labs = [], [], [], []
        for _ in range(self.batch_size):
            r, lab = sample_patch(raw, labels, self.patch, self.rng, z_range)
            r, lab = augment(r, lab, self.rng, self.isotropic)
            aff, mask = labels_to_affinities(lab, self.offsets)
            m = self.loss_margin
            if m:
                crop = np.zeros_like(mask)
                crop[:, m:-m, m:-m, m:-m] = 1.0
                mask = mask * crop
            xs.append(r[None])
            ts.append(aff)
            ms.append(mask)
            labs.append(lab)
        return (torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ts)), torch.from_numpy(np.stack(ms)),
                np.stack(labs))

    def step(self, raw: np.ndarray, labels: np.ndarray, z_range=None) -> float:
        """One optimisation step on standardised ``raw`` and integer ``labels``; returns the loss."""
        x, t, m, lab = self.batch(raw, labels, z_range)
        self.model.train()
        self.optimizer.zero_grad()
        logits = self.model(x)
        loss = balanced_bce(logits, t, m)
        if self.malis:
            from neuralscope.connectomics.networks.malis import malis_loss

            loss = loss + self.malis * malis_loss(logits, lab, self.loss_margin)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())
