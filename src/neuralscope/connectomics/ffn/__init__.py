"""Flood-filling networks (Januszewski et al. 2018) in torch: CPU for small volumes, GPU when present.

- :class:`FFNModel` / :class:`FFNConfig`: residual 3-D conv stack, ``(raw, pom) -> pom``.
- :class:`FFNTrainer`: recurrent training with FOV moves along the network's own prediction.
- :class:`FloodFiller`: seed placement, movement policy, per-object iterative inference.
- :func:`consensus_merge`, :func:`consensus_split`, :func:`segment_ffn`: two seed orders combined.
- :func:`load_ffn_model` / :func:`save_ffn_model`: weights + plain-data config (``weights_only``).

Names are loaded lazily so that importing the package does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "FFNConfig": "model", "FFNModel": "model", "load_ffn_model": "model", "save_ffn_model": "model",
    "SHIPPED_WEIGHTS": "model", "FFNTrainer": "training", "face_scores": "training",
    "FloodFiller": "inference", "peak_seeds": "inference", "consensus_merge": "consensus", "consensus_split": "consensus",
    "segment_ffn": "consensus",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
