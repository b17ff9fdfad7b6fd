"""The flood-filling network: a residual stack of 3-D convolutions over a field of view.

Input: the standardised raw field of view (FOV) and the current object mask of that FOV as
logits (the "predicted object map", POM). Output: the updated POM logits (input logits plus a
learned update), the same size as the FOV. The network is narrow on purpose so that CPU
inference over small volumes is usable (Januszewski et al. 2018 used 12 modules of 32
channels on a 33^3 FOV on GPUs).

Weights are stored as ``{"config": <plain dict>, "state_dict": <tensors>, "meta": <plain dict>}``
so that ``torch.load(path, weights_only=True)`` reads them without unpickling code.
"""

from __future__ import annotations

import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuralscope.core.errors import NeuralscopeError

#: Shipped weights (trained by ``scripts/train_ffn.py`` on FIB-25 z < 125).
SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "data" / "ffn_fib25.pt"

#: Soft mask targets / initial POM values (paper: 0.05 outside, 0.95 inside).
POM_LOW, POM_HIGH = 0.05, 0.95


def logit(p: float) -> float:
    """Log-odds of probability ``p``."""
    return float(np.log(p / (1.0 - p)))


@dataclass(frozen=True)
class FFNConfig:
    """Architecture and geometry of a flood-filling network (plain data, stored with the weights).

    Parameters
    ----------
    fov : tuple of int
        Field of view (z, y, x); odd sizes so the FOV has a centre voxel.
    delta : tuple of int
        FOV move step (z, y, x) used by the movement policy in training and inference.
    channels : int
        Feature channels of every convolution.
    depth : int
        Number of residual modules (two 3x3x3 convolutions each).
    """

    fov: tuple[int, int, int] = (17, 17, 17)
    delta: tuple[int, int, int] = (4, 4, 4)
    channels: int = 16
    depth: int = 8
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        fov = tuple(int(v) for v in self.fov)
        delta = tuple(int(v) for v in self.delta)
        if len(fov) != 3 or any(v < 3 or v % 2 == 0 for v in fov):
            raise NeuralscopeError("fov", "three odd sizes >= 3 (z, y, x)", self.fov)
        if len(delta) != 3 or any(d < 0 or d > f // 2 for d, f in zip(delta, fov)):
            raise NeuralscopeError("delta", "three steps 0 <= delta <= fov // 2", self.delta)
        if int(self.channels) < 1 or int(self.depth) < 1:
            raise NeuralscopeError("channels/depth", "positive integers", (self.channels, self.depth))
        object.__setattr__(self, "fov", fov)
        object.__setattr__(self, "delta", delta)
        object.__setattr__(self, "channels", int(self.channels))
        object.__setattr__(self, "depth", int(self.depth))

    def to_dict(self) -> dict:
        """Plain-data form (lists, ints) for storage."""
        d = asdict(self)
        d["fov"], d["delta"] = list(self.fov), list(self.delta)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FFNConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(fov=tuple(d["fov"]), delta=tuple(d["delta"]), channels=d["channels"], depth=d["depth"],
                   extra=dict(d.get("extra", {})))


class _Residual(nn.Module):
    """ReLU-conv-ReLU-conv with an identity skip (the FFN "conv stack" module)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv3d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(torch.relu(self.conv1(torch.relu(x))))


class FFNModel(nn.Module):
    """Flood-filling network: ``forward(raw, pom_logits) -> new pom_logits``.

    Parameters
    ----------
    config : FFNConfig, optional
        Architecture; default ``FFNConfig()`` (17^3 FOV, 8 modules of 16 channels).

    Examples
    --------
    >>> import torch
    >>> m = FFNModel(FFNConfig(fov=(9, 9, 9), delta=(2, 2, 2), channels=4, depth=1))
    >>> m(torch.zeros(2, 1, 9, 9, 9), torch.zeros(2, 1, 9, 9, 9)).shape
    torch.Size([2, 1, 9, 9, 9])
    """

    def __init__(self, config: FFNConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else FFNConfig()
        c = self.config.channels
        self.stem = nn.Conv3d(2, c, 3, padding=1)
        self.blocks = nn.Sequential(*[_Residual(c) for _ in range(self.config.depth)])
        self.head = nn.Conv3d(c, 1, 1)
        # A zero-initialised head makes the untrained network the identity on the POM, which keeps
        # the first recurrent training iterations stable.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, raw: torch.Tensor, pom: torch.Tensor) -> torch.Tensor:
        """Updated POM logits for ``raw`` and ``pom`` of shape (batch, 1, *fov)."""
        h = self.stem(torch.cat([raw, pom], dim=1))
        return pom + self.head(torch.relu(self.blocks(h)))


def save_ffn_model(model: FFNModel, path: str | Path, meta: dict | None = None) -> Path:
    """Write ``model`` (config + float32 weights + ``meta``) to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).clone() for k, v in model.state_dict().items()}
    torch.save({"config": model.config.to_dict(), "state_dict": state, "meta": dict(meta or {})}, path)
    return path


def load_ffn_model(path: str | Path | None = None, device: Any = "cpu") -> tuple[FFNModel, dict]:
    """Load a model written by :func:`save_ffn_model` (default: the shipped FIB-25 weights).

    Returns
    -------
    model : FFNModel
        In eval mode, on ``device``.
    meta : dict
        Training metadata stored with the weights (data, steps, seconds, validation loss).
    """
    from neuralscope._torch import resolve_device

    path = Path(path) if path is not None else SHIPPED_WEIGHTS
    if not path.is_file():
        raise NeuralscopeError("model", "a weights file written by save_ffn_model", str(path))
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = FFNModel(FFNConfig.from_dict(blob["config"]))
        model.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise NeuralscopeError("model", "a weights file written by save_ffn_model", f"{path} ({exc})") from None
    return model.to(resolve_device(device)).eval(), dict(blob.get("meta", {}))
