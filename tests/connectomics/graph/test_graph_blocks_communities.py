"""Block connectivity by hand; Louvain on planted partitions against networkx's modularity."""

import networkx as nx
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from neuralscope.connectomics.graph import adjacency, block_connectivity, group_labels, louvain, modularity
from neuralscope.connectomics.graph.community import symmetric_weights
from neuralscope.core.connectome import Connectome
from neuralscope.core.errors import NeuralscopeError


def test_block_connectivity_by_hand():
    import pandas as pd

    neurons = pd.DataFrame({"cell_type": ["A", "A", "B", None]}, index=[1, 2, 3, 4])
    conn = Connectome([1, 1, 2, 3, 3], [2, 3, 3, 1, 3], [2, 5, 1, 4, 9], neuron_ids=[1, 2, 3, 4], neurons=neurons)
    labels = group_labels(conn, "cell_type")
    assert labels.tolist() == ["A", "A", "B", "unknown"]
    b = block_connectivity(adjacency(conn), labels, order=["A", "B", "unknown"])
    assert b.synapses.loc["A", "A"] == 2 and b.synapses.loc["A", "B"] == 6 and b.synapses.loc["B", "A"] == 4
    assert b.synapses.loc["B", "B"] == 0  # the self-loop 3 -> 3 is not a connection between neurons
    assert b.probability.loc["A", "A"] == pytest.approx(1 / 2) and b.probability.loc["A", "B"] == pytest.approx(2 / 2)
    assert np.isnan(b.probability.loc["B", "B"]) and b.sizes.tolist() == [2, 1, 1]
    with pytest.raises(NeuralscopeError):
        group_labels(conn, "no_such_column")
    with pytest.raises(NeuralscopeError):
        block_connectivity(adjacency(conn), labels[:2])


def _planted(n=600, k=6, p_in=0.08, p_out=0.004, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(k), n // k)
    prob = np.where(truth[:, None] == truth[None, :], p_in, p_out)
    a = rng.random((n, n)) < prob
    np.fill_diagonal(a, False)
    pre, post = np.nonzero(a)
    w = rng.integers(1, 6, len(pre)).astype(float)
    return Connectome.from_indices(pre.astype(np.int32), post.astype(np.int32), w, n_neurons=n), truth


def test_louvain_recovers_planted_communities_and_modularity_matches_networkx():
    conn, truth = _planted()
    adj = adjacency(conn)
    res = louvain(adj, random_state=0)
    assert adjusted_rand_score(truth, res.labels) == pytest.approx(1.0)
    assert res.n_communities == 6 and res.sizes.sum() == 600
    s = symmetric_weights(adj)
    g = nx.from_scipy_sparse_array(s)
    groups = [set(np.flatnonzero(res.labels == c).tolist()) for c in range(res.n_communities)]
    assert res.modularity == pytest.approx(nx.community.modularity(g, groups, weight="weight"), abs=1e-9)
    assert modularity(s, truth) == pytest.approx(res.modularity, abs=1e-9)
    again = louvain(adj, random_state=0)
    assert np.array_equal(again.labels, res.labels)


def test_louvain_resolution_and_errors():
    conn, _ = _planted(seed=1)
    adj = adjacency(conn)
    coarse, fine = louvain(adj, resolution=0.2), louvain(adj, resolution=5.0)
    assert coarse.n_communities < 6 < fine.n_communities
    with pytest.raises(NeuralscopeError):
        louvain(adj, resolution=0)
