"""Degrees, reciprocity, k-hop sets and shortest paths against networkx / hand counts."""

import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _graphs import random_connectome, to_networkx  # noqa: E402

from neuralscope.connectomics.graph import (
    adjacency,
    degree_distributions,
    degree_table,
    k_hop,
    reciprocity,
    shortest_path,
    shortest_path_lengths,
)
from neuralscope.core.connectome import Connectome
from neuralscope.core.errors import NeuralscopeError


def test_degrees_sum_duplicate_rows():
    conn = Connectome([1, 1, 2, 3], [2, 2, 3, 1], [2, 3, 4, 1])  # 1 -> 2 listed twice (two neuropils)
    adj = adjacency(conn)
    table = degree_table(adj, conn.neuron_ids)
    assert table.loc[1, "out_degree"] == 1 and table.loc[1, "out_synapses"] == 5
    assert table.loc[2, "in_synapses"] == 5 and table["in_degree"].sum() == 3
    d = degree_distributions(adj)
    assert d["edge_weight"]["max"] == 5 and d["edge_weight"]["single_synapse_fraction"] == pytest.approx(1 / 3)


def test_reciprocity_against_networkx_and_by_hand():
    conn = random_connectome(seed=4)
    r = reciprocity(adjacency(conn))
    assert r["reciprocity"] == pytest.approx(nx.overall_reciprocity(to_networkx(conn)))
    # Weighted: a <-> b with 3 and 1 synapses, b -> c with 4: min(3, 1) * 2 / (3 + 1 + 4).
    small = Connectome(["a", "b", "b"], ["b", "a", "c"], [3, 1, 4])
    rs = reciprocity(adjacency(small))
    assert rs["weighted_reciprocity"] == pytest.approx(2 / 8)
    assert rs["reciprocity"] == pytest.approx(2 / 3) and rs["mutual_pairs"] == 1


def test_k_hop_matches_networkx_bfs():
    conn = random_connectome(n=60, m=150, seed=5)
    adj, g = adjacency(conn), to_networkx(conn)
    for src in (0, 7):
        hops = k_hop(adj, src, 2)
        ref = nx.single_source_shortest_path_length(g, src, cutoff=2)
        assert {i: int(h) for i, h in enumerate(hops) if h >= 0} == ref
        up = k_hop(adj, src, 3, direction="upstream")
        ref_up = nx.single_source_shortest_path_length(g.reverse(), src, cutoff=3)
        assert {i: int(h) for i, h in enumerate(up) if h >= 0} == ref_up


def test_k_hop_threshold_and_errors():
    conn = Connectome.from_indices(np.array([0, 1, 0], np.int32), np.array([1, 2, 2], np.int32),
                                   np.array([5.0, 5.0, 1.0]), n_neurons=4)
    adj = adjacency(conn)
    assert k_hop(adj, 0, 2).tolist() == [0, 1, 1, -1]
    assert k_hop(adj, 0, 2, min_synapses=5).tolist() == [0, 1, 2, -1]
    with pytest.raises(NeuralscopeError):
        k_hop(adj, 9, 1)
    with pytest.raises(NeuralscopeError):
        k_hop(adj, 0, -1)
    with pytest.raises(NeuralscopeError):
        k_hop(adj, 0, 1, direction="sideways")


def test_shortest_paths_hops_and_weighted():
    conn = Connectome.from_indices(np.array([0, 1, 0], np.int32), np.array([1, 2, 2], np.int32),
                                   np.array([10.0, 10.0, 1.0]), n_neurons=4)
    adj = adjacency(conn)
    d = shortest_path_lengths(adj, [0])[0]
    assert d[:3].tolist() == [0, 1, 1] and np.isinf(d[3])
    dw = shortest_path_lengths(adj, [0], weighted=True)[0]
    assert dw[2] == pytest.approx(0.2)  # two strong synapses (1/10 + 1/10) beat one weak one (1/1)
    assert shortest_path(adj, 0, 2) == [0, 2] and shortest_path(adj, 0, 2, weighted=True) == [0, 1, 2]
    assert shortest_path(adj, 0, 3) == []
    conn2 = random_connectome(n=50, m=140, seed=6)
    ref = nx.single_source_shortest_path_length(to_networkx(conn2), 3)
    got = shortest_path_lengths(adjacency(conn2), 3)[0]
    assert {i: int(v) for i, v in enumerate(got) if np.isfinite(v)} == ref
