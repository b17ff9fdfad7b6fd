"""Calcium imaging: from a two-photon movie to cells, dF/F and spikes.

- :class:`~neuralscope.imaging.registration.Registration` -- rigid / piecewise-rigid phase correlation
- :class:`~neuralscope.imaging.detection.CellDetector` -- activity-based cell detection with a
  cell / not-cell classifier; :func:`~neuralscope.imaging.detection.detect_from_mean_image`
- :class:`~neuralscope.imaging.traces.TraceExtractor` -- overlap-aware traces, neuropil, dF/F
- :func:`~neuralscope.imaging.pipeline.run_pipeline` -- the whole chain with per-stage checkpoints
- :func:`~neuralscope.imaging.metrics.match_rois` and friends -- scores against ground truth
- :mod:`neuralscope.imaging.spikes` -- spike inference (imported on first use)

Names are imported lazily so ``import neuralscope.imaging`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Registration": "registration", "RegistrationResult": "registration", "apply_shifts": "registration",
    "shift_error": "registration", "crispness": "registration",
    "CellDetector": "detection", "detect_from_mean_image": "detection",
    "TraceExtractor": "traces", "delta_f_over_f": "traces", "neuropil_masks": "traces",
    "NEUROPIL_COEFFICIENT": "traces",
    "run_pipeline": "pipeline", "PipelineResult": "pipeline",
    "match_rois": "metrics", "trace_correlation": "metrics",
    "RoiClassifier": "classifier",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"neuralscope.imaging.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'neuralscope.imaging' has no attribute {name!r}")
