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


def test_edge_features_on_a_known_face():
    frag = np.zeros((1, 2, 4), np.int64)
    frag[..., :2], frag[..., 2:] = 1, 2
    aff = np.zeros((3, 1, 2, 4), np.float32)
    aff[2, 0, :, 2] = [0.2, 0.4]  # the two x-faces between fragment 1 and 2
    t = edge_features(frag, aff)
    assert t["u"].tolist() == [1] and t["v"].tolist() == [2] and t["faces"].tolist() == [2]
    assert t["mean"][0] == pytest.approx(0.3) and t["min"][0] == pytest.approx(0.2) and t["max"][0] == pytest.approx(0.4)
    assert feature_matrix(t).shape == (1, len(FEATURES))


def test_learned_agglomeration_recovers_cells_on_new_data(cells_and_fragments):
    truth, frag, aff = cells_and_fragments(0)
    table = edge_features(frag, aff)
    y = edge_targets(table, frag, truth)
    assert 0.2 < y.mean() < 0.9
    model = fit_edge_model(feature_matrix(table), y)
    truth2, frag2, aff2 = cells_and_fragments(1)
    t2 = edge_features(frag2, aff2)
    p = merge_probability(model, feature_matrix(t2))
    y2 = edge_targets(t2, frag2, truth2)
    assert p[y2 == 1].mean() > p[y2 == 0].mean() + 0.3
    seg = learned_agglomeration(frag2, aff2, model, threshold=0.5)
    assert adapted_rand_error(seg, truth2) < 0.1 < adapted_rand_error(frag2, truth2)
