"""Every graph analysis in one call, timed step by step (used by the CLI, the demo and the benchmark)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from neuralscope.connectomics.graph.adjacency import Adjacency, adjacency
from neuralscope.connectomics.graph.blocks import BlockConnectivity, block_connectivity, group_labels
from neuralscope.connectomics.graph.community import Communities, louvain
from neuralscope.connectomics.graph.motifs import DEFAULT_WORK_BUDGET, MotifResult, motif_analysis
from neuralscope.connectomics.graph.paths import k_hop, shortest_path_lengths
from neuralscope.connectomics.graph.stats import degree_distributions, degree_table, reciprocity
from neuralscope.core.connectome import Connectome
from neuralscope.core.errors import NeuralscopeError


@dataclass
class GraphAnalysis:
    """Results of :func:`analyze_connectome` (see its parameters)."""

    name: str
    n_neurons: int
    n_edges: int
    n_synapses: float
    adjacency: Adjacency
    degrees: pd.DataFrame
    distributions: dict
    reciprocity: dict
    motifs: MotifResult | None = None
    blocks: BlockConnectivity | None = None
    block_labels: str | None = None
    communities: Communities | None = None
    reach: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    cpu_seconds: dict = field(default_factory=dict)
    total_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (the ``connectome stats --json`` object)."""
        out: dict[str, Any] = {
            "name": self.name, "n_neurons": self.n_neurons, "n_edges": self.n_edges,
            "n_synapses": int(round(self.n_synapses)), "reciprocity": self.reciprocity["reciprocity"],
            "weighted_reciprocity": self.reciprocity["weighted_reciprocity"],
            "reciprocity_rho": self.reciprocity["reciprocity_rho"], "mutual_pairs": self.reciprocity["mutual_pairs"],
            "density": self.reciprocity["density"], "distributions": self.distributions,
        }
        if self.motifs is not None:
            table = self.motifs.table()
            out["motifs"] = {
                "triads_exact": self.motifs.triads.exact, "triad_work_fraction": self.motifs.triads.work_fraction,
                "null_samples": len(self.motifs.null_triads), "null_exact": self.motifs.null_exact,
                "null_model": "erased directed configuration model (degrees kept, seeded)",
                "null_edges_dropped": self.motifs.null_edges_dropped, "seed": self.motifs.seed,
                "dyads": {k: int(v) for k, v in self.motifs.dyads.items()},
                "z": {k: _num(v) for k, v in table["z"].items()},
                "observed": {k: _num(v) for k, v in table["observed"].items()},
                "observed_se": {k: _num(v) for k, v in table["observed_se"].items()},
                "null_mean": {k: _num(v) for k, v in table["null_mean"].items()},
            }
        if self.blocks is not None:
            out["blocks"] = {"by": self.block_labels, **self.blocks.to_dict()}
        if self.communities is not None:
            c = self.communities
            out["communities"] = {"method": "louvain", "n_communities": c.n_communities, "modularity": c.modularity,
                                  "largest_sizes": c.sizes[:10].tolist(), "levels": c.levels}
        if self.reach:
            out["reach"] = self.reach
        out["step_seconds"] = dict(self.seconds)
        out["step_cpu_seconds"] = dict(self.cpu_seconds)
        out["seconds"] = float(self.total_seconds)
        return out


def _num(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def analyze_connectome(connectome: Connectome, *, labels: str | np.ndarray | None = None, n_null: int = 3,
                       random_state: int = 0, sources: Any = None, hops: int = 2, min_synapses: float = 1.0,
                       motifs: bool = True, communities: bool = True, work_budget: int | None = DEFAULT_WORK_BUDGET,
                       n_jobs: int = 2, progress: Callable[[str], None] | None = None) -> GraphAnalysis:
    """Degrees, reciprocity, motifs vs null, block connectivity, reach and communities.

    Parameters
    ----------
    connectome : Connectome
        Chemical synapses are analysed (electrical edges ignored).
    labels : str or array, optional
        Neuron metadata column (e.g. ``"cell_type"``, ``"nt_type"``) or per-neuron
        labels for the block connectivity; None skips it.
    n_null : int
        Configuration-model samples for the motif z-scores.
    random_state : int
        Seed of the null samples, triad sampling and Louvain.
    sources : ids, optional
        Neurons to start the k-hop / shortest-path searches from (default: the
        neuron with the most output synapses).
    hops : int
        k of the k-hop downstream / upstream sets.
    min_synapses : float
        Edge threshold of the k-hop search.
    motifs, communities : bool
        Run the motif census / Louvain.
    work_budget : int or None
        Triangle-enumeration budget (see :func:`~neuralscope.connectomics.graph.motifs.triad_census`).
    n_jobs : int
        With 2 or more, Louvain runs in a second thread while the motif census
        runs (both are compiled loops that release the GIL); their step times then overlap.
    progress : callable, optional
        Called with a message before each step.

    Returns
    -------
    GraphAnalysis
    """
    if not isinstance(connectome, Connectome):
        raise NeuralscopeError("connectome", "a neuralscope Connectome", type(connectome).__name__)
    say = progress or (lambda m: None)
    t_all = time.perf_counter()
    seconds: dict[str, float] = {}
    cpu_seconds: dict[str, float] = {}

    def timed(step: str, fn: Callable[[], Any]) -> Any:
        say(step)
        t0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        # CPU time (all threads) next to wall time: on a shared machine wall time also counts waiting.
        seconds[step], cpu_seconds[step] = time.perf_counter() - t0, time.process_time() - c0
        return value

    adj = timed("adjacency", lambda: _build(connectome))
    if adj.loops_removed.nnz == 0:
        raise NeuralscopeError("EDGES", "at least one chemical edge between two different neurons", "none")
    degrees = timed("degrees", lambda: degree_table(adj, connectome.neuron_ids))
    dists = timed("distributions", lambda: degree_distributions(adj))
    recip = timed("reciprocity", lambda: reciprocity(adj))
    result = GraphAnalysis(connectome.name, connectome.n_neurons, int(adj.loops_removed.nnz),
                           float(adj.weights.data.sum()), adj, degrees, dists, recip, seconds=seconds,
                           cpu_seconds=cpu_seconds)
    if labels is not None:
        lab = group_labels(connectome, labels)
        result.blocks = timed("blocks", lambda: block_connectivity(adj, lab))
        result.block_labels = labels if isinstance(labels, str) else "labels"
    src = _resolve_sources(connectome, adj, sources)
    result.reach = timed("reach", lambda: _reach(connectome, adj, src, hops, min_synapses))
    if communities and motifs and n_jobs >= 2:
        from concurrent.futures import ThreadPoolExecutor

        def community_step() -> tuple[Communities, float]:
            t0 = time.perf_counter()
            return louvain(adj, random_state=random_state), time.perf_counter() - t0

        with ThreadPoolExecutor(1) as pool:
            say("communities (in a second thread)")
            t0, c0 = time.perf_counter(), time.process_time()
            future = pool.submit(community_step)
            result.motifs = timed("motifs", lambda: motif_analysis(adj, n_null=n_null, random_state=random_state,
                                                                   work_budget=work_budget))
            result.communities, seconds["communities"] = future.result()
        # Process CPU time cannot be split between the two concurrent steps: one figure for both.
        del cpu_seconds["motifs"]
        seconds["motifs+communities"] = time.perf_counter() - t0
        cpu_seconds["motifs+communities"] = time.process_time() - c0
        result.total_seconds = time.perf_counter() - t_all
        return result
    if motifs:
        result.motifs = timed("motifs", lambda: motif_analysis(adj, n_null=n_null, random_state=random_state,
                                                               work_budget=work_budget))
    if communities:
        result.communities = timed("communities", lambda: louvain(adj, random_state=random_state))
    result.total_seconds = time.perf_counter() - t_all
    return result


def _build(connectome: Connectome) -> Adjacency:
    adj = adjacency(connectome)
    adj.undirected  # noqa: B018  (built here so that its time is counted once, not in the first analysis)
    return adj


def _resolve_sources(connectome: Connectome, adj: Adjacency, sources: Any) -> np.ndarray:
    if sources is None:
        return np.array([int(np.argmax(adj.out_strength))])
    return connectome.index(sources, "sources")


def _reach(connectome: Connectome, adj: Adjacency, src: np.ndarray, hops: int, min_synapses: float) -> dict:
    down = k_hop(adj, src, hops, "downstream", min_synapses)
    up = k_hop(adj, src, hops, "upstream", min_synapses)
    dist = shortest_path_lengths(adj, src[:1])[0]
    finite = dist[np.isfinite(dist)]
    return {
        "sources": [_plain(v) for v in connectome.neuron_ids[src][:20]], "hops": int(hops), "min_synapses": min_synapses,
        "downstream": [int((down == h).sum()) for h in range(1, hops + 1)],
        "upstream": [int((up == h).sum()) for h in range(1, hops + 1)],
        "reachable_from_first_source": int(len(finite) - 1),
        "hop_distance_histogram": np.bincount(finite.astype(np.int64)).tolist() if len(finite) else [],
    }


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v
