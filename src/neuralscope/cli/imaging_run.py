"""``neuralscope imaging run``: a two-photon movie in; ROIs, dF/F and spike rates out."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Optional

import typer

from neuralscope.cli.groups import cli_state, imaging_app
from neuralscope.core.errors import NeuralscopeError


def run_imaging_command(*, movie: Path, fs: float, out: Path, work: Path | None = None, dataset: str | None = None,
                        rigid: bool = False, cell_radius: float = 5.0, chunk_frames: int = 200,
                        spike_method: str = "auto", seed: int = 0, as_json: bool = False, verbose: int = 0,
                        quiet: bool = False) -> dict:
    """Run ``imaging run``; returns the JSON result (printed with ``as_json``)."""
    import numpy as np

    from neuralscope.cli._common import Console, emit
    from neuralscope.io.movies import read_movie

    console = Console(verbose, quiet)
    if not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
        raise NeuralscopeError("--fs", "a frame rate > 0 Hz", fs)
    if not (math.isfinite(cell_radius) and 1.0 <= cell_radius <= 50.0):
        raise NeuralscopeError("--cell-radius", "a soma radius in pixels in [1, 50]", cell_radius)
    if not (isinstance(chunk_frames, int) and chunk_frames >= 1):
        raise NeuralscopeError("--chunk-frames", "an integer >= 1", chunk_frames)
    if out.exists() and not out.is_dir():
        raise NeuralscopeError("--out", "a folder (new or existing)", f"{out} is a file")
    from neuralscope.imaging.spikes import METHODS

    if spike_method not in METHODS:
        raise NeuralscopeError("--spike-method", f"one of {list(METHODS)}", spike_method)
    # Check the movie before anything is written (bad input leaves --out untouched).
    mov = read_movie(movie, dataset=dataset, chunk_frames=chunk_frames)
    console.info(f"movie {movie}: {mov.shape[0]} frames of {mov.shape[1]}x{mov.shape[2]} ({mov.dtype}) at {fs:g} Hz")
    probe = np.asarray(mov[: min(mov.shape[0], 2)].compute())
    if not np.all(np.isfinite(probe)):
        raise NeuralscopeError("MOVIE", "finite pixel values", "NaN or inf in the first frames")
    from neuralscope.imaging.pipeline import run_pipeline

    work_dir = work if work is not None else out / "work"
    t0 = time.perf_counter()
    res = run_pipeline(movie, fs, work_dir, nonrigid=not rigid, cell_radius=cell_radius, chunk_frames=chunk_frames,
                       dataset=dataset, spike_method=spike_method, seed=seed, progress=console.info)
    wall = time.perf_counter() - t0
    result: dict[str, Any] = {
        "n_rois": res.n_rois, "frames_per_second": res.frames_per_second, "n_frames": res.n_frames,
        "frame_shape": [int(s) for s in res.reference.shape], "fs": float(fs),
        "registration": "rigid" if rigid else "piecewise-rigid",
        "max_shift_px": float(np.abs(res.shifts).max()) if len(res.shifts) else 0.0,
        "neuropil_coefficient": res.neuropil_coefficient, "spike_method": res.spike_info.get("method"),
        "spike_model": res.spike_info.get("model"), "stage_seconds": res.stage_seconds,
        "resumed_stages": res.resumed, "wall_seconds": wall, "out": str(out), "work": str(work_dir),
        "registered_movie": str(res.registered_path),
    }
    _write_outputs(out, res, result)
    console.info(f"wrote {out / 'rois.npz'} and {out / 'result.nwb'}")

    def summary(r: dict) -> None:
        print(f"{r['n_rois']} ROIs from {r['n_frames']} frames at {r['frames_per_second']:.1f} frames/s "
              f"({r['registration']}); results in {r['out']}")

    emit(result, as_json, summary)
    return result


def _write_outputs(out: Path, res: Any, result: dict) -> None:
    from neuralscope.cli._common import write_metrics_and_report
    from neuralscope.imaging.export import contours_figure, traces_figure, write_ophys_nwb, write_rois_npz
    from neuralscope.io.atomic import atomic_directory
    from neuralscope.report import Report, Section

    report = Report("neuralscope imaging run", subtitle=str(result["out"]))
    section = Section("Cells, dF/F and spikes", key="imaging")
    section.add_figure("mean-contours", contours_figure(res.mean_image, res.footprints),
                       caption=f"Mean of the registered movie with the {res.n_rois} detected ROIs.")
    section.add_figure("traces", traces_figure(res.dff, res.spike_rates, res.fs),
                       caption="The most active ROIs: dF/F and inferred spike rate.")
    report.add_section(section)
    with atomic_directory(out) as staging:
        write_rois_npz(staging / "rois.npz", res)
        write_ophys_nwb(staging / "result.nwb", res)
        write_metrics_and_report(staging, result, report)


@imaging_app.command("run")
def run(
    movie: Path = typer.Argument(..., help="A .tif/.tiff movie, a folder of TIFF frames, .h5/.hdf5, .zarr or .nwb."),
    fs: float = typer.Option(..., "--fs", help="Frame rate in Hz."),
    out: Path = typer.Option(..., "--out", help="Folder for rois.npz, result.nwb, figures and the work checkpoints."),
    work: Optional[Path] = typer.Option(None, "--work", help="Checkpoint folder (default OUT/work); reruns resume."),
    dataset: Optional[str] = typer.Option(None, "--dataset",
                                          help="Dataset path in HDF5/zarr, or TwoPhotonSeries name."),
    rigid: bool = typer.Option(False, "--rigid", help="Rigid registration only (default: piecewise-rigid)."),
    cell_radius: float = typer.Option(5.0, "--cell-radius", help="Expected soma radius in pixels."),
    chunk_frames: int = typer.Option(200, "--chunk-frames", help="Frames per streamed chunk."),
    spike_method: str = typer.Option("auto", "--spike-method", help="auto, deep, oasis or oasis-ar2."),
    seed: int = typer.Option(0, "--seed", help="Seed of the reference-frame choice."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Register a movie, find the cells, extract dF/F and infer spike rates."""
    state = cli_state()
    run_imaging_command(movie=movie, fs=fs, out=out, work=work, dataset=dataset, rigid=rigid, cell_radius=cell_radius,
                        chunk_frames=chunk_frames, spike_method=spike_method, seed=seed, as_json=as_json,
                        verbose=state["verbose"], quiet=state["quiet"])
