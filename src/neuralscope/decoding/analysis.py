"""Decoding analysis end to end: data object in, metrics and report section out.

This is what ``neuralscope decode`` and the decoding part of ``neuralscope
demo`` run: several decoders cross-validated on the same folds, plus the
views a scientist asks for next (confusion matrices, time-resolved accuracy,
per-neuron importance, learning curve, a deep decoder's latent space).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity
from neuralscope.decoding.evaluation import (
    CVResult,
    cross_validate_decoder,
    learning_curve,
    permutation_importance_neurons,
    resolve_scoring,
    time_resolved_accuracy,
)
from neuralscope.decoding.registry import DEEP, check_model_names, make_decoder

_PREFERRED_LABELS = ("stimulus", "label", "y", "condition", "target")
_PREFERRED_COVARIATES = ("velocity", "y", "position")


@dataclass
class DecodingAnalysis:
    """Everything one decoding run produced (all scores out-of-fold)."""

    task: str
    target: str
    models: dict[str, CVResult]
    n_samples: int
    n_neurons: int
    cv: int
    seed: int
    time_resolved: dict[str, Any] | None = None
    importance: dict[str, Any] | None = None
    learning: dict[str, Any] | None = None
    latent: dict[str, Any] | None = None
    times_s: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The documented machine-readable result (see README, ``decode --json``)."""
        out: dict[str, Any] = {
            "task": self.task,
            "target": self.target,
            "cv": self.cv,
            "seed": self.seed,
            "n_samples": self.n_samples,
            "n_neurons": self.n_neurons,
            "models": {},
        }
        for name, res in self.models.items():
            m = dict(res.metrics)
            if self.task == "classification":
                keep = ("accuracy", "balanced_accuracy", "chance", "confusion_matrix", "classes", "fit_time_s")
            else:
                keep = ("r2", "r2_mean", "correlation", "correlation_mean", "fit_time_s")
            out["models"][name] = {k: m[k] for k in keep if k in m}
        if self.time_resolved is not None:
            out["time_resolved"] = self.time_resolved
        if self.importance is not None:
            out["neuron_importance"] = self.importance
        if self.learning is not None:
            out["learning_curve"] = self.learning
        return out


def select_target(data: ContinuousActivity | TrialActivity, target: str | None) -> tuple[str, str]:
    """Choose the task and the target column/covariate name."""
    if isinstance(data, TrialActivity):
        cols = [str(c) for c in data.trials.columns]
        if target is None:
            target = next((c for c in _PREFERRED_LABELS if c in cols), cols[0] if len(cols) == 1 else None)
        if target not in cols:
            raise NeuralscopeError("--target", f"a trial label among {cols}", target)
        return "classification", target
    names = list(data.covariates)
    if target is None:
        target = next((c for c in _PREFERRED_COVARIATES if c in names), names[0] if len(names) == 1 else None)
    if target not in names:
        raise NeuralscopeError("--target", f"a behaviour covariate among {names}", target)
    return "regression", target


def run_decoding(
    data: ContinuousActivity | TrialActivity,
    *,
    models: list[str],
    target: str | None = None,
    cv: int = 5,
    n_history: int = 10,
    seed: int = 0,
    extras: bool = True,
    progress: Callable[[str], None] | None = None,
    progress_bars: bool = False,
) -> DecodingAnalysis:
    """Cross-validate each named decoder on ``data`` and compute the extra views.

    Parameters
    ----------
    data : TrialActivity or ContinuousActivity
        Trials → classification of a trial label; continuous → regression of a
        behaviour covariate with ``n_history`` bins of causal history.
    models : list of str
        Decoder names (see :func:`neuralscope.decoding.registry.available_decoders`).
    target : str, optional
        Label column or covariate name (chosen automatically when unambiguous).
    cv : int
        Folds: stratified over trials, contiguous time blocks for continuous data.
    n_history : int
        History bins for regression (also the guard gap between CV blocks).
    seed : int
        Seed for the folds and every model.
    extras : bool
        Also compute time-resolved accuracy, neuron importance, learning curve
        and a deep decoder's latent space.
    progress : callable, optional
        Called with a short message before each step.
    progress_bars : bool
        Show a progress bar over the folds of each model (stderr).
    """
    say = progress or (lambda msg: None)
    task, target = select_target(data, target)
    check_model_names(models, task)
    if isinstance(data, TrialActivity):
        X, y = data.data, data.labels(target)
        gap = 0
    else:
        X, y = data.data, data.covariate(target)
        gap = n_history
    results: dict[str, CVResult] = {}
    times: dict[str, float] = {}
    for name in models:
        say(f"decoding with {name}")
        est = make_decoder(name, task, random_state=seed, n_history=n_history)
        t0 = time.perf_counter()
        results[name] = cross_validate_decoder(
            est, X, y, cv=cv, gap=gap, random_state=seed, keep_estimators=name in DEEP,
            progress=name if progress_bars else None,
        )
        times[name] = time.perf_counter() - t0
    analysis = DecodingAnalysis(task, target, results, int(X.shape[0]), int(X.shape[1]), cv, seed, times_s=times)
    if extras:
        _add_extras(analysis, X, y, models, n_history, gap, seed, say)
    return analysis


def _add_extras(
    analysis: DecodingAnalysis, X: np.ndarray, y: np.ndarray, models: list[str],
    n_history: int, gap: int, seed: int, say: Callable[[str], None],
) -> None:
    task = analysis.task
    fast = "linear" if task == "classification" else "wiener"
    est = make_decoder(fast, task, random_state=seed, n_history=n_history)
    if task == "classification" and X.ndim == 3 and X.shape[2] > 1:
        say("time-resolved decoding")
        acc = time_resolved_accuracy(est, X, y, cv=analysis.cv, random_state=seed)
        analysis.time_resolved = {"model": fast, "bin": list(range(X.shape[2])), "accuracy": acc.tolist()}
    say("neuron importance")
    # Long recordings: one shuffle per neuron and fold already averages over thousands of samples.
    n_repeats = 1 if X.shape[0] > 5000 else 3
    imp = permutation_importance_neurons(est, X, y, cv=analysis.cv, gap=gap, n_repeats=n_repeats, random_state=seed)
    analysis.importance = {"model": fast, "scoring": resolve_scoring(est), "drop_in_score": imp.tolist()}
    say("learning curve")
    fractions = (0.1, 0.3, 1.0) if X.shape[0] > 5000 else (0.1, 0.25, 0.5, 0.75, 1.0)
    curve = learning_curve(est, X, y, train_fractions=fractions, cv=analysis.cv, random_state=seed)
    analysis.learning = {"model": fast, **curve}
    deep = [m for m in models if m in DEEP]
    if deep:
        res = analysis.models[deep[0]]
        if res.estimators:
            model = res.estimators[-1]
            test = res.fold == len(res.estimators) - 1
            z = np.asarray(model.transform(X[test]))
            analysis.latent = {"model": deep[0], "z": z, "y": y[test]}
