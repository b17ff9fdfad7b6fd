"""Simulated ssTEM-like volumes with synapses (ground truth masks), for training and tests.

Drawn at the synapse network's working resolution (~18 nm pixels, ~45 nm sections):
Voronoi cells with dark membranes, textured cytoplasm, mitochondria-like dark ovals as
distractors, and synapses = a thick dark density along a membrane over 1-3 sections with
a cloud of small vesicles on the presynaptic side. Only the density is labelled.
"""

from __future__ import annotations

import numpy as np


def simulate_synapse_volume(shape=(6, 160, 160), n_cells: int = 40, n_synapses: int = 12,
                            n_mitochondria: int = 10, z_anisotropy: float = 2.5, seed: int = 0):
    """One simulated volume.

    Parameters
    ----------
    shape : tuple of int
        (z, y, x) voxels.
    n_cells, n_synapses, n_mitochondria : int
        Objects drawn (synapses that find no membrane are dropped).
    z_anisotropy : float
        Section thickness / pixel size (cells change slowly along z).
    seed : int
        Random seed.

    Returns
    -------
    raw : ndarray of uint8, shape ``shape``
    synapses : ndarray of bool, shape ``shape``
    """
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    z, y, x = shape
    centres = rng.uniform(0, 1, (n_cells, 3)) * np.array([z * z_anisotropy, y, x])
    gz, gy, gx = np.meshgrid(np.arange(z) * z_anisotropy, np.arange(y), np.arange(x), indexing="ij")
    from scipy.spatial import cKDTree

    _, cell = cKDTree(centres).query(np.column_stack([gz.ravel(), gy.ravel(), gx.ravel()]))
    cell = cell.reshape(shape)
    membrane = np.zeros(shape, bool)
    for axis in (1, 2):  # in-plane borders; sections are thick, so cells are cut, not capped
        d = np.diff(cell, axis=axis) != 0
        sl = [slice(None)] * 3
        sl[axis] = slice(1, None)
        membrane[tuple(sl)] |= d
    membrane = ndi.binary_dilation(membrane, np.ones((1, 2, 2), bool))
    texture = ndi.gaussian_filter(rng.normal(0, 1, shape), (0.5, 1.5, 1.5))
    img = 165 + 18 * texture / (texture.std() + 1e-9)
    img[membrane] = rng.uniform(60, 90)
    # mitochondria: dark ovals with a lighter rim (distractors for a dark-blob detector)
    for _ in range(n_mitochondria):
        c = rng.uniform(0, 1, 3) * np.array(shape)
        ry, rx = rng.uniform(3, 8, 2)
        zz = np.abs(np.arange(z) - c[0]) <= rng.integers(1, 3)
        m = (((gy[0] - c[1]) / ry) ** 2 + ((gx[0] - c[2]) / rx) ** 2) <= 1
        img[np.ix_(zz, np.ones(y, bool), np.ones(x, bool))[0] & m[None]] = rng.uniform(95, 120)
    synapses = np.zeros(shape, bool)
    mem_pts = np.argwhere(membrane)
    yy, xx = np.mgrid[0:y, 0:x]
    for _ in range(n_synapses):
        if not len(mem_pts):
            break
        cz, cy, cx = mem_pts[rng.integers(len(mem_pts))]
        # membrane direction from the local cell-id gradient: the density lies along it
        gy_, gx_ = np.gradient(cell[cz].astype(float))
        ny, nx = gy_[cy, cx], gx_[cy, cx]
        norm = np.hypot(ny, nx)
        if norm == 0:
            continue
        ny, nx = ny / norm, nx / norm
        half_len, half_thick = rng.uniform(3, 6), rng.uniform(1.0, 1.8)
        along = (yy - cy) * (-nx) + (xx - cx) * ny
        across = (yy - cy) * ny + (xx - cx) * nx
        bar = (np.abs(along) <= half_len) & (np.abs(across) <= half_thick)
        depth = rng.integers(1, 4)
        for dz in range(depth):
            zi = cz + dz
            if zi >= z:
                break
            synapses[zi] |= bar
            img[zi][bar] = rng.uniform(25, 50)
            # vesicles: small dark rings on one side of the density
            side = rng.choice([-1, 1])
            for _ in range(rng.integers(4, 10)):
                vy = cy + side * ny * rng.uniform(3, 9) + (-nx) * rng.uniform(-half_len, half_len)
                vx = cx + side * nx * rng.uniform(3, 9) + ny * rng.uniform(-half_len, half_len)
                r = np.hypot(yy - vy, xx - vx)
                img[zi][(r > 0.8) & (r <= 1.6)] = rng.uniform(70, 100)
    img = ndi.gaussian_filter(img, (0, 0.7, 0.7))
    img = img * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20) + rng.normal(0, rng.uniform(5, 12), shape)
    return np.clip(img, 0, 255).astype(np.uint8), synapses
