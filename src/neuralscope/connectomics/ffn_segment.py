"""Flood-filling segmentation of a small volume into a zarr, as ``connectome segment --model ffn`` does.

The flood-filling network (:mod:`neuralscope.connectomics.ffn`) runs one field of view at a time,
a few thousand voxels per second on a CPU core, so it is offered for small volumes only
(:data:`FFN_MAX_VOXELS`) and as one block: it has no block-wise stitching. The output is written
by :func:`~neuralscope.connectomics.blockwise.segment_blockwise` with the whole volume as its one
block, so the zarr (uint64 ids ``1..n``, 0 = not segmented) is written exactly as for the other
models.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

__all__ = ["FFN_MAX_VOXELS", "FFNSegmenter", "segment_ffn_volume"]

#: Largest volume (voxels) ``segment_ffn_volume`` accepts by default: at ~3-10 k voxels/s on one CPU
#: core (two seed orders for the consensus), 2 M voxels take several minutes; beyond that the
#: block-wise U-Net (``--model unet``) is the tool.
FFN_MAX_VOXELS = 2_000_000


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


def segment_ffn_volume(raw: Any, out: str | Path, weights: str | Path | None = None,
                       consensus: bool | str | None = None, device: str = "auto",
                       max_voxels: int = FFN_MAX_VOXELS,
                       progress: Callable[[str], None] | None = None) -> tuple[Any, dict]:
    """Segment a small EM volume with the flood-filling network into ``out`` (zarr, uint64).

    Parameters
    ----------
    raw : numpy.ndarray or dask.array.Array, (z, y, x)
        Grey-scale EM; read into memory as one block.
    out : path
        Output zarr folder (ids ``1..n``, 0 = not segmented by any object); replaced if it exists.
    weights, consensus, device
        See :class:`FFNSegmenter`.
    max_voxels : int
        Larger volumes are refused (:data:`FFN_MAX_VOXELS` by default).
    progress : callable, optional
        One-line progress messages.

    Returns
    -------
    result : BlockwiseResult
        ``n_blocks`` is 1.
    info : dict
        ``model`` ("ffn"), the inference settings, the weights' training step.

    Raises
    ------
    NeuralscopeError
        For a volume that is not 3-D, empty, not numeric or larger than ``max_voxels``.
    """
    from neuralscope.connectomics.blockwise import segment_blockwise

    say = progress or (lambda msg: None)
    if getattr(raw, "ndim", None) != 3 or min(raw.shape) == 0:
        raise NeuralscopeError("RAW", "a non-empty 3-D volume (z, y, x)", f"shape {getattr(raw, 'shape', None)}")
    if getattr(raw, "dtype", np.dtype(object)).kind not in "uif":
        raise NeuralscopeError("RAW", "a numeric grey-scale volume", f"dtype {raw.dtype}")
    shape = tuple(int(s) for s in raw.shape)
    n_voxels = int(np.prod(shape))
    if n_voxels > max_voxels:
        raise NeuralscopeError("RAW", f"at most {max_voxels:,} voxels for --model ffn (the flood-filling network "
                               "runs at a few thousand voxels/s on a CPU; use --model unet for larger volumes)",
                               f"{n_voxels:,} voxels {shape}")
    segmenter = FFNSegmenter(weights, consensus, device, progress=say)
    settings = segmenter.settings()
    meta = segmenter.model()[1]
    say(f"model ffn (delta {tuple(settings['delta'])}, move {settings.get('move_threshold')}, "
        f"consensus {settings['consensus']}), one block of {shape}")
    # The whole volume is the one block: no halo, no stitching; chunks as the other pipelines write.
    chunks = tuple(min(n, c) for n, c in zip(shape, (64, 128, 128)))
    result = segment_blockwise(raw, segmenter, out, block_shape=shape, halo=(0, 0, 0), scheduler="synchronous",
                               output_chunks=chunks, progress=say)
    info = {"model": "ffn", "consensus": settings["consensus"],
            "delta": [int(d) for d in settings["delta"]], "move_threshold": settings.get("move_threshold"),
            "segment_threshold": settings.get("segment_threshold"), "weights_step": meta.get("step"),
            "weights_data": meta.get("data"), "block_shape": list(shape), "n_blocks": result.n_blocks,
            # Voxels no object claimed stay 0; the metrics count them as one segment (never free).
            "segmented_fraction": float(np.count_nonzero(result.load()) / n_voxels)}
    return result, info
