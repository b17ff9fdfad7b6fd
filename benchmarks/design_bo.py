"""Bayesian optimisation: neuralscope vs BoTorch's standard GP-LogEI loop vs random search.

Hartmann6 and Branin (both maximised: negated), 10 initial + 30 iterations,
several seeds. Every method of a seed starts from the same 10-point
scrambled-Sobol design; random search draws its 30 further points uniformly
(seeded). BoTorch runs in its own virtual environment
(``~/.cache/neuralscope-bench/botorch``, created on first use: torch==2.13.0
CPU first, then botorch) through a subprocess, with its textbook loop:
SingleTaskGP (Normalize inputs, Standardize outputs) + fit_gpytorch_mll +
qLogExpectedImprovement + optimize_acqf (10 restarts, 512 raw samples).
Its test functions are BoTorch's own, which cross-checks ours.

    python benchmarks/design_bo.py [--seeds 5] [--functions hartmann6,branin] [--json out.json]
    python benchmarks/design_bo.py --latency --seeds 5   # one suggestion at 40 observations, both sides
    python benchmarks/design_bo.py --gp-backends         # why numpy: the GP likelihood in numpy vs torch
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
import warnings
from pathlib import Path

import numpy as np

VENV = Path.home() / ".cache" / "neuralscope-bench" / "botorch"

WORKER = r'''
import json, sys, time
import torch
torch.set_num_threads(1)
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from botorch.fit import fit_gpytorch_mll
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.optim import optimize_acqf
from botorch.test_functions import Branin, Hartmann
from gpytorch.mlls import ExactMarginalLogLikelihood

job = json.load(sys.stdin)
torch.manual_seed(job["seed"])
fn = {"hartmann6": Hartmann(dim=6, negate=True), "branin": Branin(negate=True)}[job["function"]].to(torch.double)
bounds = fn.bounds.to(torch.double)
X = torch.tensor(job["X_init"], dtype=torch.double)
Y = fn(X).unsqueeze(-1)
times, cpu = [], []
for _ in range(job["n_iter"]):
    t0, c0 = time.perf_counter(), time.process_time()
    model = SingleTaskGP(X, Y, input_transform=Normalize(d=X.shape[-1], bounds=bounds),
                         outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    acq = qLogExpectedImprovement(model, best_f=Y.max())
    cand, _ = optimize_acqf(acq, bounds=bounds, q=1, num_restarts=10, raw_samples=512)
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
    if not job.get("latency_only"):
        X = torch.cat([X, cand])
        Y = torch.cat([Y, fn(cand).unsqueeze(-1)])
print(json.dumps({"values": Y.squeeze(-1).tolist(), "seconds": times, "cpu_seconds": cpu}))
'''


def ensure_botorch() -> Path:
    """The peer's python, installing it into its own venv on first use."""
    py = VENV / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import botorch"], capture_output=True).returncode == 0:
        return py
    print(f"[setup] installing BoTorch into {VENV} (torch==2.13.0 CPU first)", file=sys.stderr)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    venv.create(VENV, with_pip=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "torch==2.13.0"], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "botorch"], check=True)
    return py


def run_botorch(py: Path, function: str, X_init: np.ndarray, n_iter: int, seed: int,
                latency_only: bool = False) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(WORKER)
        script = f.name
    try:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        proc = subprocess.run([str(py), script], input=json.dumps(
            {"function": function, "X_init": X_init.tolist(), "n_iter": n_iter, "seed": seed,
             "latency_only": latency_only}),
            capture_output=True, text=True, env=env, check=False)
    finally:
        os.unlink(script)
    if proc.returncode != 0:
        raise RuntimeError(f"BoTorch worker failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_ours(fn, X_init: np.ndarray, n_iter: int, seed: int, kernel: str) -> dict:
    from neuralscope.design import Experiment

    exp = Experiment(fn.parameters(), initial=len(X_init), seed=seed, kernel=kernel)
    names = exp.space.names
    for x in X_init:
        exp.observe(dict(zip(names, map(float, x))), fn(x))
    times, cpu = [], []
    for _ in range(n_iter):
        t0, c0 = time.perf_counter(), time.process_time()
        p = exp.suggest()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        exp.observe(p, fn(np.array([p[k] for k in names])))
    return {"values": [t["value"] for t in exp.trials], "seconds": times, "cpu_seconds": cpu}


def latency(py: Path | None, seeds: int, repeats: int = 3) -> None:
    """Time of one suggestion with exactly 40 Hartmann6 observations, ours vs BoTorch, interleaved."""
    from scipy.stats import qmc

    from neuralscope.design import Experiment
    from neuralscope.design.functions import TEST_FUNCTIONS

    fn = TEST_FUNCTIONS["hartmann6"]
    rows = {"neuralscope": ([], []), "botorch": ([], [])}
    for seed in range(seeds):
        X = qmc.Sobol(6, scramble=True, seed=seed).random(40)
        for r in range(repeats):
            exp = Experiment(fn.parameters(), initial=10, seed=seed + 100 * r)
            for x in X:
                exp.observe(dict(zip(exp.space.names, map(float, x))), fn(x))
            t0, c0 = time.perf_counter(), time.process_time()
            exp.suggest()
            rows["neuralscope"][0].append(time.perf_counter() - t0)
            rows["neuralscope"][1].append(time.process_time() - c0)
            if py is not None:
                b = run_botorch(py, "hartmann6", X, 1, seed + 100 * r, latency_only=True)
                rows["botorch"][0].append(b["seconds"][0])
                rows["botorch"][1].append(b["cpu_seconds"][0])
    print(f"\nOne suggestion with 40 Hartmann6 observations ({seeds} seeds x {repeats}), 1 thread each:")
    for name, (wall, cpu) in rows.items():
        if wall:
            print(f"{name:<12} wall median {np.median(wall):.3f} s (max {np.max(wall):.3f}), "
                  f"CPU median {np.median(cpu):.3f} s (max {np.max(cpu):.3f})")
    if rows["botorch"][0]:
        print(f"botorch/ours wall-time ratio {np.median(rows['botorch'][0]) / np.median(rows['neuralscope'][0]):.1f}x")


def run_random(fn, X_init: np.ndarray, n_iter: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, 99])
    lo, hi = fn.bounds[:, 0], fn.bounds[:, 1]
    X = np.vstack([X_init, lo + rng.random((n_iter, len(lo))) * (hi - lo)])
    return {"values": [fn(x) for x in X], "seconds": [0.0] * n_iter}


def gp_backends(n: int = 40, d: int = 6, repeats: int = 300) -> None:
    """One log-posterior + gradient at n points: our numpy (analytic gradient) vs the same in torch (autograd)."""
    import torch

    from neuralscope.design.gp import GaussianProcess

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.random((n, d))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    y = (y - y.mean()) / y.std()
    gp = GaussianProcess()
    D = ((X[:, None] - X[None]) ** 2).reshape(n * n, d)
    theta = np.concatenate([np.full(d, -0.5), [0.0], [-5.0], [0.0]])
    t0 = time.perf_counter()
    for _ in range(repeats):
        gp._neg_log_posterior(theta, X, y, D)
    t_np = (time.perf_counter() - t0) / repeats
    Xt, yt = torch.tensor(X), torch.tensor(y)
    Dt = torch.tensor(D)

    def torch_nlp(th):
        ls2 = torch.exp(2 * th[:d])
        r = torch.sqrt((Dt @ (1 / ls2)).reshape(n, n) + 1e-30)
        K = torch.exp(th[d]) * (1 + 5 ** 0.5 * r + 5 / 3 * r**2) * torch.exp(-(5 ** 0.5) * r)
        K = K + torch.exp(th[d + 1]) * torch.eye(n, dtype=K.dtype)
        L = torch.linalg.cholesky(K)
        res = (yt - th[-1]).unsqueeze(-1)
        a = torch.cholesky_solve(res, L)
        return 0.5 * (res * a).sum() + torch.log(torch.diagonal(L)).sum()

    th = torch.tensor(theta, requires_grad=True)
    t0 = time.perf_counter()
    for _ in range(repeats):
        th.grad = None
        torch_nlp(th).backward()
    t_torch = (time.perf_counter() - t0) / repeats
    print(f"log posterior + gradient at n={n}, d={d}: numpy {1e3 * t_np:.3f} ms, torch autograd "
          f"{1e3 * t_torch:.3f} ms (torch/numpy {t_torch / t_np:.1f}x)")


def main(argv: list[str] | None = None) -> dict:
    from scipy.stats import qmc

    from neuralscope.design.functions import TEST_FUNCTIONS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--functions", default="hartmann6,branin")
    ap.add_argument("--initial", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--kernel", default="matern52")
    ap.add_argument("--no-botorch", action="store_true", help="Skip the peer (ours and random only).")
    ap.add_argument("--json", type=Path, default=None, help="Write every trajectory to this file.")
    ap.add_argument("--latency", action="store_true", help="Only time one suggestion at 40 observations.")
    ap.add_argument("--gp-backends", action="store_true", help="Only time the GP likelihood in numpy vs torch.")
    args = ap.parse_args(argv)
    if args.gp_backends:
        gp_backends()
        return {}
    warnings.filterwarnings("ignore", message="The balance properties of Sobol")  # 10 points is the protocol
    py = None if args.no_botorch else ensure_botorch()
    if args.latency:
        latency(py, args.seeds)
        return {}
    results: dict = {}
    for name in args.functions.split(","):
        fn = TEST_FUNCTIONS[name]
        lo, hi = fn.bounds[:, 0], fn.bounds[:, 1]
        per = {"neuralscope": [], "botorch": [], "random": []}
        for seed in range(args.seeds):
            X_init = lo + qmc.Sobol(len(lo), scramble=True, seed=seed).random(args.initial) * (hi - lo)
            runs = {"neuralscope": run_ours(fn, X_init, args.iterations, seed, args.kernel),
                    "random": run_random(fn, X_init, args.iterations, seed)}
            if py is not None:
                runs["botorch"] = run_botorch(py, name, X_init, args.iterations, seed)
            for method, r in runs.items():
                best = np.maximum.accumulate(np.asarray(r["values"], float))
                r["regret"] = (fn.optimum - best).tolist()
                per[method].append(r)
            line = "  ".join(f"{m} {runs[m]['regret'][-1]:.4f} ({np.mean(runs[m]['seconds']):.3f} s/it)"
                             for m in runs)
            print(f"{name} seed {seed}: {line}", file=sys.stderr, flush=True)
        results[name] = per
    print(f"\n{'function':<10} {'method':<12} {'median regret':>14} {'IQR':>20} {'min..max':>20} {'s/suggestion':>13}"
          f" {'CPU s':>7}")
    summary = {}
    for name, per in results.items():
        for method, runs in per.items():
            if not runs:
                continue
            final = np.array([r["regret"][-1] for r in runs])
            secs = np.concatenate([r["seconds"] for r in runs])
            cpu = np.concatenate([r.get("cpu_seconds", r["seconds"]) for r in runs])
            q1, med, q3 = np.percentile(final, [25, 50, 75])
            summary[f"{name}/{method}"] = {"median_regret": med, "q25": q1, "q75": q3, "min": final.min(),
                                           "max": final.max(), "seconds_per_suggestion": float(np.median(secs)),
                                           "cpu_seconds_per_suggestion": float(np.median(cpu)),
                                           "final_regrets": final.tolist()}
            print(f"{name:<10} {method:<12} {med:>14.4f} {f'[{q1:.4f}, {q3:.4f}]':>20} "
                  f"{f'{final.min():.4f}..{final.max():.4f}':>20} {np.median(secs):>13.3f} {np.median(cpu):>7.3f}")
        if per["botorch"]:
            ours = summary[f"{name}/neuralscope"]
            peer = summary[f"{name}/botorch"]
            print(f"{name}: median regret ours/botorch = {ours['median_regret']:.4f}/{peer['median_regret']:.4f}; "
                  f"time per suggestion botorch/ours = "
                  f"{peer['seconds_per_suggestion'] / max(ours['seconds_per_suggestion'], 1e-9):.1f}x")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": results}, default=float))
    return summary


if __name__ == "__main__":
    main()
