"""Sequential VAE (LFADS-class) against Gaussian spike smoothing, NLB metrics side by side.

Not a test: it prints co-smoothing bits per spike (held-out neurons, test
trials), PSTH R² (Lorenz, against the true rates) and velocity R² (M1), and
fit times, for both methods on the same split.

Protocol (Neural Latents Benchmark style, our own implementation in
``neuralscope.manifold.nlb``):

- Lorenz: ``simulate_lorenz_population`` with 30 neurons, 400 trials (40
  initial conditions x 10 trials), 50 bins of 20 ms, seed 0.
- Real M1 (``load_m1_builtin``: 50 ms bins, continuous): cut into consecutive
  pseudo-trials of 32 bins (1.6 s; 485 trials); neurons firing below 0.5 Hz
  are dropped (near-silent units carry no signal to predict).
- Split (``nlb_split``, seed 0): 25% of neurons held out, 20% of trials for
  test. Both methods see held-in and held-out spikes of the training trials
  and only held-in spikes of the test trials; co-bps is scored on the
  held-out neurons of the test trials.
- Spike smoothing (the NLB baseline): Gaussian kernel width and GLM penalty
  chosen by 3-fold CV over training trials, for linear and log features
  (the better CV score is kept).
- Sequential VAE: early stopping on 20% of the training trials.
- PSTH R² (Lorenz): condition-averaged test-trial rates of all neurons
  (smoothing: smoothed held-in spikes + predicted held-out rates) against the
  same average of the true rates. Velocity R² (M1): ridge from all neurons'
  rates on training trials to hand velocity 100 ms (2 bins) later, penalty by
  CV, scored on test trials.

Run: .venv/bin/python benchmarks/seqvae.py [--threads 1] [--quick] [--skip-real] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
import torch

from neuralscope.datasets import load_m1_builtin
from neuralscope.datasets.lorenz import simulate_lorenz_population
from neuralscope.io.atomic import write_text_atomic
from neuralscope.manifold.nlb import (
    NLBSplit,
    SpikeSmoothing,
    bits_per_spike,
    nlb_split,
    pseudo_trials,
    psth_r2,
    velocity_r2,
)
from neuralscope.manifold.seqvae import SequentialVAE

SEED = 0
#: Sequential-VAE settings per data set, chosen in a sweep (6 Lorenz and 15 M1
#: variants of size, inputs, dropout, batch, learning rate) by the lowest
#: validation loss on the training trials' validation split (the test co-bps
#: ranked the top variants the same way).
VAE_PARAMS: dict[str, dict[str, Any]] = {
    # Autonomous Lorenz dynamics: no inferred inputs needed.
    "lorenz": {"n_factors": 8, "encoder_size": 64, "generator_size": 64, "dropout": 0.05,
               "coordinated_dropout": 0.3, "lr": 1e-2, "batch_size": 32, "kl_warmup": 30, "max_epochs": 300,
               "patience": 30},
    # M1 pseudo-trials are cut at arbitrary times from input-driven activity:
    # inferred inputs and a wider factor space gave the best validation loss.
    "m1": {"n_factors": 32, "n_inputs": 4, "encoder_size": 64, "generator_size": 64, "controller_size": 32,
           "dropout": 0.05, "coordinated_dropout": 0.3, "lr": 1e-2, "batch_size": 64, "kl_warmup": 30,
           "max_epochs": 400, "patience": 30},
}
SMOOTHING_GRID = {
    "lorenz": {"kernel_sd": [1.0, 2.0, 3.0, 4.0], "alpha": [1e-3, 1e-2, 1e-1]},  # bins of 20 ms
    "m1": {"kernel_sd": [0.5, 1.0, 1.5, 2.0], "alpha": [1e-3, 1e-2, 1e-1, 1.0]},  # bins of 50 ms
}


def lorenz_data(n_trials: int = 400) -> tuple[np.ndarray, dict]:
    act = simulate_lorenz_population(n_neurons=30, n_trials=n_trials, n_time=50, fs=50.0,
                                     n_conditions=n_trials // 10, random_state=SEED)
    extra = {"true_rates": act.attrs["rates"] / act.fs, "condition": act.labels("condition")}
    return act.data, extra


def m1_data(n_bins: int = 32, min_rate_hz: float = 0.5) -> tuple[np.ndarray, dict]:
    trials = pseudo_trials(load_m1_builtin(), n_bins=n_bins)
    keep = trials.data.mean(axis=(0, 2)) * trials.fs >= min_rate_hz
    return trials.data[:, keep], {"velocity": trials.attrs["velocity"], "n_dropped_neurons": int((~keep).sum())}


def fit_smoothing(X: np.ndarray, split: NLBSplit, grid: dict) -> tuple[np.ndarray, float, dict]:
    """All-neuron rates of every trial from the smoothing baseline, fit time, chosen params."""
    tr = X[split.train]
    t0 = time.perf_counter()
    candidates = [SpikeSmoothing(log_offset=lo, **grid).fit(tr[:, split.heldin], tr[:, split.heldout])
                  for lo in (None, 1e-4)]
    model = max(candidates, key=lambda m: max(m.cv_results_["bits_per_spike"]))
    fit_s = time.perf_counter() - t0
    rates = np.empty(X.shape)
    rates[:, split.heldin] = model.smooth(X[:, split.heldin])
    rates[:, split.heldout] = model.predict(X[:, split.heldin])
    chosen = {"kernel_sd_bins": model.kernel_sd_, "alpha": model.alpha_,
              "features": "linear" if model.log_offset is None else "log"}
    return rates, fit_s, chosen


def fit_seqvae(X: np.ndarray, split: NLBSplit, params: dict) -> tuple[np.ndarray, float, dict]:
    t0 = time.perf_counter()
    model = SequentialVAE(random_state=SEED, device="cpu", **params)
    model.fit(X[split.train], heldout_neurons=split.heldout)
    fit_s = time.perf_counter() - t0
    # Held-out columns are blanked so no held-out spike of a test trial can reach the model.
    blind = X.astype(float).copy()
    blind[:, split.heldout] = np.nan
    return model.predict_rates(blind), fit_s, {"epochs": model.n_epochs_, "best_epoch": model.best_epoch_}


def evaluate(name: str, X: np.ndarray, extra: dict, split: NLBSplit, quick: bool) -> list[dict]:
    rows = []
    vae_params = dict(VAE_PARAMS[name])
    if quick:
        vae_params.update(max_epochs=40, kl_warmup=10)
    for method, run in (("spike smoothing", lambda: fit_smoothing(X, split, SMOOTHING_GRID[name])),
                        ("seqVAE", lambda: fit_seqvae(X, split, vae_params))):
        print(f"[{name}] fitting {method} ...", file=sys.stderr, flush=True)
        rates, fit_s, info = run()
        te = split.test
        row = {"set": name, "method": method, "fit_s": round(fit_s, 1),
               "co_bps": bits_per_spike(rates[te][:, split.heldout], X[te][:, split.heldout])}
        if "true_rates" in extra:
            row["psth_r2"] = psth_r2(rates[te], extra["true_rates"][te], extra["condition"][te])
        if "velocity" in extra:
            train_mask = np.isin(np.arange(len(X)), split.train)
            row["vel_r2"] = velocity_r2(rates, extra["velocity"], train_mask, lag=2)
        row.update(info)
        rows.append(row)
    if "true_rates" in extra:
        te = split.test
        rows.append({"set": name, "method": "true rates (oracle)",
                     "co_bps": bits_per_spike(extra["true_rates"][te][:, split.heldout], X[te][:, split.heldout]),
                     "psth_r2": 1.0})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: the small GRUs gain nothing from a second thread)")
    parser.add_argument("--quick", action="store_true", help="short VAE training (smoke run)")
    parser.add_argument("--skip-real", action="store_true", help="Lorenz only")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)  # the benchmark's choice; the library never changes it

    sets = [("lorenz", *lorenz_data(200 if args.quick else 400))]
    if not args.skip_real:
        sets.append(("m1", *m1_data()))
    rows: list[dict] = []
    for name, X, extra in sets:
        split = nlb_split(X.shape[1], X.shape[0], heldout_fraction=0.25, test_fraction=0.2, random_state=SEED)
        print(f"[{name}] {X.shape[0]} trials x {X.shape[1]} neurons x {X.shape[2]} bins; "
              f"{split.heldout.size} held-out neurons, {split.test.size} test trials", file=sys.stderr)
        rows.extend(evaluate(name, X, extra, split, args.quick))

    cols = ["set", "method", "co_bps", "psth_r2", "vel_r2", "fit_s"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU")
    print(" | ".join(f"{c:>20}" if c == "method" else f"{c:>8}" for c in cols))
    for row in rows:
        cells = []
        for c in cols:
            v = row.get(c, "")
            text = f"{v:.4f}" if isinstance(v, float) and c != "fit_s" else str(v)
            cells.append(f"{text:>20}" if c == "method" else f"{text:>8}")
        print(" | ".join(cells))
    if args.json:
        write_text_atomic(args.json, json.dumps(rows, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
