"""Dyad / triad census against networkx, the sampled estimator and the configuration null."""

import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _graphs import random_connectome, to_networkx  # noqa: E402

from neuralscope.circuits.synthetic import synthetic_connectome
from neuralscope.connectomics.graph import (
    TRIAD_NAMES,
    adjacency,
    configuration_null,
    dyad_census,
    motif_analysis,
    triad_census,
)
from neuralscope.core.connectome import Connectome
from neuralscope.core.errors import NeuralscopeError


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_triad_census_equals_networkx(seed):
    conn = random_connectome(n=35 + seed, m=200 + 40 * seed, seed=seed)
    census = triad_census(adjacency(conn))
    assert census.exact and (census.se == 0).all()
    assert {k: int(v) for k, v in census.counts.items()} == nx.triadic_census(to_networkx(conn))


def test_each_class_from_its_definition():
    # One triad of each connected class on its own three neurons; everything else 003 / 012 / 102.
    edges = {"021D": [(1, 0), (1, 2)], "030T": [(0, 1), (2, 1), (0, 2)], "300": [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)],
             "120C": [(0, 1), (1, 2), (0, 2), (2, 0)], "111U": [(0, 1), (1, 0), (1, 2)]}
    pre, post = [], []
    for k, (name, es) in enumerate(edges.items()):
        for a, b in es:
            pre.append(3 * k + a), post.append(3 * k + b)
    conn = Connectome.from_indices(np.array(pre, np.int32), np.array(post, np.int32), np.ones(len(pre)), n_neurons=15)
    counts = triad_census(adjacency(conn)).counts
    for name in edges:
        assert counts[name] == 1, name
    assert sum(counts[c] for c in TRIAD_NAMES[3:]) == len(edges)


def test_dyad_census_and_loops_ignored():
    conn = Connectome.from_indices(np.array([0, 1, 1, 2, 2], np.int32), np.array([1, 0, 2, 2, 0], np.int32),
                                   np.ones(5), n_neurons=4)
    d = dyad_census(adjacency(conn))
    assert d.to_dict() == {"mutual": 1, "asymmetric": 2, "null": 3}


def test_sampled_census_is_unbiased_with_calibrated_se():
    conn = synthetic_connectome(1500, 30000, random_state=3)
    adj = adjacency(conn)
    exact = triad_census(adj, work_budget=None)
    runs = [triad_census(adj, work_budget=100_000, random_state=s) for s in range(25)]
    assert not runs[0].exact and 0.05 < runs[0].work_fraction < 0.6
    est = np.array([r.counts.to_numpy() for r in runs])
    se = np.array([r.se.to_numpy() for r in runs]).mean(0)
    for name in ("030T", "021C", "012"):
        i = TRIAD_NAMES.index(name)
        assert se[i] > 0
        assert abs(est[:, i].mean() - exact.counts.iloc[i]) < 3 * se[i] / np.sqrt(len(runs)) + 1e-9
        assert 0.5 < est[:, i].std() / se[i] < 1.6  # the standard error says how far one estimate strays
    # The total number of triads is exact either way.
    assert est.sum(1) == pytest.approx(exact.counts.sum(), rel=1e-12)


def test_configuration_null_keeps_degrees_and_is_seeded():
    conn = synthetic_connectome(2000, 40000, random_state=1)
    adj = adjacency(conn)
    w, dropped = configuration_null(adj, random_state=7)
    w2, _ = configuration_null(adj, random_state=7)
    w3, _ = configuration_null(adj, random_state=8)
    assert (w != w2).nnz == 0 and (w != w3).nnz > 0
    out_deg = np.diff(w.indptr)
    in_deg = np.bincount(w.indices, minlength=adj.n_neurons)
    assert dropped == adj.loops_removed.nnz - w.nnz and 0 <= dropped < 0.08 * w.nnz  # hubs lose a few repeated pairs
    assert np.all(out_deg <= adj.out_degree) and np.abs(out_deg - adj.out_degree).sum() == dropped
    assert np.abs(in_deg - adj.in_degree).sum() == dropped
    assert (w.diagonal() == 0).all()
    erased, n_erased = configuration_null(adj, random_state=7, max_rounds=0)  # plain erased model
    assert n_erased > 5 * max(dropped, 1)  # re-pairing the rejected stubs keeps the hubs' degrees
    again = w.copy()
    again.sum_duplicates()
    assert again.nnz == w.nnz  # no repeated pairs


def test_planted_feed_forward_loops_are_over_represented():
    rng = np.random.default_rng(0)
    n = 400
    pre, post = list(rng.integers(0, n, 1500)), list(rng.integers(0, n, 1500))
    for _ in range(150):  # a -> b -> c with the shortcut a -> c
        a, b, c = rng.choice(n, 3, replace=False)
        pre += [a, b, a]
        post += [b, c, c]
    conn = Connectome.from_indices(np.array(pre, np.int32), np.array(post, np.int32), np.ones(len(pre)), n_neurons=n)
    res = motif_analysis(adjacency(conn), n_null=8, random_state=0)
    table = res.table()
    assert table.loc["030T", "z"] > 5 and table.loc["030T", "ratio"] > 1.5
    assert abs(table.loc["021D", "z"]) < abs(table.loc["030T", "z"])
    again = motif_analysis(adjacency(conn), n_null=8, random_state=0)
    assert again.table().equals(table)  # same seed, same numbers
    with pytest.raises(NeuralscopeError):
        motif_analysis(adjacency(conn), n_null=-1)
