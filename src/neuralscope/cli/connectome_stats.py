"""``neuralscope connectome stats``: a connectome edge table in, graph statistics out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

from neuralscope.cli.groups import cli_state, connectome_app
from neuralscope.core.errors import NeuralscopeError

#: Neuron metadata columns tried, in order, for the block connectivity when ``--labels`` is not given.
AUTO_LABELS = ("cell_type", "type", "super_class", "class", "nt_type", "group", "neurotransmitter")


@connectome_app.command("stats")
def stats(
    edges: str = typer.Argument(..., help="Edge table (.csv/.parquet; FlyWire, neuPrint, C. elegans or pre/post/weight "
                                          "columns), a store folder, or demo:celegans."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for metrics.json, report.html, figures/ and tables."),
    labels: Optional[str] = typer.Option(None, "--labels", help="Neuron column for block connectivity (default: cell_type, nt_type, ... if present)."),
    neurons: Optional[str] = typer.Option(None, "--neurons", help="Neuron table (CSV/parquet, id first): its columns (cell type, class, ...) join the neurons."),
    null: int = typer.Option(3, "--null", help="Configuration-model samples for motif z-scores."),
    seed: int = typer.Option(0, "--seed", help="Seed of the null samples, triad sampling and Louvain."),
    sources: Optional[str] = typer.Option(None, "--sources", help="Comma-separated neuron ids for the k-hop sets (default: the strongest output neuron)."),
    hops: int = typer.Option(2, "--hops", help="k of the k-hop upstream/downstream sets."),
    min_synapses: float = typer.Option(1.0, "--min-synapses", help="Edge threshold of the k-hop search."),
    motifs: bool = typer.Option(True, "--motifs/--no-motifs", help="Dyad and triad census against the null."),
    communities: bool = typer.Option(True, "--communities/--no-communities", help="Louvain communities."),
    exact: bool = typer.Option(False, "--exact", help="Exact triad census even on very large graphs (slower)."),
    save_store: bool = typer.Option(False, "--save-store", help="Also write the parquet store to DIR/store."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Degrees, reciprocity, motifs vs a configuration null, block connectivity, reach and communities."""
    state = cli_state()
    run_stats_command(edges=edges, out=out, labels=labels, neurons=neurons, n_null=null, seed=seed, sources=sources,
                      hops=hops, min_synapses=min_synapses, motifs=motifs, communities=communities, exact=exact,
                      save_store=save_store, as_json=as_json, verbose=state["verbose"], quiet=state["quiet"])


def load_edges(source: str, neurons: str | None = None):
    """A file or store folder, or the built-in ``demo:celegans``."""
    if source.startswith("demo:"):
        if source != "demo:celegans":
            raise NeuralscopeError("EDGES", "a file, a store folder or demo:celegans", source)
        from neuralscope.circuits.celegans import load_celegans

        return load_celegans()
    from neuralscope.connectomics.graph.tables import read_edge_table

    return read_edge_table(source, neurons=neurons)


def _auto_labels(connectome) -> str | None:
    for col in AUTO_LABELS:
        if col in connectome.neurons.columns:
            n_groups = connectome.neurons[col].nunique(dropna=True)
            if 1 < n_groups <= 200:
                return col
    return None


def run_stats_command(*, edges: str, out: Path | None = None, labels: str | None = None, neurons: str | None = None,
                      n_null: int = 3, seed: int = 0, sources: str | None = None, hops: int = 2,
                      min_synapses: float = 1.0, motifs: bool = True, communities: bool = True, exact: bool = False,
                      save_store: bool = False, as_json: bool = False, verbose: int = 0, quiet: bool = False) -> dict:
    """Run the stats command; returns the JSON result (also printed with ``as_json``)."""
    from neuralscope.cli._common import Console, emit

    console = Console(verbose, quiet)
    if not (isinstance(n_null, int) and n_null >= 0):
        raise NeuralscopeError("--null", "an integer >= 0", n_null)
    if not (isinstance(hops, int) and hops >= 0):
        raise NeuralscopeError("--hops", "an integer >= 0", hops)
    if not min_synapses >= 0:
        raise NeuralscopeError("--min-synapses", "a number >= 0", min_synapses)
    if out is not None and out.exists() and not out.is_dir():
        raise NeuralscopeError("--out", "a folder (new or existing)", f"{out} is a file")
    t0 = time.perf_counter()
    conn = load_edges(edges, neurons)
    load_seconds = time.perf_counter() - t0
    console.info(f"loaded {conn!r} in {load_seconds:.2f} s")
    if labels is not None and labels not in conn.neurons.columns:
        cols = ", ".join(map(str, conn.neurons.columns)) or "none"
        raise NeuralscopeError("--labels", f"a neuron metadata column (available: {cols})", labels)
    label_col = labels or _auto_labels(conn)
    source_ids = [s.strip() for s in sources.split(",") if s.strip()] if sources else None
    if sources is not None and not source_ids:
        raise NeuralscopeError("--sources", "comma-separated neuron ids", sources)

    from neuralscope.connectomics.graph.analysis import analyze_connectome
    from neuralscope.connectomics.graph.motifs import DEFAULT_WORK_BUDGET

    result = analyze_connectome(conn, labels=label_col, n_null=n_null, random_state=seed, sources=source_ids,
                                hops=hops, min_synapses=min_synapses, motifs=motifs, communities=communities,
                                work_budget=None if exact else DEFAULT_WORK_BUDGET, progress=console.debug)
    res = result.to_dict()
    res["analysis_seconds"] = res.pop("seconds")
    res["load_seconds"] = load_seconds
    res["seconds"] = time.perf_counter() - t0
    res["source"] = edges
    if out is not None:
        _write_outputs(out, conn, result, res, save_store)
        console.info(f"wrote {out / 'report.html'}")
    emit(res, as_json, _summary)
    return res


def _summary(res: dict) -> None:
    print(f"{res['name']}: {res['n_neurons']} neurons, {res['n_edges']} connected pairs, {res['n_synapses']} synapses; "
          f"reciprocity {res['reciprocity']:.4f} (weighted {res['weighted_reciprocity']:.4f}); {res['seconds']:.2f} s")
    if "motifs" in res:
        z = {k: v for k, v in res["motifs"]["z"].items() if v is not None}
        top = sorted(z.items(), key=lambda kv: -abs(kv[1]))[:5]
        print("  motif z vs configuration null: " + ", ".join(f"{k} {v:+.1f}" for k, v in top))
    if "communities" in res:
        c = res["communities"]
        print(f"  Louvain: {c['n_communities']} communities, modularity {c['modularity']:.3f}")


def _write_outputs(out: Path, conn, result, res: dict, save_store: bool) -> None:
    from neuralscope.cli._common import write_metrics_and_report
    from neuralscope.connectomics.graph.tables import write_store
    from neuralscope.io.atomic import atomic_directory
    from neuralscope.report import Report, Section

    section = Section(f"Connectome graph: {res['name']}", key="connectome-stats",
                      intro=(f"{res['n_neurons']} neurons, {res['n_edges']} connected pairs, {res['n_synapses']} "
                             f"chemical synapses; analysed in {res['analysis_seconds']:.1f} s."))
    _add_figures(section, result)
    report = Report("neuralscope connectome stats", subtitle=str(res["source"]))
    report.add_section(section)
    with atomic_directory(out) as staging:
        write_metrics_and_report(staging, res, report)
        result.degrees.to_csv(staging / "degrees.csv")
        if result.communities is not None:
            import pandas as pd

            pd.DataFrame({"community": result.communities.labels},
                         index=pd.Index(conn.neuron_ids, name="neuron")).to_csv(staging / "communities.csv")
        if result.blocks is not None:
            result.blocks.synapses.to_csv(staging / "blocks_synapses.csv")
            result.blocks.probability.to_csv(staging / "blocks_probability.csv")
        if result.motifs is not None:
            result.motifs.table().to_csv(staging / "motifs.csv")
        if save_store:
            write_store(conn, staging / "store")


def _add_figures(section: Any, result) -> None:
    from neuralscope.connectomics.graph import plots

    r = result.reciprocity
    section.add_figure("degrees", plots.degree_figure(result.adjacency),
                       caption="Complementary CDFs of degrees, synapse strengths and synapses per connected pair.",
                       score=f"reciprocity {r['reciprocity']:.4f}, weighted {r['weighted_reciprocity']:.4f}")
    if result.motifs is not None:
        m = result.motifs
        how = "exact" if m.triads.exact else f"estimated from {100 * m.triads.work_fraction:.0f} % of the enumeration work"
        section.add_figure("motifs", plots.motif_figure(m),
                           caption=(f"Observed triad counts ({how}) against {len(m.null_triads)} erased configuration-"
                                    "model samples with the same in/out degrees."))
    if result.blocks is not None:
        section.add_figure("blocks", plots.block_figure(result.blocks, title=f"connection probability by {result.block_labels}"),
                           caption="Connected pairs / possible ordered pairs between groups (rows presynaptic).")
    if result.communities is not None:
        c = result.communities
        section.add_figure("communities", plots.community_figure(result.adjacency, c),
                           caption="Louvain on the symmetrised synapse-count graph.",
                           score=f"{c.n_communities} communities, modularity {c.modularity:.3f}")
