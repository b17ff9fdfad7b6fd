"""Embedding benchmark: neuralscope's contrastive learner against CEBRA, side by side.

Not a test. One run measures, under the same machine load:

- real macaque M1 reaching (built in) and simulated reaching: a time-ordered
  split (fit on the first 80 %, embed the last 20 %), wall time of the fit for
  the same number of steps and batch size, and the k-NN velocity R² of the
  held-out embedding (k-NN fitted on the training embedding);
- the baselines PCA + k-NN and UMAP + k-NN on the same split;
- the time per training step at 8 k and 32 k samples (behaviour positives),
  which must not grow with the recording for neuralscope.

CEBRA runs in its own virtual environment (created on first use under
``~/.cache/neuralscope-bench/cebra-venv``: ``torch==2.13.0`` first, then
``cebra``) through a subprocess; both sides use one torch thread.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/embedding.py [--steps 2000] [--dims 8]
     [--skip-cebra] [--skip-umap] [--quick] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from neuralscope.datasets import load_m1_builtin, simulate_reaching
from neuralscope.manifold import PCA, UMAP, ContrastiveEmbedding, knn_holdout_score

CACHE = Path(os.environ.get("NEURALSCOPE_BENCH_CACHE", Path.home() / ".cache" / "neuralscope-bench"))
VENV = CACHE / "cebra-venv"
K_NEIGHBORS = 10

# The CEBRA side, run inside its venv: fit, embed everything, report timings.
CEBRA_SCRIPT = r"""
import json, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
import cebra
args = json.loads(sys.argv[1])
d = np.load(args["data"])
X, y, n_train = d["X"].astype(np.float32), d["y"].astype(np.float32), int(d["n_train"])
model = cebra.CEBRA(model_architecture="offset10-model", batch_size=args["batch_size"],
                    learning_rate=args["lr"], temperature=1.0, output_dimension=args["dims"],
                    max_iterations=args["steps"], distance="cosine", conditional=args["conditional"],
                    time_offsets=10, device="cpu", verbose=False)
t0 = time.perf_counter()
if args["conditional"] == "time":
    model.fit(X[:n_train])
else:
    model.fit(X[:n_train], y[:n_train])
fit = time.perf_counter() - t0
Z = model.transform(X) if args["transform"] else np.zeros((1, 1))
np.save(args["out"], Z)
print(json.dumps({"fit_seconds": fit, "cebra": cebra.__version__, "torch": torch.__version__}))
"""


def ensure_cebra_venv() -> Path:
    """The CEBRA interpreter, installing it on first use."""
    python = VENV / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import cebra"], capture_output=True,
                                           check=False).returncode == 0:
        return python
    print(f"[bench] installing CEBRA into {VENV} (first run only)", file=sys.stderr, flush=True)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)  # a plain venv, not ours
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + ["torch==2.13.0"], check=True)  # the CPU build, before cebra pulls another
    subprocess.run(pip + ["cebra"], check=True)
    return python


def run_cebra(python: Path, X: np.ndarray, y: np.ndarray, n_train: int, *, steps: int, batch_size: int,
              dims: int, conditional: str, lr: float = 3e-4, transform: bool = True) -> tuple[np.ndarray, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data.npz", Path(tmp) / "Z.npy"
        np.savez(data, X=X, y=y, n_train=n_train)
        args = dict(data=str(data), out=str(out), steps=steps, batch_size=batch_size, dims=dims,
                    conditional=conditional, lr=lr, transform=transform)
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        proc = subprocess.run([str(python), "-c", CEBRA_SCRIPT, json.dumps(args)], capture_output=True, text=True,
                              env=env, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"CEBRA failed: {proc.stderr[-2000:]}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        return np.load(out), float(info["fit_seconds"])


def ours(X: np.ndarray, y: np.ndarray | None, n_train: int, *, steps: int, batch_size: int, dims: int,
         positives: str) -> tuple[np.ndarray, float, ContrastiveEmbedding]:
    model = ContrastiveEmbedding(dims, positives=positives, n_steps=steps, batch_size=batch_size, device="cpu",
                                 random_state=0)
    t0 = time.perf_counter()
    model.fit(X[:n_train], None if y is None else y[:n_train])
    return model.transform(X), time.perf_counter() - t0, model


def heldout_r2(Z: np.ndarray, y: np.ndarray, n_train: int) -> float:
    return knn_holdout_score(Z[:n_train], y[:n_train], Z[n_train:], y[n_train:], n_neighbors=K_NEIGHBORS)


def bench_dataset(name: str, X: np.ndarray, v: np.ndarray, args: argparse.Namespace, python: Path | None) -> list[dict]:
    n_train = int(0.8 * len(X))
    rows: list[dict] = []

    def add(method: str, Z: np.ndarray, fit_s: float, steps: int | None = None) -> None:
        r2 = heldout_r2(Z, v, n_train)
        rows.append({"data": name, "method": method, "dims": int(Z.shape[1]), "steps": steps,
                     "fit_seconds": round(fit_s, 2), "ms_per_step": round(1000 * fit_s / steps, 1) if steps else None,
                     "knn_r2_test": round(r2, 4)})
        print(f"[bench] {name:<14} {method:<28} R² {r2:6.3f}  fit {fit_s:8.1f} s", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    pca = PCA(args.dims).fit(X[:n_train])
    add("PCA + kNN", pca.transform(X), time.perf_counter() - t0)
    if not args.skip_umap:
        um = UMAP(args.dims, random_state=0)
        t0 = time.perf_counter()
        Ztr = um.fit_transform(X[:n_train])
        fit_s = time.perf_counter() - t0
        add("UMAP + kNN", np.concatenate([Ztr, um.transform(X[n_train:])]), fit_s)
    kw = dict(steps=args.steps, batch_size=args.batch_size, dims=args.dims)
    for positives, cebra_mode, label in (("behavior", "time_delta", "behaviour"), ("time", "time", "time")):
        if label not in args.modes:
            continue
        Z, fit_s, _ = ours(X, v if positives == "behavior" else None, n_train, positives=positives, **kw)
        add(f"neuralscope contrastive-{label}", Z, fit_s, args.steps)
        if python is not None:
            Zc, fit_c = run_cebra(python, X, v, n_train, conditional=cebra_mode, **kw)
            add(f"CEBRA-{'Behavior' if label == 'behaviour' else 'Time'}", Zc, fit_c, args.steps)
    return rows


def step_scaling(X: np.ndarray, v: np.ndarray, args: argparse.Namespace, python: Path | None) -> list[dict]:
    """ms per step at 8 k and 32 k samples: the difference between a short and a
    long fit (best of two each), so one-off setup (the behaviour index, model
    building) cancels out."""
    reps = int(np.ceil(32000 / len(X)))
    big_X, big_v = np.tile(X, (reps, 1)), np.tile(v, (reps, 1))
    ours_steps = (20, 120) if not args.quick else (10, 50)
    cebra_steps = (10, 50) if not args.quick else (5, 20)

    def ours_fit(Xn: np.ndarray, vn: np.ndarray, steps: int) -> float:
        t0 = time.perf_counter()
        ContrastiveEmbedding(args.dims, positives="behavior", n_steps=steps, batch_size=args.batch_size,
                             device="cpu").fit(Xn, vn)
        return time.perf_counter() - t0

    def per_step(fit, steps: tuple[int, int], repeats: int) -> tuple[float, float]:
        short = min(fit(steps[0]) for _ in range(repeats))
        long = min(fit(steps[1]) for _ in range(repeats))
        ms = 1000 * (long - short) / (steps[1] - steps[0])
        return ms, short - steps[0] * ms / 1000

    sizes = (8000, 32000)
    rows = {n: {"n_samples": n} for n in sizes}
    # Sizes alternate and each fit length keeps its best of 3 runs, so that a
    # burst of load from other processes does not land on one size only.
    best = {(n, k): np.inf for n in sizes for k in ours_steps}
    for _ in range(3):
        for n in sizes:
            for k in ours_steps:
                best[(n, k)] = min(best[(n, k)], ours_fit(big_X[:n], big_v[:n], k))
    for n in sizes:
        short, long = best[(n, ours_steps[0])], best[(n, ours_steps[1])]
        ms = 1000 * (long - short) / (ours_steps[1] - ours_steps[0])
        rows[n]["neuralscope_ms_per_step"] = round(ms, 1)
        rows[n]["neuralscope_setup_s"] = round(short - ours_steps[0] * ms / 1000, 2)
    if python is not None:
        for n in sizes:
            def cebra_fit(steps: int, n: int = n) -> float:
                return run_cebra(python, big_X[:n], big_v[:n], n, steps=steps, batch_size=args.batch_size,
                                 dims=args.dims, conditional="time_delta", transform=False)[1]

            rows[n]["cebra_ms_per_step"] = round(per_step(cebra_fit, cebra_steps, 2)[0], 1)
    for n in sizes:
        print(f"[bench] step time at {n} samples: {rows[n]}", file=sys.stderr, flush=True)
    return [rows[n] for n in sizes]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--dims", type=int, default=8)
    p.add_argument("--modes", default="behaviour,time", help="contrastive modes to compare: behaviour,time")
    p.add_argument("--skip-cebra", action="store_true")
    p.add_argument("--skip-umap", action="store_true")
    p.add_argument("--skip-sim", action="store_true")
    p.add_argument("--quick", action="store_true", help="200 steps, no UMAP: a smoke run")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.skip_umap = min(args.steps, 200), True
    torch.set_num_threads(1)
    python = None if args.skip_cebra else ensure_cebra_venv()
    started = time.time()
    m1 = load_m1_builtin()
    rows = bench_dataset("real M1", m1.data, m1.covariate("velocity"), args, python)
    if not args.skip_sim:
        sim = simulate_reaching(random_state=0)
        rows += bench_dataset("sim reaching", sim.data, sim.covariate("velocity"), args, python)
    scaling = step_scaling(m1.data, m1.covariate("velocity"), args, python)
    result = {"settings": {"steps": args.steps, "batch_size": args.batch_size, "dims": args.dims,
                           "k_neighbors": K_NEIGHBORS, "split": "first 80% fit / last 20% held out",
                           "torch_threads": 1, "cpu_count": os.cpu_count(),
                           "load_average_at_start": os.getloadavg()[0]},
              "results": rows, "step_scaling": scaling, "wall_seconds": round(time.time() - started, 1)}
    print("| data | method | dims | steps | fit (s) | ms/step | k-NN velocity R² (held-out) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['data']} | {r['method']} | {r['dims']} | {r['steps'] or '-'} | {r['fit_seconds']} | "
              f"{r['ms_per_step'] or '-'} | {r['knn_r2_test']:.3f} |")
    print("\n| samples | neuralscope ms/step | CEBRA-Behavior ms/step |\n|---|---|---|")
    for r in scaling:
        print(f"| {r['n_samples']} | {r['neuralscope_ms_per_step']} | {r.get('cebra_ms_per_step', '-')} |")
    text = json.dumps(result, indent=1)
    if args.json is not None:
        args.json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
