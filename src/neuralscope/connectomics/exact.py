"""Block-wise segmentation that is *exactly* the single-block segmentation.

Three stages, each a set of independent dask tasks, with one small global step between them:

1. **Affinities** -> a temporary uint8 zarr ``(3, z, y, x)``. Each task writes whole chunks: the
   classical model one block read with its filters' reach as halo; the U-Net one tile of the
   *global* tile grid of :func:`~neuralscope.connectomics.networks.affinities.predict_affinities`
   with global normalisation statistics, so the numbers do not depend on the block shape.
2. **Fragments** per block: steepest-descent pointers (:mod:`neuralscope.connectomics.descent`;
   a local function of the affinities, read with :attr:`DescentSettings.halo`), in-core trees
   (local ids), the region graph of the core with *integer* sums of uint8 affinities (or exact
   per-edge histograms, for the learned edge score), and the block's face planes. Face tasks join
   the pointers that cross each face and add the graph edges across it. The global step
   (:mod:`neuralscope.connectomics.exact_graph`): union-find over block-local ids -> fragments,
   numbered by their first voxel in global raster order (so ids do not depend on the blocks
   either); the summed graph (one entry per touching fragment pair, a few hundred times smaller
   than the volume) is agglomerated once by hierarchical merging on mean affinity or on the
   learned merge probability (:func:`~neuralscope.connectomics.agglomeration.agglomerate`);
   segments smaller than ``min_size`` join their best neighbour; segments are numbered by first
   voxel.
3. **Relabel**: each block's local ids go through its lookup table into the output zarr.

Since every number the global step sees is computed identically whatever the blocks, the output
is the same array -- ids included -- for any block shape and scheduler, given the same affinities.
(Torch in another process or on another machine may round the U-Net's last bit differently on some
CPUs, moving the odd voxel's uint8 affinity by one level; the rest is exact.) Only a few blocks (one per
worker) and the graph are ever in memory; the graph (Python dictionaries inside ``agglomerate``,
some hundreds of bytes per edge) is what bounds the volume size. Temporary zarrs live in a staging folder beside ``out``
(a shared file system when the workers are on other machines); ``out`` appears only on success.
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.connectomics.blockwise import BlockwiseResult, _dask_scheduler, _extended, block_grid
from neuralscope.connectomics.descent import (
    DescentSettings,
    descent_pointers,
    local_components,
    quantize_affinities,
    relief_from_affinities,
)
from neuralscope.connectomics.exact_graph import edge_table, final_segments, global_fragments, global_graph
from neuralscope.core.errors import NeuralscopeError

__all__ = ["ClassicalAffinities", "ExactResult", "UNetAffinities", "fragment_graph", "segment_affinities_exact",
           "segment_exact"]


@dataclass
class ExactResult(BlockwiseResult):
    """:class:`~neuralscope.connectomics.blockwise.BlockwiseResult` plus the graph stage's sizes.

    ``n_face_merges``: pointers joined across block faces (fragment pairs); ``n_fragments`` and
    ``n_edges``: the global region graph agglomerated once.
    """

    n_fragments: int = 0
    n_edges: int = 0


# ----------------------------------------------------------------------------------------------
# Stage 1: affinity models that write whole chunks of a uint8 zarr
# ----------------------------------------------------------------------------------------------
class ClassicalAffinities:
    """Affinities ``1 - max(b[v], b[v - e])`` of a fitted :class:`~neuralscope.connectomics.boundaries.ClassicalBoundary`.

    Parameters
    ----------
    boundary : ClassicalBoundary
        Fitted on the whole volume (one scale for every block).
    """

    def __init__(self, boundary: Any):
        self.boundary = boundary

    def regions(self, shape: tuple[int, ...], block_shape: tuple[int, ...]) -> tuple[tuple[int, ...], list]:
        """(zarr chunks, list of (read region, core region)) covering ``shape``."""
        return block_shape, [(_extended(c, self.halo, shape), c) for c in block_grid(shape, block_shape)]

    @property
    def halo(self) -> tuple[int, int, int]:
        """Context per side: the Gaussian's radius, dilation + erosion of the closing, the voxel behind."""
        sigmas, sizes = self.boundary._sizes()
        return tuple(int(4.0 * s + 0.5) + 2 * (k // 2) + 1 for s, k in zip(sigmas, sizes))  # type: ignore[return-value]

    def __call__(self, raw: np.ndarray, read: tuple[slice, ...], core: tuple[slice, ...],
                 shape: tuple[int, ...]) -> np.ndarray:
        from neuralscope.connectomics.agglomeration import boundary_to_affinities

        aff = boundary_to_affinities(self.boundary.transform(raw))
        inner = tuple(slice(c.start - r.start, c.stop - r.start) for c, r in zip(core, read))
        return quantize_affinities(aff[(slice(None), *inner)])


class UNetAffinities:
    """Affinities of the U-Net, on the global tile grid of ``predict_affinities``.

    Each region is one tile of ``predict_affinities(whole volume)`` (same context, padding,
    normalisation and test-time mirrorings), predicted by ``predict_affinities`` itself, so the
    affinity zarr holds the untiled function's numbers whatever the blocks.

    Parameters
    ----------
    normalize : (mean, std)
        Statistics of the whole volume.
    weights : path, optional
        Weights file (default: the shipped ones); loaded once per process.
    tile_shape : tuple of int
        Largest tile core (as ``predict_affinities``).
    margin : int
        Context per tile side.
    device : str
        Torch device.
    test_time_flips : int, optional
        Mirrorings averaged per tile (default: the value tuned with the weights, else 1).
    precision : {"float32", "bfloat16"}, optional
        Arithmetic of the network pass (default: the one tuned with the weights, else float32).
    """

    _cache: dict[str, Any] = {}

    def __init__(self, normalize: tuple[float, float], weights: str | Path | None = None,
                 tile_shape: tuple[int, int, int] = (128, 128, 128), margin: int = 24, device: str = "cpu",
                 test_time_flips: int | None = None, precision: str | None = None):
        self.normalize = (float(normalize[0]), float(normalize[1]))
        self.weights = None if weights is None else str(weights)
        self.precision = precision
        self.tile_shape = tuple(int(t) for t in tile_shape)
        self.margin = int(margin)
        self.device = device
        self.test_time_flips = test_time_flips

    def model(self):
        """(model, meta), cached per process and weights file."""
        key = self.weights or "<default>"
        if key not in self._cache:
            from neuralscope.connectomics.networks.affinities import load_affinity_model

            self._cache[key] = load_affinity_model(self.weights)
        return self._cache[key]

    def flips(self) -> int:
        """Test-time mirrorings used."""
        if self.test_time_flips is not None:
            return int(self.test_time_flips)
        return int((self.model()[1].get("agglomeration", {}) or {}).get("test_time_flips", 1))

    def inference_precision(self) -> str:
        """Arithmetic of the network pass used (bfloat16 falls back to float32 where the CPU lacks it)."""
        from neuralscope.connectomics.networks.affinities import PRECISIONS, effective_precision

        requested = self.precision if self.precision is not None else (
            (self.model()[1].get("agglomeration", {}) or {}).get("precision", "float32"))
        if requested not in PRECISIONS:
            return str(requested)  # predict_affinities reports the bad value
        return effective_precision(str(requested), self.device)

    def regions(self, shape: tuple[int, ...], block_shape: tuple[int, ...]) -> tuple[tuple[int, ...], list]:
        """The tiles of ``predict_affinities`` over the whole volume; chunks = tile cores."""
        from neuralscope.connectomics.networks.affinities import _axis_tiles

        model = self.model()[0]
        align = model.config.total_pool
        margins = [self.margin] * 3
        offsets = model.config.extra.get("offsets") or [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
        if self.flips() > 1:  # as predict_tiled: mirrored passes read each edge further away
            margins = [m + max(int(o[d]) for o in offsets) for d, m in enumerate(margins)]
        margins = [math.ceil(m / a) * a for m, a in zip(margins, align)]
        per_axis = [_axis_tiles(n, t, m, a) for n, t, m, a in zip(shape, self.tile_shape, margins, align)]
        chunks = tuple(axis[0][3] - axis[0][2] for axis in per_axis)
        regions = []
        for tile in itertools.product(*per_axis):
            # The read region may run past the volume: padded like predict_affinities does.
            read = tuple(slice(t[0], t[1]) for t in tile)
            regions.append((read, tuple(slice(t[2], t[3]) for t in tile)))
        return chunks, regions

    def __call__(self, raw: np.ndarray, read: tuple[slice, ...], core: tuple[slice, ...],
                 shape: tuple[int, ...]) -> np.ndarray:
        from neuralscope.connectomics.networks.affinities import predict_affinities

        model = self.model()[0]
        block = np.asarray(raw, dtype=np.float32)
        pad = [(0, r.stop - r.start - b) for r, b in zip(read, block.shape)]
        if any(p[1] for p in pad):
            mode = "reflect" if all(b > p[1] for b, p in zip(block.shape, pad)) else "edge"
            block = np.pad(block, pad, mode=mode)
        # The padded tile has whole pooling cells, so predict_affinities runs it as one tile.
        extra = {"test_time_flips": self.flips()} if self.flips() > 1 else {}
        prob = predict_affinities(block, model, tile_shape=block.shape, margin=0, device=self.device,
                                  normalize=self.normalize, precision=self.inference_precision(), **extra)
        inner = tuple(slice(c.start - r.start, c.stop - r.start) for c, r in zip(core, read))
        return quantize_affinities(prob[(slice(None), *inner)])


def _affinity_task(raw_read: Any, model: Callable, read, core, shape, path: str) -> int:
    import zarr

    aff = model(np.asarray(raw_read), read, core, shape)
    zarr.open_array(path, mode="r+")[(slice(None), *core)] = aff
    return 0


# ----------------------------------------------------------------------------------------------
# Stage 2: fragments and the region graph per block, then per face
# ----------------------------------------------------------------------------------------------
def _fragment_task(aff_path: str, frag_path: str, core: tuple[slice, ...], shape: tuple[int, ...],
                   settings: DescentSettings, histogram: bool = False) -> dict:
    import zarr

    halo = settings.halo
    ext = _extended(core, halo, shape)
    aff = zarr.open_array(aff_path, mode="r")[(slice(None), *ext)]
    relief = relief_from_affinities(aff, tuple(e.start > 0 for e in ext), settings)
    core_in_ext = tuple(slice(c.start - e.start, c.stop - e.start) for c, e in zip(core, ext))
    direction = descent_pointers(relief, core_in_ext)
    labels, n = local_components(direction)
    zarr.open_array(frag_path, mode="r+")[core] = labels
    # First voxel (global raster index) of each local tree: its canonical key.
    # Trees are numbered by first appearance, so the running maximum steps up exactly there.
    running = np.maximum.accumulate(labels.ravel())
    starts = np.flatnonzero(np.diff(running, prepend=np.uint32(0)) > 0)
    local_idx = np.unravel_index(starts, labels.shape)
    first = np.ravel_multi_index(tuple(i + c.start for i, c in zip(local_idx, core)), shape).astype(np.int64)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(np.int64)
    core_aff = aff[(slice(None), *core_in_ext)]
    us, vs, ss, cs = [], [], [], []
    for d in range(3):
        hi, lo = [slice(None)] * 3, [slice(None)] * 3
        hi[d], lo[d] = slice(1, None), slice(None, -1)
        u, v, s, c = edge_table(labels[tuple(hi)].ravel(), labels[tuple(lo)].ravel(), core_aff[d][tuple(hi)].ravel(),
                                 histogram)
        us.append(u), vs.append(v), ss.append(s), cs.append(c)
    u, v, s, c = (np.concatenate(x) for x in (us, vs, ss, cs))
    faces: dict[tuple[int, int], tuple] = {}
    for d in range(3):
        for side, plane, k in ((-1, 0, d), (1, -1, 5 - d)):
            sel = [slice(None)] * 3
            sel[d] = plane
            sel = tuple(sel)
            points_out = direction[sel] == k  # the pointer crosses this face
            face_aff = core_aff[d][sel] if side == -1 else None  # edges to the previous block
            faces[(d, side)] = (labels[sel], points_out, face_aff)
    return {"n": n, "first": first, "sizes": sizes, "edges": (u, v, s, c), "faces": faces, "histogram": histogram}


def _summary(block: dict) -> dict:
    return {k: block[k] for k in ("n", "first", "sizes", "edges")}


def _face_task(low: dict, high: dict, d: int) -> dict:
    """Pointer joins and graph edges across the face between ``low`` and the next block along ``d``."""
    la, out_a, _ = low["faces"][(d, 1)]
    lb, out_b, aff = high["faces"][(d, -1)]
    join = out_a | out_b
    pairs = np.unique(np.stack([la[join].astype(np.int64), lb[join].astype(np.int64)], 1), axis=0)
    edges = edge_table(la.ravel(), lb.ravel(), aff.ravel(), low["histogram"], ordered=True)
    return {"pairs": pairs, "edges": edges}


def _relabel_task(frag_path: str, out_path: str, core: tuple[slice, ...], lut: np.ndarray) -> int:
    import zarr

    local = zarr.open_array(frag_path, mode="r")[core]
    zarr.open_array(out_path, mode="r+")[core] = lut[local]
    return 0


# ----------------------------------------------------------------------------------------------
# Drivers
# ----------------------------------------------------------------------------------------------
def _check(shape, block_shape, threshold, sigma, min_size):
    if len(shape) != 3 or min(shape) == 0:
        raise NeuralscopeError("raw", "a non-empty 3-D volume (z, y, x)", f"shape {tuple(shape)}")
    block_shape = tuple(int(b) for b in block_shape)
    if len(block_shape) != 3 or min(block_shape) < 1:
        raise NeuralscopeError("block_shape", "three positive sizes", block_shape)
    if not (isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0):
        raise NeuralscopeError("threshold", "a value in [0, 1]", threshold)
    if not (isinstance(min_size, (int, np.integer)) and min_size >= 0):
        raise NeuralscopeError("min_size", "an integer >= 0", min_size)
    return block_shape


def _run(compute: Callable, tasks: list) -> list:
    return list(compute(tasks)) if tasks else []


def _segment_from_affinity_zarr(aff_path: str, staging: Path, out: Path, shape, block_shape, settings, threshold,
                                min_size, compute, say, edge_model: dict | None = None) -> ExactResult:
    import dask
    import zarr

    t0 = time.perf_counter()
    cores = block_grid(shape, block_shape)
    frag_path = str(staging / "fragments.zarr")
    zarr.open_array(frag_path, mode="w", shape=shape, chunks=block_shape, dtype=np.uint32, fill_value=0)
    blocks = [dask.delayed(_fragment_task, pure=False)(aff_path, frag_path, c, shape, settings,
                                                                edge_model is not None) for c in cores]
    index = {tuple(s.start for s in c): i for i, c in enumerate(cores)}
    face_keys, face_tasks = [], []
    for i, core in enumerate(cores):
        for d in range(3):
            nxt = [s.start for s in core]
            nxt[d] = core[d].stop
            j = index.get(tuple(nxt))
            if j is not None:
                face_keys.append((i, j))
                face_tasks.append(dask.delayed(_face_task, pure=True)(blocks[i], blocks[j], d))
    say(f"fragments: {len(cores)} block(s) of {block_shape}, halo {settings.halo}, {len(face_tasks)} faces")
    results = _run(compute, [dask.delayed(_summary, pure=True)(b) for b in blocks] + face_tasks)
    summaries, face_results = results[: len(cores)], results[len(cores):]
    faces = [(i, j, f) for (i, j), f in zip(face_keys, face_results)]
    offsets, fragment, n_fragments, sizes, n_joins = global_fragments(summaries, faces)
    graph = global_graph(summaries, faces, offsets, fragment, sizes, edge_model)
    del summaries, faces, face_results, results
    say(f"graph: {int(offsets[-1])} block trees -> {n_fragments} fragments, {len(graph)} edges; agglomerating")
    segment = final_segments(graph, n_fragments, sizes, float(threshold), int(min_size))
    n_segments = int(segment.max()) if segment.size else 0
    zarr.open_array(str(staging / "segmentation.zarr"), mode="w", shape=shape, chunks=block_shape,
                    dtype=np.uint64, fill_value=0)
    relabel = []
    for i, core in enumerate(cores):
        lut = np.zeros(int(offsets[i + 1] - offsets[i]) + 1, np.uint64)
        lut[1:] = segment[fragment[offsets[i]: offsets[i + 1]]]
        relabel.append(dask.delayed(_relabel_task, pure=False)(frag_path, str(staging / "segmentation.zarr"), core, lut))
    _run(compute, relabel)
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    os.replace(staging / "segmentation.zarr", out)
    say(f"{n_segments} segments")
    return ExactResult(out, n_segments, len(cores), int(n_joins), time.perf_counter() - t0,
                       n_fragments=int(n_fragments), n_edges=int(len(graph)))


def _computer(scheduler: Any, n_workers: int | None):
    import dask

    compute_kw, client, cluster = _dask_scheduler(scheduler, n_workers)

    def compute(tasks: list) -> list:
        if client is not None:
            return client.gather(client.compute(tasks))
        return dask.compute(*tasks, **compute_kw)

    def close() -> None:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    return compute, close


def _staging(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)  # staging beside out: the final rename stays on one disk
    return Path(tempfile.mkdtemp(prefix=".exact-", dir=out.parent if out.parent.exists() else None))


def fragment_graph(affinities: Any, sigma: float = 1.0, sampling: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   edge_model: dict | None = None) -> tuple[np.ndarray, Any, np.ndarray]:
    """Fragments and the global region graph of an in-memory affinity volume, for tuning.

    The exact pipeline's result does not depend on the blocks, so thresholds can be tuned on one
    block: ``final_segments(graph, fragments.max(), sizes, threshold, min_size)[fragments]`` (from
    :mod:`neuralscope.connectomics.exact_graph`) is what :func:`segment_affinities_exact` writes.

    Parameters
    ----------
    affinities : array-like, (3, z, y, x)
    sigma, sampling, edge_model
        As :func:`segment_affinities_exact`.

    Returns
    -------
    fragments : numpy.ndarray of int64, (z, y, x)
        Fragment ids 1..F (numbered by first voxel).
    graph : RegionGraph
        Edges between fragments (mean affinity, or learned merge probability times faces).
    sizes : numpy.ndarray of int64, (F + 1,)
        Voxels per fragment id.
    """
    import zarr

    aff = quantize_affinities(affinities)
    shape = tuple(int(s) for s in aff.shape[1:])
    _check(shape, shape, 0.5, sigma, 0)
    settings = DescentSettings(sigma, sampling)
    with tempfile.TemporaryDirectory(prefix=".exact-") as tmp:
        aff_path, frag_path = str(Path(tmp) / "a.zarr"), str(Path(tmp) / "f.zarr")
        zarr.open_array(aff_path, mode="w", shape=aff.shape, chunks=aff.shape, dtype=np.uint8)[...] = aff
        zarr.open_array(frag_path, mode="w", shape=shape, chunks=shape, dtype=np.uint32, fill_value=0)
        core = tuple(slice(0, n) for n in shape)
        block = _fragment_task(aff_path, frag_path, core, shape, settings, edge_model is not None)
        local = zarr.open_array(frag_path, mode="r")[...]
    summaries = [_summary(block)]
    offsets, fragment, _, sizes, _ = global_fragments(summaries, [])
    graph = global_graph(summaries, [], offsets, fragment, sizes, edge_model)
    return fragment[local.astype(np.int64) - 1], graph, sizes


def segment_affinities_exact(affinities: Any, out: str | Path, threshold: float = 0.5, sigma: float = 1.0,
                             min_size: int = 0, sampling: tuple[float, float, float] = (1.0, 1.0, 1.0),
                             block_shape: tuple[int, int, int] = (128, 256, 256), scheduler: Any = None,
                             n_workers: int | None = None, edge_model: dict | None = None,
                             progress: Callable[[str], None] | None = None) -> ExactResult:
    """Segment given affinities block-wise, exactly as one block would (stages 2-3).

    Parameters
    ----------
    affinities : array-like or zarr array, (3, z, y, x)
        In [0, 1] (quantised to uint8) or uint8 (255 = certain). Copied into a chunked zarr first.
    out : path
        Output zarr (uint64 ids ``1..n`` numbered by first voxel); replaced if it exists.
    threshold : float
        Merge while the mean affinity (or, with ``edge_model``, the face-weighted mean merge
        probability) between two regions exceeds it.
    sigma : float
        Relief smoothing of the descent fragments (in-plane voxels).
    min_size : int
        Segments with fewer voxels join their best neighbour (0 = off).
    sampling : tuple of float
        Voxel size (z, y, x).
    block_shape : tuple of int
        Blocks of the fragment stage.
    scheduler, n_workers
        As :func:`~neuralscope.connectomics.blockwise.segment_blockwise`.
    edge_model : dict, optional
        A learned merge score (:func:`~neuralscope.connectomics.networks.edges.fit_edge_model`, e.g.
        the one tuned with the U-Net weights); its face-affinity quantiles come from exact per-edge
        histograms of the uint8 affinities. Default: mean affinity.
    progress : callable, optional
        One-line progress messages.

    Returns
    -------
    ExactResult
    """
    import zarr

    say = progress or (lambda msg: None)
    shape = tuple(int(s) for s in np.shape(affinities)[1:]) if np.ndim(affinities) == 4 else ()
    if len(np.shape(affinities)) != 4 or np.shape(affinities)[0] != 3:
        raise NeuralscopeError("affinities", "an array of shape (3, z, y, x)", f"shape {np.shape(affinities)}")
    block_shape = _check(shape, block_shape, threshold, sigma, min_size)
    settings = DescentSettings(sigma, sampling)
    settings.halo  # validates sigma and sampling before any work
    out = Path(out)
    staging = _staging(out)
    compute, close = _computer(scheduler, n_workers)
    try:
        aff_path = str(staging / "affinities.zarr")
        store = zarr.open_array(aff_path, mode="w", shape=(3, *shape), chunks=(3, *block_shape), dtype=np.uint8)
        for core in block_grid(shape, block_shape):  # one block in memory at a time
            store[(slice(None), *core)] = quantize_affinities(np.asarray(affinities[(slice(None), *core)]))
        return _segment_from_affinity_zarr(aff_path, staging, out, shape, block_shape, settings, threshold,
                                           min_size, compute, say, edge_model)
    finally:
        close()
        shutil.rmtree(staging, ignore_errors=True)


def segment_exact(raw: Any, out: str | Path, affinity_model: Any, threshold: float = 0.5, sigma: float = 1.0,
                  min_size: int = 0, sampling: tuple[float, float, float] = (1.0, 1.0, 1.0),
                  block_shape: tuple[int, int, int] = (128, 256, 256), scheduler: Any = None,
                  n_workers: int | None = None, edge_model: dict | None = None,
                  keep_affinities: str | Path | None = None, progress: Callable[[str], None] | None = None) -> ExactResult:
    """Raw EM -> affinities -> descent fragments -> one global agglomeration, block by block.

    The result does not depend on ``block_shape``, ``scheduler`` or ``n_workers``: a block-wise run
    writes the same array as a single-block run (see the module docstring).

    Parameters
    ----------
    raw : numpy.ndarray or dask.array.Array, (z, y, x)
        Grey-scale EM, read block by block.
    out : path
        Output zarr (uint64 ids ``1..n``, numbered by first voxel); replaced if it exists.
    affinity_model : ClassicalAffinities or UNetAffinities
        Writes the affinity zarr chunk by chunk.
    threshold, sigma, min_size, sampling, block_shape, scheduler, n_workers, edge_model, progress
        As :func:`segment_affinities_exact`.
    keep_affinities : path, optional
        Also keep the uint8 affinity zarr there.

    Returns
    -------
    ExactResult
    """
    import dask
    import dask.array as da
    import zarr

    say = progress or (lambda msg: None)
    if getattr(raw, "ndim", None) != 3 or min(raw.shape) == 0:
        raise NeuralscopeError("raw", "a non-empty 3-D volume (z, y, x)", f"shape {getattr(raw, 'shape', None)}")
    if np.dtype(raw.dtype).kind not in "uif":
        raise NeuralscopeError("raw", "a numeric grey-scale volume", f"dtype {raw.dtype}")
    shape = tuple(int(s) for s in raw.shape)
    block_shape = _check(shape, block_shape, threshold, sigma, min_size)
    settings = DescentSettings(sigma, sampling)
    settings.halo
    arr = raw if isinstance(raw, da.Array) else da.from_array(raw, chunks=block_shape)
    out = Path(out)
    staging = _staging(out)
    compute, close = _computer(scheduler, n_workers)
    try:
        t0 = time.perf_counter()
        aff_path = str(staging / "affinities.zarr")
        chunks, regions = affinity_model.regions(shape, block_shape)
        zarr.open_array(aff_path, mode="w", shape=(3, *shape), chunks=(3, *chunks), dtype=np.uint8, fill_value=0)
        tasks = []
        for read, core in regions:
            clipped = tuple(slice(r.start, min(r.stop, n)) for r, n in zip(read, shape))
            tasks.append(dask.delayed(_affinity_task, pure=False)(arr[clipped], affinity_model, read, core, shape,
                                                                 aff_path))
        say(f"affinities: {len(tasks)} region(s), chunks {chunks}")
        _run(compute, tasks)
        say(f"affinities done in {time.perf_counter() - t0:.1f} s")
        result = _segment_from_affinity_zarr(aff_path, staging, out, shape, block_shape, settings, threshold,
                                             min_size, compute, say, edge_model)
        if keep_affinities is not None:
            keep = Path(keep_affinities)
            if keep.exists():
                shutil.rmtree(keep)
            shutil.move(aff_path, keep)
        result.seconds = time.perf_counter() - t0
        return result
    finally:
        close()
        shutil.rmtree(staging, ignore_errors=True)
