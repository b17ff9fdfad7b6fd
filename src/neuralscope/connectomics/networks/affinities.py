"""Affinity prediction with a U-Net, tiled with overlap over numpy or dask volumes.

Affinity convention (the one of :mod:`neuralscope.connectomics.agglomeration`):
``affinities[d, z, y, x]`` is the probability that the voxel and its neighbour one step
back along axis ``d`` belong to the same object. Long-range channels (offset 3 and 9) are
auxiliary training targets; :func:`predict_affinities` returns only the three
nearest-neighbour channels unless ``channels="all"``.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

DATA_DIR = Path(__file__).resolve().parent / "data"
#: Three U-Nets (an ensemble) trained by ``scripts/train_affinities.py`` on FIB-25 z < 125, x < 150
#: (validated on z < 125, x >= 150).
DEFAULT_WEIGHTS = DATA_DIR / "affinity_unet_fib25.pt"


def load_affinity_model(path: str | Path | None = None):
    """Load a trained affinity U-Net (no pickled code: tensors + a JSON-like config).

    Parameters
    ----------
    path : str or Path, optional
        A file written by ``scripts/train_affinities.py``; the shipped FIB-25 weights by default.

    Returns
    -------
    model : UNet3d or UNetEnsemble
        In eval mode, on the CPU. A file with ``members`` (a list of state dicts of one
        architecture) gives an ensemble whose probabilities are averaged.
    meta : dict
        ``config``, ``raw_mean``, ``raw_std``, ``validation`` and, when tuned, ``agglomeration``.
    """
    import torch

    from neuralscope.connectomics.networks.unet import UNet3d, UNetConfig, UNetEnsemble

    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        raise NeuralscopeError("weights", "a weights file written by scripts/train_affinities.py", str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        config = UNetConfig.from_dict(state["config"])
        if "members" in state:
            members = []
            for member_state in state["members"]:
                member = UNet3d(config)
                member.load_state_dict(member_state)
                members.append(member)
            model = UNetEnsemble(members)
        else:
            model = UNet3d(config)
            model.load_state_dict(state["state_dict"])
    except (KeyError, RuntimeError, ValueError, EOFError, TypeError, pickle.UnpicklingError) as exc:
        raise NeuralscopeError("weights", "a weights file written by scripts/train_affinities.py",
                               f"{path} ({exc.__class__.__name__})") from None
    model.eval()
    meta = {k: v for k, v in state.items() if k not in ("state_dict", "members")}
    return model, meta


def _axis_tiles(n: int, max_core: int, margin: int, align: int) -> list[tuple[int, int, int, int]]:
    """(input_start, input_stop, core_start, core_stop) along one axis.

    Core sizes and starts are multiples of ``align`` (the network's pooling), so every tile's
    pooling grid coincides with the untiled one; ``input_stop`` may exceed ``n`` (padded).
    """
    k = max(1, math.ceil(n / max_core))
    core = math.ceil(math.ceil(n / k) / align) * align
    out = []
    for c0 in range(0, n, core):
        c1 = min(n, c0 + core)
        i0 = max(0, c0 - margin)
        i1 = min(n, c1 + margin)
        i1 = i0 + math.ceil((i1 - i0) / align) * align  # whole pooling cells, real data first
        out.append((i0, i1, c0, c1))
    return out


def predict_affinities(raw: Any, model=None, *, tile_shape: tuple[int, int, int] = (128, 128, 128),
                       margin: int | tuple[int, int, int] = 24, channels: str = "nearest",
                       device: Any = "auto", normalize: str | tuple[float, float] = "volume",
                       out: Any = None, progress: Callable[[int, int], None] | None = None,
                       test_time_flips: int = 1, precision: str = "float32") -> Any:
    """Predict affinities for a 3-D EM volume, tile by tile.

    Each tile is read with ``margin`` voxels of context on every side that has data, run through
    the network and only its core is written. With ``margin`` at least
    :func:`~neuralscope.connectomics.networks.unet.receptive_radius` the result equals an
    untiled prediction (up to float rounding); smaller margins trade exactness for speed.

    Parameters
    ----------
    raw : array-like (numpy, dask, zarr, h5py), shape (z, y, x)
        Grey values; only the tiles being processed are read into memory.
    model : UNet3d, optional
        Network; the shipped FIB-25 model by default.
    tile_shape : tuple of int
        Largest core size per tile (z, y, x); memory grows with its product.
    margin : int or tuple of int
        Context voxels around each core (rounded up to the pooling).
    channels : {"nearest", "all"}
        Only the three nearest-neighbour affinities, or every trained offset (auxiliary
        descriptor outputs of a network trained with ``--lsd`` are never returned).
    device : str or torch.device
        ``"auto"`` uses CUDA when present, else the CPU.
    normalize : "volume" or (mean, std)
        Standardise by statistics of a strided subsample of ``raw`` (default) or by given values.
    out : array-like, optional
        Pre-allocated ``(C, z, y, x)`` float32 target (numpy memmap, zarr) for volumes larger than memory.
    progress : callable(done, total), optional
        Called after each tile.
    test_time_flips : {1, 2, 4, 8}
        Average the prediction over this many mirrorings of each tile (identity, then flips of
        z, y, x and their combinations; see :data:`FLIP_ORDER`). Costs that many network passes.
    precision : {"float32", "bfloat16"}
        Arithmetic of the network pass. ``"bfloat16"`` (autocast) is 2-3x faster on a CPU with
        bfloat16 support; affinities then differ from float32 by about 1e-3 on average, so
        agglomeration settings should be tuned with the precision they are used with. On a CPU
        without bfloat16 instructions float32 is used instead (:func:`effective_precision`).

    Returns
    -------
    numpy.ndarray or ``out``
        float32 affinities in [0, 1], shape ``(C, z, y, x)``.
    """
    if channels not in ("nearest", "all"):
        raise NeuralscopeError("channels", "'nearest' or 'all'", channels)
    if model is None:
        model, _ = load_affinity_model()
    offsets = model.config.extra.get("offsets") or [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
    # Channels after the offsets (local shape descriptors) are training targets, never affinities.
    n_descriptors = int(model.config.extra.get("lsd", {}).get("channels", 0))
    n_out = 3 if channels == "nearest" else model.config.out_channels - n_descriptors
    return predict_tiled(raw, model, n_out, tile_shape=tile_shape, margin=margin, device=device,
                         normalize=normalize, out=out, progress=progress, test_time_flips=test_time_flips,
                         offsets=offsets, precision=precision)


#: Arithmetic of the network pass in :func:`predict_affinities`.
PRECISIONS: tuple[str, ...] = ("float32", "bfloat16")

def effective_precision(precision: str, device: Any = "cpu") -> str:
    """The arithmetic :func:`predict_affinities` really uses for ``precision`` on ``device``.

    bfloat16 on a CPU without bfloat16 instructions (oneDNN's check: AVX-512 or AMX) would be
    emulated and slower than float32, so it falls back to float32 there.
    """
    if precision != "bfloat16":
        return precision
    import torch

    from neuralscope._torch import resolve_device

    if resolve_device(device).type != "cpu":
        return precision
    try:
        supported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without the check: assume not
        supported = False
    return precision if supported else "float32"


#: Mirrorings used by test-time averaging, in order (axes of (z, y, x) flipped).
FLIP_ORDER: tuple[tuple[int, ...], ...] = ((), (0, 1, 2), (0,), (1, 2), (1,), (0, 2), (2,), (0, 1))


def _unflip_affinities(prob: np.ndarray, flips: tuple[int, ...], offsets) -> np.ndarray:
    """Map a prediction on a mirrored block back to the original frame.

    On a block mirrored along axis ``d`` the network's edge "voxel and the one ``k`` before it"
    is, after mirroring back, the edge to the voxel ``k`` *after* it; shifting by ``k`` restores
    the convention. The ``k`` voxels at the block start get no value from this pass (they lie in
    the tile margin, which is never written when ``margin >= k``); they keep the mirrored edge.
    """
    prob = np.flip(prob, tuple(f + 1 for f in flips))
    out = np.array(prob)
    for c in range(prob.shape[0]):
        off = offsets[c] if c < len(offsets) else (0, 0, 0)
        for d in flips:
            k = int(off[d])
            if k:
                dst = [slice(None)] * 3
                src = [slice(None)] * 3
                dst[d], src[d] = slice(k, None), slice(None, -k)
                shifted = out[c].copy()
                shifted[tuple(dst)] = out[c][tuple(src)]
                out[c] = shifted
    return out


def predict_tiled(raw: Any, model, n_out: int, *, tile_shape=(128, 128, 128), margin: int | tuple = 24,
                  device: Any = "auto", normalize: str | tuple[float, float] = "volume", out: Any = None,
                  progress: Callable[[int, int], None] | None = None, test_time_flips: int = 1,
                  offsets=None, precision: str = "float32") -> Any:
    """Sigmoid of the first ``n_out`` output channels of ``model``, tile by tile.

    See :func:`predict_affinities` for the parameters; used by the affinity and synapse networks.
    """
    import torch

    from neuralscope._torch import resolve_device
    from neuralscope.connectomics.networks.training import volume_stats

    if getattr(raw, "ndim", None) != 3:
        raise NeuralscopeError("raw", "a 3-D volume (z, y, x)", f"shape {getattr(raw, 'shape', None)}")
    if min(raw.shape) == 0:
        raise NeuralscopeError("raw", "a non-empty volume", f"shape {raw.shape}")
    if np.dtype(raw.dtype).kind not in "uif":
        raise NeuralscopeError("raw", "numeric grey values", f"dtype {raw.dtype}")
    if test_time_flips not in (1, 2, 4, 8):
        raise NeuralscopeError("test_time_flips", "1, 2, 4 or 8", test_time_flips)
    if precision not in PRECISIONS:
        raise NeuralscopeError("precision", " or ".join(PRECISIONS), precision)
    offsets = [tuple(int(v) for v in o) for o in (offsets or [])]
    config = model.config
    align = config.total_pool
    margins = (margin,) * 3 if np.isscalar(margin) else tuple(margin)
    if test_time_flips > 1 and offsets:
        # A mirrored pass reads each edge ``k`` voxels away: widen the context by the longest offset.
        margins = tuple(int(m) + max(int(o[d]) for o in offsets) for d, m in enumerate(margins))
    margins = tuple(math.ceil(int(m) / a) * a for m, a in zip(margins, align))
    if normalize == "volume":
        mean, std = volume_stats(raw)
    else:
        mean, std = (float(v) for v in normalize)
    dev = resolve_device(device)
    precision = effective_precision(precision, dev)
    amp = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if precision == "bfloat16" else contextlib.nullcontext
    # Channels-last 3-D convolutions: the same numbers (to float rounding), ~1.2x faster on a CPU.
    model = model.to(dev, memory_format=torch.channels_last_3d).eval()
    shape = tuple(int(s) for s in raw.shape)
    if out is None:
        out = np.empty((n_out, *shape), np.float32)
    elif tuple(out.shape) != (n_out, *shape):
        raise NeuralscopeError("out", f"an array of shape {(n_out, *shape)}", f"shape {tuple(out.shape)}")
    per_axis = [_axis_tiles(n, int(t), m, a) for n, t, m, a in zip(shape, tile_shape, margins, align)]
    tiles = list(itertools.product(*per_axis))
    for done, tile in enumerate(tiles, 1):
        read = tuple(slice(t[0], min(t[1], n)) for t, n in zip(tile, shape))
        block = np.asarray(raw[read], dtype=np.float32)
        pad = [(0, t[1] - min(t[1], n)) for t, n in zip(tile, shape)]
        if any(p[1] for p in pad):
            # Beyond the volume: mirror (reflect needs > pad voxels; edge mode covers tiny volumes).
            mode = "reflect" if all(b > p[1] for b, p in zip(block.shape, pad)) else "edge"
            block = np.pad(block, pad, mode=mode)
        block = (block - mean) / std
        prob = None
        for flips in FLIP_ORDER[:test_time_flips]:
            view = np.ascontiguousarray(np.flip(block, flips)) if flips else block
            x = torch.from_numpy(view)[None, None].to(dev, memory_format=torch.channels_last_3d)
            with torch.inference_mode(), amp():
                p = torch.sigmoid(model(x)[0, :n_out].float()).cpu().numpy()
            if flips:
                p = _unflip_affinities(p, flips, offsets)
            prob = p if prob is None else prob + p
        if test_time_flips > 1:
            prob /= test_time_flips
        core = tuple(slice(t[2] - t[0], t[3] - t[0]) for t in tile)
        target = tuple(slice(t[2], t[3]) for t in tile)
        out[(slice(None), *target)] = prob[(slice(None), *core)]
        if progress is not None:
            progress(done, len(tiles))
    return out
