"""Spike inference on real ground truth: neuralscope (deep, OASIS-class) vs oasis-deconv.

- Leave-one-dataset-out (LODO) over the CASCADE ground-truth sets in
  ``../shared/data/calcium/cascade/Ground_truth``: for each held-out set, the deep
  model starts from the simulation-only weights (``deep_spikes_sim_v1``) and is
  fine-tuned on all *other* CASCADE sets (+ simulations), then scored on the
  held-out one. Spikefinder data are left out of these folds: two Spikefinder sets
  are the same recordings as CASCADE sets (Theis 2016), they would leak.
- Spikefinder training sets 4, 5, 6 (100 Hz): leave-one-set-out among them
  (fine-tuned on the other two + simulations only, no CASCADE data, for the same reason).
- Peers run side by side: ``oasis-deconv`` (the reference OASIS, AR(1) and AR(2),
  L1, noise-constrained, parameters estimated per trace) in its own venv under
  ``~/.cache/neuralscope-bench/oasis`` (installed on first use or with ``--setup``).
  CASCADE itself needs TensorFlow, which is not installed here; its published
  cost (~1.2 CPU-s per neuron-minute) is printed for reference.

Score: Pearson r per neuron between inferred rate and true counts in 40 ms bins
(Spikefinder convention; one bin per frame where frames are longer), averaged per
dataset; "overall" is the mean of the dataset means. Cost: CPU process time of
inference only, per neuron-minute of recording, one thread.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/imaging_spikes.py [--steps 1500] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "calcium"
PEER_DIR = Path.home() / ".cache" / "neuralscope-bench" / "oasis"
PEER_PY = PEER_DIR / "bin" / "python"
CASCADE_PUBLISHED_CPU_S = 1.2

_PEER_WORKER = r"""
import sys, time, warnings, numpy as np
warnings.filterwarnings("ignore", category=DeprecationWarning)  # oasis-deconv 0.3 deprecates its own 'g'
from oasis.functions import deconvolve
z = np.load(sys.argv[1]); out = {}
cpu = {}
for p in (1, 2):
    t0 = time.process_time()
    for k in z.files:
        y = z[k].astype(float)
        g = (None,) if p == 1 else (None, None)
        try:
            c, s, b, gg, lam = deconvolve(y, g=g, penalty=1)
        except Exception:
            s = np.zeros_like(y)
        out[f"p{p}_{k}"] = s
    cpu[p] = time.process_time() - t0
np.savez(sys.argv[2], cpu1=cpu[1], cpu2=cpu[2], **out)
"""


def setup_peer() -> None:
    """Install oasis-deconv into its own venv (never into .venv)."""
    if PEER_PY.exists() and subprocess.run([str(PEER_PY), "-c", "import oasis"], capture_output=True).returncode == 0:
        return
    print(f"installing oasis-deconv into {PEER_DIR}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(PEER_DIR)], check=True)
    pip = [str(PEER_DIR / "bin" / "pip"), "install", "-q"]
    subprocess.run(pip + ["numpy", "scipy", "cython", "setuptools"], check=True)
    subprocess.run(pip + ["oasis-deconv"], check=True)


def run_peer_oasis(traces: list) -> tuple[dict[int, list[np.ndarray]], dict[int, float]]:
    """oasis-deconv AR(1) and AR(2) on each trace; returns spikes per order and CPU seconds per order."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, **{f"t{i}": tr.dff for i, tr in enumerate(traces)})
        env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
        subprocess.run([str(PEER_PY), "-c", _PEER_WORKER, str(src), str(dst)], check=True, env=env)
        with np.load(dst) as z:
            spikes = {p: [z[f"p{p}_t{i}"] for i in range(len(traces))] for p in (1, 2)}
            cpu = {1: float(z["cpu1"]), 2: float(z["cpu2"])}
    return spikes, cpu


def per_neuron_r(traces: list, outputs: list[np.ndarray]) -> list[float]:
    """r per neuron: binned segments of one neuron are concatenated before correlating."""
    from neuralscope.imaging.spikes.metrics import bin_frames

    pred, true = defaultdict(list), defaultdict(list)
    for tr, out in zip(traces, outputs):
        neuron = tr.name.split("#")[0]
        pred[neuron].append(bin_frames(out, tr.fs))
        true[neuron].append(bin_frames(tr.spikes, tr.fs))
    rs = []
    for neuron in pred:
        a, b = np.concatenate(pred[neuron]), np.concatenate(true[neuron])
        if np.std(a) > 0 and np.std(b) > 0:
            rs.append(float(np.corrcoef(a, b)[0, 1]))
        else:
            rs.append(0.0)  # a method that outputs nothing scores 0, not NaN
    return rs


def evaluate_fold(name: str, test: list, train: list, init, steps: int, seed: int, sims: list) -> dict:
    """Fine-tune on ``train`` (already noise-augmented), score every method on ``test``."""
    from neuralscope.imaging.spikes.oasis import oasis_deconvolve
    from neuralscope.imaging.spikes.training import finetune

    t0 = time.perf_counter()
    model = finetune(init, train, n_steps=steps, random_state=seed, augment=False, simulated=sims) if steps else init
    train_s = time.perf_counter() - t0
    minutes = sum(tr.dff.size / tr.fs for tr in test) / 60.0
    c0 = time.process_time()
    deep = [model.predict(tr.dff, tr.fs) for tr in test]
    deep_cpu = time.process_time() - c0
    c0 = time.process_time()
    sim_only = [init.predict(tr.dff, tr.fs) for tr in test]
    sim_only_cpu = time.process_time() - c0
    c0 = time.process_time()
    ours_oasis = [oasis_deconvolve(tr.dff, p=1)["s"] for tr in test]
    ours_oasis_cpu = time.process_time() - c0
    peer, peer_cpu = run_peer_oasis(test)
    res = {
        "dataset": name, "neurons": len({tr.name.split("#")[0] for tr in test}), "minutes": minutes,
        "train_seconds": train_s,
        "r": {"neuralscope-deep": per_neuron_r(test, deep), "neuralscope-deep-sim-only": per_neuron_r(test, sim_only),
              "neuralscope-oasis-ar1": per_neuron_r(test, ours_oasis),
              "oasis-deconv-ar1": per_neuron_r(test, peer[1]), "oasis-deconv-ar2": per_neuron_r(test, peer[2])},
        "cpu_s_per_neuron_minute": {"neuralscope-deep": deep_cpu / minutes,
                                    "neuralscope-deep-sim-only": sim_only_cpu / minutes,
                                    "neuralscope-oasis-ar1": ours_oasis_cpu / minutes,
                                    "oasis-deconv-ar1": peer_cpu[1] / minutes, "oasis-deconv-ar2": peer_cpu[2] / minutes},
        "deep_count_ratio": float(sum(d.sum() for d in deep) / max(sum(tr.spikes.sum() for tr in test), 1)),
    }
    res["mean_r"] = {k: float(np.mean(v)) for k, v in res["r"].items()}
    line = "  ".join(f"{k} {v:.3f}" for k, v in res["mean_r"].items())
    print(f"{name:22s} n={res['neurons']:2d}  {line}  (deep count ratio {res['deep_count_ratio']:.2f}, "
          f"fit {train_s:.0f} s)", flush=True)
    return res


def summarise(title: str, folds: list[dict]) -> dict:
    methods = list(folds[0]["mean_r"])
    overall = {m: float(np.mean([f["mean_r"][m] for f in folds])) for m in methods}
    minutes = sum(f["minutes"] for f in folds)
    cost = {m: float(sum(f["cpu_s_per_neuron_minute"][m] * f["minutes"] for f in folds) / minutes) for m in methods}
    best_oasis = max(overall["oasis-deconv-ar1"], overall["oasis-deconv-ar2"])
    print(f"\n{title}: mean of dataset means (r, 40 ms bins)")
    for m in methods:
        print(f"  {m:24s} r = {overall[m]:.3f}   CPU-s per neuron-minute = {cost[m]:.5f}")
    print(f"  CASCADE (not run: needs TensorFlow)  published ~{CASCADE_PUBLISHED_CPU_S} CPU-s per neuron-minute")
    print(f"  deep - best oasis-deconv = {overall['neuralscope-deep'] - best_oasis:+.3f}")
    return {"overall_r": overall, "cpu_s_per_neuron_minute": cost, "deep_minus_best_oasis": overall["neuralscope-deep"] - best_oasis}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", action="store_true", help="only install the peer venv")
    parser.add_argument("--steps", type=int, default=400, help="fine-tuning steps per fold (0: simulation-only model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=None, help="comma-separated dataset names to hold out (default all)")
    parser.add_argument("--skip-spikefinder", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    setup_peer()
    if args.setup:
        return 0
    import torch

    torch.set_num_threads(1)
    from neuralscope.imaging.spikes.deep import DeepSpikeInference
    from neuralscope.imaging.spikes.groundtruth import cascade_datasets, load_cascade_dataset, load_spikefinder

    init = DeepSpikeInference.load(REPO / "src" / "neuralscope" / "imaging" / "spikes" / "data" / "deep_spikes_sim_v1")
    from neuralscope.imaging.spikes.groundtruth import simulated_recordings
    from neuralscope.imaging.spikes.training import noise_augmented

    sets = {p.name: load_cascade_dataset(p) for p in cascade_datasets(DATA / "cascade" / "Ground_truth")}
    # Augment (noisier copies) once per set; each fold trains on the other sets' copies, scores the originals.
    augmented = {n: noise_augmented(s, random_state=args.seed + i) for i, (n, s) in enumerate(sets.items())}
    sims = simulated_recordings(100, random_state=args.seed + 1000)
    held = args.only.split(",") if args.only else list(sets)
    print(f"CASCADE leave-one-dataset-out ({len(sets)} sets, {args.steps} fine-tuning steps per fold)", flush=True)
    lodo = [evaluate_fold(h, sets[h], [tr for n, s in augmented.items() if n != h for tr in s], init, args.steps,
                          args.seed, sims) for h in held]
    result = {"cascade_lodo": {"folds": lodo, **summarise("CASCADE LODO", lodo)}}
    if not args.skip_spikefinder:
        sf = {k: load_spikefinder(DATA / "spikefinder", k) for k in (4, 5, 6)}
        print("\nSpikefinder training sets, leave-one-set-out (train: the other two + simulations)", flush=True)
        sf_aug = {k: noise_augmented(s, random_state=args.seed + k) for k, s in sf.items()}
        folds = [evaluate_fold(f"spikefinder-{k}", sf[k], [tr for j, s in sf_aug.items() if j != k for tr in s], init,
                               args.steps, args.seed, sims) for k in sf]
        result["spikefinder_cv"] = {"folds": folds, **summarise("Spikefinder CV", folds)}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
