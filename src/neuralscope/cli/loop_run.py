"""``neuralscope loop run``: a real-time closed loop from a YAML configuration
or on the built-in simulated rig (``--demo``)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

import typer

from neuralscope.cli.groups import cli_state, loop_app


@loop_app.command("run")
def run(
    config: Optional[Path] = typer.Argument(None, help="YAML configuration (source, pipeline, decoder, policies)."),
    demo: bool = typer.Option(False, "--demo", help="The built-in simulated rig: 512 x 512 at 30 Hz, 300 ROIs."),
    frames: Optional[int] = typer.Option(None, "--frames", help="Stop after N frames (the demo runs 3000)."),
    as_fast_as_possible: bool = typer.Option(False, "--as-fast-as-possible", help="No real-time pacing (deadline = a latency above 1/fs)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the rig, decoder and optimiser (overrides the config)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for metrics.json, decisions.jsonl, frames.npz, figures and report.html."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Run the online imaging pipeline and policies frame by frame; report latency and deadline misses."""
    state = cli_state()
    run_loop_command(config=config, demo=demo, frames=frames, realtime=False if as_fast_as_possible else None, seed=seed, out=out,
                     as_json=as_json, verbose=state["verbose"], quiet=state["quiet"])


def run_loop_command(*, config: Path | None, demo: bool, frames: int | None, realtime: bool | None, seed: int | None,
                     out: Path | None, as_json: bool, verbose: int = 0, quiet: bool = False) -> dict:
    """The command's work; returns the JSON result (also printed with ``as_json``).

    ``realtime=None`` keeps the configuration's ``realtime`` setting (default: real time).
    """
    import os

    from neuralscope.cli._common import Console, to_json
    from neuralscope.core.errors import NeuralscopeError

    console = Console(verbose, quiet)
    if demo == (config is not None):
        raise NeuralscopeError("CONFIG", "a configuration file or --demo (one of them)",
                               "both" if demo else "neither")
    if frames is not None and frames < 1:
        raise NeuralscopeError("--frames", "an integer >= 1", frames)
    if out is not None and out.exists() and not out.is_dir():
        raise NeuralscopeError("--out", "a folder (new or existing)", f"{out} is a file")
    from neuralscope.closedloop.session import DEMO_CONFIG, build_session, load_config

    if demo:
        cfg, base = copy.deepcopy(DEMO_CONFIG), Path.cwd()
    else:
        cfg, base = load_config(config)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one FFT/BLAS thread: threads cost latency on small work
    session = build_session(cfg, base, frames=frames, realtime=realtime, seed=seed, progress=console.info)
    n = session.runner.n_frames or session.source.n_frames
    console.info(f"running {n} frames at {session.source.fs:g} Hz ({'real time' if session.runner.realtime else 'as fast as possible'})")
    try:
        result = session.runner.run(progress=console.debug if verbose else console.info)
    finally:
        session.close()
    res = result.summary()
    res["registration_failures"] = session.pipeline.registration_failures_
    res["extraction_failures"] = session.pipeline.extraction_failures_
    res["seed"] = session.info["seed"]
    res["source"] = session.info["source"]
    if "decoder" in session.info:
        res["decoder"] = session.info["decoder"]
    if session.rig is not None:
        from neuralscope.closedloop.evaluation import score_against_truth

        res["ground_truth"] = score_against_truth(result, session.rig)
    if out is not None:
        _write_outputs(out, result, session, res)
        console.info(f"wrote {out / 'decisions.jsonl'} ({len(result.decisions)} decisions)")
    if as_json:
        print(to_json(res, indent=None))
    else:
        print(f"{res['frames']} frames: latency p50 {res['latency_ms_p50']:.2f} ms, p99 {res['latency_ms_p99']:.2f} ms, "
              f"{res['deadline_misses']} deadline miss(es) at {res['fs']:g} Hz, {res['stimulations']} stimulation(s)")
    return res


def _write_outputs(out: Path, result, session, res: dict) -> None:
    import numpy as np

    from neuralscope.cli._common import write_metrics_and_report
    from neuralscope.closedloop.evaluation import decision_log_figure, latency_figure
    from neuralscope.io.atomic import atomic_directory
    from neuralscope.report import Report, Section

    report = Report("neuralscope loop run", subtitle=f"{res['frames']} frames at {res['fs']:g} Hz")
    section = Section("Closed loop", key="loop")
    section.add_figure("latency", latency_figure(result),
                       caption="Per-frame latency from the frame being in memory to the decisions being sent.",
                       score=(f"p50 {res['latency_ms_p50']:.2f} ms, p99 {res['latency_ms_p99']:.2f} ms, "
                              f"{res['deadline_misses']} deadline miss(es) of {res['frames']} frames"))
    watched = next((p for p in session.runner.policies if p.name == "threshold"), None)
    roi = int(watched.rois_[0]) if watched is not None and watched.rois_ is not None else None
    section.add_figure("decisions", decision_log_figure(result, session.rig, roi=roi,
                                                         threshold=getattr(watched, "threshold", None)),
                       caption="Every stimulation decision on the time axis, with the decoded and (simulated) true state.",
                       score=f"{res['stimulations']} stimulation(s), {res['decisions']} decision(s) logged")
    report.add_section(section)
    with atomic_directory(out) as staging:
        result.write_log(staging / "decisions.jsonl")
        arrays = {"latency_ms": result.latency_s * 1e3, "stage_ms": result.stage_s * 1e3,
                  "lateness_ms": result.lateness_s * 1e3, "missed": result.missed, "shifts": result.shifts}
        if session.rig is not None:
            arrays["true_shifts"] = session.rig.truth().shifts
        np.savez_compressed(staging / "frames.npz", **arrays)
        write_metrics_and_report(staging, res, report)
