"""From affinities (or a boundary map) to a dense segmentation.

Affinity convention (shared by every function of ``neuralscope.connectomics``): an affinity volume
has shape ``(3, z, y, x)`` with values in [0, 1]; ``affinities[d, z, y, x]`` is the probability
that the voxel and its neighbour one step *back* along axis ``d`` (``z-1``, ``y-1`` or ``x-1``)
belong to the same object (offsets ``(-1, 0, 0), (0, -1, 0), (0, 0, -1)``). The first plane along
each axis has no neighbour and is ignored. A boundary map has the shape of the volume, 1 on
membranes and 0 inside cells.

The default pipeline is waterz-class:

1. seeds at maxima of the distance transform of the cell interior (``boundary < seed_threshold``),
2. seeded watershed of the boundary map (a compiled bucket-queue flood) -> fragments,
3. region adjacency graph whose edges hold the mean affinity along each shared face,
4. hierarchical merging, highest mean affinity first, re-scoring merged regions by the mean over
   their combined faces, until no edge is above ``threshold`` (union-find over fragments).

``method="mutex"`` runs the mutex watershed (``mwatershed``) with attractive nearest-neighbour
and repulsive long-range edges instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError

__all__ = ["RegionGraph", "affinities_to_boundary", "affinities_to_segmentation", "agglomerate",
           "boundary_to_affinities", "boundary_to_segmentation", "mutex_watershed", "region_graph",
           "relabel_consecutive", "watershed_fragments"]


def mutex_watershed(affinities: Any, bias: float = 0.5, long_range_step: int = 4) -> np.ndarray:
    """Mutex watershed; see :func:`neuralscope.connectomics.mutex.mutex_watershed`."""
    from neuralscope.connectomics.mutex import mutex_watershed as run

    return run(affinities, bias=bias, long_range_step=long_range_step)

OFFSETS = ((-1, 0, 0), (0, -1, 0), (0, 0, -1))


def _check_affinities(affinities: Any) -> np.ndarray:
    aff = np.asarray(affinities)
    if aff.ndim != 4 or aff.shape[0] != 3:
        raise NeuralscopeError("affinities", "an array of shape (3, z, y, x)", f"shape {aff.shape}")
    if aff.dtype.kind not in "fiu":
        raise NeuralscopeError("affinities", "numeric affinities in [0, 1]", f"dtype {aff.dtype}")
    if aff.dtype.kind in "iu":  # uint8 network output, 255 = certain
        aff = aff.astype(np.float32) / float(np.iinfo(aff.dtype).max)
    if aff.size and not np.all(np.isfinite(aff)):
        raise NeuralscopeError("affinities", "finite values", "NaN or inf")
    return aff.astype(np.float32, copy=False)


def _check_volume(volume: Any, name: str) -> np.ndarray:
    vol = np.asarray(volume)
    if vol.ndim != 3:
        raise NeuralscopeError(name, "a 3-D volume (z, y, x)", f"shape {vol.shape}")
    if vol.size == 0:
        raise NeuralscopeError(name, "a non-empty volume", f"shape {vol.shape}")
    if vol.dtype.kind not in "fiub":
        raise NeuralscopeError(name, "a numeric volume", f"dtype {vol.dtype}")
    return vol


def _back(d: int, lo: bool) -> tuple[slice, ...]:
    """Slices pairing each voxel (``lo=False``) with its neighbour one step back along ``d``."""
    sl = [slice(None)] * 3
    sl[d] = slice(None, -1) if lo else slice(1, None)
    return tuple(sl)


def boundary_to_affinities(boundary: Any) -> np.ndarray:
    """Nearest-neighbour affinities from a boundary map: ``1 - max(b[v], b[v - e_d])``.

    Parameters
    ----------
    boundary : array-like, shape (z, y, x)
        1 on membranes, 0 inside cells.

    Returns
    -------
    numpy.ndarray, float32, shape (3, z, y, x)
    """
    b = _check_volume(boundary, "boundary").astype(np.float32, copy=False)
    aff = np.zeros((3, *b.shape), np.float32)
    for d in range(3):
        aff[d][_back(d, False)] = 1.0 - np.maximum(b[_back(d, False)], b[_back(d, True)])
    return aff


def affinities_to_boundary(affinities: Any) -> np.ndarray:
    """Boundary map from affinities: 1 minus the mean of the (up to six) affinities of each voxel.

    Parameters
    ----------
    affinities : array-like, shape (3, z, y, x)

    Returns
    -------
    numpy.ndarray, float32, shape (z, y, x)
    """
    aff = _check_affinities(affinities)
    total = np.zeros(aff.shape[1:], np.float32)
    count = np.zeros(aff.shape[1:], np.float32)
    for d in range(3):
        hi, lo = _back(d, False), _back(d, True)
        total[hi] += aff[d][hi]
        count[hi] += 1
        total[lo] += aff[d][hi]
        count[lo] += 1
    return 1.0 - total / np.maximum(count, 1)


def relabel_consecutive(labels: np.ndarray, keep_zero: bool = True) -> tuple[np.ndarray, int]:
    """Relabel to ``1..n`` in order of the old ids (0 stays 0 when ``keep_zero``); returns (uint64 labels, n)."""
    top = int(labels.max()) if labels.size else 0
    if labels.dtype.kind in "iu" and (labels.size == 0 or labels.min() >= 0) and top < max(2**26, 4 * labels.size):
        present = np.zeros(top + 1, bool)  # a lookup table over the id range: two linear passes
        present[labels.ravel()] = True
        zero_kept = keep_zero and present[0]
        lut = np.cumsum(present, dtype=np.uint64)
        if not zero_kept:
            n = int(lut[-1]) if lut.size else 0
        else:
            lut -= np.uint64(1)
            n = int(lut[-1])
        return lut[labels], n
    codes, uniques = pd.factorize(labels.ravel(), sort=True)
    codes = codes.astype(np.uint64) + 1
    n = len(uniques)
    if keep_zero and n and uniques[0] == 0:
        codes -= 1
        n -= 1
    return codes.reshape(labels.shape), n


def watershed_fragments(boundary: Any, seed_threshold: float = 0.5, min_seed_distance: float = 2.0,
                        sampling: tuple[float, float, float] = (1.0, 1.0, 1.0),
                        mask: np.ndarray | None = None) -> np.ndarray:
    """Over-segmentation: seeded watershed of the boundary map.

    Seeds are the maxima of the (chamfer) distance transform of ``boundary < seed_threshold``
    (one seed per plateau, maxima closer than ``min_seed_distance`` voxels fused by a maximum
    filter), so every cell interior gets at least one seed and thin necks do not cut cells.

    Parameters
    ----------
    boundary : array-like, shape (z, y, x)
        Boundary probability (1 = membrane).
    seed_threshold : float
        Voxels below it are interior and may hold seeds.
    min_seed_distance : float
        Radius (voxels) of the maximum filter that picks distance-transform maxima.
    sampling : tuple of float
        Voxel size (z, y, x), for anisotropic volumes (e.g. ``(5, 1, 1)``).
    mask : numpy.ndarray of bool, optional
        Voxels outside the mask get label 0.

    Returns
    -------
    numpy.ndarray, uint64, shape (z, y, x)
        Fragment ids ``1..n`` (0 only outside ``mask``).
    """
    from scipy import ndimage as ndi

    from neuralscope.connectomics._kernels import chamfer_distance, seeded_watershed

    b = _check_volume(boundary, "boundary").astype(np.float32, copy=False)
    interior = b < seed_threshold
    if mask is not None:
        interior &= mask
    dist = chamfer_distance(interior, sampling)
    # Break plateaus of the distance towards the darkest (most certain) voxel.
    dist -= 0.01 * b
    size = tuple(max(1, int(round(2 * min_seed_distance / s)) | 1) for s in np.asarray(sampling) / min(sampling))
    peaks = (dist == ndi.maximum_filter(dist, size=size)) & interior
    markers, n_markers = ndi.label(peaks)
    if n_markers == 0:  # nothing looks like interior: a single fragment
        markers = np.zeros(b.shape, np.int32)
        markers.flat[int(np.argmin(b))] = 1
    # Quantised relief: a 256-level bucket queue floods in linear time.
    relief = np.clip(b * 255.0, 0, 255).astype(np.uint8)
    frag = seeded_watershed(relief, markers.astype(np.uint64), mask)
    return frag.astype(np.uint64, copy=False)


@dataclass
class RegionGraph:
    """Fragments and the faces between them.

    ``u < v`` are fragment ids, ``affinity_sum`` and ``n_faces`` the sum and count of the
    affinities across their shared face (mean affinity = sum / count).
    """

    u: np.ndarray
    v: np.ndarray
    affinity_sum: np.ndarray
    n_faces: np.ndarray

    @property
    def mean_affinity(self) -> np.ndarray:
        return self.affinity_sum / np.maximum(self.n_faces, 1)

    def __len__(self) -> int:
        return len(self.u)

    @staticmethod
    def concatenate(graphs: list[RegionGraph]) -> RegionGraph:
        """Merge graphs (e.g. of blocks and their faces), summing repeated edges."""
        graphs = [g for g in graphs if len(g)]
        if not graphs:
            return RegionGraph(*(np.zeros(0, t) for t in (np.uint64, np.uint64, np.float64, np.int64)))
        u = np.concatenate([g.u for g in graphs])
        v = np.concatenate([g.v for g in graphs])
        return _collect(u, v, np.concatenate([g.affinity_sum for g in graphs]),
                        np.concatenate([g.n_faces for g in graphs]))


def _collect(a: np.ndarray, b: np.ndarray, values: np.ndarray, counts: np.ndarray | None = None) -> RegionGraph:
    u, v = np.minimum(a, b).astype(np.uint64), np.maximum(a, b).astype(np.uint64)
    if u.size == 0:
        return RegionGraph(u, v, np.zeros(0), np.zeros(0, np.int64))
    top = int(v.max()) + 1
    if top < 2**32:  # one integer key per pair hashes far faster than a MultiIndex
        codes, _ = pd.factorize(u * np.uint64(top) + v)
    else:
        codes, _ = pd.factorize(pd.MultiIndex.from_arrays([u, v]))
    first = np.zeros(codes.max() + 1, np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    sums = np.bincount(codes, weights=values)
    n = np.bincount(codes, weights=counts).astype(np.int64) if counts is not None else np.bincount(codes)
    return RegionGraph(u[first], v[first], sums, n)


def region_graph(fragments: np.ndarray, affinities: Any) -> RegionGraph:
    """Region adjacency graph with mean-affinity edges.

    Parameters
    ----------
    fragments : numpy.ndarray of int, shape (z, y, x)
        Fragment ids; 0 is background and gets no edges.
    affinities : array-like, shape (3, z, y, x)

    Returns
    -------
    RegionGraph
    """
    aff = _check_affinities(affinities)
    if aff.shape[1:] != fragments.shape:
        raise NeuralscopeError("affinities", f"shape (3, {', '.join(map(str, fragments.shape))})",
                               f"shape {aff.shape}")
    us, vs, vals = [], [], []
    for d in range(3):
        hi, lo = _back(d, False), _back(d, True)
        a, b = fragments[hi], fragments[lo]
        cut = (a != b) & (a != 0) & (b != 0)
        us.append(a[cut])
        vs.append(b[cut])
        vals.append(aff[d][hi][cut].astype(np.float64))
    return _collect(np.concatenate(us), np.concatenate(vs), np.concatenate(vals))


def agglomerate(graph: RegionGraph, threshold: float) -> dict[int, int]:
    """Hierarchical mean-affinity merging (waterz-class) of a region graph.

    The edge with the highest mean affinity is merged first; the edges of the merged region to its
    neighbours are re-scored by the mean over all their faces. Merging stops when no edge has a mean
    affinity above ``threshold``.

    Parameters
    ----------
    graph : RegionGraph
    threshold : float
        In [0, 1]; higher keeps more objects apart.

    Returns
    -------
    dict
        Fragment id -> representative id (only fragments that were merged appear).
    """
    if not 0.0 <= threshold <= 1.0:
        raise NeuralscopeError("threshold", "a value in [0, 1]", threshold)
    from neuralscope.connectomics._kernels import mean_affinity_merges

    if len(graph) == 0:
        return {}
    # Dense node numbers in id order, so ties (smaller pair first) break as on the ids.
    ids, inverse = np.unique(np.concatenate([graph.u, graph.v]), return_inverse=True)
    root = mean_affinity_merges(inverse[: len(graph)], inverse[len(graph):], graph.affinity_sum, graph.n_faces,
                                len(ids), threshold)
    moved = np.flatnonzero(root != np.arange(len(ids)))
    return dict(zip(ids[moved].tolist(), ids[root[moved]].tolist()))


def _apply_mapping(labels: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    if not mapping:
        return labels
    src = np.fromiter(mapping.keys(), np.uint64, len(mapping))
    dst = np.fromiter(mapping.values(), np.uint64, len(mapping))
    top = int(labels.max()) if labels.size else 0
    if top < 2**28:  # a dense lookup table: one gather
        lut = np.arange(top + 1, dtype=np.uint64)
        keep = src <= top
        lut[src[keep]] = dst[keep]
        return lut[labels]
    order = np.argsort(src)
    src, dst = src[order], dst[order]
    flat = labels.ravel()
    pos = np.searchsorted(src, flat)
    pos[pos == len(src)] = 0
    hit = src[pos] == flat
    out = flat.copy()
    out[hit] = dst[pos[hit]]
    return out.reshape(labels.shape)


def affinities_to_segmentation(affinities: Any, threshold: float = 0.5, method: str = "mean",
                               seed_threshold: float = 0.5, min_seed_distance: float = 2.0,
                               sampling: tuple[float, float, float] = (1.0, 1.0, 1.0),
                               min_size: int = 0, mask: np.ndarray | None = None,
                               return_fragments: bool = False, boundary: np.ndarray | None = None) -> Any:
    """Dense segmentation from affinities: watershed fragments + mean-affinity merging.

    Parameters
    ----------
    affinities : array-like, shape (3, z, y, x)
        Nearest-neighbour affinities (see the module docstring for the convention).
    threshold : float
        Merging stops when no pair of regions has a mean affinity above it (``method="mean"``),
        or the mutex-watershed bias (``method="mutex"``).
    method : {"mean", "mutex"}
        Hierarchical mean-affinity agglomeration (waterz-class) or mutex watershed.
    seed_threshold, min_seed_distance, sampling, mask
        Passed to :func:`watershed_fragments` (``method="mean"``).
    min_size : int
        Objects smaller than this many voxels are merged into the neighbour they share the
        highest mean affinity with.
    return_fragments : bool
        Also return the watershed fragments.
    boundary : numpy.ndarray, optional
        The boundary map the affinities came from, if known: the watershed then floods it directly
        (default: derived from the affinities with :func:`affinities_to_boundary`).

    Returns
    -------
    numpy.ndarray, uint64, shape (z, y, x)
        Ids ``1..n``, 0 only outside ``mask``; with ``return_fragments``, ``(labels, fragments)``.

    Examples
    --------
    >>> b = np.zeros((4, 8, 8), np.float32); b[:, :, 4] = 1      # one membrane plane
    >>> seg = affinities_to_segmentation(boundary_to_affinities(b), threshold=0.5)
    >>> len(np.unique(seg[:, :, :4])), len(np.unique(seg[:, :, 5:])), bool(seg[0, 0, 0] != seg[0, 0, 7])
    (1, 1, True)
    """
    aff = _check_affinities(affinities)
    if aff.shape[1] * aff.shape[2] * aff.shape[3] == 0:
        raise NeuralscopeError("affinities", "a non-empty volume", f"shape {aff.shape}")
    if method == "mutex":
        from neuralscope.connectomics.mutex import mutex_watershed

        labels = mutex_watershed(aff, bias=threshold)
        fragments = labels
    elif method == "mean":
        relief = affinities_to_boundary(aff) if boundary is None else boundary
        fragments = watershed_fragments(relief, seed_threshold, min_seed_distance, sampling, mask)
        del relief
        graph = region_graph(fragments, aff)
        mapping = agglomerate(graph, threshold)
        if min_size > 0:
            labels = _merge_small(fragments, aff, min_size, graph, mapping)
        else:
            labels = _apply_mapping(fragments, mapping)
    else:
        raise NeuralscopeError("method", "'mean' or 'mutex'", method)
    if min_size > 0 and method == "mutex":
        labels = _merge_small(labels, aff, min_size)
    labels = relabel_consecutive(labels)[0]
    return (labels, fragments) if return_fragments else labels


def _merge_small(labels: np.ndarray, aff: np.ndarray, min_size: int, graph: RegionGraph | None = None,
                 mapping: dict[int, int] | None = None) -> np.ndarray:
    """Objects below ``min_size`` voxels join the neighbour of highest mean affinity (three rounds).

    With ``graph`` (the region graph of ``labels``), the objects are ``labels`` relabelled by
    ``mapping`` and the merging runs on the graph alone: object sizes are sums of fragment sizes,
    the object graph is the fragment graph with its ends relabelled, and the voxels are touched
    once, by the final relabelling.
    """
    from neuralscope.connectomics.exact_graph import merge_small_segments

    if graph is None:
        graph = region_graph(labels, aff)
    top = int(labels.max()) if labels.size else 0
    segment = np.arange(top + 1, dtype=np.int64)
    if mapping:
        segment = _apply_mapping(segment.astype(np.uint64), mapping).astype(np.int64)
    sizes = np.bincount(labels.ravel(), minlength=top + 1)
    segment = merge_small_segments(segment, sizes, graph, min_size, rounds=3)
    return segment.astype(np.uint64)[labels]


def boundary_to_segmentation(boundary: Any, threshold: float = 0.5, **kwargs: Any) -> np.ndarray:
    """Dense segmentation from a boundary map (1 = membrane) instead of affinities.

    The boundary map is turned into affinities with :func:`boundary_to_affinities` and segmented
    with :func:`affinities_to_segmentation` (same keyword arguments).

    Parameters
    ----------
    boundary : array-like, shape (z, y, x)
    threshold : float
        Merging threshold on the mean affinity (1 - boundary).

    Returns
    -------
    numpy.ndarray, uint64
    """
    return affinities_to_segmentation(boundary_to_affinities(boundary), threshold=threshold, **kwargs)
