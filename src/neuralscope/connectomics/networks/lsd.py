"""Local shape descriptors (LSDs): auxiliary training targets for affinity networks.

Sheridan et al. (2022, Nature Methods) showed that asking an affinity network to also predict,
at every voxel, simple statistics of the part of its own object that lies within a Gaussian
window -- the offset to the window's centre of mass, the variances and correlations of the
object's voxel coordinates there, and the window's mass -- makes the affinities better where
they matter: at thin necks and contacts, where the network must know the shape of the neurite
around a voxel and not only whether there is membrane next to it. The descriptors are used only
as targets; segmentation still runs on the nearest-neighbour affinities.

Ten channels, each scaled into [0, 1] (sigmoid outputs, mean-squared error):

- 0-2: offset from the voxel to the object's local centre of mass along z, y, x
  (``offset / (2 sigma)``, shifted by 0.5 and clipped);
- 3-5: local variance of the object's coordinates along z, y, x (``/ sigma**2``; a window
  filled by one object gives 1);
- 6-8: local Pearson correlations of the coordinate pairs (z, y), (z, x), (y, x), as ``(r + 1) / 2``;
- 9: local mass, the Gaussian-weighted fraction of the window that belongs to the object.

Flips and axis permutations of the volume transform the descriptors in closed form
(:func:`transform_descriptors`), so they are computed once on a training volume and cut out
with the patches, instead of once per augmented patch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

N_DESCRIPTORS = 10
#: Coordinate pairs of the correlation channels 6, 7, 8.
PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2))


def local_shape_descriptors(labels: np.ndarray, sigma: float = 6.0, truncate: float = 3.0) -> np.ndarray:
    """Local shape descriptors of a dense segmentation.

    Parameters
    ----------
    labels : ndarray of int, shape (z, y, x)
        Dense segmentation; 0 = unlabelled (its voxels get 0 in every channel and should be
        masked out of the loss).
    sigma : float
        Gaussian window width in voxels (isotropic).
    truncate : float
        The window is cut at ``truncate * sigma`` (each object is processed in its bounding box
        grown by this much, which keeps the cost proportional to object size).

    Returns
    -------
    ndarray of float32, shape (10, z, y, x)
        Channels as in the module docstring, in [0, 1].
    """
    from scipy import ndimage

    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError("labels must be 3-D (z, y, x)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    out = np.zeros((N_DESCRIPTORS, *labels.shape), np.float32)
    pad = int(np.ceil(truncate * sigma))
    relabelled = _consecutive(labels)
    boxes = ndimage.find_objects(relabelled)
    for index, box in enumerate(boxes, start=1):
        if box is None:
            continue
        grown = tuple(slice(max(0, s.start - pad), min(n, s.stop + pad)) for s, n in zip(box, labels.shape))
        mask = relabelled[grown] == index
        out[(slice(None), *grown)][:, mask] = _object_descriptors(mask, sigma, truncate)
    return out


def _consecutive(labels: np.ndarray) -> np.ndarray:
    """Ids 1..n for the non-zero labels (``find_objects`` wants small consecutive ids)."""
    ids, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(labels.shape).astype(np.int64)
    if ids[0] != 0:
        inverse += 1
    return inverse


def _object_descriptors(mask: np.ndarray, sigma: float, truncate: float) -> np.ndarray:
    """The ten descriptors at the voxels of one object (``mask`` in its grown bounding box)."""
    from scipy import ndimage

    m = mask.astype(np.float64)

    def smooth(a):
        return ndimage.gaussian_filter(a, sigma, mode="constant", truncate=truncate)

    # Coordinates centred in the box: small numbers, so moments keep their precision.
    coords = [np.arange(n, dtype=np.float64) - (n - 1) / 2 for n in mask.shape]
    grids = np.meshgrid(*coords, indexing="ij")
    mass = smooth(m)[mask]
    safe = np.maximum(mass, 1e-12)
    first = [smooth(m * g)[mask] / safe for g in grids]
    here = [g[mask] for g in grids]
    second = {}
    for i in range(3):
        for j in range(i, 3):
            second[i, j] = smooth(m * grids[i] * grids[j])[mask] / safe - first[i] * first[j]
    res = np.empty((N_DESCRIPTORS, int(mask.sum())), np.float64)
    for i in range(3):
        res[i] = (first[i] - here[i]) / (2 * sigma) + 0.5
        res[3 + i] = second[i, i] / sigma ** 2
    for c, (i, j) in enumerate(PAIRS):
        denom = np.sqrt(np.maximum(second[i, i] * second[j, j], 1e-12))
        res[6 + c] = (second[i, j] / denom + 1) / 2
    res[9] = mass
    return np.clip(res, 0.0, 1.0).astype(np.float32)


def transform_descriptors(descriptors: np.ndarray, flips: Sequence[bool], perm: Sequence[int]) -> np.ndarray:
    """Descriptors of a volume flipped along ``flips`` axes, then transposed by ``perm``.

    Mirrors :func:`~neuralscope.connectomics.networks.training.augment`: the spatial axes are
    flipped and permuted, and the channels follow -- a flipped axis negates its offset and the
    correlations it takes part in; a permutation reorders offsets, variances and correlations.
    """
    flipped = [bool(f) for f in flips]
    perm = [int(p) for p in perm]
    d = np.asarray(descriptors)
    for axis, flip in enumerate(flipped):
        if flip:
            d = np.flip(d, axis + 1)
    d = d.transpose((0, *(1 + p for p in perm)))
    out = np.empty_like(d)
    for new, old in enumerate(perm):
        out[new] = 1.0 - d[old] if flipped[old] else d[old]
        out[3 + new] = d[3 + old]
    for c, (i, j) in enumerate(PAIRS):
        a, b = sorted((perm[i], perm[j]))
        src = d[6 + PAIRS.index((a, b))]
        out[6 + c] = 1.0 - src if flipped[a] != flipped[b] else src
    out[9] = d[9]
    return np.ascontiguousarray(out)
