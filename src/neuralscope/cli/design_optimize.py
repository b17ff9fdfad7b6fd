"""``neuralscope design optimize`` and ``neuralscope design rfmap`` (registered on import).

Kept light to import: the work happens in :mod:`neuralscope.design.runner`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from neuralscope.cli.groups import cli_state, design_app


@design_app.command("optimize")
def optimize(
    config: Path = typer.Argument(..., help="YAML: parameters, objective (hartmann6, branin, neuron or {command: ...}), budget, initial, seed, state."),
    budget: Optional[int] = typer.Option(None, "--budget", help="Total trials (overrides the config; extends a resumed run)."),
    state: Optional[Path] = typer.Option(None, "--state", help="State file (overrides the config's state)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Bayesian optimisation of an objective; resumable from its state file."""
    from neuralscope.cli._common import Console, emit
    from neuralscope.design.runner import run_optimize

    st = cli_state()
    console = Console(st["verbose"], st["quiet"])
    result = run_optimize(config, budget=budget, state=state, log=console.debug)
    console.info(f"{result['n_observations']} trials ({result['n_failed']} failed), "
                 f"{result['seconds_per_suggestion']:.3f} s per suggestion")
    emit(result, as_json, lambda r: print(f"best value {r['best_value']:.6g} at {r['best_params']} "
                                          f"after {r['n_observations']} trials"))


@design_app.command("rfmap")
def rfmap(
    demo: bool = typer.Option(False, "--demo", help="Map simulated neurons with known receptive fields."),
    neuron: str = typer.Option("position", "--neuron", help="position (2-D RF) or orientation-sf."),
    trials: int = typer.Option(150, "--trials", help="Trials per neuron and strategy."),
    neurons: int = typer.Option(3, "--neurons", help="Simulated neurons (seeds)."),
    target: float = typer.Option(0.35, "--target", help="Target RF error (relative RMSE of the rate map)."),
    strategies: str = typer.Option("active,random,grid", "--strategies", help="Comma-separated: active, variance-reduction, random, grid."),
    seed: int = typer.Option(0, "--seed", help="First neuron's seed."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for metrics.json, figures/ and report.html."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Active vs random vs grid receptive-field mapping: RF error vs trials."""
    from neuralscope.cli._common import Console, emit, write_metrics_and_report
    from neuralscope.core.errors import NeuralscopeError
    from neuralscope.design.runner import run_rfmap_demo

    if not demo:
        raise NeuralscopeError("--demo", "--demo (a live rig is driven through the Python API, "
                               "neuralscope.design.rfmap)", "no --demo")
    if out is not None and out.exists() and not out.is_dir():
        raise NeuralscopeError("--out", "a folder (new or existing)", f"{out} is a file")
    st = cli_state()
    console = Console(st["verbose"], st["quiet"])
    names = tuple(s.strip() for s in strategies.split(",") if s.strip())
    result, runs = run_rfmap_demo(neuron=neuron, trials=trials, seeds=neurons, target=target, seed=seed,
                                  strategies=names, log=console.info)
    if out is not None:
        from neuralscope.design.demo import rfmap_section
        from neuralscope.io.atomic import atomic_directory
        from neuralscope.report import Report

        report = Report("neuralscope design rfmap")
        report.add_section(rfmap_section(result, runs))
        with atomic_directory(out) as folder:
            write_metrics_and_report(folder, result, report)

    def _summary(r: dict) -> None:
        for s, med in r["median_trials_to_target"].items():
            shown = f"{med:g}" if med is not None else f">{r['trials']}"
            print(f"{s:>20}: {shown} trials to error {r['target_error']:g} (median of {r['neurons']}), "
                  f"final error {r['final_error_median'][s]:.3f}")

    emit(result, as_json, _summary)
