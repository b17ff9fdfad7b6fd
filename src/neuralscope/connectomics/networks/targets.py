"""Affinity targets from dense labels, and the masked, class-balanced loss."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Nearest-neighbour offsets (z, y, x) first, then long-range auxiliary ones (LSD / long-range
#: affinity style: they teach the network context beyond the next voxel and are not used to segment).
DEFAULT_OFFSETS: tuple[tuple[int, int, int], ...] = (
    (1, 0, 0), (0, 1, 0), (0, 0, 1),
    (3, 0, 0), (0, 3, 0), (0, 0, 3),
    (9, 0, 0), (0, 9, 0), (0, 0, 9),
)


def labels_to_affinities(labels: np.ndarray, offsets: Sequence[Sequence[int]] = DEFAULT_OFFSETS) -> tuple[np.ndarray, np.ndarray]:
    """Affinities between each voxel and the voxel ``offset`` before it.

    ``aff[c, z, y, x] = 1`` when ``labels[z, y, x] == labels[(z, y, x) - offsets[c]]`` and
    both are foreground (id > 0). Id 0 means "unlabelled": edges touching it are masked out,
    as are edges leaving the volume.

    Parameters
    ----------
    labels : ndarray of int, shape (z, y, x)
        Dense segmentation, 0 = unlabelled.
    offsets : sequence of (dz, dy, dx)
        Non-negative offsets.

    Returns
    -------
    affinities : ndarray of float32, shape (len(offsets), z, y, x)
    mask : ndarray of float32, same shape; 1 where the target is defined.
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError("labels must be 3-D (z, y, x)")
    n = len(offsets)
    aff = np.zeros((n, *labels.shape), np.float32)
    mask = np.zeros((n, *labels.shape), np.float32)
    for c, off in enumerate(offsets):
        dz, dy, dx = (int(v) for v in off)
        if dz >= labels.shape[0] or dy >= labels.shape[1] or dx >= labels.shape[2]:
            continue
        here = labels[dz:, dy:, dx:]
        there = labels[: labels.shape[0] - dz, : labels.shape[1] - dy, : labels.shape[2] - dx]
        valid = (here > 0) & (there > 0)
        aff[c, dz:, dy:, dx:] = (here == there) & valid
        mask[c, dz:, dy:, dx:] = valid
    return aff, mask


def balanced_bce(logits, target, mask):
    """Binary cross-entropy on logits, each channel's boundary and interior classes weighted equally.

    Boundaries are a minority class (~5-15 % of nearest-neighbour edges); without balancing
    the network under-predicts them and neurons merge.
    """
    import torch
    import torch.nn.functional as F

    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    dims = (0, 2, 3, 4)
    pos = (target * mask).sum(dims, keepdim=True)
    neg = ((1 - target) * mask).sum(dims, keepdim=True)
    total = (pos + neg).clamp_min(1.0)
    w_pos = 0.5 * total / pos.clamp_min(1.0)
    w_neg = 0.5 * total / neg.clamp_min(1.0)
    # Clamp weights so a patch with a handful of boundary edges does not blow up the loss.
    weight = torch.where(target > 0.5, w_pos.clamp(max=10.0), w_neg.clamp(max=10.0)) * mask
    return (loss * weight).sum() / mask.sum().clamp_min(1.0)
