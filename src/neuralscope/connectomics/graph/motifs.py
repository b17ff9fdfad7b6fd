"""2- and 3-node motif counts against a degree-preserving (configuration-model) null.

What is exact and what is estimated:

- the dyad census (unconnected, one-way, reciprocal pairs) is always exact;
- the triad census (all 16 classes of Holland & Leinhardt, M-A-N notation) is
  exact when the triangle enumeration fits ``work_budget`` inner steps (the
  C. elegans graph, anything up to a few million edges). Triangles are
  enumerated once each on the degree-ordered graph (compiled, parallel over
  neuron chunks); the open triads follow exactly from the wedges at each centre
  minus the closed ones, the one-edge triads from degrees, so no wedge is ever
  enumerated (a FlyWire-size graph has ~10^10);
- beyond the budget, triangles are counted at a seeded sample of neurons
  (inclusion probability ~ sqrt(work), capped at 1) and the 16 counts are
  unbiased Horvitz-Thompson estimates with standard errors
  (:attr:`TriadCensus.se`); the closed-form parts stay exact.

The null graphs are directed configuration models: every neuron keeps its
out- and in-degree stubs, stubs are paired at random (seeded); pairs that would
be self-loops or repeats are re-paired among themselves for a few rounds, and
the few edges still unplaced after that are dropped (their number is reported). z = (observed - mean(null)) / sqrt(sd(null)^2 + se(observed)^2), so
z is an estimate whose precision grows with ``n_null``. The null keeps degrees,
not reciprocity: in a graph with many reciprocal pairs, triads with mutual
pairs stand out against it.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from neuralscope.connectomics.graph.adjacency import Adjacency
from neuralscope.core.errors import NeuralscopeError

TRIAD_NAMES = ("003", "012", "102", "021D", "021U", "021C", "111D", "111U", "030T", "030C",
               "201", "120D", "120U", "120C", "210", "300")
#: The 13 connected triads (3-node motifs).
CONNECTED_TRIADS = TRIAD_NAMES[3:]
DYAD_NAMES = ("null", "asymmetric", "mutual")

# One labelled representative per class, nodes A=0, B=1, C=2 (standard M-A-N notation:
# D = "down" (out-star), U = "up" (in-star), C = cycle/chain, T = transitive).
_REPRESENTATIVES = {
    "003": [], "012": [(0, 1)], "102": [(0, 1), (1, 0)],
    "021D": [(1, 0), (1, 2)], "021U": [(0, 1), (2, 1)], "021C": [(0, 1), (1, 2)],
    "111D": [(0, 1), (1, 0), (2, 1)], "111U": [(0, 1), (1, 0), (1, 2)],
    "030T": [(0, 1), (2, 1), (0, 2)], "030C": [(1, 0), (2, 1), (0, 2)],
    "201": [(0, 1), (1, 0), (1, 2), (2, 1)],
    "120D": [(1, 0), (1, 2), (0, 2), (2, 0)], "120U": [(0, 1), (2, 1), (0, 2), (2, 0)],
    "120C": [(0, 1), (1, 2), (0, 2), (2, 0)], "210": [(0, 1), (1, 2), (2, 1), (0, 2), (2, 0)],
    "300": [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)],
}
# Bit of each directed edge in a tricode: pairs (0,1), (0,2), (1,2), two bits each (forward, backward).
_BIT = {(0, 1): 1, (1, 0): 2, (0, 2): 4, (2, 0): 8, (1, 2): 16, (2, 1): 32}


def _tricode(edges) -> int:
    return sum(_BIT[e] for e in edges)


def _edges_of(code: int) -> list[tuple[int, int]]:
    return [e for e, bit in _BIT.items() if code & bit]


def _canonical(code: int) -> int:
    edges = _edges_of(code)
    return min(_tricode([(p[a], p[b]) for a, b in edges]) for p in itertools.permutations(range(3)))


def _build_class_table() -> np.ndarray:
    by_canon = {_canonical(_tricode(e)): TRIAD_NAMES.index(name) for name, e in _REPRESENTATIVES.items()}
    if len(by_canon) != 16:  # every representative must be a different isomorphism class
        raise AssertionError("triad representatives are not 16 distinct classes")
    return np.array([by_canon[_canonical(c)] for c in range(64)], np.int64)


#: Class index (into :data:`TRIAD_NAMES`) of each of the 64 tricodes.
TRICODE_CLASS = _build_class_table()


def _swap(c: int) -> int:
    """Direction code seen from the other end (out <-> in)."""
    return ((c & 1) << 1) | ((c >> 1) & 1)


def _wedge_class(c_x: int, c_y: int) -> int:
    """Class of the open triad x - v - y given v's codes towards x and y."""
    return int(TRICODE_CLASS[_swap(c_x) | (c_y << 4)])  # nodes x=0, v=1, y=2; pair (0, 2) empty


@dataclass
class MotifResult:
    """Observed counts, null samples and z-scores of dyads and triads.

    Attributes
    ----------
    dyads : pandas.Series
        Observed dyad counts (exact), indexed by :data:`DYAD_NAMES`.
    triads : TriadCensus
        Observed triad counts (exact, or estimated with standard errors).
    null_dyads, null_triads : pandas.DataFrame
        One row per null sample.
    z_dyads, z_triads : pandas.Series
        (observed - null mean) / sqrt(null sd^2 + observed se^2) (null sd with
        ddof=1); NaN with fewer than two null samples or no spread.
    null_edges_dropped : list of int
        Edges of each null sample that could not be placed without a self-loop or repeat.
    null_exact : bool
        Whether every null triad census was exact.
    """

    dyads: pd.Series
    triads: TriadCensus
    null_dyads: pd.DataFrame
    null_triads: pd.DataFrame
    z_dyads: pd.Series
    z_triads: pd.Series
    null_edges_dropped: list[int] = field(default_factory=list)
    null_exact: bool = True
    seed: int = 0

    def table(self) -> pd.DataFrame:
        """The mutual dyad and the 13 connected triads: observed (+ se), null mean and sd, ratio, z."""
        rows = []
        for name in ("mutual", *CONNECTED_TRIADS):
            if name == "mutual":
                obs, se, null, z = float(self.dyads[name]), 0.0, self.null_dyads[name], self.z_dyads[name]
            else:
                obs, se = float(self.triads.counts[name]), float(self.triads.se[name])
                null, z = self.null_triads[name], self.z_triads[name]
            mean = float(null.mean()) if len(null) else float("nan")
            sd = float(null.std(ddof=1)) if len(null) > 1 else float("nan")
            rows.append({"motif": name, "observed": obs, "observed_se": se, "null_mean": mean, "null_sd": sd,
                         "ratio": obs / mean if mean > 0 else float("nan"), "z": float(z)})
        return pd.DataFrame(rows).set_index("motif")


def dyad_census(adj: Adjacency) -> pd.Series:
    """Exact counts of unconnected, one-way and reciprocal neuron pairs (self-loops ignored)."""
    _, _, code = adj.undirected
    n = adj.n_neurons
    mutual = int((code == 3).sum()) // 2
    asym = (len(code) - 2 * mutual) // 2
    return pd.Series([n * (n - 1) // 2 - mutual - asym, asym, mutual], index=list(DYAD_NAMES), dtype=np.int64)


#: Inner-loop steps of the triangle enumeration beyond which it samples (about a second of one core).
DEFAULT_WORK_BUDGET = 200_000_000


@dataclass
class TriadCensus:
    """Triad counts with their standard errors (all zero when the census is exact).

    Attributes
    ----------
    counts : pandas.Series (float)
        Estimated (or exact) count of each of the 16 classes.
    se : pandas.Series
        Horvitz-Thompson standard error of each count (0 when exact).
    exact : bool
    work_fraction : float
        Share of the enumeration work done (1.0 when exact).
    """

    counts: pd.Series
    se: pd.Series
    exact: bool
    work_fraction: float


def triad_census(adj: Adjacency, *, work_budget: int | None = DEFAULT_WORK_BUDGET, random_state: int = 0,
                 n_threads: int | None = None) -> TriadCensus:
    """Counts of the 16 triad classes: exact, or an unbiased sampled estimate on large graphs.

    Triangles are enumerated on the degree-ordered graph, each at its lowest-ranked
    neuron. When that enumeration would take more than ``work_budget`` inner steps,
    only a seeded sample of neurons is visited, each with probability proportional
    to the square root of its work (capped at 1), and the triangle counts are
    Horvitz-Thompson estimates with standard errors. Open triads (wedge totals,
    exact) and one-edge triads follow from them by exact formulas.

    Parameters
    ----------
    adj : Adjacency
    work_budget : int or None
        None: always exact.
    random_state : int
        Seed of the neuron sample (unused when exact).
    n_threads : int, optional
        Threads sharing the enumeration (default: the cores this process may use).

    Returns
    -------
    TriadCensus
    """
    indptr, indices, code = adj.undirected
    return _census(indptr, indices, code, adj.n_neurons, work_budget, random_state, n_threads)


def _class_map() -> np.ndarray:
    """(64, 16) contribution of one triangle of each tricode to the 16 class counts.

    A triangle adds one to its closed class, removes one open triad for each of
    its three corners (those wedges close) and one "spare third neuron" from the
    one-edge class of each of its three pairs (see :func:`_census`).
    """
    lmap = np.zeros((64, 16), np.float64)
    for t in range(64):
        c_uv, c_uw, c_vw = t & 3, (t >> 2) & 3, (t >> 4) & 3
        if 0 in (c_uv, c_uw, c_vw):
            continue
        lmap[t, TRICODE_CLASS[t]] += 1
        for cx, cy in ((c_uv, c_uw), (_swap(c_uv), c_vw), (_swap(c_uw), _swap(c_vw))):
            lmap[t, _wedge_class(cx, cy)] -= 1
        for c in (c_uv, c_uw, c_vw):
            lmap[t, TRIAD_NAMES.index("102" if c == 3 else "012")] += 1
        lmap[t, 0] = -lmap[t, 1:].sum()
    return lmap


_CLASS_MAP = _class_map()


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _tricodes_threaded(f_ptr, f_idx, f_code, nodes, n_threads) -> np.ndarray:
    from neuralscope.connectomics.graph._kernels import triangle_tricodes

    threads = max(1, int(n_threads) if n_threads else available_cores())
    if threads == 1 or len(nodes) < 1000:
        return triangle_tricodes(f_ptr, f_idx, f_code, nodes)
    from concurrent.futures import ThreadPoolExecutor

    # Interleaved shares: hubs, and so the work, spread evenly over the threads.
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(lambda t: triangle_tricodes(f_ptr, f_idx, f_code, np.ascontiguousarray(nodes[t::threads])),
                              range(threads)))
    hist = np.empty((len(nodes), 64), np.int64)
    for t, part in enumerate(parts):
        hist[t::threads] = part
    return hist


def _census(indptr, indices, code, n, work_budget, random_state, n_threads) -> TriadCensus:
    from neuralscope.connectomics.graph._kernels import orient_forward

    deg = np.diff(indptr)
    rank = np.empty(n, np.int64)
    rank[np.lexsort((np.arange(n), deg))] = np.arange(n)
    f_ptr, f_idx, f_code, work = orient_forward(indptr, indices, code, rank)
    total = float(work.sum())
    if work_budget is None or total <= work_budget:
        nodes, prob = np.flatnonzero(work > 0), None
    else:
        prob = _pps_probabilities(work, float(work_budget))
        rng = np.random.default_rng(random_state)
        nodes = np.flatnonzero(rng.random(n) < prob)
    hist = _tricodes_threaded(f_ptr, f_idx, f_code, nodes.astype(np.int64), n_threads)
    per_node = hist @ _CLASS_MAP  # (visited nodes, 16) contributions of their triangles
    base = _closed_form_counts(indptr, indices, code, n)
    if prob is None:
        counts, se = np.round(base + per_node.sum(0)), np.zeros(16)
        fraction = 1.0
    else:
        p = prob[nodes][:, None]
        counts = base + (per_node / p).sum(0)
        se = np.sqrt(((1 - p) / p ** 2 * per_node ** 2).sum(0))
        fraction = float(work[nodes].sum() / total) if total else 1.0
    return TriadCensus(pd.Series(counts, index=list(TRIAD_NAMES)), pd.Series(se, index=list(TRIAD_NAMES)),
                       prob is None, fraction)


def _pps_probabilities(work: np.ndarray, budget: float) -> np.ndarray:
    """Inclusion probabilities ~ sqrt(work), capped at 1, with expected total work = budget.

    When a neuron's triangle count grows about linearly with its work, sqrt(work)
    minimises the Horvitz-Thompson variance for a fixed expected work.
    """
    root = np.sqrt(work)
    lo, hi = 0.0, 1.0 / max(root[root > 0].min(), 1e-300)
    for _ in range(100):  # bisection on the scale: expected work is monotone in it
        mid = 0.5 * (lo + hi)
        if float((np.minimum(1.0, mid * root) * work).sum()) > budget:
            hi = mid
        else:
            lo = mid
    return np.minimum(1.0, lo * root)


def _closed_form_counts(indptr, indices, code, n) -> np.ndarray:
    """Class counts as if the graph had no triangles (wedges all open); triangles correct them."""
    from neuralscope.connectomics.graph._kernels import wedge_terms

    abc, spare_asym, spare_mutual = wedge_terms(indptr, indices, code)
    a, b, c = abc[:, 0], abc[:, 1], abc[:, 2]
    counts = np.zeros(16, np.float64)
    wedges = {(1, 1): a * (a - 1) / 2, (2, 2): b * (b - 1) / 2, (1, 2): a * b,
              (3, 1): c * a, (3, 2): c * b, (3, 3): c * (c - 1) / 2}
    for key, per_centre in wedges.items():
        counts[_wedge_class(*key)] += float(per_centre.sum())
    # A connected pair with a third neuron adjacent to neither (before the triangle correction).
    counts[TRIAD_NAMES.index("012")] = spare_asym
    counts[TRIAD_NAMES.index("102")] = spare_mutual
    counts[0] = n * (n - 1) * (n - 2) / 6 - counts[1:].sum()
    return counts


def configuration_null(adj: Adjacency, random_state: int = 0, max_rounds: int = 10) -> tuple[sp.csr_matrix, int]:
    """One directed configuration-model sample with the degrees of ``adj`` (no self-loops, no repeats).

    All stubs are paired at random; the pairs that would be self-loops or repeats
    are dropped and their stubs paired again among themselves, up to
    ``max_rounds`` times (a heavy-tailed graph's hubs would otherwise lose
    edges, which biases wedge counts). Returns the binary CSR matrix and the
    number of edges that still could not be placed.
    """
    from neuralscope.connectomics.graph._kernels import dedupe_rows, shuffled

    w = adj.loops_removed
    n = w.shape[0]
    # Out-stubs are already grouped by row (the CSR order), so only the in-stubs are shuffled.
    in_stubs = shuffled(w.indices.astype(np.int32, copy=False), int(random_state) % (2 ** 32))
    ptr, idx = dedupe_rows(w.indptr.astype(np.int64), in_stubs, True)
    del in_stubs
    missing = int(w.nnz - len(idx))
    if missing and max_rounds:
        keys = np.repeat(np.arange(n, dtype=np.int64), np.diff(ptr)) * n + idx  # sorted: rows, then columns
        miss_out = np.diff(w.indptr) - np.diff(ptr)
        miss_in = np.bincount(w.indices, minlength=n) - np.bincount(idx, minlength=n)
        rng = np.random.default_rng([int(random_state), 1])
        for _ in range(max_rounds):
            pre = np.repeat(np.arange(n, dtype=np.int64), miss_out)
            post = rng.permutation(np.repeat(np.arange(n, dtype=np.int64), miss_in))
            cand = pre * n + post
            pos = np.minimum(np.searchsorted(keys, cand), len(keys) - 1)
            ok = (pre != post) & (keys[pos] != cand)
            add = np.unique(cand[ok])
            if add.size == 0:
                break
            keys = np.insert(keys, np.searchsorted(keys, add), add)
            a_pre, a_post = np.divmod(add, n)
            miss_out -= np.bincount(a_pre, minlength=n)
            miss_in -= np.bincount(a_post, minlength=n)
            missing = int(miss_out.sum())
            if missing == 0:
                break
        rows, cols = np.divmod(keys, n)
        ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
        idx = cols.astype(np.int32)
    return sp.csr_matrix((np.ones(len(idx), np.float64), idx, ptr), shape=(n, n)), missing


def motif_analysis(adj: Adjacency, n_null: int = 3, random_state: int = 0, *,
                   work_budget: int | None = DEFAULT_WORK_BUDGET, n_threads: int | None = None) -> MotifResult:
    """Dyad and triad census of ``adj`` and of ``n_null`` seeded configuration-model samples.

    Parameters
    ----------
    adj : Adjacency
    n_null : int
        Null samples (seeds ``random_state + 1``, ``random_state + 2``, ...); 0 skips the null.
    random_state : int
    work_budget : int or None
        Passed to :func:`triad_census` for the observed graph and each null sample.
    n_threads : int, optional
        Threads sharing the triangle enumeration (default: the cores this process may use).

    Returns
    -------
    MotifResult
    """
    if not (isinstance(n_null, (int, np.integer)) and n_null >= 0):
        raise NeuralscopeError("n_null", "an integer >= 0", n_null)
    dyads = dyad_census(adj)
    triads = triad_census(adj, work_budget=work_budget, random_state=random_state, n_threads=n_threads)
    null_d, null_t, dropped, exact = [], [], [], True
    for k in range(1, int(n_null) + 1):
        w, n_drop = configuration_null(adj, random_state + k)
        sample = Adjacency(w)
        sample.__dict__["loops_removed"] = w  # already loop-free: skip the check
        null_d.append(dyad_census(sample))
        census = triad_census(sample, work_budget=work_budget, random_state=random_state + k, n_threads=n_threads)
        null_t.append(census.counts)
        exact &= census.exact
        dropped.append(n_drop)
        del sample, w
    null_dyads = pd.DataFrame(null_d, columns=list(DYAD_NAMES))
    null_triads = pd.DataFrame(null_t, columns=list(TRIAD_NAMES))
    z_d = _z(dyads.astype(float), pd.Series(0.0, index=dyads.index), null_dyads)
    z_t = _z(triads.counts, triads.se, null_triads)
    return MotifResult(dyads, triads, null_dyads, null_triads, z_d, z_t, dropped, exact, random_state)


def _z(observed: pd.Series, se: pd.Series, null: pd.DataFrame) -> pd.Series:
    if len(null) < 2:
        return pd.Series(np.nan, index=observed.index)
    spread = np.sqrt(null.std(ddof=1).astype(float) ** 2 + se ** 2)
    return (observed - null.mean()) / spread.where(spread > 0)
