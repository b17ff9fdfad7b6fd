"""Compiled kernels (numba) of the segmentation: they run in one linear pass where the library
versions sort or use a heap.

- :func:`seeded_watershed`: priority-flood watershed of a uint8 relief with a 256-level bucket
  queue (every voxel enters the queue once), 6-connected;
- :func:`chamfer_distance`: two-pass 3-D chamfer distance to the nearest outside voxel (26
  neighbours, anisotropic weights), a close and much faster stand-in for the exact Euclidean
  transform when it only places seeds;
- :func:`mean_affinity_merges`: the hierarchical mean-affinity merging of
  :func:`~neuralscope.connectomics.agglomeration.agglomerate`, compiled (the region graphs of the
  exact pipeline have some 10^5-10^6 edges, where the interpreter loop dominated).
"""

from __future__ import annotations

import numpy as np

_COMPILED: dict = {}


def _compile():
    import numba

    @numba.njit(cache=True, nogil=True)  # nogil: blocks on dask threads run in parallel
    def watershed(relief, markers, mask, use_mask, nxt):
        nz, ny, nx = relief.shape
        n = nz * ny * nx
        flat_relief = relief.ravel()
        labels = markers.ravel().copy()
        flat_mask = mask.ravel()
        nxt[:] = -1
        head = np.full(256, -1, np.int64)
        tail = np.full(256, -1, np.int64)
        for i in range(n):
            if labels[i] != 0:
                lv = flat_relief[i]
                if tail[lv] == -1:
                    head[lv] = i
                else:
                    nxt[tail[lv]] = i
                tail[lv] = i
        strides = (ny * nx, nx, 1)
        level = 0
        while level < 256:
            i = head[level]
            if i == -1:
                level += 1
                continue
            head[level] = nxt[i]
            if head[level] == -1:
                tail[level] = -1
            z = i // strides[0]
            y = (i // nx) % ny
            x = i % nx
            lab = labels[i]
            for k in range(6):
                if k == 0:
                    if z == 0:
                        continue
                    j = i - strides[0]
                elif k == 1:
                    if z == nz - 1:
                        continue
                    j = i + strides[0]
                elif k == 2:
                    if y == 0:
                        continue
                    j = i - nx
                elif k == 3:
                    if y == ny - 1:
                        continue
                    j = i + nx
                elif k == 4:
                    if x == 0:
                        continue
                    j = i - 1
                else:
                    if x == nx - 1:
                        continue
                    j = i + 1
                if labels[j] != 0 or (use_mask and not flat_mask[j]):
                    continue
                labels[j] = lab
                lv = max(level, flat_relief[j])  # flooding never goes back down
                if tail[lv] == -1:
                    head[lv] = j
                else:
                    nxt[tail[lv]] = j
                tail[lv] = j
        return labels.reshape(relief.shape)

    @numba.njit(cache=True, nogil=True)
    def chamfer(inside, wz, wy, wx):
        nz, ny, nx = inside.shape
        big = np.float32(1e30)
        d = np.empty(inside.shape, np.float32)
        for z in range(nz):
            for y in range(ny):
                for x in range(nx):
                    d[z, y, x] = big if inside[z, y, x] else 0.0
        # weights of the 13 "backward" neighbours (the forward ones mirror them)
        offs = []
        for dz in (-1, 0):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    if dz == 0 and (dy > 0 or (dy == 0 and dx >= 0)):
                        continue
                    offs.append((dz, dy, dx, np.float32(np.sqrt((dz * wz) ** 2 + (dy * wy) ** 2 + (dx * wx) ** 2))))
        for z in range(nz):
            for y in range(ny):
                for x in range(nx):
                    v = d[z, y, x]
                    if v == 0:
                        continue
                    for dz, dy, dx, w in offs:
                        zz, yy, xx = z + dz, y + dy, x + dx
                        if 0 <= zz and 0 <= yy < ny and 0 <= xx < nx:
                            c = d[zz, yy, xx] + w
                            if c < v:
                                v = c
                    d[z, y, x] = v
        for z in range(nz - 1, -1, -1):
            for y in range(ny - 1, -1, -1):
                for x in range(nx - 1, -1, -1):
                    v = d[z, y, x]
                    if v == 0:
                        continue
                    for dz, dy, dx, w in offs:
                        zz, yy, xx = z - dz, y - dy, x - dx
                        if zz < nz and 0 <= yy < ny and 0 <= xx < nx:
                            c = d[zz, yy, xx] + w
                            if c < v:
                                v = c
                    d[z, y, x] = v
        return d

    _COMPILED["watershed"] = watershed
    _COMPILED["chamfer"] = chamfer


def seeded_watershed(relief: np.ndarray, markers: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Watershed of a uint8 relief from labelled markers (0 = unlabelled), 6-connected.

    Parameters
    ----------
    relief : numpy.ndarray of uint8, (z, y, x)
    markers : numpy.ndarray of int, same shape
        Seeds; their labels are flooded outwards in order of relief.
    mask : numpy.ndarray of bool, optional
        Voxels outside stay 0.

    Returns
    -------
    numpy.ndarray, markers' dtype
    """
    if not _COMPILED:
        _compile()
    relief = np.ascontiguousarray(relief, dtype=np.uint8)
    markers = np.ascontiguousarray(markers)
    use_mask = mask is not None
    m = np.ascontiguousarray(mask, dtype=np.bool_) if use_mask else np.ones((1, 1, 1), np.bool_)
    # Queue links: int32 halves the memory of the flood when the volume allows it.
    links = np.empty(relief.size, np.int32 if relief.size < 2**31 - 1 else np.int64)
    return _COMPILED["watershed"](relief, markers, m, use_mask, links)


def chamfer_distance(inside: np.ndarray, sampling: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """Chamfer distance (26 neighbours) from each inside voxel to the nearest outside voxel.

    Parameters
    ----------
    inside : numpy.ndarray of bool, (z, y, x)
    sampling : tuple of float
        Voxel size (z, y, x).

    Returns
    -------
    numpy.ndarray of float32
        0 outside; voxels with no outside voxel at all keep a huge value.
    """
    if not _COMPILED:
        _compile()
    wz, wy, wx = (float(s) for s in sampling)
    return _COMPILED["chamfer"](np.ascontiguousarray(inside, dtype=np.bool_), wz, wy, wx)


def mean_affinity_merges(u: np.ndarray, v: np.ndarray, sums: np.ndarray, counts: np.ndarray, n_nodes: int,
                         threshold: float) -> np.ndarray:
    """Hierarchical mean-affinity merging of a graph on nodes ``0..n_nodes-1``; returns each node's root.

    The edge of highest mean (``sums / counts``) merges first (ties: smaller node pair first), the
    merged region's edges are re-scored by the mean over all their faces, and merging stops when no
    mean exceeds ``threshold``. The smaller neighbourhood is merged into the larger one.
    """
    from neuralscope.connectomics._merge_kernel import merges

    return merges(np.ascontiguousarray(u, np.int64), np.ascontiguousarray(v, np.int64),
                               np.ascontiguousarray(sums, np.float64), np.ascontiguousarray(counts, np.float64),
                               int(n_nodes), float(threshold))
