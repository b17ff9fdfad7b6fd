"""Figures of a decoding analysis, gathered into a report section."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import spearmanr

from neuralscope.decoding.analysis import DecodingAnalysis
from neuralscope.report import Section


def _bar_models(an: DecodingAnalysis) -> tuple[Any, str]:
    names = list(an.models)
    key = "accuracy" if an.task == "classification" else "r2_mean"
    vals = [an.models[n].metrics[key] for n in names]
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    ax.bar(names, vals, color="#3b6fb6")
    if an.task == "classification":
        ax.axhline(an.models[names[0]].metrics["chance"], color="grey", ls="--", lw=1, label="chance")
        ax.legend(frameon=False)
        ax.set_ylim(0, 1.02)
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(f"{an.cv}-fold {'accuracy' if key == 'accuracy' else 'R² (mean over outputs)'}")
    ax.set_title(f"Decoders on '{an.target}'")
    best = names[int(np.argmax(vals))]
    return fig, f"best: {best} {key} = {max(vals):.3f} (out-of-fold)"


def _confusions(an: DecodingAnalysis, section: Section) -> None:
    for name, res in list(an.models.items())[:4]:
        cm = np.asarray(res.metrics["confusion_matrix"], float)
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        classes = res.metrics["classes"]
        fig, ax = plt.subplots(figsize=(3.8, 3.4))
        im = ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
        ticks = np.arange(len(classes))
        ax.set_xticks(ticks, [str(c) for c in classes], rotation=90, fontsize=7)
        ax.set_yticks(ticks, [str(c) for c in classes], fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{name}: confusion (row-normalised)")
        fig.colorbar(im, ax=ax, fraction=0.046)
        section.add_figure(
            f"confusion_{name}", fig,
            caption=f"Out-of-fold confusion matrix of {name}; the diagonal is per-class recall.",
            score=f"accuracy {res.metrics['accuracy']:.3f}, balanced {res.metrics['balanced_accuracy']:.3f}",
        )


def _traces(an: DecodingAnalysis, section: Section, fs: float) -> None:
    names = list(an.models)
    first = an.models[names[0]]
    n_show = min(len(first.y_true), int(30 * fs))
    last_fold = first.fold == first.fold.max()
    idx = np.flatnonzero(last_fold)[:n_show]
    y = first.y_true.reshape(len(first.y_true), -1)
    n_out = y.shape[1]
    fig, axes = plt.subplots(n_out, 1, figsize=(9, 2.2 * n_out), sharex=True, squeeze=False)
    t = idx / fs
    for j in range(n_out):
        ax = axes[j, 0]
        ax.plot(t, y[idx, j], color="black", lw=1.4, label="true")
        for name in names:
            pred = an.models[name].y_pred.reshape(len(y), -1)
            ax.plot(t, pred[idx, j], lw=0.9, label=f"{name} (R² {an.models[name].metrics['r2'][j]:.2f})")
        ax.set_ylabel(f"{an.target}[{j}]")
    axes[0, 0].legend(frameon=False, fontsize=7, ncol=min(len(names) + 1, 4))
    axes[-1, 0].set_xlabel("time (s), held-out block")
    best = max(names, key=lambda n: an.models[n].metrics["r2_mean"])
    section.add_figure(
        "predictions", fig,
        caption="True covariate and each decoder's out-of-fold prediction over 30 s of the last held-out block.",
        score=f"best {best}: R² {an.models[best].metrics['r2_mean']:.3f}",
    )


def _time_resolved(an: DecodingAnalysis, section: Section, times: np.ndarray | None) -> None:
    tr = an.time_resolved
    acc = np.asarray(tr["accuracy"])
    x = times if times is not None and len(times) == len(acc) else np.arange(len(acc))
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    ax.plot(x, acc, marker="o", ms=3, color="#3b6fb6")
    chance = next(iter(an.models.values())).metrics["chance"]
    ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("time from stimulus onset (s)" if times is not None else "time bin")
    ax.set_ylabel("accuracy (out-of-fold)")
    ax.set_title(f"Time-resolved decoding ({tr['model']})")
    ax.legend(frameon=False)
    section.add_figure(
        "time_resolved", fig,
        caption="A decoder fitted on each time bin alone: when does the population carry the label?",
        score=f"peak {acc.max():.3f} at bin {int(acc.argmax())}; chance {chance:.3f}",
    )


def _importance(an: DecodingAnalysis, section: Section, truth: np.ndarray | None) -> None:
    imp = np.asarray(an.importance["drop_in_score"])
    order = np.argsort(imp)[::-1]
    if truth is not None and len(truth) == len(imp):
        rho = float(spearmanr(imp, truth).statistic)
        fig, axes = plt.subplots(1, 2, figsize=(8.6, 3.2))
        axes[1].scatter(truth, imp, s=10, color="#3b6fb6")
        axes[1].set_xlabel("ground-truth tuning depth (Hz, simulated)")
        axes[1].set_ylabel("importance")
        axes[1].set_title(f"Spearman ρ = {rho:.2f}")
        ax = axes[0]
        score = f"rank correlation with ground truth ρ = {rho:.2f}"
    else:
        fig, ax = plt.subplots(figsize=(4.8, 3.2))
        score = f"top neuron {int(order[0])}: drop {imp[order[0]]:.3f}"
    top = order[: min(30, len(order))]
    ax.bar(np.arange(len(top)), imp[top], color="#3b6fb6")
    ax.set_xticks(np.arange(len(top)), [str(i) for i in top], rotation=90, fontsize=6)
    ax.set_xlabel("neuron (sorted)")
    unit = {"log_likelihood": "log-likelihood (nats/trial)", "accuracy": "accuracy", "r2": "R²"}
    ax.set_ylabel(f"drop in held-out {unit.get(an.importance.get('scoring'), 'score')}")
    ax.set_title(f"Permutation importance ({an.importance['model']})")
    section.add_figure(
        "neuron_importance", fig,
        caption="Drop in held-out score when one neuron's activity is shuffled across test samples.",
        score=score,
    )


def _learning(an: DecodingAnalysis, section: Section) -> None:
    lc = an.learning
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    ax.plot(lc["n_train"], lc["score"], marker="o", color="#3b6fb6")
    ax.set_xlabel("training samples")
    ax.set_ylabel("held-out score")
    ax.set_title(f"Learning curve ({lc['model']})")
    section.add_figure(
        "learning_curve", fig,
        caption="Held-out score as the training set grows (test folds fixed).",
        score=f"{lc['score'][0]:.3f} → {lc['score'][-1]:.3f}",
    )


def _latent(an: DecodingAnalysis, section: Section) -> None:
    lat = an.latent
    z = np.asarray(lat["z"], float)
    z = z - z.mean(axis=0)
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    pcs = u[:, :2] * s[:2]
    y = np.asarray(lat["y"])
    fig, ax = plt.subplots(figsize=(4.4, 3.6))
    if an.task == "classification":
        for c in np.unique(y):
            m = y == c
            ax.scatter(pcs[m, 0], pcs[m, 1], s=10, label=str(c))
        ax.legend(frameon=False, fontsize=7, title=an.target, title_fontsize=7, markerscale=1.5)
        caption = "Held-out trials in the deep decoder's latent space (first two PCs), coloured by label."
    else:
        yy = y.reshape(len(y), -1)
        color = np.arctan2(yy[:, 1], yy[:, 0]) if yy.shape[1] >= 2 else yy[:, 0]
        sc = ax.scatter(pcs[:, 0], pcs[:, 1], s=4, c=color, cmap="hsv" if yy.shape[1] >= 2 else "viridis")
        fig.colorbar(sc, ax=ax, label="direction (rad)" if yy.shape[1] >= 2 else an.target)
        caption = "Held-out samples in the deep decoder's latent space (first two PCs), coloured by the covariate."
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(f"Latent space of {lat['model']}")
    var = s[:2] ** 2 / max((s**2).sum(), 1e-12)
    section.add_figure("latent", fig, caption=caption, score=f"PC1+PC2 explain {var.sum():.0%} of latent variance")


def decoding_section(
    an: DecodingAnalysis,
    title: str,
    *,
    intro: str = "",
    key: str = "decoding",
    fs: float = 1.0,
    bin_times: np.ndarray | None = None,
    truth_importance: np.ndarray | None = None,
) -> Section:
    """Build the report section of a decoding analysis.

    Parameters
    ----------
    an : DecodingAnalysis
    title, intro : str
    key : str
        Prefix of the section's figure files.
    fs : float
        Sampling rate (for time axes of continuous predictions).
    bin_times : array, optional
        Time of each trial bin relative to onset (time-resolved plot).
    truth_importance : array, optional
        Ground-truth per-neuron information (simulations) to score importance against.
    """
    sec = Section(title, intro, key=key)
    fig, score = _bar_models(an)
    sec.add_figure("models", fig, caption=f"{an.cv}-fold cross-validated comparison of decoders.", score=score)
    header = ["model"] + (["accuracy", "balanced acc.", "fit s/fold"] if an.task == "classification"
                          else ["R² mean", "R² per output", "corr. mean", "fit s/fold"])
    rows = []
    for name, res in an.models.items():
        m = res.metrics
        if an.task == "classification":
            rows.append([name, m["accuracy"], m["balanced_accuracy"], m["fit_time_s"]])
        else:
            rows.append([name, m["r2_mean"], ", ".join(f"{v:.3f}" for v in m["r2"]), m["correlation_mean"], m["fit_time_s"]])
    sec.add_table(f"Out-of-fold metrics, target '{an.target}', {an.n_samples} samples × {an.n_neurons} neurons", header, rows)
    if an.task == "classification":
        _confusions(an, sec)
    else:
        _traces(an, sec, fs)
    if an.time_resolved is not None:
        _time_resolved(an, sec, bin_times)
    if an.importance is not None:
        _importance(an, sec, truth_importance)
    if an.learning is not None:
        _learning(an, sec)
    if an.latent is not None:
        _latent(an, sec)
    return sec
