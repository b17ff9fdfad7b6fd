"""The imaging-pipeline part of ``neuralscope demo``: a simulated two-photon
movie through registration, detection, traces and spikes, scored against its
ground truth."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from neuralscope.report import Section


def demo_sections(seed: int = 0, quick: bool = False,
                  progress: Callable[[str], None] | None = None) -> list[tuple[Section, dict]]:
    """One simulated movie ("hard" preset: overlaps, dendrites, low SNR, non-rigid motion) end to end."""
    from neuralscope.datasets.movies import simulate_movie
    from neuralscope.imaging.export import contours_figure, traces_figure
    from neuralscope.imaging.metrics import match_rois, trace_correlation
    from neuralscope.imaging.pipeline import run_pipeline
    from neuralscope.imaging.registration import shift_error

    say = progress or (lambda m: None)
    t_start = time.perf_counter()
    n_frames, shape, n_cells = (600, (96, 96), 14) if quick else (1500, (160, 160), 36)
    fs = 30.0
    say(f"imaging: simulating a {n_frames} x {shape[0]} x {shape[1]} movie with {n_cells} cells")
    sim = simulate_movie(n_frames, shape, n_cells, fs=fs, preset="hard", random_state=seed + 500)
    section = Section(
        "Imaging: a two-photon movie to cells, dF/F and spikes", key="imaging-pipeline",
        intro=(f"A simulated GCaMP6f movie ({n_frames} frames of {shape[0]} x {shape[1]} px at {fs:g} Hz, "
               f"{n_cells} somata, some overlapping; active dendrites and out-of-focus cells that are not somata; "
               "neuropil, bleaching, photon shot and read noise; rigid plus non-rigid motion) run through "
               "piecewise-rigid registration, activity-based detection with the cell / not-cell classifier, "
               "overlap-aware trace extraction with neuropil subtraction (coefficient 0.7) and dF/F, and spike "
               "inference. Every score is against the simulator's ground truth."),
    )
    with tempfile.TemporaryDirectory(prefix="ns-demo-imaging-") as tmp:
        say("imaging: registration, detection, traces, spikes")
        res = run_pipeline(sim.movie, fs, Path(tmp) / "work", nonrigid=True, seed=seed)
    err = shift_error(res.shifts, sim.shifts)
    off = np.rint(np.asarray(err["offset"])).astype(int)
    true_reg = np.roll(sim.masks, tuple(-off), axis=(1, 2))
    match = match_rois(res.footprints, true_reg, "centroid", 5)
    r = trace_correlation(res.dff, sim.calcium, match["pairs"]) if match["n_matched"] else np.array([np.nan])
    metrics = {"n_frames": n_frames, "n_true_cells": n_cells, "n_rois": res.n_rois,
               "registration_rms_px": err["rms_px"], "precision": match["precision"], "recall": match["recall"],
               "f1": match["f1"], "trace_r_median": float(np.nanmedian(r)),
               "frames_per_second": res.frames_per_second, "spike_method": res.spike_info.get("method")}
    try:
        from neuralscope.imaging.spikes import spike_correlation

        if match["n_matched"]:
            sc = spike_correlation(res.spike_rates[match["pairs"][:, 0]], sim.spikes[match["pairs"][:, 1]], fs)
            metrics["spike_r_median"] = float(np.nanmedian(sc))
    except ImportError:  # spike inference is an optional part of the package
        pass
    section.add_figure(
        "contours", contours_figure(res.mean_image, res.footprints, true_reg, title="registered mean image"),
        caption="Detected ROIs (orange) against the true somata (cyan), on the mean of the registered movie.",
        score=(f"F1 {match['f1']:.2f} (precision {match['precision']:.2f}, recall {match['recall']:.2f}; centroids "
               f"within 5 px, Hungarian matching); registration error {err['rms_px']:.2f} px RMS"))
    pairs = match["pairs"][:6]
    if len(pairs):
        section.add_figure(
            "traces", traces_figure(res.dff[pairs[:, 0]], res.spike_rates[pairs[:, 0]], fs, n=6,
                                    truth=sim.calcium[pairs[:, 1]]),
            caption=("Matched cells: extracted dF/F (black), true noise-free calcium (green), "
                     "inferred spike rate (red)."),
            score=f"median trace r vs true calcium {metrics['trace_r_median']:.2f}"
                  + (f"; median spike r (Spikefinder bins) {metrics['spike_r_median']:.2f}"
                     if "spike_r_median" in metrics else ""))
    section.add_table("Ground-truth scores", ["metric", "value"],
                      [[k, v] for k, v in metrics.items() if isinstance(v, (int, float))])
    metrics["seconds"] = time.perf_counter() - t_start
    return [(section, metrics)]
