"""``neuralscope imaging spikes``: dF/F traces in, expected spikes per frame out."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path
from typing import Any, Optional

import typer

from neuralscope.cli.groups import cli_state, imaging_app
from neuralscope.core.errors import NeuralscopeError


def _load_traces(path: Path, key: str) -> tuple[Any, float | None]:
    import numpy as np

    if not path.exists():
        raise NeuralscopeError("TRACES", "an existing .npz file", str(path))
    if path.is_dir():
        raise NeuralscopeError("TRACES", "an .npz file, not a directory", str(path))
    try:
        with np.load(path, allow_pickle=False) as z:
            if key not in z.files:
                raise NeuralscopeError("TRACES", f"an .npz with key '{key}'", f"keys {sorted(z.files)}")
            dff = z[key]
            fs = float(z["fs"]) if "fs" in z.files and np.size(z["fs"]) == 1 else None
    except NeuralscopeError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise NeuralscopeError("TRACES", "a readable .npz file", f"{path.name}: {type(exc).__name__}") from None
    return dff, fs


def run_spikes_command(*, traces: Path, fs: float | None, out: Path | None, method: str = "auto",
                       key: str = "dff", as_json: bool = False, verbose: int = 0, quiet: bool = False) -> dict:
    """Run ``imaging spikes``; returns the JSON result (printed with ``as_json``)."""
    import numpy as np

    from neuralscope.cli._common import Console, emit
    from neuralscope.imaging.spikes import METHODS, check_traces, infer_spikes

    console = Console(verbose, quiet)
    if method not in METHODS:
        raise NeuralscopeError("--method", f"one of {list(METHODS)}", method)
    if out is not None and out.exists() and not out.is_dir():
        raise NeuralscopeError("--out", "a folder (new or existing)", f"{out} is a file")
    dff, fs_file = _load_traces(Path(traces), key)
    fs = fs_file if fs is None else fs
    if fs is None:
        raise NeuralscopeError("--fs", "the frame rate in Hz (or a scalar 'fs' in the .npz)", "nothing")
    if not (np.isfinite(fs) and fs > 0):
        raise NeuralscopeError("--fs", "a frame rate > 0 Hz", fs)
    x = check_traces(dff, key)
    n_cells = 1 if x.ndim == 1 else x.shape[0]
    console.info(f"{n_cells} trace(s) x {x.shape[-1]} frames at {fs:g} Hz; method {method}")
    t_load = time.perf_counter()
    if method in ("auto", "deep"):
        try:  # load the model before timing: the reported cost is inference only
            from neuralscope.imaging.spikes.deep import DeepSpikeInference

            DeepSpikeInference.load_default().predict(np.zeros((1, 64)), 25.0)
        except ImportError:
            pass
    load_seconds = time.perf_counter() - t_load
    t0, c0 = time.perf_counter(), time.process_time()
    rates, info = infer_spikes(x, fs, method=method, return_info=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    neuron_minutes = n_cells * x.shape[-1] / fs / 60.0
    result = {
        "n_cells": n_cells, "n_frames": int(x.shape[-1]), "fs": fs, "method": info["method"],
        "model": info["model"], "model_fs": info["model_fs"], "calibrated": bool(info["calibrated"]),
        "expected_spikes_total": float(rates.sum()),
        "mean_rate_hz": float(rates.sum() / (n_cells * x.shape[-1] / fs)),
        "noise_level_median": float(np.median(info["noise_level"])),
        "wall_seconds": wall, "load_seconds": load_seconds, "cpu_seconds_per_neuron_minute": cpu / neuron_minutes,
        "out": None if out is None else str(out),
    }
    if out is not None:
        from neuralscope.cli._common import to_json
        from neuralscope.io.atomic import atomic_directory

        with atomic_directory(out) as staging:
            np.savez_compressed(staging / "spikes.npz", spike_rates=rates.astype(np.float32),
                                fs=np.float64(fs), noise_level=np.asarray(info["noise_level"], np.float32))
            (staging / "metrics.json").write_text(to_json(result), encoding="utf-8")
        console.info(f"wrote {out / 'spikes.npz'}")

    def summary(r: dict) -> None:
        what = "expected spikes" if r["calibrated"] else "summed spike amplitude (dF/F units, uncalibrated)"
        print(f"{r['n_cells']} cell(s): {r['expected_spikes_total']:.1f} {what} "
              f"({r['mean_rate_hz']:.2f} per s) with {r['model']}; "
              f"{r['cpu_seconds_per_neuron_minute'] * 1e3:.2f} ms CPU per neuron-minute")

    emit(result, as_json, summary)
    return result


@imaging_app.command("spikes")
def spikes(
    traces: Path = typer.Argument(..., help="An .npz with key 'dff' (n x T, or T for one cell), dF/F as a fraction."),
    fs: Optional[float] = typer.Option(None, "--fs", help="Frame rate in Hz (default: a scalar 'fs' in the file)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for spikes.npz (key 'spike_rates') and metrics.json."),
    method: str = typer.Option("auto", "--method", help="auto (deep model), deep, oasis or oasis-ar2."),
    key: str = typer.Option("dff", "--key", help="Array name of the traces in the .npz."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Infer expected spikes per frame from dF/F traces (any frame rate and noise level)."""
    state = cli_state()
    run_spikes_command(traces=traces, fs=fs, out=out, method=method, key=key, as_json=as_json,
                       verbose=state["verbose"], quiet=state["quiet"])
