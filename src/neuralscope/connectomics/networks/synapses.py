"""Synapse detection: a small per-slice (2-D kernel, anisotropic) U-Net -> probability map -> points.

The network sees the volume down-sampled in-plane (``downsample`` in the weights, 4 by
default: 4.6 nm ssTEM pixels become ~18 nm, still several pixels across a synaptic
density) which makes detection cheap. Points are the probability-weighted centroids of
connected components above ``threshold``; :func:`match_points` scores them against
annotated points with a distance tolerance (one-to-one matching, Hungarian).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

DATA_DIR = Path(__file__).resolve().parent / "data"
#: Trained by ``scripts/train_synapses.py --data simulated --steps 1500`` on volumes of both simulators
#: (anisotropic ``simulate_synapses`` and isotropic ``simulate_em_volume``) only (the larval VNC labels
#: are CC BY-NC-SA; weights trained on them are not shipped).
DEFAULT_SYNAPSE_WEIGHTS = DATA_DIR / "synapse_unet_simulated.pt"


def synapse_model(widths=(8, 16, 32, 64), seed: int = 0):
    """A fresh per-slice synapse U-Net (kernel 1x3x3, in-plane pooling only)."""
    import torch

    from neuralscope.connectomics.networks.unet import UNet3d, UNetConfig

    torch.manual_seed(seed)
    pool = ((1, 2, 2),) * (len(widths) - 1)
    return UNet3d(UNetConfig(out_channels=1, widths=tuple(widths), pool=pool, kernel=(1, 3, 3)))


def load_synapse_model(path: str | Path | None = None):
    """Load synapse weights; returns ``(model, meta)`` (``meta["downsample"]``, ``meta["threshold"]``)."""
    from neuralscope.connectomics.networks.affinities import load_affinity_model

    path = Path(path) if path is not None else DEFAULT_SYNAPSE_WEIGHTS
    return load_affinity_model(path)


def downsample_volume(raw: Any, factor: int) -> np.ndarray:
    """In-plane block mean by ``factor`` (edges cropped to whole blocks)."""
    vol = np.asarray(raw, dtype=np.float32)
    if factor == 1:
        return vol
    z, y, x = vol.shape
    y2, x2 = (y // factor) * factor, (x // factor) * factor
    if y2 == 0 or x2 == 0:
        raise NeuralscopeError("raw", f"slices of at least {factor} x {factor} pixels", f"shape {vol.shape}")
    return vol[:, :y2, :x2].reshape(z, y2 // factor, factor, x2 // factor, factor).mean((2, 4))


def downsampled_stats(raw: Any, factor: int, max_voxels: int = 2_000_000) -> tuple[float, float]:
    """Mean and standard deviation of the in-plane down-sampled volume, from evenly spaced slices.

    The network was trained on standardised down-sampled volumes; computing the statistics once
    for the whole volume (a few slices read lazily) lets slabs of it be processed alike.
    """
    z, y, x = (int(v) for v in raw.shape)
    per_slice = max(1, (y // max(factor, 1)) * (x // max(factor, 1)))
    n = max(1, min(z, int(max_voxels // per_slice)))
    picks = np.unique(np.linspace(0, z - 1, n).round().astype(int))
    sample = downsample_volume(np.stack([np.asarray(raw[int(k)], dtype=np.float32) for k in picks]), factor)
    std = float(sample.std())
    return float(sample.mean()), std if std > 0 else 1.0


def predict_synapse_probability(raw: Any, model=None, meta: dict | None = None, device: Any = "auto",
                                tile_shape=(16, 256, 256), margin=(0, 32, 32),
                                normalize: tuple[float, float] | None = None) -> np.ndarray:
    """Synapse probability at the network's (down-sampled) resolution.

    Parameters
    ----------
    raw : array-like, shape (z, y, x)
        ssTEM / FIB-SEM grey values.
    model, meta : optional
        From :func:`load_synapse_model`; the shipped (simulated-data) model by default.
    device, tile_shape, margin
        As in :func:`~neuralscope.connectomics.networks.affinities.predict_affinities`.
    normalize : (mean, std), optional
        Statistics of the down-sampled grey values (default: :func:`downsampled_stats` of ``raw``).

    Returns
    -------
    ndarray of float32, shape (z, y // f, x // f) with ``f = meta["downsample"]``.
    """
    from neuralscope.connectomics.networks.affinities import predict_tiled

    if getattr(raw, "ndim", None) != 3:
        raise NeuralscopeError("raw", "a 3-D volume (z, y, x)", f"shape {getattr(raw, 'shape', None)}")
    if model is None:
        model, meta = load_synapse_model()
    factor = int((meta or {}).get("downsample", 1))
    small = downsample_volume(raw, factor)
    stats = normalize if normalize is not None else downsampled_stats(raw, factor)
    return predict_tiled(small, model, 1, tile_shape=tile_shape, margin=margin, device=device, normalize=stats)[0]


def probability_to_points(prob: np.ndarray, threshold: float = 0.5, min_size: int = 4) -> np.ndarray:
    """Probability-weighted centroids of 3-D connected components above ``threshold``.

    Returns
    -------
    ndarray, shape (n, 5): z, y, x (in ``prob``'s grid), peak probability, component size.
    """
    from scipy import ndimage as ndi

    lab, n = ndi.label(prob > threshold)
    if n == 0:
        return np.zeros((0, 5))
    index = np.arange(1, n + 1)
    sizes = ndi.sum_labels(np.ones_like(prob), lab, index)
    centres = np.array(ndi.center_of_mass(prob, lab, index)).reshape(-1, 3)
    peaks = ndi.maximum(prob, lab, index)
    keep = sizes >= min_size
    return np.column_stack([centres[keep], np.asarray(peaks)[keep], sizes[keep]])


def detect_synapses(raw: Any, model=None, meta: dict | None = None, *, threshold: float | None = None,
                    min_size: int = 4, device: Any = "auto", slab_slices: int = 64, halo_slices: int = 8):
    """Detect synapses in an EM volume, streaming it in slabs of sections.

    Parameters
    ----------
    raw : array-like, shape (z, y, x)
        Grey-scale EM (numpy, dask, zarr).
    model, meta : optional
        From :func:`load_synapse_model`; the shipped model (trained on simulated data) by default.
    threshold : float, optional
        Probability threshold; the value stored with the weights by default.
    min_size : int
        Smallest component kept (voxels at the network's resolution).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    slab_slices : int
        Sections read and processed at a time (memory grows with it). The network works per
        section, so slabs give the same probabilities as the whole volume.
    halo_slices : int
        Extra sections on each side of a slab; a synapse is reported by the slab holding its
        centroid, so results equal the whole-volume run for synapses spanning fewer sections.

    Returns
    -------
    pandas.DataFrame
        One row per synapse: ``z, y, x`` (voxel coordinates of ``raw``), ``probability`` (peak)
        and ``size`` (voxels at the network's resolution).
    """
    import pandas as pd

    if model is None:
        model, meta = load_synapse_model()
    meta = meta or {}
    threshold = float(threshold if threshold is not None else meta.get("threshold", 0.5))
    if not 0.0 < threshold < 1.0:
        raise NeuralscopeError("threshold", "a probability in (0, 1)", threshold)
    if getattr(raw, "ndim", None) != 3 or min(raw.shape) == 0:
        raise NeuralscopeError("raw", "a non-empty 3-D volume (z, y, x)", f"shape {getattr(raw, 'shape', None)}")
    if slab_slices < 1 or halo_slices < 0:
        raise NeuralscopeError("slab_slices", "a slab of >= 1 sections and a halo >= 0",
                               f"{slab_slices}, {halo_slices}")
    factor = int(meta.get("downsample", 1))
    stats = downsampled_stats(raw, factor)
    n_z = int(raw.shape[0])
    parts = []
    for z0 in range(0, n_z, slab_slices):
        z1 = min(n_z, z0 + slab_slices)
        e0, e1 = max(0, z0 - halo_slices), min(n_z, z1 + halo_slices)
        block = np.asarray(raw[e0:e1], dtype=np.float32)
        prob = predict_synapse_probability(block, model, meta, device=device, normalize=stats)
        found = probability_to_points(prob, threshold, min_size)
        found[:, 0] += e0
        parts.append(found[(found[:, 0] >= z0) & (found[:, 0] < z1)])
    pts = np.concatenate(parts) if parts else np.zeros((0, 5))
    scale = np.array([1.0, factor, factor])
    # Block-mean pixel k covers full-resolution pixels [k f, (k + 1) f): its centre is k f + (f - 1) / 2.
    coords = pts[:, :3] * scale + np.array([0.0, (factor - 1) / 2, (factor - 1) / 2])
    return pd.DataFrame({"z": coords[:, 0], "y": coords[:, 1], "x": coords[:, 2],
                         "probability": pts[:, 3], "size": pts[:, 4].astype(np.int64)})


def match_points(predicted: np.ndarray, truth: np.ndarray, tolerance: float,
                 voxel_size=(1.0, 1.0, 1.0)) -> dict:
    """Precision / recall of detected points against true points within a distance tolerance.

    Each true point matches at most one prediction (minimum total distance, Hungarian), and only
    pairs closer than ``tolerance`` (in the units of ``voxel_size``) count.

    Parameters
    ----------
    predicted, truth : ndarray, shape (n, 3)
        Point coordinates (z, y, x) in voxels.
    tolerance : float
        Largest matching distance, physical units.
    voxel_size : tuple of float
        Voxel size (z, y, x), e.g. ``(45, 4.6, 4.6)`` nm.

    Returns
    -------
    dict with ``precision``, ``recall``, ``f1``, ``n_predicted``, ``n_true``, ``n_matched``.
    """
    from neuralscope.connectomics.synapses import match_synapses

    p = np.asarray(predicted, float).reshape(-1, 3)
    t = np.asarray(truth, float).reshape(-1, 3)
    m = match_synapses(p, t, tolerance=tolerance, sampling=tuple(voxel_size))
    # Nothing predicted against real synapses scores precision 0 here (match_synapses says 1.0).
    precision = m.precision if len(p) or not len(t) else 0.0
    f1 = 2 * precision * m.recall / (precision + m.recall) if precision + m.recall else 0.0
    return {"precision": precision, "recall": m.recall, "f1": f1, "n_predicted": int(len(p)),
            "n_true": int(len(t)), "n_matched": m.true_positives}


def truth_points(mask: np.ndarray, min_size: int = 1) -> np.ndarray:
    """Centroids (z, y, x) of the 3-D connected components of an annotated synapse mask."""
    from scipy import ndimage as ndi

    lab, n = ndi.label(np.asarray(mask) > 0)
    if n == 0:
        return np.zeros((0, 3))
    index = np.arange(1, n + 1)
    sizes = ndi.sum_labels(np.ones(lab.shape), lab, index)
    centres = np.array(ndi.center_of_mass(np.ones(lab.shape), lab, index)).reshape(-1, 3)
    return centres[sizes >= min_size]
