"""Helpers for the flood-filling tests: an oracle network and small volumes with known objects."""

from __future__ import annotations

import numpy as np
import torch

from neuralscope.connectomics.ffn.model import FFNConfig


class OracleFFN(torch.nn.Module):
    """Returns the true mask logits: ``raw`` holds the object ids, the object is the one under the
    POM's maximum. Tests the inference machinery independently of learning."""

    def __init__(self, fov=(9, 9, 9), delta=(2, 2, 2)) -> None:
        super().__init__()
        self.config = FFNConfig(fov=fov, delta=delta, channels=1, depth=1)
        self.calls = 0

    def forward(self, raw: torch.Tensor, pom: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = torch.empty_like(pom)
        for i in range(raw.shape[0]):
            obj = raw[i].flatten()[int(torch.argmax(pom[i]))]
            out[i] = torch.where(raw[i] == obj, 5.0, -5.0)
        return out


def voronoi_labels(shape=(20, 40, 40), n_cells=12, seed=0) -> np.ndarray:
    """Dense labels (ids 1..n) of a Voronoi partition: convex, connected objects."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1, (n_cells, 3)) * np.array(shape)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    d = ((grid[..., None, :] - pts) ** 2).sum(-1)
    return (d.argmin(-1) + 1).astype(np.int64)

