"""Connectome graph analyses at FlyWire scale: neuralscope vs networkx, time and peak memory per analysis.

Usage::

    python benchmarks/connectomics_graph.py --setup      # once: networkx into ~/.cache/neuralscope-bench/networkx
    python benchmarks/connectomics_graph.py [--json out.json]

What runs (every analysis in its own subprocess, so its peak resident memory is its own):

1. ours on a FlyWire-size synthetic graph (138,639 neurons, 15.09 M edges, heavy-tailed degrees;
   ``neuralscope.circuits.synthetic``), loaded from our parquet store: load, degrees, reciprocity,
   motifs (dyad + triad census and 3 configuration-model null samples), block connectivity by
   transmitter, reach (2-hop sets + BFS), Louvain communities, and everything in one
   ``analyze_connectome`` call (the acceptance figure: < 30 s, < 4 GB on 2 cores);
2. ours and networkx side by side on a subsample graph of the same generator (default 10,000
   neurons, 100,000 edges): networkx cannot hold the full graph in this machine's memory budget
   (~1 kB per edge as Python dicts: ~15 GB) nor finish its pure-Python triad census and Louvain at
   15 M edges, so the like-for-like ratio is measured where it finishes; each networkx analysis has a
   timeout (``--timeout``) and is reported as such when it runs out.

Wall seconds, CPU seconds (all threads of the process) and peak RSS are printed per analysis. On a
shared machine compare CPU seconds and the ratios, which are measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PEER_DIR = Path.home() / ".cache" / "neuralscope-bench" / "networkx"
#: Where networkx runs out of time on the subsample, both sides run again on this (neurons, edges) graph.
TINY = (2_000, 20_000)
ANALYSES = ("load", "degrees", "reciprocity", "motifs", "blocks", "reach", "communities", "all")
NETWORKX_ANALYSES = ("load", "degrees", "reciprocity", "motifs", "blocks", "reach", "communities")


def peer_python() -> Path:
    return PEER_DIR / "bin" / "python"


def setup() -> None:
    if not peer_python().exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_DIR)], check=True)
    subprocess.run([str(peer_python()), "-m", "pip", "install", "-q", "networkx==3.6.1", "numpy"], check=True)


# --------------------------------------------------------------------------- workers
def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not inherit the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_ours(store: str, analysis: str, n_null: int) -> dict:
    from neuralscope.connectomics.graph import (
        adjacency,
        analyze_connectome,
        block_connectivity,
        degree_table,
        k_hop,
        louvain,
        motif_analysis,
        read_store,
        reciprocity,
        shortest_path_lengths,
    )

    _warm_up()
    baseline = _peak_mb()  # interpreter, libraries and compiled kernels, before any graph
    if analysis == "all":  # the acceptance figure: read the store, then every analysis in one call
        t0, c0 = time.perf_counter(), time.process_time()
        conn = read_store(store)
        res = analyze_connectome(conn, labels="nt_type", n_null=n_null, random_state=0)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        d = res.to_dict()
        return {"wall_s": wall, "cpu_s": cpu, "peak_mb": _peak_mb(), "baseline_mb": baseline,
                "result": {"steps": res.seconds, "n_edges": d["n_edges"], "reciprocity": d["reciprocity"],
                           "triads_exact": d["motifs"]["triads_exact"], "modularity": d["communities"]["modularity"]}}
    t0, c0 = time.perf_counter(), time.process_time()
    conn = read_store(store)
    adj = adjacency(conn)
    adj.undirected  # noqa: B018  (the CSR views, like networkx's graph build, count as loading)
    load = (time.perf_counter() - t0, time.process_time() - c0)
    if analysis == "load":
        return {"wall_s": load[0], "cpu_s": load[1], "peak_mb": _peak_mb(), "baseline_mb": baseline}
    t0, c0 = time.perf_counter(), time.process_time()
    if analysis == "degrees":
        degree_table(adj)
    elif analysis == "reciprocity":
        out = reciprocity(adj)
    elif analysis == "motifs":
        m = motif_analysis(adj, n_null=n_null, random_state=0)
        out = {"030T_z": float(m.z_triads["030T"]), "exact": m.triads.exact}
    elif analysis == "blocks":
        block_connectivity(adj, conn.neurons["nt_type"].to_numpy())
    elif analysis == "reach":
        src = int(np.argmax(adj.out_strength))
        k_hop(adj, src, 2), k_hop(adj, src, 2, "upstream"), shortest_path_lengths(adj, [src])
    elif analysis == "communities":
        c = louvain(adj, random_state=0)
        out = {"modularity": c.modularity, "n_communities": c.n_communities}
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    result = {"wall_s": wall, "cpu_s": cpu, "load_wall_s": load[0], "peak_mb": _peak_mb(), "baseline_mb": baseline}
    if "out" in locals():
        result["result"] = out
    return result


def _warm_up() -> None:
    """Compile every numba kernel on a tiny graph so that JIT time is not counted (it is cached on disk)."""
    from neuralscope.connectomics.graph import analyze_connectome
    from neuralscope.core.connectome import Connectome

    rng = np.random.default_rng(0)
    pre, post = rng.integers(0, 200, 3000).astype(np.int32), rng.integers(0, 200, 3000).astype(np.int32)
    tiny = Connectome.from_indices(pre, post, np.ones(3000, np.float32), n_neurons=200)
    analyze_connectome(tiny, n_null=2, work_budget=100, labels=np.arange(200) % 2)


def worker_networkx(graph: str, analysis: str, n_null: int) -> dict:
    """Runs in the peer venv (numpy + networkx only)."""
    import networkx as nx

    data = np.load(graph)
    baseline = _peak_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    g = nx.DiGraph()
    g.add_nodes_from(range(int(data["n"])))
    g.add_weighted_edges_from(zip(data["pre"].tolist(), data["post"].tolist(), data["count"].tolist()))
    load = (time.perf_counter() - t0, time.process_time() - c0)
    if analysis == "load":
        return {"wall_s": load[0], "cpu_s": load[1], "peak_mb": _peak_mb(), "baseline_mb": baseline}
    t0, c0 = time.perf_counter(), time.process_time()
    out = None
    if analysis == "degrees":
        dict(g.in_degree()), dict(g.out_degree()), dict(g.in_degree(weight="weight")), dict(g.out_degree(weight="weight"))
    elif analysis == "reciprocity":
        out = {"reciprocity": nx.overall_reciprocity(g)}
    elif analysis == "motifs":
        census = nx.triadic_census(g)
        ins, outs = [d for _, d in g.in_degree()], [d for _, d in g.out_degree()]
        for k in range(n_null):
            null = nx.DiGraph(nx.directed_configuration_model(ins, outs, seed=k + 1))
            null.remove_edges_from(nx.selfloop_edges(null))
            nx.triadic_census(null)
        out = {"030T": census["030T"]}
    elif analysis == "blocks":
        labels = data["labels"]
        q = nx.quotient_graph(g, [set(np.flatnonzero(labels == v).tolist()) for v in np.unique(labels)],
                              edge_data=lambda a, b: {"weight": sum(g[u][v]["weight"] for u in a for v in g[u] if v in b)})
        out = {"blocks": q.number_of_edges()}
    elif analysis == "reach":
        src = int(np.argmax(np.bincount(data["pre"], weights=data["count"], minlength=int(data["n"]))))
        nx.single_source_shortest_path_length(g, src, cutoff=2)
        nx.single_source_shortest_path_length(g.reverse(copy=False), src, cutoff=2)
        nx.single_source_shortest_path_length(g, src)
    elif analysis == "communities":
        u = nx.Graph()
        u.add_nodes_from(g)
        for a, b, w in g.edges(data="weight"):
            if a != b:
                u.add_edge(a, b, weight=u[a][b]["weight"] + w if u.has_edge(a, b) else w)
        comms = nx.community.louvain_communities(u, weight="weight", seed=0)
        out = {"modularity": nx.community.modularity(u, comms, weight="weight"), "n_communities": len(comms)}
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"wall_s": wall, "cpu_s": cpu, "load_wall_s": load[0], "peak_mb": _peak_mb(), "baseline_mb": baseline,
            "result": out}


# --------------------------------------------------------------------------- driver
def _run(cmd: list[str], timeout: float) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"timeout_s": timeout}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _make_graphs(folder: Path, n: int, m: int, sub_n: int, sub_m: int) -> tuple[Path, ...]:
    from neuralscope.circuits.synthetic import synthetic_connectome
    from neuralscope.connectomics.graph import write_store

    stores = []
    for label, (nn, mm) in (("full", (n, m)), ("sub", (sub_n, sub_m)), ("tiny", (TINY[0], TINY[1]))):
        conn = synthetic_connectome(nn, mm, random_state=0)
        inhibitory = np.bincount(conn.pre, weights=conn.sign < 0, minlength=conn.n_neurons) > 0
        conn.neurons["nt_type"] = np.where(inhibitory, "GABA", "ACH")  # Dale's law in the generator: one sign each
        stores.append(write_store(conn, folder / f"store-{label}"))
        if label != "full":
            np.savez(folder / f"{label}.npz", pre=conn.pre, post=conn.post, count=conn.count, n=conn.n_neurons,
                     labels=inhibitory.astype(np.int8))
    return stores[0], stores[1], folder / "sub.npz", stores[2], folder / "tiny.npz"


def _pair(me: str, analysis: str, store: Path, npz: Path, args) -> tuple[dict, dict]:
    ours = _run([sys.executable, me, "--worker", "ours", "--graph", str(store), "--analysis", analysis,
                 "--null", str(args.null)], 3600)
    peer = _run([str(peer_python()), me, "--worker", "networkx", "--graph", str(npz), "--analysis", analysis,
                 "--null", str(args.null)], args.timeout)
    return ours, peer


def _ratio(ours: dict, peer: dict) -> str:
    if "wall_s" in ours and "wall_s" in peer and ours["wall_s"] > 0:
        return (f"  networkx / ours: {peer['wall_s'] / ours['wall_s']:.3g}x time (CPU {peer['cpu_s'] / max(ours['cpu_s'], 1e-3):.3g}x), "
                f"{_graph_mb(peer) / max(_graph_mb(ours), 1.0):.2g}x memory above baseline")
    if "timeout_s" in peer and "wall_s" in ours:
        return f"  networkx / ours: > {peer['timeout_s'] / max(ours['wall_s'], 1e-3):.0f}x time"
    return ""


def _fmt(r: dict) -> str:
    if "timeout_s" in r:
        return f"timeout after {r['timeout_s']:.0f} s"
    if "error" in r:
        return f"error: {r['error'][:60]}"
    return (f"{r['wall_s']:8.3f} s wall {r['cpu_s']:8.3f} s CPU, peak {r['peak_mb'] / 1024:5.2f} GB "
            f"(+{_graph_mb(r) / 1024:.2f} over the bare process)")


def _graph_mb(r: dict) -> float:
    return r["peak_mb"] - r.get("baseline_mb", 0.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setup", action="store_true", help="install networkx into its own venv and exit")
    p.add_argument("--neurons", type=int, default=138_639)
    p.add_argument("--edges", type=int, default=15_091_983)
    p.add_argument("--sub-neurons", type=int, default=10_000)
    p.add_argument("--sub-edges", type=int, default=100_000)
    p.add_argument("--null", type=int, default=3, help="configuration-model samples in the motif analysis")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds per networkx analysis")
    p.add_argument("--skip-networkx", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--worker", choices=("ours", "networkx"), help=argparse.SUPPRESS)
    p.add_argument("--graph", help=argparse.SUPPRESS)
    p.add_argument("--analysis", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker == "ours":
        print(json.dumps(worker_ours(args.graph, args.analysis, args.null)))
        return 0
    if args.worker == "networkx":
        print(json.dumps(worker_networkx(args.graph, args.analysis, args.null)))
        return 0
    if args.setup:
        setup()
        return 0
    me = str(Path(__file__).resolve())
    report: dict = {"cores": os.cpu_count(), "load_average": os.getloadavg(), "ours_full": {}, "ours_sub": {}, "networkx_sub": {}}
    with tempfile.TemporaryDirectory(prefix="ns-graph-bench-") as tmp:
        t0 = time.perf_counter()
        full, sub, sub_npz, tiny, tiny_npz = _make_graphs(Path(tmp), args.neurons, args.edges, args.sub_neurons, args.sub_edges)
        print(f"graphs generated in {time.perf_counter() - t0:.1f} s: {args.neurons} neurons / {args.edges} edges, "
              f"subsample {args.sub_neurons} / {args.sub_edges}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"\nours, full graph ({args.edges} edges)")
        for a in ANALYSES:
            r = _run([sys.executable, me, "--worker", "ours", "--graph", str(full), "--analysis", a, "--null", str(args.null)], 3600)
            report["ours_full"][a] = r
            print(f"  {a:12s} {_fmt(r)}")
        if "steps" in report["ours_full"]["all"].get("result", {}):
            steps = report["ours_full"]["all"]["result"]["steps"]
            print("  all, by step: " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
        if args.skip_networkx:
            return _finish(report, args)
        if not peer_python().exists():
            print(f"\nnetworkx venv missing: run with --setup first ({PEER_DIR})")
            return _finish(report, args)
        print(f"\nsubsample ({args.sub_edges} edges): ours vs networkx (timeout {args.timeout:.0f} s each)")
        retry = []
        for a in NETWORKX_ANALYSES:
            ours, peer = _pair(me, a, sub, sub_npz, args)
            report["ours_sub"][a], report["networkx_sub"][a] = ours, peer
            print(f"  {a:12s} ours {_fmt(ours)} | networkx {_fmt(peer)}{_ratio(ours, peer)}")
            if "timeout_s" in peer:
                retry.append(a)
            if a == "load" and "peak_mb" in peer and "peak_mb" in ours:
                per_edge = _graph_mb(peer) * 2 ** 20 / args.sub_edges
                ours_per_edge = _graph_mb(ours) * 2 ** 20 / args.sub_edges
                report["bytes_per_edge"] = {"networkx": per_edge, "ours": ours_per_edge}
                print(f"    graph memory: networkx {per_edge:.0f} bytes per edge (~{per_edge * args.edges / 2 ** 30:.1f} GB "
                      f"for {args.edges} edges), ours {ours_per_edge:.0f} bytes per edge")
        if retry:
            report["ours_tiny"], report["networkx_tiny"] = {}, {}
            print(f"\ntiny graph ({TINY[0]} neurons, {TINY[1]} edges) for what networkx could not finish above")
            for a in retry:
                ours, peer = _pair(me, a, tiny, tiny_npz, args)
                report["ours_tiny"][a], report["networkx_tiny"][a] = ours, peer
                print(f"  {a:12s} ours {_fmt(ours)} | networkx {_fmt(peer)}{_ratio(ours, peer)}")
    return _finish(report, args)


def _finish(report: dict, args) -> int:
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
