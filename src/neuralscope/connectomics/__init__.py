"""Map the connections: EM volumes -> dense segmentation -> synapses -> connectome.

- :mod:`~neuralscope.connectomics.volumes`: lazy dask readers (zarr, HDF5, TIFF, slice folders,
  ``.npy``), zarr writing, loaders for the real EM sets (FIB-25, ISBI 2012, larval VNC).
- :mod:`~neuralscope.connectomics.agglomeration`: watershed fragments + hierarchical mean-affinity
  merging (waterz-class), mutex watershed, boundary-map entry point.
- :mod:`~neuralscope.connectomics.blockwise`: block-wise processing with halos and stitching into
  one global segmentation, on dask threads or a ``dask.distributed`` cluster.
- :mod:`~neuralscope.connectomics.pipeline`: raw volume -> segmentation (classical or U-Net affinities).
- :mod:`~neuralscope.connectomics.metrics`: VI split / merge, adapted Rand error, per-object lists.
- :mod:`~neuralscope.connectomics.proofreading`: merge suggestions ranked by the voxel pairs a merge
  would join, and applying a proofreader's answers.
- :mod:`~neuralscope.connectomics.synapses`: detection scores, partner assignment -> Connectome.
- ``networks`` (U-Net, FFN, synapse network) and ``graph`` (connectome analyses) are sub-packages,
  imported only when used.

Names below are loaded lazily, so ``import neuralscope.connectomics`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "open_volume": "volumes", "write_zarr": "volumes", "load_fib25": "volumes", "load_isbi2012": "volumes",
    "load_drosophila_vnc": "volumes", "VolumeReadError": "volumes", "FIB25_TEST_Z": "volumes",
    "affinities_to_segmentation": "agglomeration", "boundary_to_segmentation": "agglomeration",
    "boundary_to_affinities": "agglomeration", "affinities_to_boundary": "agglomeration",
    "watershed_fragments": "agglomeration", "region_graph": "agglomeration", "agglomerate": "agglomeration",
    "mutex_watershed": "agglomeration",
    "segment_blockwise": "blockwise", "segment_volume": "pipeline", "ClassicalSegmenter": "pipeline",
    "ClassicalBoundary": "boundaries",
    "variation_of_information": "metrics", "adapted_rand_error": "metrics", "evaluate_segmentation": "metrics",
    "merge_suggestions": "proofreading", "apply_merges": "proofreading", "truth_answers": "proofreading",
    "match_synapses": "synapses", "assign_partners": "synapses", "synapses_to_connectome": "synapses",
    "detect_synapses_classical": "synapses",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
