"""Scores of a closed-loop run against the simulated rig's ground truth, and its figures."""

from __future__ import annotations

import numpy as np


def score_against_truth(result, rig, skip_s: float = 2.0) -> dict:
    """Registration error, trace correlation and decoding accuracy of a run on a :class:`SimulatedRig`.

    Registration is scored after removing the constant offset between the
    reference (built from another session) and the rig's zero position; the
    first ``skip_s`` seconds (the dF/F warm-up) are left out of the trace
    and decoder scores.
    """
    truth = rig.truth()
    n = min(result.frames, truth.shifts.shape[0])
    diff = result.shifts[:n] - truth.shifts[:n]
    offset = np.median(diff, axis=0)
    err = np.hypot(*(diff - offset).T)
    out = {
        "registration_offset_px": offset.tolist(),
        "registration_rmse_px": float(np.sqrt(np.mean(err ** 2))),
        "registration_max_error_px": float(err.max()),
        "true_motion_sd_px": float(np.std(truth.shifts[:n], axis=0).mean()),
    }
    skip = min(n - 2, int(round(skip_s * result.fs)))
    if "dff" in result.traces and n - skip > 10:
        est = result.traces["dff"][skip:n].astype(np.float64)
        ref = truth.calcium[skip:n].astype(np.float64)
        ok = (est.std(0) > 0) & (ref.std(0) > 0)
        corr = np.full(est.shape[1], np.nan)
        e = (est[:, ok] - est[:, ok].mean(0)) / est[:, ok].std(0)
        r = (ref[:, ok] - ref[:, ok].mean(0)) / ref[:, ok].std(0)
        corr[ok] = (e * r).mean(0)
        out["trace_correlation_median"] = float(np.nanmedian(corr))
        out["trace_correlation_p10"] = float(np.nanpercentile(corr, 10))
        ca = result.traces["calcium"][skip:n].astype(np.float64)
        okc = ok & (ca.std(0) > 0)
        c = (ca[:, okc] - ca[:, okc].mean(0)) / ca[:, okc].std(0)
        out["calcium_correlation_median"] = float(np.median((c * r[:, okc[ok]]).mean(0))) if okc.any() else float("nan")
    if "decoded" in result.traces and n - skip > 10:
        dec = np.asarray(result.traces["decoded"][skip:n])
        state = truth.state[skip:n]
        out["decoder_accuracy"] = float(np.mean(dec == state))
        out["decoder_chance"] = float(max(state.mean(), 1 - state.mean()))
    return out


def latency_figure(result, title: str = "per-frame latency"):
    """Histogram of per-frame latency with p50, p99 and the deadline."""
    import matplotlib.pyplot as plt

    lat = result.latency_s * 1e3
    deadline = 1e3 / result.fs
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [2, 1]})
    hi = max(float(np.percentile(lat, 99.9)) * 1.2, 12.0, deadline * 1.05)
    ax[0].hist(np.clip(lat, 0, hi), bins=80, range=(0, hi), color="#4a78c2")
    for q, style in ((50, "-"), (99, "--")):
        v = float(np.percentile(lat, q))
        ax[0].axvline(v, color="k", ls=style, lw=1, label=f"p{q} {v:.2f} ms")
    if deadline <= hi:
        ax[0].axvline(deadline, color="#c23b3b", lw=1.5, label=f"deadline {deadline:.1f} ms")
    ax[0].axvline(10.0, color="#e39b2d", lw=1, ls=":", label="target p99 10 ms")
    ax[0].set_xlabel("latency (ms): frame in memory -> decision sent")
    ax[0].set_ylabel("frames")
    ax[0].set_yscale("log")
    ax[0].legend(fontsize=8)
    ax[0].set_title(title, fontsize=10)
    from neuralscope.closedloop.pipeline import STAGES

    med = np.median(result.stage_s, axis=0) * 1e3
    p99 = np.percentile(result.stage_s, 99, axis=0) * 1e3
    y = np.arange(len(STAGES))
    ax[1].barh(y - 0.2, med, height=0.4, label="p50", color="#4a78c2")
    ax[1].barh(y + 0.2, p99, height=0.4, label="p99", color="#9bb5e0")
    ax[1].set_yticks(y, STAGES)
    ax[1].invert_yaxis()
    ax[1].set_xlabel("ms per frame")
    ax[1].legend(fontsize=8)
    ax[1].set_title("per stage", fontsize=10)
    fig.tight_layout()
    return fig


def decision_log_figure(result, rig=None, roi: int | None = None, threshold: float | None = None):
    """The decision log on a time axis: hidden state vs decoded state, a watched trace, every stimulation."""
    import matplotlib.pyplot as plt

    t = np.arange(result.frames) / result.fs
    fig, ax = plt.subplots(2, 1, figsize=(10, 4.2), sharex=True)
    if rig is not None:
        ax[0].fill_between(t, 0, rig.truth().state[: result.frames], step="mid", color="#cfd8e8", label="true state")
    if "decoded" in result.traces:
        ax[0].step(t, np.asarray(result.traces["decoded"], dtype=float), where="mid", color="#2456a6", lw=0.8,
                   label="decoded")
    ax[0].set_yticks([0, 1])
    ax[0].set_ylabel("state")
    if roi is not None and "dff" in result.traces:
        ax[1].plot(t, result.traces["dff"][:, roi], color="#333", lw=0.6, label=f"ROI {roi} dF/F (online)")
        if rig is not None:
            ax[1].plot(t, rig.truth().calcium[: result.frames, roi], color="#3aa55d", lw=0.6, alpha=0.7,
                       label="true dF/F")
        if threshold is not None:
            ax[1].axhline(threshold, color="#e39b2d", ls=":", lw=1)
    colors = {"decoded-state": "#c23b3b", "threshold": "#e39b2d", "bo-stimulus": "#8a4fc2"}
    seen = set()
    for d in result.decisions:
        if d["kind"] != "stimulate":
            continue
        c = colors.get(d["policy"], "k")
        lab = None if d["policy"] in seen else f"{d['policy']} stimulation"
        seen.add(d["policy"])
        for a in ax:
            a.axvline(d["frame"] / result.fs, color=c, lw=0.8, alpha=0.8, label=lab if a is ax[0] else None)
    ax[0].legend(fontsize=7, loc="upper right", ncol=4)
    ax[1].legend(fontsize=7, loc="upper right")
    ax[1].set_xlabel("time (s)")
    ax[1].set_ylabel("dF/F")
    fig.tight_layout()
    return fig
