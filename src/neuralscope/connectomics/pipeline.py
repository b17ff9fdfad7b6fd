"""End to end: a raw EM volume (numpy or dask) -> a stitched dense segmentation in zarr.

Two affinity models plug into the same agglomeration and block-wise stitching:

- ``"classical"``: affinities from the black-top-hat membrane estimate
  (:class:`~neuralscope.connectomics.boundaries.ClassicalBoundary`), no training;
- ``"unet"``: the 3-D U-Net of :mod:`neuralscope.connectomics.networks` (when its weights ship);
- ``"auto"`` picks ``"unet"`` when its weights are installed, else ``"classical"``.

Two block-wise strategies:

- ``exact=True`` (the default with ``method="mean"``):
  :func:`~neuralscope.connectomics.exact.segment_exact` -- steepest-descent fragments and one
  global agglomeration, so the result is the same array for any block shape or scheduler (a
  single block included);
- ``exact=False`` (the only one for ``method="mutex"``): each block is segmented by seeded
  watershed + merging with a halo and the blocks are stitched by overlap
  (:func:`~neuralscope.connectomics.blockwise.segment_blockwise`), close to but not exactly a
  single-block run.

The per-block work is done by small picklable objects, so the same run works on dask threads,
processes or a ``dask.distributed`` cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.connectomics.agglomeration import affinities_to_segmentation, boundary_to_affinities
from neuralscope.connectomics.blockwise import BlockwiseResult, segment_blockwise
from neuralscope.connectomics.boundaries import ClassicalBoundary
from neuralscope.core.errors import NeuralscopeError

__all__ = ["ClassicalSegmenter", "UNetSegmenter", "exact_settings", "ffn_available", "resolve_model",
           "segment_volume", "unet_available"]

#: Settings of the classical pipeline chosen on FIB-25 z < 125 only (grid of
#: benchmarks/connectomics_segmentation.py: closing 7/9/11, seed 0.3/0.5, threshold 0.3-0.5).
CLASSICAL_DEFAULTS = {"closing_size": 9, "threshold": 0.4, "seed_threshold": 0.3, "min_seed_distance": 2.0,
                      "min_size": 0}


#: Exact pipeline with the U-Net: fallback settings for weights that carry none. The shipped weights
#: carry their own, chosen on their validation box by ``benchmarks/connectomics_blockwise.py --fib25
#: --tune --store`` under ``meta["agglomeration"]["exact"]`` (keys ``sigma``, ``threshold``,
#: ``min_size``); those win.
UNET_EXACT_DEFAULTS = {"sigma": 1.0, "threshold": 0.7, "min_size": 0}
#: Exact pipeline with the classical model (mean affinity), chosen on FIB-25 the same way (grid sigma
#: 0/1/2, threshold 0.2-0.5, min_size 0/200): ARAND 0.363 vs 0.464 for the stitched classical
#: pipeline on 100 <= z < 125; on an untuned simulated volume 0.269 vs 0.264.
CLASSICAL_EXACT_DEFAULTS = {"sigma": 0.0, "threshold": 0.4, "min_size": 200}


def exact_settings(model: str, meta: dict | None = None) -> dict:
    """Settings of the exact pipeline for ``model`` ("unet" or "classical"): sigma, threshold, min_size."""
    if model == "classical":
        return dict(CLASSICAL_EXACT_DEFAULTS)
    settings = dict(UNET_EXACT_DEFAULTS)
    settings.update(((meta or {}).get("agglomeration", {}) or {}).get("exact", {}) or {})
    return settings


def unet_available() -> bool:
    """Whether ``neuralscope.connectomics.networks`` provides ``predict_affinities`` and shipped weights."""
    try:
        from neuralscope.connectomics.networks import affinities
    except ImportError:
        return False
    weights = getattr(affinities, "DEFAULT_WEIGHTS", None)
    return hasattr(affinities, "predict_affinities") and weights is not None and Path(weights).is_file()


def ffn_available() -> bool:
    """Whether the flood-filling network's shipped weights are installed."""
    try:
        from neuralscope.connectomics.ffn.model import SHIPPED_WEIGHTS
    except ImportError:
        return False
    return Path(SHIPPED_WEIGHTS).is_file()


def resolve_model(model: str, allow_ffn: bool = False) -> str:
    """``"auto"`` -> ``"unet"`` when available, else ``"classical"``; checks the name.

    Parameters
    ----------
    model : {"auto", "classical", "unet", "ffn"}
        Requested model.
    allow_ffn : bool
        Accept ``"ffn"`` (the flood-filling network, run by
        :func:`~neuralscope.connectomics.ffn_segment.segment_ffn_volume`, not by
        :func:`segment_volume`). ``"auto"`` never picks it.
    """
    names = ("auto", "classical", "unet", "ffn") if allow_ffn else ("auto", "classical", "unet")
    if model not in names:
        hint = "" if allow_ffn or model != "ffn" else " (ffn: neuralscope.connectomics.ffn_segment.segment_ffn_volume)"
        raise NeuralscopeError("--model", "one of " + ", ".join(names) + hint, model)
    if model == "auto":
        return "unet" if unet_available() else "classical"
    if model == "unet" and not unet_available():
        raise NeuralscopeError("--model", "classical (the U-Net weights are not installed)", model)
    if model == "ffn" and not ffn_available():
        raise NeuralscopeError("--model", "unet or classical (the FFN weights are not installed)", model)
    return model


@dataclass
class ClassicalSegmenter:
    """Block segmenter: classical membrane map -> affinities -> watershed + mean-affinity merging.

    ``boundary`` must be fitted on the whole volume (one scale for every block).
    """

    boundary: ClassicalBoundary
    threshold: float = CLASSICAL_DEFAULTS["threshold"]
    seed_threshold: float = CLASSICAL_DEFAULTS["seed_threshold"]
    min_seed_distance: float = CLASSICAL_DEFAULTS["min_seed_distance"]
    min_size: int = CLASSICAL_DEFAULTS["min_size"]
    method: str = "mean"

    def affinities(self, raw: np.ndarray) -> np.ndarray:
        """Nearest-neighbour affinities of a block (3, z, y, x)."""
        return boundary_to_affinities(self.boundary.transform(raw))

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        boundary = self.boundary.transform(raw)
        return affinities_to_segmentation(boundary_to_affinities(boundary), threshold=self.threshold,
                                          method=self.method, seed_threshold=self.seed_threshold,
                                          min_seed_distance=self.min_seed_distance,
                                          sampling=tuple(self.boundary.sampling), min_size=self.min_size,
                                          boundary=boundary if self.method == "mean" else None)


class UNetSegmenter:
    """Block segmenter with the U-Net of ``neuralscope.connectomics.networks`` (weights loaded once per process).

    Parameters
    ----------
    normalize : (mean, std)
        Grey-value statistics of the whole volume, so every block is standardised alike.
    threshold, seed_threshold : float, optional
        Agglomeration settings (default: those tuned with the weights).
    device : str
        Torch device.
    """

    _cache: dict[str, Any] = {}

    def __init__(self, normalize: tuple[float, float], threshold: float | None = None,
                 seed_threshold: float | None = None, device: str = "auto"):
        self.normalize = (float(normalize[0]), float(normalize[1]))
        self.threshold = threshold
        self.seed_threshold = seed_threshold
        self.device = device

    def _model(self):
        if "model" not in self._cache:
            from neuralscope.connectomics.networks.affinities import load_affinity_model

            self._cache["model"] = load_affinity_model()
        return self._cache["model"]

    def settings(self) -> tuple[float, float]:
        """(threshold, seed_threshold) actually used."""
        tuned = self._model()[1].get("agglomeration", {}) or {}
        threshold = self.threshold if self.threshold is not None else tuned.get("threshold", 0.5)
        seed = self.seed_threshold if self.seed_threshold is not None else tuned.get("seed_threshold", 0.5)
        return float(threshold), float(seed)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        from neuralscope.connectomics.networks.affinities import predict_affinities

        model, _ = self._model()
        aff = predict_affinities(raw, model, normalize=self.normalize, device=self.device)
        threshold, seed = self.settings()
        return affinities_to_segmentation(aff, threshold=threshold, seed_threshold=seed)


def _volume_stats(raw: Any, max_voxels: int = 2_000_000) -> tuple[float, float]:
    step = max(1, int(np.ceil((int(np.prod(raw.shape)) / max_voxels) ** (1 / 3))))
    sample = raw[::step, ::step, ::step]
    sample = np.asarray(sample.compute() if hasattr(sample, "compute") else sample, np.float64)
    return float(sample.mean()), float(sample.std() or 1.0)


def segment_volume(raw: Any, out: str | Path, model: str = "auto", threshold: float | None = None,
                   seed_threshold: float | None = None, method: str = "mean",
                   sampling: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   block_shape: tuple[int, int, int] | None = None, halo: tuple[int, int, int] | None = None,
                   scheduler: Any = None, n_workers: int | None = None, exact: bool | None = None,
                   sigma: float | None = None, min_size: int | None = None, test_time_flips: int | None = None,
                   weights: str | Path | None = None, precision: str | None = None,
                   keep_affinities: str | Path | None = None,
                   progress: Callable[[str], None] | None = None) -> tuple[BlockwiseResult, dict]:
    """Segment an EM volume end to end into ``out`` (zarr, uint64, 0 = background).

    Parameters
    ----------
    raw : numpy.ndarray or dask.array.Array, (z, y, x)
        Grey-scale EM (dark membranes).
    out : path
        Output zarr folder.
    model : {"auto", "classical", "unet"}
        Affinity model (see the module docstring).
    threshold, seed_threshold : float, optional
        Agglomeration threshold and seed level (defaults: tuned values of the model).
    method : {"mean", "mutex"}
        Agglomeration (classical model only for ``"mutex"``).
    sampling : tuple of float
        Voxel size (z, y, x) for anisotropic volumes.
    block_shape, halo : tuple of int, optional
        Block size and context per side (default: blocks of at most 128 x 256 x 256 voxels, so a
        small volume is one block; halo = the filters' reach + 8, at most 16, per axis, for the
        classical model, 24 for the U-Net). The exact pipeline computes the context it needs and
        ignores ``halo``.
    scheduler, n_workers
        See :func:`~neuralscope.connectomics.blockwise.segment_blockwise`.
    exact : bool, optional
        Block-wise result identical to a single-block run (default: True with ``method="mean"``;
        see the module docstring).
    sigma, min_size : optional
        Relief smoothing and smallest segment of the exact pipeline (defaults:
        :func:`exact_settings`).
    test_time_flips : {1, 2, 4, 8}, optional
        U-Net in the exact pipeline: mirrorings averaged (default: as tuned with the weights).
    weights : path, optional
        U-Net weights (a file written by ``scripts/train_affinities.py``, an ensemble included)
        instead of the shipped ones; exact pipeline only. ``model="auto"`` then means the U-Net.
    precision : {"float32", "bfloat16"}, optional
        U-Net in the exact pipeline: arithmetic of the network pass (default: as tuned with the weights).
    keep_affinities : path, optional
        Exact pipeline only: also keep its uint8 affinity zarr ``(3, z, y, x)`` there (e.g. for
        :func:`~neuralscope.connectomics.proofreading.merge_suggestions`).
    progress : callable, optional
        One-line progress messages.

    Returns
    -------
    result : BlockwiseResult
    info : dict
        ``model`` used and its settings.
    """
    say = progress or (lambda msg: None)
    if getattr(raw, "ndim", None) != 3 or min(raw.shape) == 0:
        raise NeuralscopeError("RAW", "a non-empty 3-D volume (z, y, x)", f"shape {getattr(raw, 'shape', None)}")
    if getattr(raw, "dtype", np.dtype(object)).kind not in "uif":
        raise NeuralscopeError("RAW", "a numeric grey-scale volume", f"dtype {raw.dtype}")
    if weights is not None:
        if model not in ("auto", "unet"):
            raise NeuralscopeError("weights", "no weights file with the classical model (U-Net weights only)", weights)
        if not Path(weights).is_file():
            raise NeuralscopeError("weights", "a weights file written by scripts/train_affinities.py", str(weights))
        name = "unet"
    else:
        name = resolve_model(model)
    if exact is None:
        exact = method == "mean"
    if exact:
        if method != "mean":
            raise NeuralscopeError("method", "'mean' with the exact block-wise pipeline", method)
        return _segment_exact(raw, out, name, threshold, sampling, block_shape, scheduler, n_workers, sigma,
                              min_size, say, test_time_flips, weights, precision, keep_affinities)
    if keep_affinities is not None:
        raise NeuralscopeError("keep_affinities", "the exact pipeline (method 'mean')", method)
    if weights is not None:
        raise NeuralscopeError("weights", "the exact pipeline (method 'mean') for a weights file", method)
    t0 = time.perf_counter()
    if name == "classical":
        boundary = ClassicalBoundary(closing_size=CLASSICAL_DEFAULTS["closing_size"], sampling=sampling).fit(raw)
        defaults = dict(CLASSICAL_DEFAULTS)
        segmenter: Any = ClassicalSegmenter(
            boundary, threshold=defaults["threshold"] if threshold is None else float(threshold),
            seed_threshold=defaults["seed_threshold"] if seed_threshold is None else float(seed_threshold),
            min_seed_distance=defaults["min_seed_distance"], min_size=defaults["min_size"], method=method)
        info = {"model": "classical", "threshold": segmenter.threshold, "seed_threshold": segmenter.seed_threshold,
                "method": method, "boundary_scale": [boundary.low_, boundary.high_]}
        context = tuple(h + 8 for h in boundary.halo)  # the filters' reach + room for the watershed
    else:
        if method != "mean":
            raise NeuralscopeError("method", "'mean' with the U-Net model", method)
        segmenter = UNetSegmenter(_volume_stats(raw), threshold, seed_threshold)
        t, s = segmenter.settings()
        info = {"model": "unet", "threshold": t, "seed_threshold": s, "method": "mean"}
        context = (24, 24, 24)
    say(f"model {info['model']} (threshold {info['threshold']:.3g}), ready in {time.perf_counter() - t0:.1f} s")
    shape = tuple(int(s) for s in raw.shape)
    cap = 16 if name == "classical" else 32  # the U-Net needs its receptive field as context
    halo = tuple(halo) if halo is not None else tuple(min(c, cap) for c in context)
    if block_shape is None:
        block_shape = tuple(min(n, b) for n, b in zip(shape, (128, 256, 256)))
        workers = n_workers or os.cpu_count() or 1
        n_blocks = int(np.prod([-(-n // b) for n, b in zip(shape, block_shape)]))
        if n_blocks < workers and shape[0] >= 8 * halo[0]:
            # Keep every worker busy: cut a volume that fits in one block into slabs along z.
            block_shape = (-(-shape[0] // workers), *block_shape[1:])
    block_shape = tuple(int(b) for b in block_shape)
    result = segment_blockwise(raw, segmenter, out, block_shape=block_shape, halo=halo, scheduler=scheduler,
                               n_workers=n_workers, progress=say)
    info.update({"block_shape": list(block_shape), "halo": list(halo), "n_blocks": result.n_blocks})
    return result, info


def _default_blocks(shape: tuple[int, ...], block_shape, n_workers: int | None, min_depth: int) -> tuple[int, ...]:
    if block_shape is None:
        block_shape = tuple(min(n, b) for n, b in zip(shape, (128, 256, 256)))
        workers = n_workers or os.cpu_count() or 1
        n_blocks = int(np.prod([-(-n // b) for n, b in zip(shape, block_shape)]))
        if n_blocks < workers and shape[0] >= 8 * min_depth:
            block_shape = (-(-shape[0] // workers), *block_shape[1:])
    return tuple(int(b) for b in block_shape)


def _segment_exact(raw, out, name, threshold, sampling, block_shape, scheduler, n_workers, sigma, min_size, say,
                   test_time_flips=None, weights=None, precision=None, keep_affinities=None):
    from neuralscope.connectomics.exact import ClassicalAffinities, UNetAffinities, segment_exact

    t0 = time.perf_counter()
    edge_model = None
    if name == "classical":
        boundary = ClassicalBoundary(closing_size=CLASSICAL_DEFAULTS["closing_size"], sampling=sampling).fit(raw)
        affinity_model: Any = ClassicalAffinities(boundary)
        settings = exact_settings("classical")
        info: dict = {"model": "classical", "boundary_scale": [boundary.low_, boundary.high_]}
    else:
        affinity_model = UNetAffinities(_volume_stats(raw), weights=weights, device="auto",
                                        test_time_flips=test_time_flips, precision=precision)
        meta = affinity_model.model()[1]
        settings = exact_settings("unet", meta)
        tuned = meta.get("agglomeration", {}) or {}
        edge_model = tuned.get("edge_model") if tuned.get("method") == "learned" else None
        info = {"model": "unet", "weights": str(weights) if weights is not None else "shipped",
                "precision": affinity_model.inference_precision(), "test_time_flips": affinity_model.flips()}
    if threshold is not None:
        settings["threshold"] = float(threshold)
    if sigma is not None:
        settings["sigma"] = float(sigma)
    if min_size is not None:
        settings["min_size"] = int(min_size)
    info.update({"exact": True, "method": "learned" if edge_model is not None else "mean", **settings})
    say(f"model {name}, exact block-wise (threshold {settings['threshold']:.3g}, sigma {settings['sigma']:g}), "
        f"ready in {time.perf_counter() - t0:.1f} s")
    shape = tuple(int(s) for s in raw.shape)
    block_shape = _default_blocks(shape, block_shape, n_workers, 4)
    result = segment_exact(raw, out, affinity_model, threshold=settings["threshold"], sigma=settings["sigma"],
                           min_size=int(settings["min_size"]), sampling=sampling, block_shape=block_shape,
                           scheduler=scheduler, n_workers=n_workers, edge_model=edge_model,
                           keep_affinities=keep_affinities, progress=say)
    info.update({"block_shape": list(block_shape), "n_blocks": result.n_blocks, "n_fragments": result.n_fragments})
    return result, info
