"""Learned edge scores: features, targets, and agglomeration of an over-segmentation."""

from __future__ import annotations

import numpy as np
import pytest

from neuralscope.connectomics.metrics import adapted_rand_error
from neuralscope.connectomics.networks.edges import (
    FEATURES,
    edge_features,
    edge_targets,
    feature_matrix,
    fit_edge_model,
    learned_agglomeration,
    merge_probability,
)
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


def test_edge_features_on_a_known_face():
    frag = np.zeros((1, 2, 4), np.int64)
    frag[..., :2], frag[..., 2:] = 1, 2
    aff = np.zeros((3, 1, 2, 4), np.float32)
    aff[2, 0, :, 2] = [0.2, 0.4]  # the two x-faces between fragment 1 and 2
    t = edge_features(frag, aff)
    assert t["u"].tolist() == [1] and t["v"].tolist() == [2] and t["faces"].tolist() == [2]
    assert t["mean"][0] == pytest.approx(0.3) and t["min"][0] == pytest.approx(0.2) and t["max"][0] == pytest.approx(0.4)
    assert feature_matrix(t).shape == (1, len(FEATURES))


def test_learned_agglomeration_recovers_cells_on_new_data():
    truth, frag, aff = _cells_and_fragments(0)
    table = edge_features(frag, aff)
    y = edge_targets(table, frag, truth)
    assert 0.2 < y.mean() < 0.9
    model = fit_edge_model(feature_matrix(table), y)
    truth2, frag2, aff2 = _cells_and_fragments(1)
    t2 = edge_features(frag2, aff2)
    p = merge_probability(model, feature_matrix(t2))
    y2 = edge_targets(t2, frag2, truth2)
    assert p[y2 == 1].mean() > p[y2 == 0].mean() + 0.3
    seg = learned_agglomeration(frag2, aff2, model, threshold=0.5)
    assert adapted_rand_error(seg, truth2) < 0.1 < adapted_rand_error(frag2, truth2)
