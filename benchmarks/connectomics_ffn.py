"""FIB-25 held-out half: our flood-filling network vs Google's published FFN result and the
watershed over-segmentation, all restricted to the same sub-cube of z >= 125.

Protocol (../shared/data/README.md): the shipped FFN was trained on z < 100 and its best
checkpoint chosen on 100 <= z < 125 (scripts/train_ffn.py); nothing here is tuned. Scores:
ground-truth id 0 ignored; every segmentation label, 0 (unsegmented) included, is an ordinary
segment, as for the published reference numbers. The published FFN and the watershed volumes
cover the whole cube and are cropped to the same sub-cube. Throughput is end to end
(standardisation, seed placement, flood filling, consensus) on ``--threads`` CPU threads, or on
the GPU with ``--device cuda``. FFN's own log: about 40 k voxels/s on a P100 GPU.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/connectomics_ffn.py [--box 125:189,61:189,61:189]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HELD_OUT_Z = 125
FFN_P100_VOXELS_PER_S = 250**3 / 393.8  # the published run's own log (inference only)


def parse_box(text: str) -> tuple[slice, ...]:
    box = tuple(slice(*(int(v) for v in part.split(":"))) for part in text.split(","))
    if len(box) != 3 or box[0].start < HELD_OUT_Z:
        raise SystemExit(f"--box must be three z0:z1 ranges with z0 >= {HELD_OUT_Z}: {text}")
    return box


def scores(seg: np.ndarray, gt: np.ndarray) -> dict:
    from neuralscope.connectomics.metrics import evaluate_segmentation

    s = evaluate_segmentation(seg, gt).as_dict()
    return {k: round(float(s[k]), 4) for k in ("vi_split", "vi_merge", "adapted_rand_error")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--box", default="125:189,61:189,61:189", help="sub-cube z0:z1,y0:y1,x0:x1 (z0 >= 125)")
    p.add_argument("--weights", type=Path, default=None, help="default: the shipped FIB-25 weights")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--consensus", choices=("stored", "none", "merge", "split"), default="stored",
                   help="default: the rule tuned on z 100-125 and stored with the weights")
    p.add_argument("--move-threshold", type=float, default=None, help="default: stored with the weights")
    p.add_argument("--segment-threshold", type=float, default=None)
    p.add_argument("--delta", type=int, default=None, help="FOV move step (default: stored with the weights)")
    p.add_argument("--min-size", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    import torch

    from neuralscope.connectomics.ffn import load_ffn_model, segment_ffn
    from neuralscope.connectomics.volumes import load_fib25

    torch.set_num_threads(args.threads)
    box = parse_box(args.box)
    cube = load_fib25()
    raw, gt = cube["raw"][box], cube["truth"][box].astype(np.int64)
    model, meta = load_ffn_model(args.weights, device="cpu")
    done = [0]

    def progress(k: int, n: int) -> None:
        done[0] += 1
        if done[0] % 200 == 0:
            print(f"  seed {k}/{n} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    overrides = {k: v for k, v in {"move_threshold": args.move_threshold, "segment_threshold": args.segment_threshold,
                                   "min_segment_size": args.min_size,
                                   "delta": None if args.delta is None else (args.delta,) * 3}.items() if v is not None}
    consensus = {"stored": None, "none": False}.get(args.consensus, args.consensus)
    t0 = time.perf_counter()
    ours = segment_ffn(raw, model, consensus=consensus, device=args.device, progress=progress, **overrides)
    seconds = time.perf_counter() - t0
    result = {
        "protocol": "trained z<100, checkpoint chosen on 100<=z<125, scored on the sub-cube (gt id 0 ignored)",
        "box": args.box, "shape": list(raw.shape),
        "sub_cube": {
            "neuralscope_ffn": scores(ours, gt),
            "ffn_published": scores(cube["ffn"][box], gt),
            "watershed_oversegmentation": scores(cube["watershed"][box], gt),
        },
        "held_out_half_reference": {
            "ffn_published": scores(cube["ffn"][HELD_OUT_Z:], cube["truth"][HELD_OUT_Z:].astype(np.int64)),
            "watershed_oversegmentation": scores(cube["watershed"][HELD_OUT_Z:],
                                                 cube["truth"][HELD_OUT_Z:].astype(np.int64)),
        },
        "n_segments": int(len(np.unique(ours[ours > 0]))), "unsegmented_fraction": round(float((ours == 0).mean()), 4),
        "settings": {"stored": model.config.extra.get("inference", {}), "overrides": overrides,
                     "consensus": args.consensus},
        "threads": args.threads, "device": args.device,
        "seconds": round(seconds, 1), "voxels_per_second": round(raw.size / seconds, 0),
        "ffn_published_voxels_per_second_p100": round(FFN_P100_VOXELS_PER_S, 0),
        "model": {"config": model.config.to_dict(), "meta": meta},
    }
    print(f"{'sub-cube ' + args.box:34s} {'VI split':>9s} {'VI merge':>9s} {'ARAND':>7s}")
    for name, s in result["sub_cube"].items():
        print(f"{name:34s} {s['vi_split']:9.3f} {s['vi_merge']:9.3f} {s['adapted_rand_error']:7.3f}")
    print(f"neuralscope FFN: {result['n_segments']} segments, {result['unsegmented_fraction']:.1%} unsegmented; "
          f"{seconds:.1f} s for {raw.size} voxels = {result['voxels_per_second'] / 1e3:.1f} k voxels/s on "
          f"{args.threads} thread(s) ({args.device}); FFN's own log: {FFN_P100_VOXELS_PER_S / 1e3:.0f} k voxels/s "
          "on a P100")
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
