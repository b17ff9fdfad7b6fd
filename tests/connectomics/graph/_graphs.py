"""Small graphs with known structure shared by the graph tests."""

from __future__ import annotations

import numpy as np

from neuralscope.core.connectome import Connectome


def random_connectome(n: int = 40, m: int = 260, seed: int = 0, mutual_fraction: float = 0.2) -> Connectome:
    """Random multigraph with self-loops, repeated rows and extra reciprocal edges."""
    rng = np.random.default_rng(seed)
    pre, post = rng.integers(0, n, m), rng.integers(0, n, m)
    back = rng.random(m) < mutual_fraction
    pre = np.concatenate([pre, post[back]])
    post = np.concatenate([post, pre[: m][back]])
    count = rng.integers(1, 9, len(pre)).astype(float)
    return Connectome.from_indices(pre.astype(np.int32), post.astype(np.int32), count, n_neurons=n)


def to_networkx(connectome: Connectome):
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(range(connectome.n_neurons))
    for a, b, w in zip(connectome.pre.tolist(), connectome.post.tolist(), connectome.count.tolist()):
        if a == b:
            continue
        g.add_edge(a, b, weight=g[a][b]["weight"] + w if g.has_edge(a, b) else w)
    return g
