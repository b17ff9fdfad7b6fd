"""The spike-inference part of ``neuralscope demo``: simulated dF/F of several
indicators, frame rates and noise levels -> spikes by the deep model and by
OASIS, scored against the simulated ground truth."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from neuralscope.report import Section

# (indicator, frame rate Hz, CASCADE noise level): a spread of typical recordings.
CONDITIONS = [("GCaMP6f", 30.0, 2.0), ("GCaMP6s", 15.0, 3.0), ("OGB-1", 60.0, 1.5), ("GCaMP8m", 100.0, 4.0)]


def _example_figure(sim, deep: np.ndarray, oasis: np.ndarray, cell: int, seconds: float = 20.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = int(seconds * sim.fs)
    t = np.arange(n) / sim.fs
    fig, axes = plt.subplots(3, 1, figsize=(9, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1, 1]})
    axes[0].plot(t, sim.dff[cell, :n], color="0.3", lw=0.8, label="dF/F (noisy)")
    axes[0].plot(t, sim.calcium[cell, :n], color="tab:green", lw=1.0, label="noise-free")
    axes[0].set_ylabel("dF/F")
    axes[0].legend(loc="upper right", fontsize=8, frameon=False)
    spikes = sim.spike_times[cell][sim.spike_times[cell] < seconds]
    for ax, rate, name, color in ((axes[1], deep, "deep", "tab:blue"), (axes[2], oasis, "OASIS", "tab:orange")):
        ax.plot(t, rate[cell, :n] * sim.fs, color=color, lw=0.9, label=f"{name} (spikes/s)")
        ax.plot(spikes, np.full(spikes.size, -0.08) * max(1e-9, np.max(rate[cell, :n] * sim.fs)), "|", color="k",
                ms=6, label="true spikes")
        ax.legend(loc="upper right", fontsize=8, frameon=False)
    axes[2].set_xlabel("time (s)")
    fig.suptitle(f"{sim.indicator.name}, {sim.fs:g} Hz, noise level {sim.noise_level:g}", fontsize=10)
    fig.tight_layout()
    return fig


def demo_sections(seed: int = 0, quick: bool = False,
                  progress: Callable[[str], None] | None = None) -> list[tuple[Section, dict]]:
    """Spike inference on simulated traces with ground truth (deep model vs OASIS)."""
    from neuralscope.datasets.calcium import simulate_calcium_traces
    from neuralscope.imaging.spikes import event_precision_recall, infer_spikes, spike_correlation
    from neuralscope.imaging.spikes.deep import DeepSpikeInference

    DeepSpikeInference.load_default().predict(np.zeros((1, 64)), 25.0)  # load and warm up outside the timing
    say = progress or (lambda m: None)
    t_start = time.perf_counter()
    section = Section(
        "Spikes from calcium: deep spike inference vs OASIS", key="imaging-spikes",
        intro=("Simulated dF/F traces (double-exponential indicator kinetics with saturation, Poisson firing with "
               "bursts, white noise at the CASCADE noise level) at several indicators, frame rates and noise levels. "
               "The shipped deep model (trained by scripts/train_spike_inference.py on simulations and the real "
               "CASCADE and Spikefinder ground truth) and noise-constrained AR(1) OASIS infer spikes; both are scored "
               "against the simulated spikes: Pearson r in 40 ms bins (one bin per frame below 25 Hz) and event "
               "F1 within 100 ms. The real ground truth is not shipped (GPL-3 / unlicensed data): "
               "benchmarks/imaging_spikes.py scores it leave-one-dataset-out."),
    )
    n_neurons, duration = (8, 60.0) if quick else (20, 120.0)
    rows, metrics = [], {}
    shown = None
    for k, (indicator, fs, nu) in enumerate(CONDITIONS):
        say(f"imaging-spikes: {indicator} at {fs:g} Hz, noise {nu:g}")
        sim = simulate_calcium_traces(n_neurons=n_neurons, duration=duration, fs=fs, indicator=indicator,
                                      noise_level=nu, rate=1.0, firing="bursts", random_state=seed + k)
        c0 = time.process_time()
        deep, info = infer_spikes(sim.dff, fs, method="deep", return_info=True)
        cost = (time.process_time() - c0) / (n_neurons * duration / 60.0)
        oasis = infer_spikes(sim.dff, fs, method="oasis")
        r_deep = float(np.nanmean(spike_correlation(deep, sim.spikes, fs)))
        r_oasis = float(np.nanmean(spike_correlation(oasis, sim.spikes, fs)))
        f1 = float(np.mean([event_precision_recall(d, s, fs)["f1"] for d, s in zip(deep, sim.spikes)]))
        ratio = float(deep.sum() / max(sim.spikes.sum(), 1))
        key = f"{indicator}_{fs:g}Hz"
        metrics[key] = {"r_deep": r_deep, "r_oasis": r_oasis, "event_f1_deep": f1, "count_ratio_deep": ratio,
                        "cpu_s_per_neuron_minute_deep": cost}
        rows.append([indicator, f"{fs:g}", f"{nu:g}", f"{r_deep:.3f}", f"{r_oasis:.3f}", f"{f1:.2f}",
                     f"{ratio:.2f}", f"{cost * 1e3:.2f}"])
        if shown is None:
            shown = (sim, deep, oasis, int(np.argsort(sim.spikes.sum(1))[n_neurons // 2]))
    metrics["model"] = info["model"]
    metrics["r_deep_mean"] = float(np.mean([v["r_deep"] for v in metrics.values() if isinstance(v, dict)]))
    metrics["r_oasis_mean"] = float(np.mean([v["r_oasis"] for v in metrics.values() if isinstance(v, dict)
                                             and "r_oasis" in v]))
    section.add_table("Simulated ground truth, per condition (mean over cells)",
                      ["indicator", "fs (Hz)", "noise", "r deep", "r OASIS", "event F1 deep",
                       "deep spikes / true", "deep ms CPU / neuron-min"], rows)
    sim, deep, oasis, cell = shown
    section.add_figure(
        "spike-inference-example", _example_figure(sim, deep, oasis, cell),
        caption=(f"One simulated cell: dF/F, then inferred rates of the deep model ({info['model']}) and OASIS "
                 "with the true spike times (ticks)."),
        score=(f"mean r over the {len(CONDITIONS)} conditions: deep {metrics['r_deep_mean']:.3f}, "
               f"OASIS {metrics['r_oasis_mean']:.3f} (40 ms bins)"),
    )
    section.add_note(f"Section time {time.perf_counter() - t_start:.1f} s.")
    return [(section, metrics)]
