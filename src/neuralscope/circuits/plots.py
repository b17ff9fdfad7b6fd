"""Figures for simulations: rasters, population rates, perturbation effects, f-I checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from neuralscope.circuits.results import SimulationResult


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def raster_figure(results: Mapping[str, SimulationResult], neurons: Sequence[Any], *, trial: int = 0,
                  groups: Sequence[str] | None = None, max_neurons: int = 400):
    """Spike rasters of one trial, one panel per condition; rows are ``neurons`` in the given order."""
    plt = _plt()
    neurons = list(neurons)[:max_neurons]
    labels = list(groups)[:max_neurons] if groups is not None else None
    fig, axes = plt.subplots(1, len(results), figsize=(4.6 * len(results), 3.6), sharey=True, squeeze=False)
    palette = plt.get_cmap("tab10")
    kinds = sorted(set(labels)) if labels is not None else []
    for ax, (name, res) in zip(axes[0], results.items()):
        idx = res._select(neurons)
        row_of = np.full(res.n_neurons, -1)
        row_of[idx] = np.arange(len(idx))
        m = (res.trials == trial) & (row_of[res.neurons] >= 0)
        rows, t = row_of[res.neurons[m]], res.times[m]
        if labels is None:
            ax.scatter(t, rows, s=1.5, c="k", marker="|", linewidths=0.6)
        else:
            lab = np.asarray(labels)
            for k, kind in enumerate(kinds):
                sel = lab[rows] == kind
                ax.scatter(t[sel], rows[sel], s=2, color=palette(k % 10), marker="|", linewidths=0.7, label=kind)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_xlim(0, res.duration)
        ax.set_ylim(len(neurons), -1)
    axes[0, 0].set_ylabel("neuron")
    if labels is not None:
        axes[0, -1].legend(fontsize=7, markerscale=4, loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def population_rate_figure(results: Mapping[str, SimulationResult], neurons: Sequence[Any] | None = None, *,
                           bin_size: float = 0.01, title: str = "population rate"):
    """Trial-averaged population rate over time (mean and 95 % band across trials) per condition."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    for name, res in results.items():
        t, pr = res.population_rate(bin_size, neurons)
        mean = pr.mean(0)
        ax.plot(t, mean, label=name, lw=1.2)
        if len(pr) > 1:
            half = 1.96 * pr.std(0, ddof=1) / np.sqrt(len(pr))
            ax.fill_between(t, mean - half, mean + half, alpha=0.25)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rate per neuron (Hz)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def effect_figure(comparison: pd.DataFrame, *, labels: Sequence[str] | None = None, title: str = "",
                  names: tuple[str, str] = ("perturbed", "control")):
    """Per-neuron rates in two conditions and their difference with confidence intervals."""
    plt = _plt()
    df = comparison
    x = np.arange(len(df))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(5.0, 0.16 * len(df) + 2), 4.6), sharex=True)
    ax1.bar(x - 0.2, df["control_rate_hz"], 0.4, label=names[1], color="0.6")
    ax1.bar(x + 0.2, df["rate_hz"], 0.4, label=names[0], color="tab:red")
    ax1.set_ylabel("rate (Hz)")
    ax1.legend(fontsize=8, frameon=False)
    ax1.set_title(title, fontsize=9)
    err = np.vstack([df["difference_hz"] - df["ci_low"], df["ci_high"] - df["difference_hz"]])
    ax2.errorbar(x, df["difference_hz"], yerr=np.nan_to_num(err), fmt="o", ms=3, color="k", lw=0.8)
    ax2.axhline(0, color="0.5", lw=0.6)
    ax2.set_ylabel("difference (Hz)\n95 % CI")
    ax2.set_xticks(x)
    ax2.set_xticklabels(labels if labels is not None else [str(i) for i in df.index], rotation=90, fontsize=6)
    fig.tight_layout()
    return fig


def fi_figure(currents: np.ndarray, simulated: np.ndarray, analytic: np.ndarray):
    """Single-neuron f-I curve: simulated rate against the analytic LIF rate."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    ax.plot(currents, analytic, "-", color="0.4", label="analytic (continuous time)")
    ax.plot(currents, simulated, "o", ms=4, color="tab:blue", label="simulated (dt = 0.1 ms)")
    ax.set_xlabel("input (mV of steady depolarisation)")
    ax.set_ylabel("rate (Hz)")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
