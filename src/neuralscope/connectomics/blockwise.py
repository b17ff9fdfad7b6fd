"""Block-wise segmentation of volumes larger than memory, stitched into one global segmentation.

The volume is cut into core blocks; each block is segmented with a halo of context around it (any
per-block segmenter: a function ``raw block -> labels``). Stitching:

1. each block's core ids become ``1..n_i``; block ``i``'s ids are shifted by the cumulative count
   of the blocks before it, so ids never collide;
2. across every face between two blocks, each block's labels *in its halo* (the first
   ``overlap_width`` planes of the neighbour's core) are compared with the neighbour's own labels
   there; two objects are the same object when more than ``min_overlap`` of the smaller one's slab
   voxels lie in the other;
3. union-find over those pairs gives every block a lookup table local id -> global id, applied
   when the core is written to the output zarr.

Each block's core goes to a temporary zarr first, so only a few blocks are in memory at a time
(one per worker), plus thin face slabs. The same graph runs on dask's threads, processes or a
``dask.distributed`` cluster (``scheduler=``: ``"threads"``, ``"synchronous"``, ``"local"`` for a
LocalCluster, or a scheduler address).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError

__all__ = ["BlockwiseResult", "block_grid", "segment_blockwise"]


@dataclass
class BlockwiseResult:
    """Outcome of :func:`segment_blockwise`.

    ``path``: the output zarr (uint64, 0 = background); ``n_segments``: ids ``1..n_segments``;
    ``n_blocks``; ``n_face_merges``: object pairs joined across block faces; ``seconds``: wall time.
    """

    path: Path
    n_segments: int
    n_blocks: int
    n_face_merges: int
    seconds: float

    def load(self) -> np.ndarray:
        """The whole segmentation in memory."""
        import zarr

        return zarr.open_array(str(self.path), mode="r")[...]


def block_grid(shape: tuple[int, ...], block_shape: tuple[int, ...]) -> list[tuple[slice, ...]]:
    """Core regions tiling ``shape`` (the last block along an axis may be smaller)."""
    ranges = [range(0, n, b) for n, b in zip(shape, block_shape)]
    return [tuple(slice(o, min(o + b, n)) for o, b, n in zip(origin, block_shape, shape))
            for origin in itertools.product(*ranges)]


def _extended(core: tuple[slice, ...], halo: tuple[int, ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(max(0, s.start - h), min(n, s.stop + h)) for s, h, n in zip(core, halo, shape))


def _relabel_block(labels: np.ndarray, core_in_ext: tuple[slice, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """Core ids -> 1..n; ext labels of objects absent from the core -> 0 (they cannot vote)."""
    ids = pd.unique(labels[core_in_ext].ravel())
    ids = np.sort(ids[ids != 0]).astype(np.int64)
    n = len(ids)
    top = int(labels.max()) if labels.size else 0
    if labels.min() >= 0 and top < max(2**26, 4 * labels.size):
        lut = np.zeros(top + 1, np.uint64)  # one gather instead of a search per voxel
        lut[ids] = np.arange(1, n + 1, dtype=np.uint64)
        out = lut[labels]
    else:
        pos = np.searchsorted(ids, labels.ravel())
        pos[pos >= n] = 0
        hit = (ids[pos] == labels.ravel()) if n else np.zeros(labels.size, bool)
        out = np.zeros(labels.size, np.uint64)
        out[hit] = pos[hit].astype(np.uint64) + 1
        out = out.reshape(labels.shape)
    return out, out[core_in_ext], n


def _run_block(raw_ext: np.ndarray, segment_block: Callable, core_in_ext: tuple[slice, ...], core: tuple[slice, ...],
               temp_path: str, overlap_width: int) -> dict:
    import zarr

    labels = np.asarray(segment_block(np.asarray(raw_ext)))
    if labels.shape != raw_ext.shape:
        raise NeuralscopeError("segment_block", f"labels of the block's shape {raw_ext.shape}", f"shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise NeuralscopeError("segment_block", "integer labels", f"dtype {labels.dtype}")
    ext_labels, core_labels, n = _relabel_block(labels, core_in_ext)
    zarr.open_array(temp_path, mode="r+")[core] = core_labels
    # Thin slabs beside each face: inside the core (own view) and just outside it (halo view).
    slabs: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for d in range(3):
        c, w = core_in_ext[d], overlap_width
        for side in (-1, 1):
            if side == -1:
                halo_sl, own_sl = slice(max(0, c.start - w), c.start), slice(0, w)
            else:
                halo_sl, own_sl = slice(c.stop, min(ext_labels.shape[d], c.stop + w)), slice(-w, None)
            if halo_sl.stop - halo_sl.start < 1:
                continue  # the volume border: no neighbour on this side
            sel_halo = list(core_in_ext)
            sel_halo[d] = halo_sl
            sel_own = [slice(None)] * 3
            sel_own[d] = own_sl
            # Local ids fit 32 bits: halves the slabs kept until both neighbours are matched.
            kind = np.uint32 if n < 2**32 else np.uint64
            slabs[(d, side)] = (ext_labels[tuple(sel_halo)].astype(kind), core_labels[tuple(sel_own)].astype(kind))
    return {"n": n, "slabs": slabs}


def _face_pairs(low: dict, high: dict, d: int, min_overlap: float) -> np.ndarray:
    """Pairs (id in low block, id in high block) that are one object across the face along ``d``."""
    pairs = []
    # low block's view of high's first planes vs high's own labels there; and the mirror image.
    for (view, own, swap) in ((low["slabs"].get((d, 1), (None,))[0], high["slabs"].get((d, -1), (None, None))[1], False),
                              (high["slabs"].get((d, -1), (None,))[0], low["slabs"].get((d, 1), (None, None))[1], True)):
        if view is None or own is None:
            continue
        width = min(view.shape[d], own.shape[d])
        sl = [slice(None)] * 3
        sl[d] = slice(0, width) if not swap else slice(view.shape[d] - width, view.shape[d])
        sl_own = [slice(None)] * 3
        sl_own[d] = slice(0, width) if not swap else slice(own.shape[d] - width, own.shape[d])
        a, b = view[tuple(sl)].ravel(), own[tuple(sl_own)].ravel()
        keep = (a != 0) & (b != 0)
        if not keep.any():
            continue
        a, b = a[keep], b[keep]
        table = pd.DataFrame({"a": a, "b": b}).value_counts().rename("n").reset_index()
        size_a = table.groupby("a")["n"].transform("sum")
        size_b = table.groupby("b")["n"].transform("sum")
        # "Mostly inside the smaller one": exact for partitions that agree in the slab, where a
        # mutual-majority rule would miss an object that one side sees as two.
        good = table["n"] > min_overlap * np.minimum(size_a, size_b)
        chosen = table.loc[good, ["a", "b"]].to_numpy(np.uint64)
        pairs.append(chosen[:, ::-1] if swap else chosen)  # always (low id, high id)
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), np.uint64)


def _union_find(n_total: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components of ``pairs`` over ids ``1..n_total`` -> consecutive labels (0 stays 0)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(pairs):
        graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64))),
                           shape=(n_total + 1, n_total + 1))
        _, comp = connected_components(graph, directed=False)
    else:
        comp = np.arange(n_total + 1)
    # Component of id 0 -> 0; the others numbered 1.. in order of their smallest member.
    _, first = np.unique(comp, return_index=True)
    order = np.argsort(first)
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    out = rank[comp].astype(np.uint64)
    return out


def _dask_scheduler(scheduler: Any, n_workers: int | None):
    """(get-kwargs for dask.compute, client or None, cluster or None)."""
    if scheduler is None or scheduler in ("threads", "threading"):
        return {"scheduler": "threads", "num_workers": n_workers}, None, None
    if scheduler in ("synchronous", "sync"):
        return {"scheduler": "synchronous"}, None, None
    if scheduler == "processes":
        return {"scheduler": "processes", "num_workers": n_workers}, None, None
    from distributed import Client, LocalCluster

    if scheduler == "local":
        cluster = LocalCluster(n_workers=n_workers or 2, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=50)
        return {}, Client(cluster, set_as_default=False), cluster
    if isinstance(scheduler, str):
        try:
            return {}, Client(scheduler, timeout="10s", set_as_default=False), None
        except Exception as exc:  # noqa: BLE001
            raise NeuralscopeError("--scheduler", "a reachable dask scheduler address (e.g. tcp://host:8786)",
                                   f"{scheduler} ({type(exc).__name__}: {exc})") from None
    return {}, scheduler, None  # an existing distributed.Client


def segment_blockwise(raw: Any, segment_block: Callable[[np.ndarray], np.ndarray], out: str | Path,
                      block_shape: tuple[int, int, int] = (128, 256, 256), halo: tuple[int, int, int] = (8, 16, 16),
                      overlap_width: int = 2, min_overlap: float = 0.5, scheduler: Any = None,
                      n_workers: int | None = None, output_chunks: tuple[int, int, int] | None = None,
                      progress: Callable[[str], None] | None = None) -> BlockwiseResult:
    """Segment a (dask) volume block by block and stitch the blocks into one segmentation.

    Parameters
    ----------
    raw : dask.array.Array or numpy.ndarray, (z, y, x)
        The volume (read lazily when it is a dask array).
    segment_block : callable
        ``labels = segment_block(raw_block)``: integer labels of the block's shape (0 = background).
        It sees the core block plus ``halo`` voxels of context (less at the volume border). Must be
        picklable for process-based schedulers.
    out : path
        Output zarr folder (uint64 ids ``1..n``, 0 = background); replaced if it exists.
    block_shape : tuple of int
        Core block size (z, y, x).
    halo : tuple of int
        Context added on each side; must be >= ``overlap_width`` where blocks meet.
    overlap_width : int
        Planes of the neighbour's core compared when matching objects across a face.
    min_overlap : float
        Two objects are joined when their overlap exceeds this fraction of the smaller one's voxels
        in the compared slab.
    scheduler : None, "threads", "synchronous", "processes", "local", address or distributed.Client
        Where the blocks run (default: dask threads).
    n_workers : int, optional
        Threads / processes / LocalCluster workers.
    output_chunks : tuple of int, optional
        Chunks of the output zarr (default ``block_shape``).
    progress : callable, optional
        Receives one-line progress messages.

    Returns
    -------
    BlockwiseResult
    """
    import dask
    import dask.array as da
    import zarr

    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    arr = raw if isinstance(raw, da.Array) else da.from_array(np.asarray(raw), chunks=block_shape)
    if arr.ndim != 3 or min(arr.shape) == 0:
        raise NeuralscopeError("raw", "a non-empty 3-D volume (z, y, x)", f"shape {arr.shape}")
    block_shape = tuple(int(b) for b in block_shape)
    halo = tuple(int(h) for h in halo)
    if len(block_shape) != 3 or min(block_shape) < 1:
        raise NeuralscopeError("block_shape", "three positive sizes", block_shape)
    if len(halo) != 3 or min(halo) < 0:
        raise NeuralscopeError("halo", "three sizes >= 0", halo)
    if overlap_width < 1 or any(h < overlap_width for h, b, n in zip(halo, block_shape, arr.shape) if b < n):
        raise NeuralscopeError("halo", f"at least overlap_width={overlap_width} along every axis that is cut",
                               halo)
    if not 0 < min_overlap < 1:
        raise NeuralscopeError("min_overlap", "a fraction in (0, 1)", min_overlap)
    out = Path(out)
    shape = tuple(int(s) for s in arr.shape)
    cores = block_grid(shape, block_shape)
    staging = Path(tempfile.mkdtemp(prefix=".blocks-", dir=out.parent if out.parent.exists() else None))
    compute_kw, client, cluster = _dask_scheduler(scheduler, n_workers)
    try:
        temp_path = str(staging / "local.zarr")
        zarr.open_array(temp_path, mode="w", shape=shape, chunks=block_shape, dtype=np.uint64, fill_value=0)
        tasks = []
        for core in cores:
            ext = _extended(core, halo, shape)
            core_in_ext = tuple(slice(c.start - e.start, c.stop - e.start) for c, e in zip(core, ext))
            tasks.append(dask.delayed(_run_block, pure=False)(arr[ext], segment_block, core_in_ext, core, temp_path,
                                                             overlap_width))
        say(f"segmenting {len(cores)} block(s) of {block_shape} with halo {halo}")
        # Face matching happens in tasks beside the blocks, so slabs never gather on the client.
        index = {tuple(s.start for s in core): i for i, core in enumerate(cores)}
        face_tasks = []
        for i, core in enumerate(cores):
            for d in range(3):
                nxt = list(s.start for s in core)
                nxt[d] = core[d].stop
                j = index.get(tuple(nxt))
                if j is not None:
                    face_tasks.append((i, j, dask.delayed(_face_pairs, pure=True)(tasks[i], tasks[j], d, min_overlap)))
        counts = [dask.delayed(lambda r: r["n"], pure=True)(t) for t in tasks]
        if client is not None:
            futures = client.compute(counts + [f for _, _, f in face_tasks])
            results = client.gather(futures)
        else:
            results = dask.compute(*(counts + [f for _, _, f in face_tasks]), **compute_kw)
        n_per_block = np.array(results[: len(cores)], np.int64)
        offsets = np.concatenate([[0], np.cumsum(n_per_block)])
        pair_list = []
        for (i, j, _), pairs in zip(face_tasks, results[len(cores):]):
            if len(pairs):
                pair_list.append(np.stack([pairs[:, 0] + np.uint64(offsets[i]), pairs[:, 1] + np.uint64(offsets[j])], 1))
        pairs = np.concatenate(pair_list) if pair_list else np.zeros((0, 2), np.uint64)
        final = _union_find(int(offsets[-1]), pairs)
        n_segments = int(final.max()) if final.size else 0
        say(f"stitching: {int(offsets[-1])} block objects, {len(pairs)} face matches -> {n_segments} segments")
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        chunks = tuple(output_chunks) if output_chunks else block_shape
        target = zarr.open_array(str(out), mode="w", shape=shape, chunks=chunks, dtype=np.uint64, fill_value=0)
        local = da.from_zarr(zarr.open_array(temp_path, mode="r")).rechunk(chunks)
        luts = _block_luts(cores, chunks, shape, offsets, final)
        relabelled = local.map_blocks(_apply_lut, luts=luts, block_shape=block_shape, chunks_=chunks, dtype=np.uint64)
        if client is not None:
            client.compute(da.store(relabelled, target, lock=False, compute=False)).result()
        else:
            da.store(relabelled, target, lock=False, **compute_kw)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        shutil.rmtree(staging, ignore_errors=True)
    return BlockwiseResult(out, n_segments, len(cores), int(len(pairs)), time.perf_counter() - t0)


def _block_luts(cores, chunks, shape, offsets, final) -> dict[tuple[int, ...], np.ndarray]:
    """For each core block (by origin), its local id -> global id table."""
    luts = {}
    for i, core in enumerate(cores):
        n = int(offsets[i + 1] - offsets[i])
        lut = np.zeros(n + 1, np.uint64)
        lut[1:] = final[offsets[i] + 1: offsets[i + 1] + 1]
        luts[tuple(s.start for s in core)] = lut
    return luts


def _apply_lut(block: np.ndarray, luts: dict, block_shape: tuple[int, ...], chunks_: tuple[int, ...],
               block_info: dict | None = None) -> np.ndarray:
    # An output chunk lies inside one core block when chunks divide block_shape; otherwise split it.
    loc = block_info[0]["array-location"]
    out = np.zeros(block.shape, np.uint64)
    starts = [range((lo // b) * b, hi, b) for (lo, hi), b in zip(loc, block_shape)]
    for origin in itertools.product(*starts):
        sel = tuple(slice(max(o, lo) - lo, min(o + b, hi) - lo) for o, b, (lo, hi) in zip(origin, block_shape, loc))
        out[sel] = luts[tuple(origin)][block[sel]]
    return out
