"""``neuralscope decode``: data in, out-of-fold metrics, figures and a report out."""

from __future__ import annotations

from pathlib import Path

from neuralscope.cli._common import Console, emit, load_data, parse_models, write_metrics_and_report
from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import TrialActivity
from neuralscope.io.atomic import atomic_directory
from neuralscope.report import Report


def check_out_dir(out: Path | None) -> None:
    """Reject an ``--out`` that is an existing file, before any work is done."""
    if out is not None and out.exists() and not out.is_dir():
        raise NeuralscopeError("--out", "a folder (new or existing)", f"{out} is a file")


def run_decode_command(
    *, data: str, target: str | None, models: str, cv: int, history: int, seed: int,
    out: Path | None, extras: bool, as_json: bool, verbose: int, quiet: bool,
) -> dict:
    """Run the decode command; returns the JSON result."""
    from neuralscope.decoding.analysis import run_decoding
    from neuralscope.decoding.plots import decoding_section

    console = Console(verbose, quiet)
    names = parse_models(models)
    if cv < 2:
        raise NeuralscopeError("--cv", "at least 2 folds", cv)
    if history < 1:
        raise NeuralscopeError("--history", "at least 1 bin", history)
    check_out_dir(out)
    dataset = load_data(data)
    console.info(f"loaded {data}: {type(dataset).__name__} {dataset.data.shape}")
    analysis = run_decoding(
        dataset, models=names, target=target, cv=cv, n_history=history, seed=seed,
        extras=extras, progress=console.info, progress_bars=not quiet,
    )
    result = analysis.to_json()
    result["data"] = data
    if out is not None:
        bin_times = dataset.times if isinstance(dataset, TrialActivity) else None
        section = decoding_section(analysis, f"Decoding '{analysis.target}' from {data}", fs=dataset.fs, bin_times=bin_times)
        report = Report("neuralscope decode", subtitle=data)
        report.add_section(section)
        with atomic_directory(out) as staging:
            write_metrics_and_report(staging, result, report)
        console.info(f"wrote {out / 'report.html'}")
    emit(result, as_json, _print_summary)
    return result


def _print_summary(result: dict) -> None:
    key = "accuracy" if result["task"] == "classification" else "r2_mean"
    print(f"{result['task']} of '{result['target']}' ({result['cv']}-fold, out-of-fold)")
    for name, m in result["models"].items():
        print(f"  {name:<16} {key} = {m[key]:.3f}   fit {m['fit_time_s']:.2f} s/fold")
