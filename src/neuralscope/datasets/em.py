"""EM-like volumes with a known dense segmentation and known synapses.

Each cell is a line segment (a neurite; a zero-length segment is a soma) and owns the voxels nearer
to it than to any other segment (a Voronoi partition of segments), so the ground truth is dense.
Membranes are dark sheets on the partition boundaries; cell interiors get their own grey level;
slice-wise gain changes, a smooth illumination field and Gaussian noise add contrast variation.
Synapses are dark, flattened blobs on the presynaptic side of a membrane between two cells, with
the pre- and postsynaptic cell known.

Every voxel is a pure function of its coordinates (noise comes from a counter-based hash of the
voxel index and the seed), so :func:`simulate_em_volume` can also return lazy dask arrays of any
size, computed block by block, with the same values whatever the chunking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError

__all__ = ["EMVolume", "simulate_em_volume"]


@dataclass
class EMVolume:
    """A simulated EM volume and its ground truth.

    Attributes
    ----------
    raw : numpy.ndarray or dask.array.Array, uint8, (z, y, x)
        The image: bright cytoplasm, dark membranes and synapses.
    labels : numpy.ndarray or dask.array.Array, uint64, (z, y, x)
        Dense cell ids ``1..n_cells`` (no background).
    membranes : numpy.ndarray or dask.array.Array, bool
        Voxels within ``membrane_width`` of a cell boundary.
    synapses : pandas.DataFrame
        One row per synapse: ``z, y, x`` (voxel coordinates of the cleft centre), ``pre_id``,
        ``post_id``, ``pre_z, pre_y, pre_x`` and ``post_z, post_y, post_x`` (points two voxel
        widths inside the pre / post cell).
    voxel_size : tuple of float
        (z, y, x) spacing; ``z > 1`` for anisotropic (serial-section-like) volumes.
    """

    raw: Any
    labels: Any
    membranes: Any
    synapses: pd.DataFrame
    voxel_size: tuple[float, float, float]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.raw.shape)


def _numba_kernels():
    import numba

    @numba.njit(cache=True, inline="always")
    def _hash_uniform(i: np.uint64, seed: np.uint64) -> float:
        # splitmix64: independent uniforms per (voxel, seed), no state to carry between blocks
        z = (i * np.uint64(0x9E3779B97F4A7C15) + seed) & np.uint64(0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        return (float(z >> np.uint64(11)) + 0.5) / 9007199254740992.0

    @numba.njit(cache=True)
    def render(origin, shape, full_shape, spacing, p0, p1, cell_grey, slice_gain, membrane_width,
               membrane_depth, noise, illumination, seed, syn_centre, syn_axis, syn_radius, syn_depth):
        nz, ny, nx = shape
        labels = np.empty((nz, ny, nx), np.uint64)
        raw = np.empty((nz, ny, nx), np.uint8)
        membrane = np.empty((nz, ny, nx), np.bool_)
        n_cells = p0.shape[0]
        d = p1 - p0
        dd = np.empty(n_cells)
        for c in range(n_cells):
            dd[c] = d[c, 0] ** 2 + d[c, 1] ** 2 + d[c, 2] ** 2
        for iz in range(nz):
            gz = origin[0] + iz
            for iy in range(ny):
                gy = origin[1] + iy
                for ix in range(nx):
                    gx = origin[2] + ix
                    q0, q1, q2 = gz * spacing[0], gy * spacing[1], gx * spacing[2]
                    best, second, arg = 1e300, 1e300, 0
                    for c in range(n_cells):
                        t = 0.0
                        if dd[c] > 0:
                            t = ((q0 - p0[c, 0]) * d[c, 0] + (q1 - p0[c, 1]) * d[c, 1] + (q2 - p0[c, 2]) * d[c, 2]) / dd[c]
                            t = min(1.0, max(0.0, t))
                        r = ((q0 - p0[c, 0] - t * d[c, 0]) ** 2 + (q1 - p0[c, 1] - t * d[c, 1]) ** 2
                             + (q2 - p0[c, 2] - t * d[c, 2]) ** 2)
                        if r < best:
                            second, best, arg = best, r, c
                        elif r < second:
                            second = r
                    # distance to the bisector of the two nearest cells (exact for points)
                    gap = (np.sqrt(second) - np.sqrt(best)) / 2.0
                    labels[iz, iy, ix] = arg + 1
                    membrane[iz, iy, ix] = gap < membrane_width
                    value = cell_grey[arg] - membrane_depth * np.exp(-(gap / membrane_width) ** 2)
                    for s in range(syn_centre.shape[0]):
                        a0 = q0 - syn_centre[s, 0]
                        a1 = q1 - syn_centre[s, 1]
                        a2 = q2 - syn_centre[s, 2]
                        rr = a0 * a0 + a1 * a1 + a2 * a2
                        if rr < 9.0 * syn_radius * syn_radius:
                            along = a0 * syn_axis[s, 0] + a1 * syn_axis[s, 1] + a2 * syn_axis[s, 2]
                            across = rr - along * along
                            # a flattened density: thin along the pre->post axis, wide across
                            value -= syn_depth * np.exp(-along * along / (0.6 * syn_radius) ** 2
                                                        - across / syn_radius ** 2)
                    value *= slice_gain[gz]
                    value *= 1.0 + illumination * np.sin(6.283 * gy / full_shape[1] + 1.3) * np.cos(6.283 * gx / full_shape[2])
                    flat = np.uint64((gz * full_shape[1] + gy) * full_shape[2] + gx)
                    u1 = _hash_uniform(flat * np.uint64(2), seed)
                    u2 = _hash_uniform(flat * np.uint64(2) + np.uint64(1), seed)
                    value += noise * np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u2)
                    raw[iz, iy, ix] = min(255.0, max(0.0, value))
        return labels, raw, membrane

    @numba.njit(cache=True)
    def nearest_two(q, p0, p1):
        best, second, arg, arg2 = 1e300, 1e300, 0, 0
        for c in range(p0.shape[0]):
            d0, d1, d2 = p1[c, 0] - p0[c, 0], p1[c, 1] - p0[c, 1], p1[c, 2] - p0[c, 2]
            dd = d0 * d0 + d1 * d1 + d2 * d2
            t = 0.0
            if dd > 0:
                t = min(1.0, max(0.0, ((q[0] - p0[c, 0]) * d0 + (q[1] - p0[c, 1]) * d1 + (q[2] - p0[c, 2]) * d2) / dd))
            r = (q[0] - p0[c, 0] - t * d0) ** 2 + (q[1] - p0[c, 1] - t * d1) ** 2 + (q[2] - p0[c, 2] - t * d2) ** 2
            if r < best:
                second, arg2, best, arg = best, arg, r, c
            elif r < second:
                second, arg2 = r, c
        return arg, arg2

    return render, nearest_two


_KERNELS: tuple | None = None


def _kernels():
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = _numba_kernels()
    return _KERNELS


def _closest_point(q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = b - a
    dd = float(d @ d)
    t = 0.0 if dd == 0 else min(1.0, max(0.0, float((q - a) @ d) / dd))
    return a + t * d


def simulate_em_volume(shape: tuple[int, int, int] = (48, 128, 128), n_cells: int | None = None,
                       anisotropy: float = 1.0, membrane_width: float = 1.0, noise: float = 12.0,
                       contrast_variation: float = 0.15, soma_fraction: float = 0.15, n_synapses: int = 30,
                       synapse_radius: float = 3.0, chunks: tuple[int, int, int] | None = None,
                       random_state: int = 0) -> EMVolume:
    """Simulate an EM-like volume with dense ground truth and synapses.

    Parameters
    ----------
    shape : tuple of int
        (z, y, x) voxels.
    n_cells : int, optional
        Number of cells; default about one per 18^3 physical voxels of the volume (at least 8).
    anisotropy : float
        Section thickness relative to the in-plane pixel (``voxel_size = (anisotropy, 1, 1)``).
    membrane_width : float
        Half-width (physical voxels) of the dark membrane sheets.
    noise : float
        Standard deviation of the Gaussian noise (grey levels, of 255).
    contrast_variation : float
        Relative amplitude of the slice-wise gain changes and of the smooth illumination field.
    soma_fraction : float
        Fraction of cells that are blobs (zero-length segments) rather than neurites.
    n_synapses : int
        Number of synapses to place (fewer if too few cell contacts are found).
    synapse_radius : float
        Radius (physical voxels) of the synaptic densities.
    chunks : tuple of int, optional
        Return lazy dask arrays with these chunks (for volumes larger than memory); the values do
        not depend on the chunking. ``labels`` are then the raw cell ids, which (rarely) may be
        split into two pieces where a cell's region is cut by the volume border; in memory,
        those pieces get their own ids.
    random_state : int
        Seed: the same seed gives identical volumes.

    Returns
    -------
    EMVolume

    Examples
    --------
    >>> vol = simulate_em_volume((16, 48, 48), random_state=0)
    >>> vol.raw.dtype, vol.labels.shape, int(vol.labels.min()) >= 1
    (dtype('uint8'), (16, 48, 48), True)
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise NeuralscopeError("shape", "three positive sizes (z, y, x)", shape)
    if not anisotropy > 0:
        raise NeuralscopeError("anisotropy", "a value > 0", anisotropy)
    if not membrane_width > 0:
        raise NeuralscopeError("membrane_width", "a value > 0", membrane_width)
    rng = np.random.default_rng(random_state)
    spacing = np.array([anisotropy, 1.0, 1.0])
    extent = np.array(shape) * spacing
    if n_cells is None:
        n_cells = max(8, int(np.prod(extent) / 18.0 ** 3))
    n_cells = int(n_cells)
    # Segments centred in a slightly enlarged box, random orientation, length ~ half the volume.
    centre = rng.uniform(-0.1, 1.1, size=(n_cells, 3)) * extent
    direction = rng.normal(size=(n_cells, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    # Neurite length follows the volume up to 160 voxels, then stays physical (big volumes).
    half_length = rng.uniform(0.2, 0.6, size=(n_cells, 1)) * min(float(np.max(extent)), 160.0)
    half_length[rng.random(n_cells) < soma_fraction] = 0.0
    p0, p1 = centre - half_length * direction, centre + half_length * direction
    cell_grey = rng.uniform(150, 215, size=n_cells)
    slice_gain = 1.0 + contrast_variation * rng.uniform(-1, 1, size=shape[0]) * 0.5
    illumination = 0.5 * contrast_variation
    render, nearest_two = _kernels()
    synapses = _place_synapses(rng, shape, spacing, p0, p1, n_synapses, synapse_radius, nearest_two)
    syn_centre = synapses[["cz", "cy", "cx"]].to_numpy(np.float64) if len(synapses) else np.zeros((0, 3))
    syn_axis = synapses[["az", "ay", "ax"]].to_numpy(np.float64) if len(synapses) else np.zeros((0, 3))
    seed = np.uint64(int(rng.integers(0, 2**63 - 1)))
    args = (np.array(shape, np.int64), None, p0, p1, cell_grey, slice_gain, float(membrane_width), 110.0,
            float(noise), illumination, seed, syn_centre, syn_axis, float(synapse_radius), 220.0)

    def block(origin: tuple[int, int, int], block_shape: tuple[int, int, int]):
        return _render_culled(render, origin, block_shape, args, spacing, synapse_radius)

    table = synapses.drop(columns=["cz", "cy", "cx", "az", "ay", "ax"]).reset_index(drop=True)
    voxel_size = (float(anisotropy), 1.0, 1.0)
    if chunks is None:
        labels, raw, membrane = block((0, 0, 0), shape)
        labels, table = _split_disconnected(labels, table)
        return EMVolume(raw, labels, membrane, table, voxel_size)
    return _lazy_volume(block, shape, chunks, table, voxel_size)


def _segment_distance(q: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    d = p1 - p0
    dd = np.einsum("ij,ij->i", d, d)
    t = np.clip(np.einsum("ij,ij->i", q - p0, d) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
    return np.linalg.norm(q - (p0 + t[:, None] * d), axis=1)


def _render_culled(render, origin, block_shape, args, spacing, synapse_radius, sub: int = 32):
    """Render a block in sub-blocks, each with only the segments that can be among its two nearest.

    For a sub-block of half-diagonal R around centre c, a segment farther than (second-smallest
    distance from c) + 2R can be neither nearest nor second nearest of any voxel inside: exact.
    """
    full_shape, _, p0, p1, cell_grey, slice_gain, width, depth, noise, illum, seed, syn_c, syn_a, syn_r, syn_d = args
    labels = np.empty(block_shape, np.uint64)
    raw = np.empty(block_shape, np.uint8)
    membrane = np.empty(block_shape, bool)
    steps = [max(1, int(round(sub / s))) for s in spacing]
    for oz in range(0, block_shape[0], steps[0]):
        for oy in range(0, block_shape[1], steps[1]):
            for ox in range(0, block_shape[2], steps[2]):
                lo = np.array([oz, oy, ox])
                shp = np.minimum(np.array(steps), np.array(block_shape) - lo)
                g_lo = np.array(origin) + lo
                box_lo, box_hi = g_lo * spacing, (g_lo + shp - 1) * spacing
                centre, half = (box_lo + box_hi) / 2, float(np.linalg.norm(box_hi - box_lo)) / 2
                dist = _segment_distance(centre, p0, p1)
                second = np.partition(dist, 1)[1] if len(dist) > 1 else dist[0]
                cand = np.flatnonzero(dist <= second + 2 * half + 1e-9)
                near = np.all((syn_c >= box_lo - 3 * syn_r) & (syn_c <= box_hi + 3 * syn_r), axis=1) if len(syn_c) else np.zeros(0, bool)
                lab, img, mem = render(g_lo.astype(np.int64), shp.astype(np.int64), full_shape, spacing, p0[cand], p1[cand],
                                       cell_grey[cand], slice_gain, width, depth, noise, illum, seed,
                                       np.ascontiguousarray(syn_c[near]), np.ascontiguousarray(syn_a[near]), syn_r, syn_d)
                sl = tuple(slice(a, a + b) for a, b in zip(lo, shp))
                labels[sl] = cand[lab.astype(np.int64) - 1] + 1
                raw[sl] = img
                membrane[sl] = mem
    return labels, raw, membrane


def _place_synapses(rng, shape, spacing, p0, p1, n_synapses, radius, nearest_two) -> pd.DataFrame:
    rows = []
    margin = 2.0 * radius
    lo = np.array([margin / s for s in spacing])
    hi = np.array(shape) - 1 - lo
    if np.any(hi <= lo) or n_synapses <= 0:
        return pd.DataFrame(columns=["z", "y", "x", "pre_id", "post_id", "pre_z", "pre_y", "pre_x", "post_z",
                                     "post_y", "post_x", "cz", "cy", "cx", "az", "ay", "ax"])
    attempts = 0
    while len(rows) < n_synapses and attempts < 50 * n_synapses:
        attempts += 1
        q = rng.uniform(lo, hi) * spacing
        a, b = nearest_two(q, p0, p1)
        ca, cb = _closest_point(q, p0[a], p1[a]), _closest_point(q, p0[b], p1[b])
        axis = cb - ca
        norm = float(np.linalg.norm(axis))
        if norm < 4 * radius:
            continue  # cells too thin here for a synapse to sit on their contact
        axis /= norm
        cleft = (ca + cb) / 2.0
        pre_point, post_point = cleft - 2 * radius * axis, cleft + 2 * radius * axis
        voxel = cleft / spacing
        if np.any(voxel < lo) or np.any(voxel > hi):
            continue
        if nearest_two(pre_point, p0, p1)[0] != a or nearest_two(post_point, p0, p1)[0] != b:
            continue  # the straight path leaves the two cells: not a contact
        if any(np.linalg.norm(cleft - r["c"]) < 4 * radius for r in rows):
            continue
        density = cleft - 0.5 * radius * axis  # the density sits on the presynaptic side
        rows.append({"c": cleft, "pre": int(a) + 1, "post": int(b) + 1, "pre_point": pre_point / spacing,
                     "post_point": post_point / spacing, "voxel": voxel, "density": density, "axis": axis})
    return pd.DataFrame({
        "z": [r["voxel"][0] for r in rows], "y": [r["voxel"][1] for r in rows], "x": [r["voxel"][2] for r in rows],
        "pre_id": np.array([r["pre"] for r in rows], np.uint64), "post_id": np.array([r["post"] for r in rows], np.uint64),
        "pre_z": [r["pre_point"][0] for r in rows], "pre_y": [r["pre_point"][1] for r in rows],
        "pre_x": [r["pre_point"][2] for r in rows], "post_z": [r["post_point"][0] for r in rows],
        "post_y": [r["post_point"][1] for r in rows], "post_x": [r["post_point"][2] for r in rows],
        "cz": [r["density"][0] for r in rows], "cy": [r["density"][1] for r in rows],
        "cx": [r["density"][2] for r in rows], "az": [r["axis"][0] for r in rows],
        "ay": [r["axis"][1] for r in rows], "ax": [r["axis"][2] for r in rows],
    })


def _split_disconnected(labels: np.ndarray, synapses: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Give each connected piece of a cell inside the volume its own id (ids stay ``1..n``)."""
    from skimage.measure import label

    pieces = label(labels.astype(np.int64), background=0, connectivity=1).astype(np.uint64)
    if len(synapses):
        for side in ("pre", "post"):
            idx = np.clip(np.round(synapses[[f"{side}_z", f"{side}_y", f"{side}_x"]].to_numpy()).astype(int), 0,
                          np.array(labels.shape) - 1)
            synapses[f"{side}_id"] = pieces[idx[:, 0], idx[:, 1], idx[:, 2]]
    return pieces, synapses


def _lazy_volume(block, shape, chunks, synapses, voxel_size) -> EMVolume:
    import dask
    import dask.array as da

    chunks = tuple(int(c) for c in chunks)
    if len(chunks) != 3 or min(chunks) < 1:
        raise NeuralscopeError("chunks", "three positive chunk sizes", chunks)
    grid = [list(range(0, n, c)) for n, c in zip(shape, chunks)]
    parts: dict[str, list] = {"labels": [], "raw": [], "membranes": []}
    for name, dtype, k in (("labels", np.uint64, 0), ("raw", np.uint8, 1), ("membranes", bool, 2)):
        planes = []
        for z0 in grid[0]:
            rows = []
            for y0 in grid[1]:
                cols = []
                for x0 in grid[2]:
                    bshape = (min(chunks[0], shape[0] - z0), min(chunks[1], shape[1] - y0), min(chunks[2], shape[2] - x0))
                    task = dask.delayed(lambda o, s, k=k: block(o, s)[k], pure=True)((z0, y0, x0), bshape)
                    cols.append(da.from_delayed(task, bshape, dtype=dtype))
                rows.append(cols)
            planes.append(rows)
        parts[name] = da.block(planes)
    return EMVolume(parts["raw"], parts["labels"], parts["membranes"], synapses, voxel_size)
