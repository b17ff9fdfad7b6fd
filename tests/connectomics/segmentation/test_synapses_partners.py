"""Synapse matching with a distance tolerance, partner assignment, the connectome, the classical detector."""

import numpy as np
import pandas as pd
import pytest

from neuralscope.connectomics.synapses import (
    assign_partners,
    detect_synapses_classical,
    match_synapses,
    synapses_to_connectome,
)
from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets.em import simulate_em_volume


def test_matching_is_one_to_one_within_tolerance():
    truth = np.array([[0, 0, 0], [0, 0, 3], [20, 20, 20]])
    detected = np.array([[0, 0, 1], [0, 0, 2], [0, 0, 1.5], [40, 40, 40]])
    m = match_synapses(detected, truth, tolerance=2.0)
    assert m.true_positives == 2 and m.false_positives == 2 and m.false_negatives == 1
    assert m.precision == 0.5 and m.recall == pytest.approx(2 / 3)
    assert set(m.pairs[:, 1]) == {0, 1}
    # Anisotropic sampling stretches z: the same points no longer match.
    assert match_synapses([[1, 0, 0]], [[0, 0, 0]], tolerance=2.0, sampling=(5, 1, 1)).true_positives == 0
    assert match_synapses(np.zeros((0, 3)), truth, 1.0).recall == 0.0


def test_partners_from_points_and_from_direction():
    seg = np.ones((10, 10, 10), np.uint64)
    seg[:, :, 5:] = 2
    seg[:, :, 8:] = 3
    explicit = pd.DataFrame({"z": [5], "y": [5], "x": [5], "pre_z": [5], "pre_y": [5], "pre_x": [2],
                             "post_z": [5], "post_y": [5], "post_x": [6]})
    out = assign_partners(explicit, seg)
    assert out.loc[0, "pre_segment"] == 1 and out.loc[0, "post_segment"] == 2 and out.loc[0, "valid"]
    # Point only: the segment under the point is presynaptic, the commonest other one nearby postsynaptic.
    out = assign_partners(np.array([[5, 5, 4]]), seg, radius=3)
    assert out.loc[0, "pre_segment"] == 1 and out.loc[0, "post_segment"] == 2


def test_connectome_counts_synapses_per_pair():
    assigned = pd.DataFrame({"pre_segment": [1, 1, 2, 3, 3], "post_segment": [2, 2, 1, 0, 3],
                             "valid": [True, True, True, False, False]})
    conn = synapses_to_connectome(assigned)
    dense = conn.to_sparse().toarray()
    ids = list(conn.neuron_ids)
    assert conn.n_edges == 2 and dense[ids.index(1), ids.index(2)] == 2 and dense[ids.index(2), ids.index(1)] == 1


def test_classical_detector_and_partners_on_simulated_volume():
    vol = simulate_em_volume((32, 96, 96), n_synapses=30, random_state=5)
    found = detect_synapses_classical(vol.raw)
    m = match_synapses(found, vol.synapses, tolerance=5)
    assert m.precision > 0.8 and m.recall > 0.8
    assigned = assign_partners(found, vol.labels, radius=6)
    correct = sum(assigned.loc[i, "pre_segment"] == vol.synapses.loc[j, "pre_id"]
                  and assigned.loc[i, "post_segment"] == vol.synapses.loc[j, "post_id"] for i, j in m.pairs)
    assert correct >= 0.7 * m.true_positives
    # With the true pre/post points, partner assignment on the true labels is exact.
    exact = assign_partners(vol.synapses, vol.labels)
    assert (exact["pre_segment"] == exact["pre_id"]).all() and (exact["post_segment"] == exact["post_id"]).all()


def test_bad_input():
    with pytest.raises(NeuralscopeError, match="tolerance"):
        match_synapses([[0, 0, 0]], [[0, 0, 0]], tolerance=0)
    with pytest.raises(NeuralscopeError, match="integer"):
        assign_partners([[0, 0, 0]], np.zeros((2, 2, 2)))
    with pytest.raises(NeuralscopeError, match="z, y, x"):
        match_synapses(pd.DataFrame({"a": [1]}), [[0, 0, 0]], 1.0)
