"""Networks for EM connectomics: an affinity U-Net and a synapse detector (torch).

- :class:`UNet3d` / :class:`UNetConfig`: a small 3-D (or anisotropic / 2-D-per-slice) U-Net.
- :func:`predict_affinities`: tiled prediction with overlap over numpy or dask volumes, CPU or GPU.
- :func:`segment_em`: EM volume -> affinities -> watershed + mean-affinity merging
  (:mod:`neuralscope.connectomics.agglomeration`).
- :func:`train_region_model` / :func:`region_agglomeration`: merging that re-scores grown regions
  with a learned model, trained GALA-style.
- :func:`detect_synapses`: synapse probability map -> detected points.
- Shipped weights: ``data/affinity_unet_fib25.pt``, an ensemble of three U-Nets (seeds 5, 6, 7) trained
  on FIB-25 z < 125, x < 150 by ``scripts/train_affinities.py --protocol xsplit`` and combined with
  ``--ensemble``; tuned for bfloat16 inference (CC-BY 3.0 data, attribution in ``data/ATTRIBUTION.md``).

Everything that needs torch is imported lazily, so importing this package is cheap.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "UNet3d": "neuralscope.connectomics.networks.unet",
    "UNetConfig": "neuralscope.connectomics.networks.unet",
    "receptive_radius": "neuralscope.connectomics.networks.unet",
    "labels_to_affinities": "neuralscope.connectomics.networks.targets",
    "DEFAULT_OFFSETS": "neuralscope.connectomics.networks.targets",
    "AffinityTrainer": "neuralscope.connectomics.networks.training",
    "predict_affinities": "neuralscope.connectomics.networks.affinities",
    "load_affinity_model": "neuralscope.connectomics.networks.affinities",
    "segment_em": "neuralscope.connectomics.networks.segment",
    "apply_mapping": "neuralscope.connectomics.networks.segment",
    "train_region_model": "neuralscope.connectomics.networks.region_merging",
    "region_agglomeration": "neuralscope.connectomics.networks.region_merging",
    "detect_synapses": "neuralscope.connectomics.networks.synapses",
    "predict_synapse_probability": "neuralscope.connectomics.networks.synapses",
    "load_synapse_model": "neuralscope.connectomics.networks.synapses",
    "match_points": "neuralscope.connectomics.networks.synapses",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
