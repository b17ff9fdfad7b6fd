"""``neuralscope demo``: every capability on built-in data, one HTML report.

Each capability contributes a function ``demo_sections(seed, quick, progress)``
returning ``[(Section, metrics_dict), ...]``; add yours to ``CAPABILITIES``.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from neuralscope import __version__
from neuralscope.cli._common import Console, to_json, write_metrics_and_report
from neuralscope.cli.decode import check_out_dir
from neuralscope.io.atomic import atomic_directory
from neuralscope.report import Report

# (capability name, module providing demo_sections)
CAPABILITIES: list[tuple[str, str]] = [
    ("decoding", "neuralscope.decoding.demo"),
    ("manifold", "neuralscope.manifold.demo"),
    ("circuits", "neuralscope.circuits.demo"),
    ("imaging", "neuralscope.imaging.demo"),
    ("spikes", "neuralscope.imaging.spikes.demo"),
    ("connectomics", "neuralscope.connectomics.demo"),
    ("connectome graph", "neuralscope.connectomics.graph.demo"),
    ("design", "neuralscope.design.demo"),
    ("closed loop", "neuralscope.closedloop.demo"),
]


def run_demo_command(*, out: Path, seed: int, quick: bool, as_json: bool, verbose: int, quiet: bool) -> dict:
    """Run every capability's demo and write ``out/report.html``."""
    console = Console(verbose, quiet)
    check_out_dir(out)
    report = Report("neuralscope demo", subtitle=f"neuralscope {__version__}, seed {seed}" + (", quick" if quick else ""))
    summary: dict = {"seed": seed, "quick": quick, "capabilities": {}}
    t_start = time.perf_counter()
    for name, module_name in CAPABILITIES:
        t0 = time.perf_counter()
        console.info(f"== {name}")
        module = importlib.import_module(module_name)
        entries = module.demo_sections(seed=seed, quick=quick, progress=None if quiet else console.info)
        metrics = {}
        for section, section_metrics in entries:
            report.add_section(section)
            metrics[section.title] = section_metrics
        summary["capabilities"][name] = {"sections": metrics, "seconds": round(time.perf_counter() - t0, 2)}
    summary["seconds"] = round(time.perf_counter() - t_start, 2)
    with atomic_directory(out) as staging:
        write_metrics_and_report(staging, summary, report)
    summary["report"] = str(out / "report.html")
    console.info(f"wrote {out / 'report.html'} in {summary['seconds']:.0f} s")
    if as_json:
        print(to_json(summary, indent=None))
    return summary
