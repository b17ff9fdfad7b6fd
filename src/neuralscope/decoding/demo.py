"""The decoding part of ``neuralscope demo``: simulated populations with
known ground truth, decoded by linear and deep models."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from neuralscope.decoding.analysis import run_decoding
from neuralscope.decoding.plots import decoding_section
from neuralscope.report import Section


def _tuning_information(attrs: dict[str, Any]) -> np.ndarray | None:
    """Per-neuron ground-truth information: the depth of its tuning curve."""
    curves = attrs.get("tuning_curves")
    if curves is None:
        return None
    curves = np.asarray(curves, float)
    return curves.max(axis=-1) - curves.min(axis=-1)


def demo_sections(seed: int = 0, quick: bool = False, progress: Callable[[str], None] | None = None) -> list[tuple[Section, dict]]:
    """Decode orientation from a tuned population and velocity from a motor population."""
    from neuralscope.datasets import simulate_reaching, simulate_tuning

    say = progress or (lambda m: None)
    out = []
    tuning = simulate_tuning(random_state=seed, **({"n_trials_per_stimulus": 15} if quick else {}))
    cls_models = ["linear", "svm", "cnn"] if quick else ["linear", "svm", "cnn", "gru", "transformer"]
    say("tuning population: orientation decoding")
    bars = progress is not None
    an = run_decoding(tuning, models=cls_models, target="stimulus", cv=5, seed=seed, progress=say, progress_bars=bars)
    sec = decoding_section(
        an, "See: decoding orientation from a tuned population",
        intro=(f"Simulated orientation-tuned Poisson population ({tuning.n_neurons} neurons, "
               f"{tuning.n_trials} trials, {tuning.n_time} bins at {tuning.fs:g} Hz). "
               "Linear and deep decoders, 5-fold stratified cross-validation; every score is out-of-fold."),
        key="decoding-tuning", fs=tuning.fs, bin_times=tuning.times, truth_importance=_tuning_information(tuning.attrs),
    )
    out.append((sec, an.to_json()))

    reaching = simulate_reaching(random_state=seed, **({"duration": 120.0} if quick else {}))
    reg_models = ["wiener", "kalman"] if quick else ["wiener", "wiener-cascade", "kalman", "gru"]
    say("motor population: velocity decoding")
    an = run_decoding(
        reaching, models=reg_models, target="velocity", cv=5, n_history=10, seed=seed, progress=say, progress_bars=bars
    )
    sec = decoding_section(
        an, "See: decoding hand velocity from a motor population",
        intro=(f"Simulated cosine-tuned motor population ({reaching.n_neurons} neurons, "
               f"{reaching.duration:.0f} s at {reaching.fs:g} Hz) driven by smooth 2-D reaches. "
               "5 contiguous time blocks, 10 bins of history, a guard gap between blocks."),
        key="decoding-reaching", fs=reaching.fs,
    )
    out.append((sec, an.to_json()))
    if quick:
        return out

    from neuralscope.datasets import load_m1_builtin

    m1 = load_m1_builtin()
    say("real macaque M1: velocity decoding")
    an = run_decoding(
        m1, models=["wiener", "kalman", "lstm"], target="velocity", cv=5, n_history=10, seed=seed,
        progress=say, progress_bars=bars,
    )
    sec = decoding_section(
        an, "See: decoding hand velocity from real macaque M1",
        intro=(f"Real recording shipped with neuralscope: {m1.n_neurons} M1 units, {m1.duration / 60:.1f} min "
               f"of centre-out reaching in 50 ms bins (Stevenson et al. 2011, Miller lab; MIT-licensed copy "
               "from KordingLab/spykesML). Ground truth is the measured hand velocity. 5 contiguous time "
               "blocks with a 10-bin guard gap, 10 bins of history."),
        key="decoding-m1", fs=m1.fs,
    )
    out.append((sec, an.to_json()))
    return out
