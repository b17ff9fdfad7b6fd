"""FIB-25 held-out half: adapted Rand error after k proofreading answers to our merge suggestions.

The shipped U-Net pipeline segments the whole cube exactly as ``connectomics_fib25.py`` does;
:func:`neuralscope.connectomics.proofreading.merge_suggestions` ranks the touching segment
pairs (priority = size_a * size_b * mean contact affinity, fixed before any figure here); a
proofreader who knows the ground truth (:func:`~neuralscope.connectomics.proofreading.truth_answers`:
merge when both segments' majority truth object, over the whole cube, agrees) answers the first k.
Scores are on z >= 125 (ground-truth id 0 ignored), next to the published FFN's automatic result,
and, as a second box, on the validation block of the shipped weights (z < 125, x >= 150; it chose
their checkpoints and agglomeration, not this ranking). Two other orders show what the ranking is
worth: by mean contact affinity alone, and random.

This measures assisted proofreading, not the automatic segmentation: the automatic figure is k = 0.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/connectomics_proofreading.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from connectomics_fib25 import load_cube, scores, segment_cube  # noqa: E402  (the same cube, pipeline and scoring)

KS = (0, 1, 3, 10, 30, 100)
VALIDATION_BOX = (slice(0, 125), slice(None), slice(150, None))


def box_scores(seg: np.ndarray, gt: np.ndarray) -> dict:
    return scores(seg[VALIDATION_BOX], gt[VALIDATION_BOX], 0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=None, help="default: the shipped FIB-25 weights")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="seed of the random order")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    import torch

    from neuralscope.connectomics.networks.affinities import load_affinity_model
    from neuralscope.connectomics.proofreading import apply_merges, merge_suggestions, truth_answers

    torch.set_num_threads(args.threads)
    raw, gt, _watershed, ffn = load_cube()
    gt = gt.astype(np.int64)
    model, meta = load_affinity_model(args.weights)
    aff, ours, _, _ = segment_cube(raw, model, meta.get("agglomeration", {}))
    t0 = time.perf_counter()
    table = merge_suggestions(ours, aff, top=None)
    suggest_s = time.perf_counter() - t0
    accepted = truth_answers(table, ours, gt)
    orders = {
        "priority (size_a * size_b * mean affinity)": np.arange(len(table)),
        "mean affinity alone": np.lexsort((table.index.to_numpy(), -table["mean_affinity"].to_numpy())),
        f"random (seed {args.seed})": np.random.default_rng(args.seed).permutation(len(table)),
    }
    pairs = table[["segment_a", "segment_b"]].to_numpy()
    result = {"n_pairs": len(table), "n_true_merges": int(accepted.sum()), "suggest_seconds": round(suggest_s, 2),
              "ffn_published": scores(ffn, gt), "ffn_published_validation_box": box_scores(ffn, gt),
              "after_k_answers": {}, "validation_box_after_k_answers": {}}
    for name, order in orders.items():
        rows, box_rows = {}, {}
        for k in KS:
            take = order[:k]
            merged = apply_merges(ours, pairs[take][accepted[take]])
            rows[str(k)] = {**scores(merged, gt), "merges_accepted": int(accepted[take].sum())}
            box_rows[str(k)] = box_scores(merged, gt)
        result["after_k_answers"][name] = rows
        result["validation_box_after_k_answers"][name] = box_rows
    print(f"{len(table)} touching pairs ({result['n_true_merges']} the truth would merge), ranked in {suggest_s:.1f} s; "
          f"published FFN (automatic): ARAND {result['ffn_published']['adapted_rand_error']:.3f}")
    print(f"{'z >= 125, ARAND after k answers':44s} " + " ".join(f"{'k=' + str(k):>7s}" for k in KS))
    for name, rows in result["after_k_answers"].items():
        print(f"{name:44s} " + " ".join(f"{rows[str(k)]['adapted_rand_error']:7.3f}" for k in KS))
    print(f"{'validation box z < 125, x >= 150':44s} (published FFN: "
          f"{result['ffn_published_validation_box']['adapted_rand_error']:.3f})")
    for name, rows in result["validation_box_after_k_answers"].items():
        print(f"{name:44s} " + " ".join(f"{rows[str(k)]['adapted_rand_error']:7.3f}" for k in KS))
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
