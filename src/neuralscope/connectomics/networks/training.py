"""Training an affinity U-Net on labelled EM: patch sampling, augmentation, steps.

Used by ``scripts/train_affinities.py`` (the shipped weights) and by the tests
(a few steps on a synthetic volume). Everything random draws from one seeded
``numpy.random.Generator`` so that a seed fixes the run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuralscope.connectomics.networks.lsd import N_DESCRIPTORS
from neuralscope.connectomics.networks.targets import DEFAULT_OFFSETS, balanced_bce, labels_to_affinities


def interior(shape: Sequence[int], margin: int) -> np.ndarray:
    """Boolean array of ``shape``, True except within ``margin`` voxels of the last three axes' ends."""
    keep = np.zeros(tuple(shape), bool)
    keep[(..., *(slice(margin, n - margin) for n in shape[-3:]))] = True
    return keep


def descriptor_loss(logits, target, labels: np.ndarray, margin: int = 0):
    """Mean-squared error of ``sigmoid(logits)`` against descriptor targets, on labelled voxels
    at least ``margin`` voxels from the patch faces (``labels`` numpy, ``(batch, z, y, x)``)."""
    import torch

    keep = (np.asarray(labels) > 0) & interior(np.shape(labels), margin)
    mask = torch.from_numpy(keep[:, None].astype(np.float32))
    err = (torch.sigmoid(logits) - target) ** 2 * mask
    return err.sum() / (mask.sum() * logits.shape[1]).clamp_min(1.0)


def volume_stats(raw: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of a volume from a strided subsample (cheap, deterministic)."""
    step = max(1, int(round((np.prod(raw.shape) / 2e6) ** (1 / 3))))
    sample = np.asarray(raw[::step, ::step, ::step], dtype=np.float64)
    std = float(sample.std())
    return float(sample.mean()), std if std > 0 else 1.0


def augment(raw: np.ndarray, labels: np.ndarray, rng: np.random.Generator, isotropic: bool = True,
            descriptors: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Random flips, axis permutations (isotropic data only) and intensity changes.

    Geometry is applied to raw and labels alike; targets are computed afterwards from the
    transformed labels, so affinities stay consistent. ``raw`` is float (standardised).
    With ``descriptors`` (local shape descriptors of ``labels``, channels first) the same
    geometry is applied to them as well (:func:`~neuralscope.connectomics.networks.lsd.transform_descriptors`)
    and they are returned third; the random draws are the same either way.
    """
    flips = []
    for axis in range(3):
        flips.append(bool(rng.random() < 0.5))
        if flips[-1]:
            raw, labels = np.flip(raw, axis), np.flip(labels, axis)
    if isotropic:
        perm = tuple(rng.permutation(3))
    else:  # keep z first, y/x may swap
        perm = (0, *tuple(1 + rng.permutation(2)))
    raw, labels = raw.transpose(perm), labels.transpose(perm)
    raw = raw * rng.uniform(0.7, 1.3) + rng.uniform(-0.3, 0.3)
    raw = raw + rng.normal(0.0, rng.uniform(0.0, 0.15), raw.shape).astype(np.float32)
    out = (np.ascontiguousarray(raw, dtype=np.float32), np.ascontiguousarray(labels))
    if descriptors is None:
        return out
    from neuralscope.connectomics.networks.lsd import transform_descriptors

    return (*out, transform_descriptors(descriptors, flips, perm))


def sample_patch(raw: np.ndarray, labels: np.ndarray, shape: Sequence[int], rng: np.random.Generator,
                 z_range: tuple[int, int] | None = None, descriptors: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """A random patch of ``shape`` from ``raw``/``labels`` (z restricted to ``z_range``).

    With ``descriptors`` (channels first, spatially aligned with ``labels``) the same window of
    them is returned third.
    """
    z0, z1 = z_range if z_range is not None else (0, raw.shape[0])
    lims = (z1 - z0, raw.shape[1], raw.shape[2])
    if any(s > lim for s, lim in zip(shape, lims)):
        raise ValueError(f"patch {tuple(shape)} larger than the training region {lims}")
    start = [int(rng.integers(0, lim - s + 1)) for s, lim in zip(shape, lims)]
    start[0] += z0
    sl = tuple(slice(a, a + s) for a, s in zip(start, shape))
    if descriptors is None:
        return raw[sl], labels[sl]
    return raw[sl], labels[sl], descriptors[(slice(None), *sl)]


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
    lsd : float
        Weight of the local-shape-descriptor loss (:mod:`~neuralscope.connectomics.networks.lsd`,
        mean-squared error of the sigmoid outputs on labelled voxels). With ``lsd > 0`` the network
        has ``len(offsets) + 10`` outputs, the descriptors after the affinities, and :meth:`step`
        needs the training volume's ``descriptors``.
    """

    def __init__(self, model, offsets: Sequence[Sequence[int]] = DEFAULT_OFFSETS, patch=(64, 64, 64),
                 batch_size: int = 1, lr: float = 1e-3, loss_margin: int = 8, isotropic: bool = True, seed: int = 0,
                 malis: float = 0.0, lsd: float = 0.0):
        import torch

        self.model = model
        self.offsets = [tuple(int(v) for v in o) for o in offsets]
        self.patch = tuple(int(p) for p in patch)
        self.batch_size = int(batch_size)
        self.loss_margin = int(loss_margin)
        self.isotropic = bool(isotropic)
        self.malis = float(malis)
        self.lsd = float(lsd)
        expected = len(self.offsets) + (N_DESCRIPTORS if self.lsd else 0)
        if model.config.out_channels != expected:
            raise ValueError(f"the network has {model.config.out_channels} outputs; {expected} needed "
                             f"({len(self.offsets)} affinities{f' + {N_DESCRIPTORS} descriptors' if self.lsd else ''})")
        self.rng = np.random.default_rng(seed)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def batch(self, raw: np.ndarray, labels: np.ndarray, z_range=None, descriptors: np.ndarray | None = None):
        """Draw one augmented batch: tensors (input, target, mask), the labels (numpy) and, with
        ``descriptors``, their augmented patches (tensor; else ``None``)."""
        import torch

        xs, ts, ms, labs, ds = [], [], [], [], []
        for _ in range(self.batch_size):
            if descriptors is None:
                r, lab = sample_patch(raw, labels, self.patch, self.rng, z_range)
                r, lab = augment(r, lab, self.rng, self.isotropic)
            else:
                r, lab, d = sample_patch(raw, labels, self.patch, self.rng, z_range, descriptors)
                r, lab, d = augment(r, lab, self.rng, self.isotropic, descriptors=d)
                ds.append(d)
            aff, mask = labels_to_affinities(lab, self.offsets)
            if self.loss_margin:
                mask = mask * interior(mask.shape, self.loss_margin)
            xs.append(r[None])
            ts.append(aff)
            ms.append(mask)
            labs.append(lab)
        return (torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ts)), torch.from_numpy(np.stack(ms)),
                np.stack(labs), torch.from_numpy(np.stack(ds)) if ds else None)

    def step(self, raw: np.ndarray, labels: np.ndarray, z_range=None, descriptors: np.ndarray | None = None) -> float:
        """One optimisation step on standardised ``raw`` and integer ``labels``; returns the loss.

        ``descriptors`` (from :func:`~neuralscope.connectomics.networks.lsd.local_shape_descriptors`
        of ``labels``) are required when the trainer has ``lsd > 0`` and ignored otherwise.
        """
        if self.lsd and descriptors is None:
            raise ValueError("this trainer has lsd > 0: pass the training volume's descriptors")
        x, t, m, lab, d = self.batch(raw, labels, z_range, descriptors if self.lsd else None)
        self.model.train()
        self.optimizer.zero_grad()
        out = self.model(x)
        n_aff = len(self.offsets)
        logits = out[:, :n_aff]
        loss = balanced_bce(logits, t, m)
        if self.lsd:
            loss = loss + self.lsd * descriptor_loss(out[:, n_aff:], d, lab, self.loss_margin)
        if self.malis:
            from neuralscope.connectomics.networks.malis import malis_loss

            loss = loss + self.malis * malis_loss(logits, lab, self.loss_margin)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())
