"""Small torch helpers shared by the capabilities that train networks.

Imported only by modules that already need torch (the ``[deep]`` extra).
"""

from __future__ import annotations

from typing import Any

import torch

from neuralscope.core.errors import NeuralscopeError


def resolve_device(device: Any) -> torch.device:
    """Turn ``"auto"`` / ``"cpu"`` / ``"cuda[:i]"`` / ``torch.device`` into a device.

    ``"auto"`` picks CUDA when available, else the CPU.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise NeuralscopeError("device", "'auto', 'cpu', 'cuda' or 'cuda:<index>'", device) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NeuralscopeError("device", "'cpu' or 'auto' (CUDA is not available)", device)
    return dev
