"""See: decode stimuli, choices and movement from population activity.

scikit-learn compatible decoders (``fit``/``predict``, hyper-parameters in
``__init__``, ``random_state``):

- classical: :class:`LinearDecoder` (multinomial logistic), :class:`SVMDecoder`,
  :class:`RidgeDecoder`, :class:`WienerFilter`, :class:`WienerCascade`,
  :class:`KalmanDecoder`
- deep (PyTorch, the ``[deep]`` extra): :class:`CNNClassifier`,
  :class:`RNNClassifier`, :class:`TransformerClassifier`, :class:`CNNRegressor`,
  :class:`RNNRegressor`, :class:`TransformerRegressor`

and their honest evaluation (:func:`cross_validate_decoder`,
:func:`time_resolved_accuracy`, :func:`permutation_importance_neurons`,
:func:`learning_curve`). Deep decoders are imported on first use, so
``import neuralscope.decoding`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from neuralscope.decoding.evaluation import (
    BlockedTimeSeriesSplit,
    CVResult,
    cross_validate_decoder,
    learning_curve,
    permutation_importance_neurons,
    time_resolved_accuracy,
)
from neuralscope.decoding.kalman import KalmanDecoder
from neuralscope.decoding.linear import LinearDecoder, RidgeDecoder, SVMDecoder
from neuralscope.decoding.registry import available_decoders, make_decoder
from neuralscope.decoding.wiener import WienerCascade, WienerFilter

_DEEP = {
    "CNNClassifier", "CNNRegressor", "RNNClassifier", "RNNRegressor",
    "TransformerClassifier", "TransformerRegressor",
}


def __getattr__(name: str) -> Any:
    if name in _DEEP:
        return getattr(importlib.import_module("neuralscope.decoding.deep"), name)
    raise AttributeError(f"module 'neuralscope.decoding' has no attribute {name!r}")


__all__ = [
    "BlockedTimeSeriesSplit",
    "CNNClassifier",
    "CNNRegressor",
    "CVResult",
    "KalmanDecoder",
    "LinearDecoder",
    "RNNClassifier",
    "RNNRegressor",
    "RidgeDecoder",
    "SVMDecoder",
    "TransformerClassifier",
    "TransformerRegressor",
    "WienerCascade",
    "WienerFilter",
    "available_decoders",
    "cross_validate_decoder",
    "learning_curve",
    "make_decoder",
    "permutation_importance_neurons",
    "time_resolved_accuracy",
]
