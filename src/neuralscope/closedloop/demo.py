"""The closed-loop part of ``neuralscope demo``: the simulated rig at 512 x 512,
300 ROIs, 30 Hz, run through the online pipeline and three policies; the
latency histogram and the decision log, scored against the rig's truth."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import numpy as np

from neuralscope.report import Section


def _shift_figure(result, rig, offset):
    import matplotlib.pyplot as plt

    truth = rig.truth().shifts[: result.frames]
    t = np.arange(result.frames) / result.fs
    fig, ax = plt.subplots(1, 1, figsize=(10, 2.6))
    for i, (name, color) in enumerate((("dy", "#2456a6"), ("dx", "#c23b3b"))):
        ax.plot(t, truth[:, i], color=color, lw=2.2, alpha=0.35, label=f"true {name}")
        ax.plot(t, result.shifts[:, i] - offset[i], color=color, lw=0.7, label=f"online {name}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("shift (px)")
    ax.legend(fontsize=7, ncol=4, loc="upper right")
    fig.tight_layout()
    return fig


def demo_sections(seed: int = 0, quick: bool = False,
                  progress: Callable[[str], None] | None = None) -> list[tuple[Section, dict]]:
    """Run the closed loop on the simulated rig; quick mode runs fewer frames as fast as possible."""
    from neuralscope.closedloop.evaluation import decision_log_figure, latency_figure, score_against_truth
    from neuralscope.closedloop.session import DEMO_CONFIG, build_session

    say = progress or (lambda m: None)
    t_start = time.perf_counter()
    cfg = copy.deepcopy(DEMO_CONFIG)
    frames, realtime = (360, False) if quick else (1200, True)
    cfg["calibration_frames"] = 300 if quick else 600
    say(f"closed loop: calibration session and decoder, then {frames} frames "
        f"({'real time' if realtime else 'as fast as possible'})")
    session = build_session(cfg, frames=frames, realtime=realtime, seed=seed, progress=say)
    try:
        result = session.runner.run()
    finally:
        session.close()
    summary = result.summary()
    scores = score_against_truth(result, session.rig)
    metrics = {k: summary[k] for k in ("frames", "latency_ms_p50", "latency_ms_p99", "deadline_misses",
                                       "latency_ms_max", "stimulations", "decisions", "realtime")}
    metrics.update(scores)
    bo = next(p for p in session.runner.policies if p.name == "bo-stimulus")
    metrics["bo_trials"] = len(bo.trials_)
    metrics["bo_optimizer"] = bo.optimizer_name_
    section = Section(
        "Closed loop: online imaging, decoding and stimulation in real time", key="closed-loop",
        intro=("A simulated two-photon rig renders 512 x 512 frames at 30 Hz from 300 simulated neurons (Poisson "
               "spikes modulated by a hidden two-state 'behaviour', AR(1) calcium, neuropil, rigid drift, shot noise). "
               "Each frame goes through the online pipeline: phase-correlation registration on a 256 px patch, "
               "least-squares extraction of the 300 known ROIs at the shifted footprint pixels with a neuropil "
               "annulus, running-baseline dF/F, causal AR(1) deconvolution and a logistic decoder of the hidden state "
               "(fitted on a separate calibration session). Three policies act on the estimate: a decoded-state "
               "trigger (photostimulates five cells when the decoder reports state 1 for 3 frames), a dF/F threshold "
               "trigger on ROI 10, and a Bayesian-optimisation policy choosing each trial's grating orientation to "
               "maximise the response of ROIs 20-29, its GP running in a worker process. "
               + ("Quick mode: frames processed as fast as possible." if quick else
                  "Frames are paced at 30 Hz with a monotonic clock.")),
    )
    section.add_figure(
        "latency", latency_figure(result, title=f"{result.frames} frames, 512 x 512, 300 ROIs"),
        caption=("Latency per frame from the frame being in memory to every decision being sent, and its split "
                 "over the pipeline stages. A deadline is missed when the decisions go out after the next frame is "
                 "due (33.3 ms); misses are counted, never dropped. Timings are wall-clock on a shared CPU."),
        score=(f"p50 {summary['latency_ms_p50']:.2f} ms, p99 {summary['latency_ms_p99']:.2f} ms (target <= 10 ms), "
               f"max {summary['latency_ms_max']:.1f} ms; {summary['deadline_misses']} deadline miss(es) in "
               f"{summary['frames']} frames"),
    )
    section.add_figure(
        "decision-log", decision_log_figure(result, session.rig, roi=10, threshold=1.0),
        caption=("The decision log on the time axis: true hidden state (shaded) and the online decoder's output; "
                 "the online dF/F of ROI 10 against its true dF/F, the threshold, and every stimulation sent by "
                 "each policy. decisions.jsonl (from `neuralscope loop run --out`) holds each with its timestamps."),
        score=(f"decoder accuracy {scores.get('decoder_accuracy', float('nan')):.2f} vs the true state "
               f"(chance {scores.get('decoder_chance', float('nan')):.2f}); {summary['stimulations']} stimulation(s); "
               f"{len(bo.trials_)} optimisation trial(s)"),
    )
    section.add_figure(
        "registration", _shift_figure(result, session.rig, np.asarray(scores["registration_offset_px"])),
        caption=("Online rigid shifts against the rig's true motion (the constant offset between the reference, "
                 "built from the calibration session, and the rig's origin removed)."),
        score=(f"registration RMSE {scores['registration_rmse_px']:.3f} px (max {scores['registration_max_error_px']:.2f}); "
               f"online dF/F vs true dF/F: median r = {scores.get('trace_correlation_median', float('nan')):.3f}"),
    )
    if bo.trials_:
        rows = [[i, f"{t['params']['orientation']:.1f}", f"{t['value']:.3f}"] for i, t in enumerate(bo.trials_)]
        best = max(range(len(rows)), key=lambda i: bo.trials_[i]["value"])
        section.add_table(f"Optimisation trials ({bo.optimizer_name_}); best: trial {best}",
                          ["trial", "orientation (deg)", "response (dF/F)"], rows[:40])
    section.add_note(f"Section time {time.perf_counter() - t_start:.1f} s.")
    return [(section, metrics)]
