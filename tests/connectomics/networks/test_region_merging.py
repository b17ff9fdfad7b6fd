"""Region merging with re-scoring of grown regions (GALA-style): statistics, training, merging."""

from __future__ import annotations

import numpy as np
import pytest

from neuralscope.connectomics.metrics import adapted_rand_error
from neuralscope.connectomics.networks.edges import FEATURES, edge_features, feature_matrix
from neuralscope.connectomics.networks.region_merging import (
    face_statistics,
    fragment_truth,
    region_agglomeration,
    train_region_model,
)


def test_face_statistics_match_the_exact_edge_features(cells_and_fragments):
    _, frag, aff = cells_and_fragments(0)
    from neuralscope.connectomics._region_kernel import N_BINS, feature_table

    st = face_statistics(frag, aff)
    X = feature_table(st["hist"], st["s1"], st["s2"], st["min"], st["max"], st["count"],
                      st["sizes"][st["u"]], st["sizes"][st["v"]])
    exact = feature_matrix(edge_features(frag, aff))
    assert X.shape == exact.shape == (len(st["u"]), len(FEATURES))
    quantiles = [FEATURES.index(q) for q in ("q10", "q25", "q50", "q75", "q90")]
    others = [i for i in range(len(FEATURES)) if i not in quantiles]
    np.testing.assert_allclose(X[:, others], exact[:, others], rtol=1e-9, atol=1e-9)
    # histogram quantiles: within two bins of the order statistics (binning + in-bin interpolation)
    err = np.abs(X[:, quantiles] - exact[:, quantiles])
    assert err.max() <= 2.0 / N_BINS and err.mean() < 0.5 / N_BINS
    assert st["hist"].sum() == st["count"].sum()


def test_fragment_truth_marks_unlabelled_fragments():
    frag = np.array([[[1, 1, 2, 2, 3]]])
    truth = np.array([[[5, 5, 0, 0, 7]]])
    assert fragment_truth(np.array([1, 2, 3]), frag, truth).tolist() == [5, -1, 7]


def test_region_model_recovers_cells_on_new_data_and_is_deterministic(cells_and_fragments):
    truth, frag, aff = cells_and_fragments(0)
    model = train_region_model(frag, aff, truth, epochs=2)
    assert model == train_region_model(frag, aff, truth, epochs=2)
    assert len(model["coef"]) == len(FEATURES) and model["epochs"] == 2
    truth2, frag2, aff2 = cells_and_fragments(1)
    seg = region_agglomeration(frag2, aff2, model, threshold=0.5)
    assert adapted_rand_error(seg, truth2) < 0.1 < adapted_rand_error(frag2, truth2)
    # threshold 1 merges nothing: every fragment stays its own object
    assert len(np.unique(region_agglomeration(frag2, aff2, model, threshold=1.0))) == len(np.unique(frag2))


def test_region_agglomeration_without_faces_keeps_the_fragments():
    frag = np.zeros((2, 3, 3), np.int64)
    frag[0], frag[1] = 0, 4
    model = {"mean": [0.0] * len(FEATURES), "scale": [1.0] * len(FEATURES), "coef": [0.0] * len(FEATURES),
             "intercept": 0.0}
    seg = region_agglomeration(frag, np.ones((3, 2, 3, 3), np.float32), model, 0.5)
    assert seg.dtype == np.uint64 and set(np.unique(seg).tolist()) == {0, 1}


def test_segment_affinities_runs_the_region_method(cells_and_fragments):
    from neuralscope.connectomics.agglomeration import affinities_to_boundary, watershed_fragments
    from neuralscope.connectomics.networks.segment import segment_affinities

    truth, frag, aff = cells_and_fragments(0)
    model = train_region_model(frag, aff, truth, epochs=1)
    tuned = {"method": "region", "region_model": model, "threshold": 0.5, "seed_threshold": 0.5}
    fragments = watershed_fragments(affinities_to_boundary(aff), seed_threshold=0.5)
    np.testing.assert_array_equal(segment_affinities(aff, tuned), region_agglomeration(fragments, aff, model, 0.5))
