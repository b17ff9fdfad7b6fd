"""Training a flood-filling network on densely labelled EM.

One training example is a region of ``fov + 2 * delta`` voxels centred on a voxel inside a
labelled object. The object mask there is the target (soft values 0.05 / 0.95, as in
Januszewski et al. 2018). The network runs recurrently on the region's own POM canvas: the
first pass sees the FOV at the region centre with only the seed set; each later pass moves
the FOV by ``delta`` to the face of the centre cuboid where the network's *own* prediction is
highest and sees the POM it wrote there. Loss: binary cross-entropy on every pass, masked to
labelled voxels. All randomness comes from one seeded ``numpy.random.Generator`` (torch's
initialisation is seeded by the caller).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from neuralscope.connectomics.ffn.model import POM_HIGH, POM_LOW, FFNModel, logit
from neuralscope.connectomics.networks.training import ResumableTrainer, augment
from neuralscope.core.errors import NeuralscopeError

#: The six face moves (axis, sign) of the movement policy.
FACES = tuple((axis, sign) for axis in range(3) for sign in (-1, 1))


def face_scores(prob: np.ndarray, delta: Sequence[int]) -> list[tuple[float, int, int, tuple[int, ...]]]:
    """Maximum probability on each face of the centre cuboid of half-size ``delta``.

    Parameters
    ----------
    prob : numpy.ndarray
        Object probability over one FOV (odd shape).
    delta : sequence of int
        Half-size of the cuboid, i.e. the move step per axis.

    Returns
    -------
    list of (score, axis, sign, argmax offset)
        One entry per face (axes with ``delta == 0`` have none); ``argmax offset`` is the
        position of the face maximum relative to the FOV centre.
    """
    centre = [s // 2 for s in prob.shape]
    out = []
    for axis, sign in FACES:
        d = int(delta[axis])
        if d == 0:
            continue
        sel = [slice(c - int(dd), c + int(dd) + 1) for c, dd in zip(centre, delta)]
        sel[axis] = slice(centre[axis] + sign * d, centre[axis] + sign * d + 1)
        face = prob[tuple(sel)]
        idx = np.unravel_index(int(np.argmax(face)), face.shape)
        offset = tuple(int(sl.start + i - c) for sl, i, c in zip(sel, idx, centre))
        out.append((float(face[idx]), axis, sign, offset))
    return out


def _masked_bce(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)


class FFNTrainer(ResumableTrainer):
    """Stateful FFN trainer: one :meth:`step` = one augmented batch, recurrent passes, an Adam update.

    Parameters
    ----------
    model : FFNModel
        Network to train.
    batch_size : int
        Regions per step.
    passes : int
        Recurrent passes per region (1 = centre only; each further pass moves the FOV to the
        best-scoring unused face, at most 7).
    lr : float
        Adam learning rate.
    isotropic : bool
        Allow axis permutations in augmentation.
    balance : bool
        Balance regions by the object's share of the centre FOV: a region is kept with
        probability ``min(1, 2 * (1 - share))``, so FOVs filled by one large neurite (which
        teach "everything is object") are drawn less often than FOVs that contain boundaries.
    seed : int
        Seed of sampling and augmentation.
    """

    def __init__(self, model: FFNModel, batch_size: int = 8, passes: int = 2, lr: float = 1e-3,
                 isotropic: bool = True, balance: bool = True, seed: int = 0) -> None:
        if not 1 <= int(passes) <= 1 + len(FACES):
            raise NeuralscopeError("passes", "an integer in 1..7", passes)
        if int(batch_size) < 1:
            raise NeuralscopeError("batch_size", "a positive integer", batch_size)
        self.model = model
        self.batch_size = int(batch_size)
        self.passes = int(passes)
        self.isotropic = bool(isotropic)
        self.balance = bool(balance)
        self.rng = np.random.default_rng(seed)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        cfg = model.config
        self.fov = np.asarray(cfg.fov)
        self.delta = np.asarray(cfg.delta)
        self.region = tuple(int(v) for v in self.fov + 2 * self.delta)

    # -- data ---------------------------------------------------------------------------------
    def sample(self, raw: np.ndarray, labels: np.ndarray, rng: np.random.Generator, z_range=None,
               do_augment: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One region centred inside an object: (raw, soft target, loss mask), float32."""
        z0, z1 = z_range if z_range is not None else (0, raw.shape[0])
        lims = np.array([z1 - z0, raw.shape[1], raw.shape[2]])
        reg = np.array(self.region)
        if np.any(reg > lims):
            raise NeuralscopeError("training region", f"at least {tuple(reg)} voxels", tuple(lims))
        for _ in range(1000):
            start = np.array([rng.integers(0, lim - r + 1) for r, lim in zip(reg, lims)])
            start[0] += z0
            sl = tuple(slice(int(a), int(a + r)) for a, r in zip(start, reg))
            lab = labels[sl]
            obj = lab[tuple(reg // 2)]
            if obj == 0:
                continue
            if not self.balance:
                break
            core = lab[tuple(slice(int(d), int(d + f)) for d, f in zip(self.delta, self.fov))]
            if rng.random() < min(1.0, 2.0 * (1.0 - float(np.mean(core == obj)))):
                break
        else:
            raise NeuralscopeError("labels", "labelled objects (non-zero ids) in the training region", "none found")
        r = raw[sl]
        if do_augment:
            r, lab = augment(r, lab, rng, self.isotropic)
        obj = lab[tuple(reg // 2)]
        target = np.where(lab == obj, POM_HIGH, POM_LOW).astype(np.float32)
        mask = (lab != 0).astype(np.float32)
        return np.ascontiguousarray(r, np.float32), target, mask

    def _batch(self, raw, labels, rng, z_range, do_augment):
        items = [self.sample(raw, labels, rng, z_range, do_augment) for _ in range(self.batch_size)]
        return tuple(torch.from_numpy(np.stack([it[k] for it in items])[:, None]) for k in range(3))

    # -- recurrent passes ---------------------------------------------------------------------
    def _passes(self, x: torch.Tensor, t: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        canvas = torch.full_like(x, logit(POM_LOW))
        c = tuple(int(v) // 2 for v in self.region)
        canvas[(slice(None), 0, *c)] = logit(POM_HIGH)
        used = [set() for _ in range(n)]
        offsets = [np.zeros(3, int) for _ in range(n)]
        losses = []
        for p in range(self.passes):
            sels = []
            for i in range(n):
                lo = self.delta + offsets[i]
                sels.append(tuple(slice(int(a), int(a + f)) for a, f in zip(lo, self.fov)))
            xs = torch.stack([x[i][(slice(None), *s)] for i, s in enumerate(sels)])
            # The network sees its earlier output as input, not as a differentiable path
            # (as in inference, where the canvas is plain data).
            ps = torch.stack([canvas[i][(slice(None), *s)] for i, s in enumerate(sels)]).detach()
            out = self.model(xs, ps)
            ts = torch.stack([t[i][(slice(None), *s)] for i, s in enumerate(sels)])
            ms = torch.stack([m[i][(slice(None), *s)] for i, s in enumerate(sels)])
            losses.append(_masked_bce(out, ts, ms))
            if p == self.passes - 1:
                break
            canvas = canvas.clone()
            for i, s in enumerate(sels):
                canvas[i][(slice(None), *s)] = out[i].detach()
                # Moves are taken from the region centre so the FOV stays inside the region.
                centre_prob = torch.sigmoid(canvas[i, 0][tuple(slice(int(d), int(d + f))
                                                               for d, f in zip(self.delta, self.fov))]).numpy()
                faces = [f for f in face_scores(centre_prob, self.delta) if (f[1], f[2]) not in used[i]]
                _, axis, sign, _ = max(faces, key=lambda f: f[0])
                used[i].add((axis, sign))
                offsets[i] = np.zeros(3, int)
                offsets[i][axis] = sign * int(self.delta[axis])
        return torch.stack(losses).mean()

    def step(self, raw: np.ndarray, labels: np.ndarray, z_range=None) -> float:
        """One optimisation step on standardised ``raw`` and integer ``labels``; returns the loss."""
        x, t, m = self._batch(raw, labels, self.rng, z_range, True)
        self.model.train()
        self.optimizer.zero_grad()
        loss = self._passes(x, t, m)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def validation_loss(self, raw: np.ndarray, labels: np.ndarray, z_range=None, n_batches: int = 8,
                        seed: int = 12345) -> float:
        """Mean loss over a fixed (seeded, unaugmented) set of regions; the model is not updated."""
        rng = np.random.default_rng(seed)
        self.model.eval()
        with torch.no_grad():
            vals = [float(self._passes(*self._batch(raw, labels, rng, z_range, False))) for _ in range(n_batches)]
        return float(np.mean(vals))
