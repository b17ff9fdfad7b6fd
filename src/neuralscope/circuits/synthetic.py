"""Synthetic connectomes with known structure, for tests and benchmarks.

- :func:`synthetic_connectome`: a random graph with heavy-tailed in- and
  out-degrees and heavy-tailed synapse counts; the defaults match the size of
  FlyWire v783 (138,639 neurons, 15.09 M edges, ~3.6 synapses per edge).
- :func:`cuba_connectome`: the random 2 % network of the Brian2 CUBA benchmark
  (4,000 neurons, the first 3,200 excitatory).
"""

from __future__ import annotations

import numpy as np

from neuralscope.core.connectome import Connectome
from neuralscope.core.errors import NeuralscopeError

FLYWIRE_NEURONS = 138_639
FLYWIRE_EDGES = 15_091_983


def synthetic_connectome(n_neurons: int = FLYWIRE_NEURONS, n_edges: int = FLYWIRE_EDGES, *,
                         degree_sigma: float = 1.2, count_alpha: float = 1.6, inhibitory_fraction: float = 0.3,
                         random_state: int = 0) -> Connectome:
    """A random signed graph with heavy-tailed degrees (no self-loops, no duplicate edges).

    Each neuron gets log-normal out- and in-propensities (``degree_sigma``);
    degree sequences are drawn from them and stubs paired at random
    (configuration model), so both degree distributions are heavy-tailed. Synapse counts follow a discrete
    Pareto law (``count_alpha``; 1.6 gives ~3.6 synapses per edge, maximum in
    the thousands, as in FlyWire). Each neuron is inhibitory with probability
    ``inhibitory_fraction`` (Dale's law: one sign per presynaptic neuron).
    Edges come sorted by presynaptic neuron.
    """
    if n_neurons < 2 or n_edges < 1 or n_edges > n_neurons * (n_neurons - 1) // 4:
        raise NeuralscopeError("n_edges", f"between 1 and a quarter of all {n_neurons} x {n_neurons - 1} pairs", n_edges)
    rng = np.random.default_rng(random_state)
    out_p = rng.lognormal(0.0, degree_sigma, n_neurons)
    in_p = rng.lognormal(0.0, degree_sigma, n_neurons)
    out_p, in_p = out_p / out_p.sum(), in_p / in_p.sum()
    keys = np.zeros(0, np.int64)
    while len(keys) < n_edges:
        # Configuration model: degree sequences drawn from the propensities, stubs paired at
        # random; self-loops and repeated pairs are dropped and the shortfall drawn again.
        m = int((n_edges - len(keys)) * 1.05) + 1000
        pre = np.repeat(np.arange(n_neurons, dtype=np.int64), rng.multinomial(m, out_p))
        post = rng.permutation(np.repeat(np.arange(n_neurons, dtype=np.int64), rng.multinomial(m, in_p)))
        new = pre * n_neurons + post
        new = new[pre != post]
        del pre, post
        keys = np.sort(np.concatenate([keys, new]))  # np.sort + diff: np.unique is far slower here
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    if len(keys) > n_edges:
        keys = np.delete(keys, rng.choice(len(keys), len(keys) - n_edges, replace=False))
    pre, post = np.divmod(keys, n_neurons)
    del keys
    counts = np.minimum(np.floor(rng.pareto(count_alpha, n_edges) * 1.85) + 1.0, 2500.0).astype(np.float32)
    inhibitory = rng.random(n_neurons) < inhibitory_fraction
    sign = np.where(inhibitory[pre], -1, 1).astype(np.int8)
    return Connectome.from_indices(pre.astype(np.int32), post.astype(np.int32), counts, sign,
                                   n_neurons=n_neurons, name=f"synthetic-{n_neurons}")


def cuba_connectome(n_neurons: int = 4000, p_connect: float = 0.02, n_excitatory: int | None = None, *,
                    random_state: int = 0) -> Connectome:
    """The Brian2 CUBA network: every ordered pair connected with probability ``p_connect``.

    The first ``n_excitatory`` (default 80 %) neurons are excitatory. One synapse per edge;
    use the ``cuba`` preset for its weights (1.62 mV excitatory, 9 mV inhibitory).
    """
    if not 0 < p_connect < 1:
        raise NeuralscopeError("p_connect", "a probability in (0, 1)", p_connect)
    n_exc = int(0.8 * n_neurons) if n_excitatory is None else n_excitatory
    rng = np.random.default_rng(random_state)
    pre, post = [], []
    for i in range(n_neurons):  # row by row keeps memory O(edges), like Brian2's connect(p=...)
        j = np.flatnonzero(rng.random(n_neurons) < p_connect)
        pre.append(np.full(len(j), i, np.int32)), post.append(j.astype(np.int32))
    pre_a, post_a = np.concatenate(pre), np.concatenate(post)
    sign = np.where(pre_a < n_exc, 1, -1).astype(np.int8)
    return Connectome.from_indices(pre_a, post_a, np.ones(len(pre_a), np.float32), sign,
                                   n_neurons=n_neurons, name=f"cuba-{n_neurons}")
