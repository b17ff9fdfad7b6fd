"""Train the shipped flood-filling network on FIB-25 (training_sample2), z < 125 only.

Protocol (../shared/data/README.md): z < 100 trains the network, 100 <= z < 125 is the
validation slab (the exported weights are the best validation checkpoint); z >= 125 is the
held-out half scored by ``benchmarks/connectomics_ffn.py`` and never read here. Optionally
(``--simulated N``) N simulated EM volumes are mixed into training (every other step).

Runs on one CPU thread (or the GPU when present), resumable: a checkpoint every
``--validate-every`` steps in ``--workdir``; ``--minutes`` is the total training budget over
all resumed runs. Example::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python scripts/train_ffn.py --minutes 50
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python scripts/train_ffn.py --tune-only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TRAIN_Z = (0, 100)
VAL_Z = (100, 125)


def load_training_cube() -> tuple[np.ndarray, np.ndarray]:
    """FIB-25 raw (standardised by the z < 125 part's own statistics) and truth, z < 125 only."""
    from neuralscope.connectomics.networks.training import volume_stats
    from neuralscope.connectomics.volumes import load_fib25

    cube = load_fib25()
    raw = cube["raw"][:VAL_Z[1]]
    mean, std = volume_stats(raw)
    return ((raw.astype(np.float32) - mean) / std).astype(np.float32), cube["truth"][:VAL_Z[1]].astype(np.int64)


def simulated_volumes(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` simulated EM volumes (standardised raw, labels) with FIB-25-like membranes."""
    from neuralscope.connectomics.networks.training import volume_stats
    from neuralscope.datasets.em import simulate_em_volume

    out = []
    for i in range(n):
        vol = simulate_em_volume((64, 96, 96), random_state=seed + 1000 + i)
        mean, std = volume_stats(vol.raw)
        out.append((((vol.raw.astype(np.float32) - mean) / std).astype(np.float32), vol.labels.astype(np.int64)))
    return out


def tune_inference(weights: Path, grid: list[dict], box=(slice(VAL_Z[0], VAL_Z[1]), slice(80, 176), slice(80, 176)),
                   consensus_modes=(False, "merge", "split")) -> dict:
    """Score inference settings on a crop of the validation slab and store the best in the weights.

    Only z in [100, 125) is read (raw and truth); the held-out half is never touched. Stage 1
    scores ``grid`` with one seed order; stage 2 scores the winner under each consensus rule.
    The winner (lowest adapted Rand error) is written to ``config.extra["inference"]``.
    """
    from dataclasses import replace

    from neuralscope.connectomics.ffn import load_ffn_model, save_ffn_model, segment_ffn
    from neuralscope.connectomics.metrics import evaluate_segmentation
    from neuralscope.connectomics.volumes import load_fib25

    cube = load_fib25()
    raw, truth = cube["raw"][box], cube["truth"][box].astype(np.int64)
    model, meta = load_ffn_model(weights)
    rows = []

    def score(settings: dict) -> None:
        t0 = time.perf_counter()
        seg = segment_ffn(raw, model, device="cpu", **settings)
        s = evaluate_segmentation(seg, truth)
        rows.append({**settings, "adapted_rand_error": round(s.adapted_rand_error, 4), "vi_split": round(s.vi_split, 4),
                     "vi_merge": round(s.vi_merge, 4), "seconds": round(time.perf_counter() - t0, 1)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)

    for settings in grid:
        score({**settings, "consensus": False})
    best = min(rows, key=lambda r: r["adapted_rand_error"])
    for mode in consensus_modes:
        if mode is not False:
            score({**{k: best[k] for k in grid[0]}, "consensus": mode})
    best = min(rows, key=lambda r: r["adapted_rand_error"])
    chosen = {k: best[k] for k in (*grid[0], "consensus")}
    model.config = replace(model.config, extra={**model.config.extra, "inference": chosen})
    meta["tuning"] = {"data": f"FIB-25 validation crop {[(b.start, b.stop) for b in box]}", "rows": rows}
    save_ffn_model(model, weights, meta)
    return chosen


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=55.0, help="total training budget (all resumes)")
    p.add_argument("--max-steps", type=int, default=10**9)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--passes", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--fov", type=int, default=17)
    p.add_argument("--delta", type=int, default=4)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--simulated", type=int, default=0, help="number of simulated volumes mixed in")
    p.add_argument("--validate-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "neuralscope-train" / "ffn")
    p.add_argument("--export", type=Path, default=None, help="default: the package's shipped weights")
    p.add_argument("--no-balance", action="store_true", help="sample region centres without share balancing")
    p.add_argument("--reset-best", action="store_true",
                   help="on resume, forget the best validation loss (after changing the sampling)")
    p.add_argument("--tune-only", action="store_true",
                   help="only score inference settings on the validation slab and store the best")
    args = p.parse_args(argv)

    import torch

    from neuralscope.connectomics.ffn.model import SHIPPED_WEIGHTS, FFNConfig, FFNModel, save_ffn_model
    from neuralscope.connectomics.ffn.training import FFNTrainer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.tune_only:
        grid = [{"delta": [d] * 3, "move_threshold": mt, "segment_threshold": 0.6}
                for d in (args.delta, args.delta + 2) for mt in (0.9, 0.95)]
        print(json.dumps(tune_inference(args.export or SHIPPED_WEIGHTS, grid)))
        return 0
    raw, truth = load_training_cube()
    sims = simulated_volumes(args.simulated, args.seed)
    cfg = FFNConfig(fov=(args.fov,) * 3, delta=(args.delta,) * 3, channels=args.channels, depth=args.depth)
    model = FFNModel(cfg)
    trainer = FFNTrainer(model, batch_size=args.batch, passes=args.passes, lr=args.lr,
                         balance=not args.no_balance, seed=args.seed)
    args.workdir.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.workdir / "checkpoint.pt"
    export = args.export or SHIPPED_WEIGHTS
    state = {"step": 0, "seconds": 0.0, "best_val": None, "best_step": None, "history": []}
    if ckpt_path.is_file():
        blob = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        trainer.model.load_state_dict(blob["model"])
        trainer.optimizer.load_state_dict(blob["optimizer"])
        trainer.rng.bit_generator.state = json.loads(blob["rng"])
        state = json.loads(blob["progress"])
        print(f"resumed at step {state['step']} ({state['seconds'] / 60:.1f} min trained)", file=sys.stderr)
        if args.reset_best:
            state["best_val"] = None
            state.setdefault("resets", []).append(state["step"])

    def checkpoint() -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": trainer.model.state_dict(), "optimizer": trainer.optimizer.state_dict(),
                    "rng": json.dumps(trainer.rng.bit_generator.state), "progress": json.dumps(state)}, tmp)
        tmp.replace(ckpt_path)

    budget = args.minutes * 60.0
    losses: list[float] = []
    t_last = time.perf_counter()
    while state["seconds"] < budget and state["step"] < args.max_steps:
        if sims and state["step"] % 2 == 1:
            r, lab = sims[(state["step"] // 2) % len(sims)]
            losses.append(trainer.step(r, lab))
        else:
            losses.append(trainer.step(raw, truth, TRAIN_Z))
        state["step"] += 1
        now = time.perf_counter()
        state["seconds"] += now - t_last
        t_last = now
        if state["step"] % args.validate_every == 0:
            val = trainer.validation_loss(raw, truth, VAL_Z, n_batches=8)
            state["history"].append({"step": state["step"], "seconds": round(state["seconds"], 1),
                                     "train_loss": round(float(np.mean(losses)), 5), "val_loss": round(val, 5)})
            losses = []
            print(json.dumps(state["history"][-1]), file=sys.stderr, flush=True)
            if state["best_val"] is None or val < state["best_val"]:
                state["best_val"], state["best_step"] = val, state["step"]
                meta = {"data": "FIB-25 training_sample2 z<100 (train), 100<=z<125 (validation)"
                                + (f" + {args.simulated} simulated volumes" if sims else ""),
                        "step": state["step"], "trained_seconds": round(state["seconds"], 1),
                        "val_loss": round(val, 5), "batch": args.batch, "passes": args.passes, "lr": args.lr,
                        "seed": args.seed, "normalization": "per-volume mean/std",
                        "balance": not args.no_balance, "sampling_resets": state.get("resets", [])}
                save_ffn_model(trainer.model, export, meta)
                print(f"exported step {state['step']} -> {export}", file=sys.stderr, flush=True)
            checkpoint()
            t_last = time.perf_counter()  # validation time is not training time
    checkpoint()
    print(json.dumps({k: state[k] for k in ("step", "seconds", "best_val", "best_step")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
