"""Ground-truth recordings for training and scoring spike inference.

Readers for the CASCADE ground-truth database (one MATLAB file per neuron,
``CAttached`` segments) and the Spikefinder training CSVs, and a generator of
simulated recordings spanning indicators, frame rates and noise levels. The
real data are read from where the user keeps them (never shipped: the CASCADE
files are GPL-3 data, the Spikefinder files carry no licence).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.imaging.spikes.deep import TrainingTrace

__all__ = ["add_noise_to_level", "cascade_datasets", "load_cascade_dataset", "load_spikefinder",
           "simulated_recordings"]


def cascade_datasets(root: str | Path) -> list[Path]:
    """Dataset folders (``DSxx-...``) under a CASCADE ``Ground_truth`` folder, sorted."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and p.name.startswith("DS"))


def load_cascade_dataset(folder: str | Path, min_seconds: float = 12.0) -> list[TrainingTrace]:
    """All recording segments of one CASCADE dataset folder.

    Spike times (``events_AP``, units of 1e-4 s) are counted into the frames
    centred on ``fluo_time``; segments shorter than ``min_seconds`` or with
    non-finite dF/F are skipped (NaN runs are cut out, keeping the longest piece).
    """
    from scipy.io import loadmat

    traces: list[TrainingTrace] = []
    for path in sorted(Path(folder).glob("*.mat")):
        segments = np.atleast_1d(loadmat(path, squeeze_me=True, struct_as_record=False)["CAttached"])
        for k, seg in enumerate(segments):
            t = np.asarray(seg.fluo_time, float).ravel()
            y = np.asarray(seg.fluo_mean, float).ravel()
            ap = np.asarray(getattr(seg, "events_AP", []), float).ravel() / 1e4
            if t.size < 10 or y.size != t.size:
                continue
            ok = np.isfinite(y) & np.isfinite(t)
            if not ok.all():  # keep the longest finite run
                edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(int), [0]])))
                runs = list(zip(edges[::2], edges[1::2]))
                a, b = max(runs, key=lambda r: r[1] - r[0])
                t, y = t[a:b], y[a:b]
            dt = float(np.median(np.diff(t)))
            if dt <= 0 or t.size * dt < min_seconds:
                continue
            edges_t = np.concatenate([t - dt / 2, [t[-1] + dt / 2]])
            counts = np.histogram(ap, bins=edges_t)[0].astype(float)
            traces.append(TrainingTrace(y, counts, 1.0 / dt, f"{Path(folder).name}/{path.stem}#{k}"))
    return traces


def load_spikefinder(folder: str | Path, dataset: int | str, fs: float = 100.0) -> list[TrainingTrace]:
    """The neurons of a Spikefinder training set (``N.train.calcium.csv`` / ``N.train.spikes.csv``)."""
    import pandas as pd

    folder = Path(folder)
    calcium = pd.read_csv(folder / f"{dataset}.train.calcium.csv").to_numpy(float)
    spikes = pd.read_csv(folder / f"{dataset}.train.spikes.csv").to_numpy(float)
    out = []
    for j in range(calcium.shape[1]):
        ok = np.isfinite(calcium[:, j]) & np.isfinite(spikes[:, j])
        n = int(np.flatnonzero(ok)[-1]) + 1 if ok.any() else 0
        y, s = calcium[:n, j], spikes[:n, j]
        if n > 100 and np.all(np.isfinite(y)):
            out.append(TrainingTrace(y, np.nan_to_num(s), fs, f"spikefinder{dataset}/cell{j}"))
    return out


def add_noise_to_level(trace: TrainingTrace, target: float, rng: np.random.Generator) -> TrainingTrace:
    """Add white noise so the CASCADE noise level of the trace becomes ``target`` (never removes noise)."""
    from neuralscope.datasets.calcium import _MEDIAN_ABS_DIFF, noise_level

    current = float(noise_level(trace.dff, trace.fs))
    if target <= current:
        return trace
    # Noise levels add in quadrature (both are white-noise standard deviations).
    extra = np.sqrt(target**2 - current**2) / 100.0 * np.sqrt(trace.fs) / _MEDIAN_ABS_DIFF
    return TrainingTrace(trace.dff + extra * rng.standard_normal(trace.dff.size), trace.spikes, trace.fs,
                         trace.name + f"+noise{target:.1f}")


def simulated_recordings(n: int, duration: float = 120.0, random_state: Any = 0) -> list[TrainingTrace]:
    """Simulated recordings with random indicator, kinetics, frame rate, noise and firing.

    Frame rates are log-uniform in 7-130 Hz, noise levels log-uniform in 0.7-9,
    rates log-uniform in 0.1-6 Hz; indicator kinetics and amplitude are jittered
    around the table values (decay x0.5-2, amplitude log-normal) and a small
    slow baseline wander and offset are added, as in real dF/F.
    """
    from dataclasses import replace

    from neuralscope.datasets.calcium import INDICATORS, simulate_calcium_traces

    rng = np.random.default_rng(random_state)
    names = sorted(INDICATORS)
    out = []
    for i in range(n):
        base = INDICATORS[names[rng.integers(len(names))]]
        ind = replace(base, tau_decay=base.tau_decay * float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))),
                      tau_rise=base.tau_rise * float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))),
                      amplitude=base.amplitude * float(np.exp(rng.normal(0.0, 0.5))))
        fs = float(np.exp(rng.uniform(np.log(7.0), np.log(130.0))))
        sim = simulate_calcium_traces(
            n_neurons=1, duration=duration, fs=fs, indicator=ind,
            noise_level=float(np.exp(rng.uniform(np.log(0.7), np.log(9.0)))),
            rate=float(np.exp(rng.uniform(np.log(0.1), np.log(6.0)))),
            firing=("poisson", "bursts", "modulated")[rng.integers(3)],
            amplitude_jitter=0.0, baseline_drift=float(rng.uniform(0.0, 0.03)), random_state=rng)
        dff = sim.dff[0] + rng.normal(0.0, 0.02)
        out.append(TrainingTrace(dff, sim.spikes[0].astype(float), fs, f"sim{i}:{base.name}"))
    return out
