"""Flood-filling segmentation of a volume into a zarr, as ``connectome segment --model ffn`` does.

The flood-filling network (:mod:`neuralscope.connectomics.ffn`) runs one field of view at a time,
a few thousand voxels per second on a CPU core. By default the whole volume is one block, offered
for small volumes only (:data:`FFN_MAX_VOXELS`). With ``block_shape`` the volume is cut into core
blocks, each flood-filled with a halo of context (by default the network's field-of-view
half-width) and stitched across block faces by overlap
(:func:`~neuralscope.connectomics.blockwise.segment_blockwise`); the voxel limit then applies to
each block (core + halo), which is one task. Either way the zarr (uint64 ids ``1..n``,
0 = not segmented) is written exactly as for the other models.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

__all__ = ["FFN_MAX_VOXELS", "FFN_MIN_OVERLAP", "FFNSegmenter", "OVERLAP_WIDTH", "segment_ffn_volume"]

#: Largest task (voxels) ``segment_ffn_volume`` accepts by default: the whole volume, or with
#: ``block_shape`` each block including its halo. At ~3-10 k voxels/s on one CPU core (two seed
#: orders for the consensus), 2 M voxels take several minutes; for large volumes the block-wise
#: U-Net (``--model unet``) is much faster.
FFN_MAX_VOXELS = 2_000_000

#: Planes of the neighbour's core compared when objects are matched across a block face.
OVERLAP_WIDTH = 2

#: Two objects of neighbouring blocks are joined when more than this fraction of the smaller one's
#: face-slab voxels lie in the other. Stricter than the 0.5 of the affinity models: two flood fills
#: of the same region disagree more near a face (one block's fill may already have merged two
#: neighbours in its halo), and a loose rule chains such disagreements into merges. On simulated
#: 12x32x32 volumes cut in two, ARAND minus the one-block ARAND was +0.16/+0.18/+0.05/-0.10 (four
#: seeds) at 0.5 and +0.10/-0.05/+0.05/-0.10 at 0.8, with no added splits.
FFN_MIN_OVERLAP = 0.8


class FFNSegmenter:
    """Block segmenter ``raw block -> labels`` with a flood-filling network (weights loaded once).

    Parameters
    ----------
    weights : path, optional
        Weights written by :func:`~neuralscope.connectomics.ffn.model.save_ffn_model`
        (default: the shipped FIB-25 weights).
    consensus : bool or {"merge", "split"}, optional
        Seed-order consensus (default: the rule stored with the weights).
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda[:i]"``.
    progress : callable, optional
        Receives one-line progress messages (about every tenth of the seeds).
    """

    def __init__(self, weights: str | Path | None = None, consensus: bool | str | None = None,
                 device: str = "auto", progress: Callable[[str], None] | None = None) -> None:
        self.weights = weights
        self.consensus = consensus
        self.device = device
        self.progress = progress
        self._loaded: tuple[Any, dict] | None = None

    def __getstate__(self) -> dict:
        # Process schedulers pickle the segmenter once per block: ship the settings only, and let
        # each worker load the weights on first use (a torch module, possibly on a GPU, need not
        # pickle, and would be copied with every task).
        state = dict(self.__dict__)
        state["_loaded"] = None
        return state

    def model(self) -> tuple[Any, dict]:
        """``(FFNModel, meta)``, loaded on first use."""
        if self._loaded is None:
            from neuralscope.connectomics.ffn.model import load_ffn_model

            self._loaded = load_ffn_model(self.weights, device="cpu")
        return self._loaded

    def settings(self) -> dict:
        """Inference settings used: those stored with the weights, then ``consensus`` if given."""
        model, _ = self.model()
        settings = dict(getattr(model.config, "extra", {}).get("inference", {}))
        settings.setdefault("consensus", "merge")
        if self.consensus is not None:
            settings["consensus"] = self.consensus
        settings.setdefault("delta", list(model.config.delta))
        return settings

    def _seed_progress(self) -> Callable[[int, int], None] | None:
        if self.progress is None:
            return None
        say = self.progress
        last = {"tenth": -1, "done": 0, "run": 1}

        def report(done: int, total: int) -> None:
            if done < last["done"]:  # the consensus' second seed order has started
                last["run"] += 1
                last["tenth"] = -1
            last["done"] = done
            tenth = (10 * done) // max(total, 1)
            if tenth != last["tenth"]:
                last["tenth"] = tenth
                say(f"flood filling (seed order {last['run']}): {done} / {total} seeds")

        return report

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        from neuralscope.connectomics.ffn import segment_ffn

        model, _ = self.model()
        return segment_ffn(np.asarray(raw), model, consensus=self.consensus, device=self.device,
                           progress=self._seed_progress())


def _three_sizes(value: Any, name: str, minimum: int) -> tuple[int, int, int]:
    """``value`` as (z, y, x) integers >= ``minimum`` (one integer means a cube), else NeuralscopeError."""
    expected = f"three integers >= {minimum} (z, y, x)"
    parts = [value] * 3 if isinstance(value, numbers.Integral) else value
    try:
        parts = list(parts)
    except TypeError:
        raise NeuralscopeError(name, expected, value) from None
    if len(parts) != 3 or not all(isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in parts):
        raise NeuralscopeError(name, expected, value)
    sizes = tuple(int(p) for p in parts)
    if min(sizes) < minimum:
        raise NeuralscopeError(name, expected, value)
    return sizes  # type: ignore[return-value]


def _largest_block(shape: tuple[int, ...], block_shape: tuple[int, ...], halo: tuple[int, ...]) -> tuple[int, ...]:
    """Extent (core + halo, clipped at the volume border) of the largest block, as the block-wise run cuts them."""
    from neuralscope.connectomics.blockwise import _extended, block_grid

    # Extents are independent per axis, so the block of largest volume is the largest along every axis.
    return max((tuple(s.stop - s.start for s in _extended(core, halo, shape)) for core in block_grid(shape, block_shape)),
               key=lambda extent: int(np.prod(extent)))


def segment_ffn_volume(raw: Any, out: str | Path, weights: str | Path | None = None,
                       consensus: bool | str | None = None, device: str = "auto",
                       max_voxels: int = FFN_MAX_VOXELS, progress: Callable[[str], None] | None = None,
                       block_shape: int | tuple[int, int, int] | None = None,
                       halo: int | tuple[int, int, int] | None = None, scheduler: Any = None,
                       n_workers: int | None = None) -> tuple[Any, dict]:
    """Segment an EM volume with the flood-filling network into ``out`` (zarr, uint64).

    Parameters
    ----------
    raw : numpy.ndarray or dask.array.Array, (z, y, x)
        Grey-scale EM; read into memory as one block, or block by block with ``block_shape``.
    out : path
        Output zarr folder (ids ``1..n``, 0 = not segmented by any object); replaced if it exists.
    weights, consensus, device
        See :class:`FFNSegmenter`.
    max_voxels : int
        Largest task: the whole volume without ``block_shape``, else the largest block including its
        halo (:data:`FFN_MAX_VOXELS` by default).
    progress : callable, optional
        One-line progress messages.
    block_shape : int or tuple of int, optional
        Core block size (z, y, x; one integer for a cube). ``None`` (default): the whole volume is
        one block, with no halo and no stitching.
    halo : int or tuple of int, optional
        Context voxels around each block (needs ``block_shape``). Default: the network's
        field-of-view half-width, at least the 2 planes compared across block faces.
    scheduler : None, "threads", "synchronous", "processes", "local", address or distributed.Client
        Where the blocks run (see :func:`~neuralscope.connectomics.blockwise.segment_blockwise`).
        Default: one block at a time in this process, or dask threads when ``n_workers`` is given.
    n_workers : int, optional
        Parallel blocks (threads, processes or LocalCluster workers).

    Returns
    -------
    result : BlockwiseResult
        ``n_blocks`` is 1 without ``block_shape``; ``n_face_merges`` counts objects joined across
        block faces.
    info : dict
        ``model`` ("ffn"), the inference settings, the weights' training step, ``block_shape``,
        ``halo``, ``n_blocks``, ``n_face_merges`` and ``segmented_fraction``.

    Raises
    ------
    NeuralscopeError
        For a volume that is not 3-D, empty or not numeric; for a volume (without ``block_shape``)
        or a block with its halo larger than ``max_voxels``; for invalid ``block_shape``, ``halo``
        or ``n_workers``.
    """
    import dask.array as da

    from neuralscope.connectomics.blockwise import segment_blockwise

    say = progress or (lambda msg: None)
    if getattr(raw, "ndim", None) != 3 or min(raw.shape) == 0:
        raise NeuralscopeError("RAW", "a non-empty 3-D volume (z, y, x)", f"shape {getattr(raw, 'shape', None)}")
    if getattr(raw, "dtype", np.dtype(object)).kind not in "uif":
        raise NeuralscopeError("RAW", "a numeric grey-scale volume", f"dtype {raw.dtype}")
    if n_workers is not None and (not isinstance(n_workers, numbers.Integral) or n_workers < 1):
        raise NeuralscopeError("n_workers", "an integer >= 1", n_workers)
    shape = tuple(int(s) for s in raw.shape)
    n_voxels = int(np.prod(shape))
    blocks = _three_sizes(block_shape, "block_shape", 1) if block_shape is not None else None
    if blocks is None and halo is not None:
        raise NeuralscopeError("halo", "a block_shape as well (one block has no neighbours to stitch)", halo)
    halo_given = _three_sizes(halo, "halo", 0) if halo is not None else None
    if halo_given is not None and any(h < OVERLAP_WIDTH for h, b, n in zip(halo_given, blocks, shape) if b < n):
        # Objects are matched on the neighbour's first planes, which the block must see.
        raise NeuralscopeError("halo", f"at least {OVERLAP_WIDTH} along every axis the blocks cut", halo)
    if blocks is None and n_voxels > max_voxels:
        raise NeuralscopeError("RAW", f"at most {max_voxels:,} voxels for --model ffn (the flood-filling network "
                               "runs at a few thousand voxels/s on a CPU; use --model unet for larger volumes)",
                               f"{n_voxels:,} voxels {shape}")
    segmenter = FFNSegmenter(weights, consensus, device, progress=progress)
    settings = segmenter.settings()
    model, meta = segmenter.model()
    if blocks is None:
        # The whole volume is the one block: no halo, no stitching.
        blocks, halo_shape = shape, (0, 0, 0)
    else:
        # Default halo: the field-of-view half-width, so a FOV centred on any core voxel sees real
        # image (not the zero padding at the block's edge), as in a one-block run; the faces'
        # comparison slabs (OVERLAP_WIDTH planes of the neighbour's core) lie inside it.
        halo_shape = halo_given or tuple(max(OVERLAP_WIDTH, int(f) // 2) for f in model.config.fov)
        largest = _largest_block(shape, blocks, halo_shape)
        if int(np.prod(largest)) > max_voxels:
            raise NeuralscopeError("--block", f"at most {max_voxels:,} voxels per block, core + halo, for --model ffn "
                                   "(each block is one flood-filling task; use a smaller --block or --halo)",
                                   f"{int(np.prod(largest)):,} voxels in the largest block {largest} "
                                   f"(block {blocks}, halo {halo_shape})")
    if scheduler is None:
        # One block at a time unless asked: torch already spreads one block's network passes over
        # the cores, and more blocks at once multiply the memory.
        scheduler = "threads" if n_workers is not None else "synchronous"
    layout = f"one block of {shape}" if blocks == shape else f"blocks of {blocks} with halo {halo_shape}"
    say(f"model ffn (delta {tuple(settings['delta'])}, move {settings.get('move_threshold')}, "
        f"consensus {settings['consensus']}), {layout}")
    chunks = tuple(min(n, c) for n, c in zip(shape, (64, 128, 128)))  # as the other pipelines write
    result = segment_blockwise(raw, segmenter, out, block_shape=blocks, halo=halo_shape, overlap_width=OVERLAP_WIDTH,
                               min_overlap=FFN_MIN_OVERLAP, scheduler=scheduler, n_workers=n_workers,
                               output_chunks=chunks, progress=say)
    # Counted chunk by chunk: a block-wise output need not fit in memory.
    segmented = int(da.count_nonzero(da.from_zarr(str(result.path))).compute(scheduler="synchronous"))
    info = {"model": "ffn", "consensus": settings["consensus"],
            "delta": [int(d) for d in settings["delta"]], "move_threshold": settings.get("move_threshold"),
            "segment_threshold": settings.get("segment_threshold"), "weights_step": meta.get("step"),
            "weights_data": meta.get("data"), "block_shape": list(blocks), "halo": list(halo_shape),
            "n_blocks": result.n_blocks, "n_face_merges": result.n_face_merges,
            # Voxels no object claimed stay 0; the metrics count them as one segment (never free).
            "segmented_fraction": segmented / n_voxels}
    return result, info
