"""Synapses: a classical detector, precision/recall with a distance tolerance, and partner
assignment from synapse points to segments -> a neuron x neuron weighted :class:`Connectome`.

A detected synapse is a point (z, y, x). Partners come either

- from explicit pre / post points (columns ``pre_z, pre_y, pre_x, post_z, post_y, post_x``, e.g.
  a detector that predicts the pre->post direction), looked up in the segmentation; or
- from the point alone: the synaptic density sits on the presynaptic side of the cleft, so the
  segment under the point is presynaptic and the most frequent *other* segment within
  ``radius`` is postsynaptic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError

__all__ = ["SynapseMatch", "assign_partners", "detect_synapses_classical", "match_synapses",
           "synapses_to_connectome"]

_POINT = ["z", "y", "x"]
_PRE = ["pre_z", "pre_y", "pre_x"]
_POST = ["post_z", "post_y", "post_x"]


def _points(points: Any, name: str) -> np.ndarray:
    if isinstance(points, pd.DataFrame):
        missing = [c for c in _POINT if c not in points.columns]
        if missing:
            raise NeuralscopeError(name, "columns z, y, x", f"missing {missing}")
        points = points[_POINT].to_numpy(np.float64)
    arr = np.asarray(points, np.float64).reshape(-1, 3) if np.size(points) else np.zeros((0, 3))
    if not np.all(np.isfinite(arr)):
        raise NeuralscopeError(name, "finite coordinates", "NaN or inf")
    return arr


@dataclass
class SynapseMatch:
    """One-to-one matching of detected to true synapses within a distance tolerance.

    ``pairs``: (detected index, true index) of the matches; ``distances`` theirs.
    """

    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    pairs: np.ndarray
    distances: np.ndarray

    def as_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "true_positives": self.true_positives, "false_positives": self.false_positives,
                "false_negatives": self.false_negatives}


def match_synapses(detected: Any, truth: Any, tolerance: float,
                   sampling: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> SynapseMatch:
    """Precision and recall of detected synapses: optimal one-to-one matching within ``tolerance``.

    Parameters
    ----------
    detected, truth : array-like (n, 3) or DataFrame with z, y, x
        Voxel coordinates.
    tolerance : float
        Largest distance (physical units, after ``sampling``) of a match.
    sampling : tuple of float
        Voxel size (z, y, x).

    Returns
    -------
    SynapseMatch
        Precision = matched / detected, recall = matched / true (1.0 for an empty denominator).

    Examples
    --------
    >>> m = match_synapses([[0, 0, 0], [10, 10, 10]], [[0, 1, 0], [30, 30, 30]], tolerance=2)
    >>> m.precision, m.recall
    (0.5, 0.5)
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse import coo_matrix
    from scipy.spatial import cKDTree

    if not tolerance > 0:
        raise NeuralscopeError("tolerance", "a distance > 0", tolerance)
    scale = np.asarray(sampling, np.float64)
    det, tru = _points(detected, "detected") * scale, _points(truth, "truth") * scale
    pairs = np.zeros((0, 2), np.int64)
    dists = np.zeros(0)
    if len(det) and len(tru):
        sparse = cKDTree(det).sparse_distance_matrix(cKDTree(tru), tolerance, output_type="coo_matrix")
        if sparse.nnz:
            # Solve the assignment per connected group of candidates (small dense problems).
            n_det = len(det)
            graph = coo_matrix((np.ones(sparse.nnz), (sparse.row, sparse.col + n_det)),
                               shape=(n_det + len(tru),) * 2)
            _, comp = connected_components(graph, directed=False)
            group = comp[sparse.row]
            found_pairs, found_d = [], []
            for g in np.unique(group):
                sel = group == g
                rows, cols, vals = sparse.row[sel], sparse.col[sel], sparse.data[sel]
                r_ids, r_idx = np.unique(rows, return_inverse=True)
                c_ids, c_idx = np.unique(cols, return_inverse=True)
                cost = np.full((len(r_ids), len(c_ids)), 1e6)
                cost[r_idx, c_idx] = vals
                ri, ci = linear_sum_assignment(cost)
                ok = cost[ri, ci] <= tolerance
                found_pairs.append(np.stack([r_ids[ri[ok]], c_ids[ci[ok]]], 1))
                found_d.append(cost[ri[ok], ci[ok]])
            pairs = np.concatenate(found_pairs).astype(np.int64)
            dists = np.concatenate(found_d)
    tp = len(pairs)
    precision = tp / len(det) if len(det) else 1.0
    recall = tp / len(tru) if len(tru) else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return SynapseMatch(float(precision), float(recall), float(f1), tp, len(det) - tp, len(tru) - tp, pairs, dists)


def _lookup(segmentation: np.ndarray, pts: np.ndarray) -> np.ndarray:
    idx = np.clip(np.round(pts).astype(np.int64), 0, np.array(segmentation.shape) - 1)
    return np.asarray(segmentation[idx[:, 0], idx[:, 1], idx[:, 2]]).astype(np.uint64)


def _neighbourhood(segmentation: np.ndarray, centre: np.ndarray, radius: float, sampling: np.ndarray) -> np.ndarray:
    half = np.ceil(radius / sampling).astype(int)
    c = np.round(centre).astype(int)
    lo = np.maximum(c - half, 0)
    hi = np.minimum(c + half + 1, segmentation.shape)
    patch = np.asarray(segmentation[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]])
    grid = np.meshgrid(*[(np.arange(a, b) - cc) * s for a, b, cc, s in zip(lo, hi, c, sampling)], indexing="ij")
    inside = sum(g ** 2 for g in grid) <= radius ** 2
    return patch[inside]


def assign_partners(synapses: Any, segmentation: Any, radius: float = 6.0,
                    sampling: tuple[float, float, float] = (1.0, 1.0, 1.0),
                    slab_slices: int | None = None) -> pd.DataFrame:
    """Pre- and postsynaptic segment of each synapse.

    Parameters
    ----------
    synapses : DataFrame or array (n, 3)
        ``z, y, x`` per synapse; with columns ``pre_z, ..., post_x`` those points are looked up
        directly. Otherwise the segment under the point is presynaptic and the most frequent other
        segment within ``radius`` postsynaptic.
    segmentation : array-like (z, y, x) of int
        Segment ids (0 = background, never a partner).
    radius : float
        Search radius (physical units) for the postsynaptic partner.
    sampling : tuple of float
        Voxel size (z, y, x).
    slab_slices : int, optional
        Read a lazy ``segmentation`` (dask, zarr) in slabs of this many sections plus the search
        radius, never whole; the result is the same. Tables with explicit partner points are
        looked up directly.

    Returns
    -------
    pandas.DataFrame
        The input columns plus ``pre_segment`` and ``post_segment`` (0 when none was found) and
        ``valid`` (both found and different).
    """
    seg = segmentation
    if getattr(seg, "ndim", None) != 3:
        seg = np.asarray(seg)
        if seg.ndim != 3:
            raise NeuralscopeError("segmentation", "a 3-D label volume", f"shape {seg.shape}")
    if np.dtype(seg.dtype).kind not in "iu":
        raise NeuralscopeError("segmentation", "integer labels", f"dtype {seg.dtype}")
    table = synapses.copy() if isinstance(synapses, pd.DataFrame) else pd.DataFrame(_points(synapses, "synapses"), columns=_POINT)
    explicit = all(c in table.columns for c in _PRE + _POST)
    if slab_slices is not None and int(slab_slices) < 1:
        raise NeuralscopeError("slab_slices", "a number of sections >= 1", slab_slices)
    if slab_slices is not None and not explicit:
        return _assign_in_slabs(table, seg, radius, sampling, int(slab_slices))
    if slab_slices is not None:  # explicit partner points may lie anywhere
        seg = np.asarray(seg)
    pts = _points(table, "synapses")
    scale = np.asarray(sampling, np.float64)
    if explicit:
        pre = _lookup(seg, table[_PRE].to_numpy(np.float64))
        post = _lookup(seg, table[_POST].to_numpy(np.float64))
    else:
        pre = _lookup(seg, pts)
        post = np.zeros(len(pts), np.uint64)
        for i, p in enumerate(pts):
            around = _neighbourhood(seg, p, radius, scale)
            around = around[(around != 0) & (around != pre[i])]
            if around.size:
                ids, counts = np.unique(around, return_counts=True)
                post[i] = ids[np.argmax(counts)]
    table["pre_segment"] = pre
    table["post_segment"] = post
    table["valid"] = (pre != 0) & (post != 0) & (pre != post)
    return table


def _assign_in_slabs(table: pd.DataFrame, segmentation: Any, radius: float, sampling: tuple[float, float, float],
                     slab_slices: int) -> pd.DataFrame:
    """:func:`assign_partners` reading the segmentation in z slabs (points without explicit partners).

    Each slab of sections is read with the search radius around it, and the synapses whose
    (rounded) point lies in it are assigned there: the same result as on the whole volume, for
    points without explicit ``pre_*`` / ``post_*`` columns.
    """
    table = table.reset_index(drop=True)
    n_z = int(segmentation.shape[0])
    reach = int(np.ceil(radius / sampling[0]))
    z_index = np.clip(np.round(table["z"].to_numpy(np.float64)), 0, n_z - 1).astype(np.int64)
    parts = []
    for z0 in range(0, n_z, slab_slices):
        z1 = min(n_z, z0 + slab_slices)
        rows = np.flatnonzero((z_index >= z0) & (z_index < z1))
        if not len(rows):
            continue
        # An even shift keeps numpy's round-half-to-even lookups on the same voxels.
        e0 = max(0, z0 - reach)
        e0 -= e0 % 2
        e1 = min(n_z, z1 + reach)
        local = table.iloc[rows].copy()
        local["z"] = local["z"] - e0
        block = np.asarray(segmentation[e0:e1])
        done = assign_partners(local, block, radius=radius, sampling=sampling)
        done["z"] = table["z"].to_numpy()[rows]
        parts.append(done)
    if not parts:
        return assign_partners(table, np.zeros((1, 1, 1), np.uint64), radius=radius, sampling=sampling)
    return pd.concat(parts).sort_index()


def synapses_to_connectome(assigned: pd.DataFrame, name: str = "em-synapses"):
    """Neuron x neuron weighted edge list (synapse counts) from :func:`assign_partners` output.

    Parameters
    ----------
    assigned : pandas.DataFrame
        With ``pre_segment``, ``post_segment`` and ``valid``.
    name : str
        Label of the connectome.

    Returns
    -------
    neuralscope.core.connectome.Connectome
        One edge per (pre, post) segment pair, ``count`` = number of synapses.
    """
    from neuralscope.core.connectome import Connectome

    for c in ("pre_segment", "post_segment"):
        if c not in assigned.columns:
            raise NeuralscopeError("synapses", "the output of assign_partners", f"no column {c!r}")
    good = assigned[assigned["valid"]] if "valid" in assigned.columns else assigned
    edges = good.groupby(["pre_segment", "post_segment"]).size().rename("count").reset_index()
    return Connectome(edges["pre_segment"].to_numpy(np.int64), edges["post_segment"].to_numpy(np.int64),
                      edges["count"].to_numpy(np.float64), name=name)


def detect_synapses_classical(raw: Any, radius: float = 3.0, threshold: float = 2.25,
                              sampling: tuple[float, float, float] = (1.0, 1.0, 1.0),
                              slab_slices: int | None = None) -> pd.DataFrame:
    """Dark blobs of about ``radius``: a classical synaptic-density detector (no training).

    Synaptic densities (T-bars, PSDs) are the darkest compact structures in EM, darker than the
    membranes they sit on. The image is smoothed at a third of the blob radius; each local minimum
    (within ``radius``) whose darkness exceeds ``threshold`` robust standard deviations (median
    absolute deviation x 1.4826) below the median grey level is a detection.

    Parameters
    ----------
    raw : array-like (z, y, x)
        Grey-scale EM (dark densities): numpy, or dask / zarr when ``slab_slices`` is given.
    radius : float
        Blob radius (physical units).
    threshold : float
        Darkness threshold in robust standard deviations (higher = fewer detections).
    sampling : tuple of float
        Voxel size (z, y, x).
    slab_slices : int, optional
        Stream the volume in slabs of this many sections (plus the filters' reach) instead of
        reading it whole. The smoothed volume goes to a temporary float32 zarr (4 bytes per
        voxel on disk) and the median and MAD are exact order statistics found by histogram
        passes over it, so the detections are identical to the in-memory run.

    Returns
    -------
    pandas.DataFrame
        ``z, y, x, score`` per detection (score = darkness in robust SDs), strongest first.
    """
    from scipy import ndimage as ndi

    if not radius > 0:
        raise NeuralscopeError("radius", "a radius > 0", radius)
    scale = np.asarray(sampling, np.float64)
    sigma = radius / 3.0 / scale
    size = tuple(max(1, int(2 * np.ceil(radius / s)) + 1) for s in scale)
    if slab_slices is not None:
        return _detect_classical_slabs(raw, sigma, size, threshold, int(slab_slices))
    img = np.asarray(raw, np.float32)
    if img.ndim != 3 or img.size == 0:
        raise NeuralscopeError("raw", "a non-empty 3-D volume", f"shape {img.shape}")
    smooth = ndi.gaussian_filter(img, sigma)
    med = float(np.median(smooth))
    spread = float(np.median(np.abs(smooth - med))) * 1.4826 or 1.0
    darkness = (med - smooth) / spread
    peaks = (smooth == ndi.minimum_filter(smooth, size=size)) & (darkness > threshold)
    return _detections(np.argwhere(peaks), darkness[peaks])


def _detections(zyx: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    order = np.argsort(-score, kind="stable")
    return pd.DataFrame({"z": zyx[order, 0].astype(float), "y": zyx[order, 1].astype(float),
                         "x": zyx[order, 2].astype(float), "score": score[order]})


def _slabs(n: int, slab: int, reach: int):
    """(core start, core stop, read start, read stop) along z."""
    for z0 in range(0, n, slab):
        z1 = min(n, z0 + slab)
        yield z0, z1, max(0, z0 - reach), min(n, z1 + reach)


def _streamed_median(read: Any, n: int, bins: int = 65536) -> float:
    """``float(np.median(values))`` of float32 values streamed by ``read()`` (an iterable factory).

    Exact: a min/max pass, a histogram pass that finds the bins of the two middle order
    statistics, and a pass that gathers the values of those bins (plus their neighbours, against
    rounding at bin edges) and selects inside them.
    """
    lo, hi = np.inf, -np.inf
    for v in read():
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    ks = ((n - 1) // 2, n // 2)
    if lo == hi:
        return lo
    edges = np.linspace(lo, hi, bins + 1)
    counts = np.zeros(bins, np.int64)
    for v in read():
        counts += np.histogram(v, bins=bins, range=(lo, hi))[0]  # uniform bins: no sort
    cum = np.cumsum(counts)
    first, last = (int(np.searchsorted(cum, k, side="right")) for k in ks)
    a, b = edges[max(first - 1, 0)], edges[min(last + 2, bins)]
    below, inside = 0, []
    for v in read():
        below += int(np.count_nonzero(v < a))
        inside.append(v[(v >= a) & (v <= b)])
    values = np.concatenate(inside)
    if not (below <= ks[0] and ks[1] < below + len(values)):  # cannot happen unless the edges misbehave
        values, below = np.concatenate(list(read())), 0
    part = np.partition(values, [ks[0] - below, ks[1] - below])
    # np.median of float32 data: the float32 mean of the two middle values.
    return float(np.mean(np.array([part[ks[0] - below], part[ks[1] - below]], np.float32)))


def _detect_classical_slabs(raw: Any, sigma: np.ndarray, size: tuple[int, ...], threshold: float,
                            slab: int) -> pd.DataFrame:
    import tempfile

    import zarr
    from scipy import ndimage as ndi

    shape = tuple(int(v) for v in getattr(raw, "shape", ()))
    if len(shape) != 3 or min(shape) == 0:
        raise NeuralscopeError("raw", "a non-empty 3-D volume", f"shape {shape}")
    if slab < 1:
        raise NeuralscopeError("slab_slices", "a slab of >= 1 sections", slab)
    n_z = shape[0]
    # scipy's Gaussian reaches int(4 sigma + 0.5) voxels: that many sections make a slab exact.
    reach = int(4.0 * float(sigma[0]) + 0.5)
    half = size[0] // 2
    with tempfile.TemporaryDirectory(prefix="neuralscope-synapses-") as tmp:
        # Uncompressed: smoothed grey values hardly compress, and the slabs are read six times.
        store = zarr.create_array(f"{tmp}/smooth.zarr", shape=shape, chunks=(slab, *shape[1:]), dtype=np.float32,
                                  compressors=None)
        for z0, z1, e0, e1 in _slabs(n_z, slab, reach):
            block = np.asarray(raw[e0:e1], np.float32)
            store[z0:z1] = ndi.gaussian_filter(block, sigma)[z0 - e0:z1 - e0]

        def smoothed():
            for z0, z1, _, _ in _slabs(n_z, slab, 0):
                yield store[z0:z1]

        med = _streamed_median(smoothed, int(np.prod(shape)))

        def deviations():
            for v in smoothed():
                yield np.abs(v - med)

        spread = _streamed_median(deviations, int(np.prod(shape))) * 1.4826 or 1.0
        found, scores = [], []
        for z0, z1, e0, e1 in _slabs(n_z, slab, half):
            smooth = store[e0:e1]
            core = slice(z0 - e0, z1 - e0)
            minimum = ndi.minimum_filter(smooth, size=size)[core]
            smooth = smooth[core]
            darkness = (med - smooth) / spread
            peaks = (smooth == minimum) & (darkness > threshold)
            zyx = np.argwhere(peaks)
            zyx[:, 0] += z0
            found.append(zyx)
            scores.append(darkness[peaks])
    return _detections(np.concatenate(found), np.concatenate(scores))
