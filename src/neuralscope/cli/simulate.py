"""``neuralscope simulate``: a connectome in, spike trains, rates and perturbation effects out."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neuralscope.cli._common import Console, to_json
from neuralscope.core.errors import NeuralscopeError

DEMO_CONNECTOMES = ("demo:celegans",)
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(hz)?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s)?\s*$", re.IGNORECASE)


def parse_duration(value: Any, name: str = "--duration") -> float:
    """Seconds from ``1``, ``1.5s`` or ``500ms``; must be > 0."""
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise NeuralscopeError(name, "a duration such as 1s, 500ms or 0.5", value)
        seconds = float(m.group(1)) * (1e-3 if (m.group(2) or "s").lower() == "ms" else 1.0)
    if not (math.isfinite(seconds) and seconds > 0):
        raise NeuralscopeError(name, "a duration > 0", value)
    return seconds


def parse_ids(text: str, name: str) -> list[str]:
    ids = [t.strip() for t in str(text).split(",") if t.strip()]
    if not ids:
        raise NeuralscopeError(name, "comma-separated neuron ids", text)
    return ids


def parse_activation(spec: str) -> tuple[list[str], float | None]:
    """``IDS`` or ``IDS@HZ`` (``a,b,c@200`` or ``a,b@150Hz``)."""
    ids_part, _, rate_part = str(spec).partition("@")
    rate = None
    if rate_part:
        m = _RATE.match(rate_part)
        if not m:
            raise NeuralscopeError("--activate", "IDS@HZ with a rate such as 200 or 150Hz", spec)
        rate = float(m.group(1))
    return parse_ids(ids_part, "--activate"), rate


def load_connectome(source: str, neurons: str | None = None):
    """A file (CSV/parquet edge list) or a built-in network (``demo:celegans``)."""
    if source.startswith("demo:"):
        if source != "demo:celegans":
            raise NeuralscopeError("CONNECTOME", f"a file or one of {DEMO_CONNECTOMES}", source)
        from neuralscope.circuits.celegans import load_celegans

        return load_celegans()
    from neuralscope.core.connectome import read_connectome

    return read_connectome(source, neurons=neurons)


def _resolve(connectome, ids: Sequence[str], name: str) -> list[Any]:
    return list(connectome.neuron_ids[connectome.index(list(ids), name)])


def _key(v: Any) -> str:
    return str(v.item() if hasattr(v, "item") else v)


def run_simulate_command(
    *, connectome: str, preset: str = "flywire-lif", activate: Sequence[str] | str | None = None,
    silence: str | None = None, report: str | None = None, duration: Any = "1s", trials: int = 30, seed: int = 0,
    out: Path | None = None, as_json: bool = False, verbose: int = 0, quiet: bool = False,
    neurons: str | None = None, dt: float | None = None, device: str | None = None, control: bool = True,
    threads: int | None = 1,
) -> dict:
    """Run the simulate command; returns the JSON result (also printed with ``as_json``)."""
    from neuralscope.circuits import get_preset

    console = Console(verbose, quiet)
    seconds = parse_duration(duration)
    if not (isinstance(trials, int) and trials >= 1):
        raise NeuralscopeError("--trials", "an integer >= 1", trials)
    if threads is not None and not (isinstance(threads, int) and threads >= 1):
        raise NeuralscopeError("--threads", "an integer >= 1", threads)
    if out is not None and out.exists() and not out.is_dir():
        raise NeuralscopeError("--out", "a folder (new or existing)", f"{out} is a file")
    params = get_preset(preset)
    if dt is not None:
        params = params.replace(dt=float(dt))
    specs = [activate] if isinstance(activate, str) else list(activate or [])
    parsed = [parse_activation(s) for s in specs]
    silenced = parse_ids(silence, "--silence") if silence else []
    reported = parse_ids(report, "--report") if report else []
    import torch

    previous_threads = torch.get_num_threads()
    if threads is not None:
        # Before any torch work: a thread pool started with more threads keeps spinning and slows
        # the (small, per-step) operations down even after the count is lowered.
        torch.set_num_threads(threads)
    try:
        return _simulate(connectome, neurons, params, parsed, silenced, reported, seconds, trials, seed, out,
                         as_json, console, device, threads, control, preset)
    finally:
        torch.set_num_threads(previous_threads)


def _simulate(connectome, neurons, params, parsed, silenced, reported, seconds, trials, seed, out, as_json,
              console, device, threads, control, preset) -> dict:
    from neuralscope.circuits import Experiment, LIFNetwork

    conn = load_connectome(connectome, neurons)
    console.info(f"loaded {conn!r}")
    experiment = Experiment("simulation")
    for ids, rate in parsed:
        experiment = experiment.activate(_resolve(conn, ids, "--activate"), rate)
    if silenced:
        experiment = experiment.silence(_resolve(conn, silenced, "--silence"))
    report_ids = _resolve(conn, reported, "--report") if reported else []
    t0 = time.perf_counter()
    net = LIFNetwork(conn, params, device=device)
    console.info(f"network built in {net.build_seconds_:.2f} s on {net.device}; simulating {trials} x {seconds:g} s")
    result = net.run(experiment, duration=seconds, n_trials=trials, seed=seed, threads=threads, progress=console.debug)
    wall = time.perf_counter() - t0
    res = {
        "wall_seconds": wall, "trials": trials, "neurons": conn.n_neurons, "mean_rate_hz": result.mean_rate_hz,
        "rates_hz": {}, "connectome": connectome, "preset": preset if isinstance(preset, str) else "custom",
        "duration_s": seconds, "spikes": result.n_spikes, "build_seconds": net.build_seconds_,
        "simulation_seconds": result.wall_seconds, "device": str(net.device), "seed": seed,
    }
    if report_ids:
        rates = result.rates(report_ids)
        res["rates_hz"] = {_key(i): float(r) for i, r in rates["rate_hz"].items()}
        res["rates_ci_hz"] = {_key(i): [float(a), float(b)] for i, a, b in zip(rates.index, rates["ci_low"], rates["ci_high"])}
    comparison = ctrl = None
    if silenced and control:
        console.info("control run (same drive, nothing silenced)")
        ctrl = net.run(experiment.control(), duration=seconds, n_trials=trials, seed=seed, threads=threads)
        res["control"] = {"mean_rate_hz": ctrl.mean_rate_hz, "spikes": ctrl.n_spikes, "rates_hz": {}}
        comparison = result.compare(ctrl)
        if report_ids:
            sub = comparison.loc[report_ids]
            res["control"]["rates_hz"] = {_key(i): float(r) for i, r in sub["control_rate_hz"].items()}
            res["difference_hz"] = {_key(i): float(d) for i, d in sub["difference_hz"].items()}
    if out is not None:
        _write_outputs(out, result, ctrl, comparison, report_ids, res)
        console.info(f"wrote {out / 'spikes.parquet'}")
    if as_json:
        print(to_json(res, indent=None))
    else:
        print(f"{trials} trial(s) x {seconds:g} s of {conn.n_neurons} neurons: {result.n_spikes} spikes, "
              f"mean rate {result.mean_rate_hz:.3g} Hz, {wall:.2f} s wall")
        for k, v in res["rates_hz"].items():
            print(f"  {k}: {v:.2f} Hz")
    return res


def _write_outputs(out: Path, result, ctrl, comparison, report_ids, res: dict) -> None:
    import numpy as np

    from neuralscope.circuits.plots import (
        effect_figure,
        population_rate_figure,
        raster_figure,
    )
    from neuralscope.io.atomic import atomic_directory, write_text_atomic

    counts = result.counts().sum(0)
    shown = list(result.neuron_ids[np.argsort(-counts, kind="stable")[: min(200, int((counts > 0).sum()) or 1)]])
    import matplotlib.pyplot as plt

    with atomic_directory(out) as staging:
        result.to_parquet(staging / "spikes.parquet")
        rates = result.rates()
        keep = (rates["rate_hz"] > 0).to_numpy() | rates.index.isin(report_ids)
        rates[keep].to_csv(staging / "rates.csv")
        runs = {"simulation": result}
        if ctrl is not None:
            ctrl.to_parquet(staging / "control_spikes.parquet")
            runs = {"perturbed": result, "control": ctrl}
            changed = comparison[(comparison["rate_hz"] > 0) | (comparison["control_rate_hz"] > 0)]
            changed.to_csv(staging / "comparison.csv")
            top = changed.reindex(changed["difference_hz"].abs().sort_values(ascending=False).index)[:40]
            fig = effect_figure(top, title="largest rate changes (perturbed - control)")
            fig.savefig(staging / "effect.png", dpi=110)
            plt.close(fig)
        fig = raster_figure(runs, shown)
        fig.savefig(staging / "raster.png", dpi=110)
        plt.close(fig)
        fig = population_rate_figure(runs, shown, title="population rate of the most active neurons")
        fig.savefig(staging / "rates.png", dpi=110)
        plt.close(fig)
        write_text_atomic(staging / "summary.json", to_json(res))
