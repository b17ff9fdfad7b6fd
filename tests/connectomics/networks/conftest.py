"""Shared synthetic data of the network tests."""

from __future__ import annotations

import numpy as np
import pytest

from neuralscope.connectomics.networks.targets import labels_to_affinities


def _cells_and_fragments(seed):
    """Voronoi cells (truth) cut into fragments by a finer Voronoi partition; noisy true affinities."""
    rng = np.random.default_rng(seed)
    shape = (16, 40, 40)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1).reshape(-1, 3)

    def voronoi(n):
        c = rng.uniform(0, 1, (n, 3)) * np.array(shape)
        return (np.argmin(((grid[:, None] - c[None]) ** 2).sum(-1), 1) + 1).reshape(shape)

    truth = voronoi(8)
    fine = voronoi(60)
    fragments = (truth * 1000 + fine).astype(np.int64)
    aff, _ = labels_to_affinities(truth, [(1, 0, 0), (0, 1, 0), (0, 0, 1)])
    aff = np.clip(aff * 0.7 + 0.15 + rng.normal(0, 0.25, aff.shape), 0, 1).astype(np.float32)
    return truth, fragments, aff


@pytest.fixture
def cells_and_fragments():
    """``f(seed) -> (truth, fragments, affinities)``: an over-segmentation with known cells."""
    return _cells_and_fragments
