"""Figures of the design capability: regret curves, RF maps, RF error vs trials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def regret_figure(curves: Mapping[str, Sequence[Sequence[float]]], title: str = "", n_initial: int | None = None):
    """Median and inter-quartile band of simple regret vs evaluations, one line per method (log y)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for name, runs in curves.items():
        R = np.maximum(np.asarray(runs, float), 1e-6)
        x = np.arange(1, R.shape[1] + 1)
        q1, med, q3 = np.percentile(R, [25, 50, 75], axis=0)
        ax.plot(x, med, label=f"{name} (median of {len(R)})")
        ax.fill_between(x, q1, q3, alpha=0.2)
    if n_initial:
        ax.axvline(n_initial + 0.5, color="0.6", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("simple regret")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def rf_maps_figure(neuron, results: Mapping[str, object], n_per_axis: int = 60):
    """The true rate map and each strategy's estimate, with the stimuli it used."""
    plt = _plt()
    from neuralscope.design.rfmap import _grid

    b = np.asarray(neuron.bounds, float)
    pts = _grid(b, n_per_axis)
    shape = (n_per_axis, n_per_axis)
    extent = (b[0, 0], b[0, 1], b[1, 0], b[1, 1])  # first stimulus axis horizontal
    true = neuron.rate(pts).reshape(shape).T
    fig, axes = plt.subplots(1, 1 + len(results), figsize=(2.6 * (1 + len(results)), 2.9))
    vmax = float(true.max())
    axes[0].imshow(true, origin="lower", extent=extent, aspect="auto", vmin=0, vmax=vmax, cmap="viridis")
    axes[0].set_title("true RF", fontsize=9)
    for ax, (name, res) in zip(axes[1:], results.items()):
        est = res.model.predict_rate(pts).reshape(shape).T
        ax.imshow(est, origin="lower", extent=extent, aspect="auto", vmin=0, vmax=vmax, cmap="viridis")
        ax.scatter(res.stimuli[:, 0], res.stimuli[:, 1], s=3, c="w", alpha=0.6, lw=0)
        ax.set_title(f"{name}: {len(res.stimuli)} trials, error {res.errors[-1]:.2f}", fontsize=9)
    for ax in axes:
        ax.set_xlabel(neuron.axes[0], fontsize=8)
        ax.set_ylabel(neuron.axes[1], fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def rf_error_figure(curves: Mapping[str, Sequence[tuple[Sequence[int], Sequence[float]]]], target: float | None = None):
    """RF error vs trials: median over neurons (and the individual runs faintly)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for name, runs in curves.items():
        n = np.asarray(runs[0][0])
        E = np.asarray([r[1] for r in runs], float)
        line = ax.plot(n, np.median(E, 0), label=f"{name} (median of {len(E)})")[0]
        for e in E:
            ax.plot(n, e, color=line.get_color(), alpha=0.15, lw=0.8)
    if target is not None:
        ax.axhline(target, color="0.4", ls="--", lw=1, label=f"target {target:g}")
    ax.set_xlabel("trials")
    ax.set_ylabel("RF error (relative RMSE of the rate map)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
