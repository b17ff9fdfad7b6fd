"""Steepest-descent ("drainage") watershed fragments: a local function of the affinities.

Every voxel points to its lowest 6-neighbour when that neighbour is lower than itself; fragments
are the trees of that pointer forest. "Lower" is a strict total order, so there are no plateaus
to flood and no cycles: voxels compare by relief value, and equal values by *global* raster index
(z, then y, then x). Whether a voxel points somewhere, and where, therefore depends only on the
relief of its 6-neighbourhood, and the relief only on the affinities within ``relief_halo`` voxels
-- so a block read with that much context computes exactly the pointers a whole-volume run
computes, and fragments stitch exactly by joining the pointers that cross block faces
(:mod:`neuralscope.connectomics.exact`).

Relief: ``1 - mean`` of a voxel's (up to six) nearest-neighbour affinities, from affinities
quantised to uint8 (integer sums: bit-identical wherever it is computed), optionally smoothed by a
Gaussian of ``sigma`` voxels (in-plane; thinner along a coarser z) which removes most of the
spurious minima of a noisy map.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

__all__ = ["DescentSettings", "descent_fragments", "quantize_affinities", "relief_from_affinities"]

#: Gaussian truncation (in standard deviations) of the relief smoothing.
TRUNCATE = 3.0
#: Neighbour order of the kernel: increasing global raster index (z-1, y-1, x-1, x+1, y+1, z+1).
DIRECTIONS = ((0, -1), (1, -1), (2, -1), (2, 1), (1, 1), (0, 1))

_COMPILED: dict = {}


class DescentSettings:
    """Relief smoothing of the descent fragments, and the context it needs.

    Parameters
    ----------
    sigma : float
        Gaussian smoothing of the relief (in-plane voxels; 0 = none).
    sampling : tuple of float
        Voxel size (z, y, x); a coarser axis gets a proportionally smaller sigma.
    """

    def __init__(self, sigma: float = 1.0, sampling: tuple[float, float, float] = (1.0, 1.0, 1.0)):
        self.sigma = sigma
        self.sampling = sampling

    def sigmas(self) -> tuple[float, float, float]:
        """Per-axis standard deviations (voxels)."""
        sampling = np.asarray(self.sampling, float)
        if sampling.shape != (3,) or np.any(~np.isfinite(sampling)) or np.any(sampling <= 0):
            raise NeuralscopeError("sampling", "three positive voxel sizes", self.sampling)
        if not (np.isfinite(self.sigma) and self.sigma >= 0):
            raise NeuralscopeError("sigma", "a smoothing >= 0 (voxels)", self.sigma)
        rel = sampling / sampling[1:].min()
        return tuple(float(self.sigma) / r for r in rel)  # type: ignore[return-value]

    def radius(self) -> tuple[int, int, int]:
        """Reach of the smoothing per axis (scipy's kernel radius)."""
        return tuple(int(TRUNCATE * s + 0.5) if s > 0 else 0 for s in self.sigmas())  # type: ignore[return-value]

    @property
    def halo(self) -> tuple[int, int, int]:
        """Affinity context per side that makes a block's pointers equal to the whole-volume ones.

        One voxel for the neighbours compared, the smoothing's reach, one voxel because a
        voxel's relief reads the affinities stored at its forward neighbours.
        """
        return tuple(r + 2 for r in self.radius())  # type: ignore[return-value]


def quantize_affinities(affinities: Any) -> np.ndarray:
    """Affinities in [0, 1] -> uint8 (``round(255 a)``); uint8 input is returned unchanged.

    Parameters
    ----------
    affinities : array-like, (3, z, y, x)

    Returns
    -------
    numpy.ndarray of uint8
    """
    aff = np.asarray(affinities)
    if aff.ndim != 4 or aff.shape[0] != 3:
        raise NeuralscopeError("affinities", "an array of shape (3, z, y, x)", f"shape {aff.shape}")
    if aff.dtype == np.uint8:
        return aff
    if aff.dtype.kind not in "fiu":
        raise NeuralscopeError("affinities", "numeric affinities in [0, 1]", f"dtype {aff.dtype}")
    if aff.dtype.kind == "f" and aff.size and not np.all(np.isfinite(aff)):
        raise NeuralscopeError("affinities", "finite values", "NaN or inf")
    if aff.dtype.kind in "iu":
        if aff.size and (aff.min() < 0 or aff.max() > 255):
            raise NeuralscopeError("affinities", "integer affinities in 0..255", f"range {aff.min()}..{aff.max()}")
        return aff.astype(np.uint8)
    return np.round(np.clip(aff, 0.0, 1.0) * 255.0).astype(np.uint8)


def relief_from_affinities(affinities: np.ndarray, has_predecessor: tuple[bool, bool, bool] = (False, False, False),
                           settings: DescentSettings | None = None) -> np.ndarray:
    """Relief ``1 - mean(affinities of the voxel)``, smoothed, from uint8 affinities.

    Parameters
    ----------
    affinities : numpy.ndarray of uint8, (3, z, y, x)
        Quantised affinities of a region (see :func:`quantize_affinities`).
    has_predecessor : tuple of bool
        Per axis, whether the region's first plane has a neighbour before it in the whole volume
        (then its backward affinities count; at the volume border they are meaningless).
    settings : DescentSettings, optional
        Smoothing (default: ``DescentSettings()``).

    Returns
    -------
    numpy.ndarray of float32, (z, y, x)
        Values are exact for voxels at least ``settings.halo - 1`` from a region face that is not the
        volume border.
    """
    from scipy import ndimage as ndi

    settings = settings or DescentSettings()
    aff = np.asarray(affinities)
    shape = aff.shape[1:]
    total = np.zeros(shape, np.int32)
    count = np.zeros(shape, np.int32)
    for d in range(3):
        start = 0 if has_predecessor[d] else 1
        own = [slice(None)] * 3
        own[d] = slice(start, None)  # edge to the voxel behind, stored at the voxel
        total[tuple(own)] += aff[d][tuple(own)]
        count[tuple(own)] += 1
        hi, lo = [slice(None)] * 3, [slice(None)] * 3
        hi[d], lo[d] = slice(1, None), slice(None, -1)  # edge to the voxel ahead, stored there
        total[tuple(lo)] += aff[d][tuple(hi)]
        count[tuple(lo)] += 1
    relief = np.float32(1.0) - total.astype(np.float32) / (np.float32(255.0) * np.maximum(count, 1).astype(np.float32))
    sigmas = settings.sigmas()
    if max(sigmas) > 0:
        relief = ndi.gaussian_filter(relief, sigmas, mode="reflect", truncate=TRUNCATE)
    return relief.astype(np.float32, copy=False)


def _compile() -> None:
    import numba

    @numba.njit(cache=True, nogil=True, inline="always")
    def step(k, z, y, x):
        # The neighbour in direction k (see DIRECTIONS): -z, -y, -x, +x, +y, +z.
        if k == 0:
            return z - 1, y, x
        if k == 1:
            return z, y - 1, x
        if k == 2:
            return z, y, x - 1
        if k == 3:
            return z, y, x + 1
        if k == 4:
            return z, y + 1, x
        return z + 1, y, x

    @numba.njit(cache=True, nogil=True, inline="always")
    def inside(z, y, x, nz, ny, nx):
        return 0 <= z < nz and 0 <= y < ny and 0 <= x < nx

    @numba.njit(cache=True, nogil=True)
    def pointers(relief, z0, z1, y0, y1, x0, x1):
        # Direction (0..5, see DIRECTIONS) of each core voxel's lowest neighbour, -1 = a minimum.
        nz, ny, nx = relief.shape
        out = np.full((z1 - z0, y1 - y0, x1 - x0), -1, np.int8)
        for z in range(z0, z1):
            for y in range(y0, y1):
                for x in range(x0, x1):
                    best_val = relief[z, y, x]
                    best = -1
                    for k in range(6):
                        zz, yy, xx = step(k, z, y, x)
                        if not inside(zz, yy, xx, nz, ny, nx):
                            continue
                        v = relief[zz, yy, xx]
                        # Ties: a smaller global index wins; only backward neighbours (k < 3) are
                        # smaller than the voxel itself, and candidates come in increasing index.
                        if v < best_val or (v == best_val and best == -1 and k < 3):
                            best_val = v
                            best = k
                    out[z - z0, y - y0, x - x0] = best
        return out

    @numba.njit(cache=True, nogil=True)
    def components(direction):
        # Trees of the in-core pointer forest, numbered 1..n in raster order of their first voxel.
        nz, ny, nx = direction.shape
        n = nz * ny * nx
        root = np.full(n, -1, np.int64)
        stack = np.empty(n, np.int64)
        flat = direction.ravel()
        for i in range(n):
            if root[i] != -1:
                continue
            top = 0
            j = i
            while True:
                stack[top] = j
                top += 1
                k = flat[j]
                if k == -1:
                    r = j
                    break
                z, y, x = step(k, j // (ny * nx), (j // nx) % ny, j % nx)
                if not inside(z, y, x, nz, ny, nx):
                    r = j  # the pointer leaves the core: this voxel ends the in-core tree
                    break
                nxt = (z * ny + y) * nx + x
                if root[nxt] != -1:
                    r = root[nxt]
                    break
                j = nxt
            for t in range(top):
                root[stack[t]] = r
        labels = np.zeros(n, np.uint32)
        ids = np.zeros(n, np.uint32)
        count = 0
        for i in range(n):
            r = root[i]
            if ids[r] == 0:
                count += 1
                ids[r] = count
            labels[i] = ids[r]
        return labels.reshape(direction.shape), count

    _COMPILED["pointers"] = pointers
    _COMPILED["components"] = components


def descent_pointers(relief: np.ndarray, core: tuple[slice, slice, slice]) -> np.ndarray:
    """Direction code (index into :data:`DIRECTIONS`, -1 = minimum) of each voxel of ``core``.

    Neighbours are looked up in ``relief`` (the region around the core), so a core read with one
    voxel of context (none at the volume border) gets the whole-volume answer.
    """
    if not _COMPILED:
        _compile()
    r = np.ascontiguousarray(relief, dtype=np.float32)
    return _COMPILED["pointers"](r, core[0].start, core[0].stop, core[1].start, core[1].stop,
                                 core[2].start, core[2].stop)


def local_components(direction: np.ndarray) -> tuple[np.ndarray, int]:
    """Trees of the pointer forest inside a core: (uint32 labels 1..n in raster order of first voxel, n)."""
    if not _COMPILED:
        _compile()
    return _COMPILED["components"](np.ascontiguousarray(direction, dtype=np.int8))


def descent_fragments(affinities: Any, sigma: float = 1.0,
                      sampling: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """Steepest-descent fragments of a whole (in-memory) affinity volume.

    Parameters
    ----------
    affinities : array-like, (3, z, y, x)
        Nearest-neighbour affinities in [0, 1] (or uint8, 255 = certain); quantised to uint8.
    sigma : float
        Gaussian smoothing of the relief (in-plane voxels).
    sampling : tuple of float
        Voxel size (z, y, x).

    Returns
    -------
    numpy.ndarray of uint64, (z, y, x)
        Fragment ids ``1..n`` in raster order of each fragment's first voxel: the fragments the
        block-wise pipeline (:func:`neuralscope.connectomics.exact.segment_exact`) computes, with the
        same ids.
    """
    aff = quantize_affinities(affinities)
    if min(aff.shape[1:]) == 0:
        raise NeuralscopeError("affinities", "a non-empty volume", f"shape {aff.shape}")
    relief = relief_from_affinities(aff, settings=DescentSettings(sigma, sampling))
    direction = descent_pointers(relief, tuple(slice(0, n) for n in relief.shape))
    labels, _ = local_components(direction)
    return labels.astype(np.uint64)
