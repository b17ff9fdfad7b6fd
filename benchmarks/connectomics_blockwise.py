"""Exact block-wise segmentation: a volume larger than the memory allowed, block by block, vs one block.

1. Simulate an EM volume (lazily, chunk by chunk) into a raw zarr on disk.
2. In a subprocess under an ``RLIMIT_AS`` bound smaller than the volume's uint64 segmentation
   (and than what one block needs), segment it block-wise with
   :func:`neuralscope.connectomics.exact.segment_exact`, reading the zarr lazily.
3. In a second subprocess (no bound: the volume fits in this machine's memory) segment the same
   zarr as a single block. Optionally (``--single-under-limit``) also try the single block under
   the bound, which should fail with ``MemoryError``.
4. Print whether the two partitions are identical (ids may differ; here they do not), the VI
   between them, the peak RSS of each run and voxels per second, plus scores against the truth.

``--fib25`` instead measures quality on the real FIB-25 cube (``../shared/data/em``) with the
shipped U-Net, the exact pipeline (settings of ``pipeline.exact_settings``, chosen on z < 125)
next to the seeded-watershed ``networks.segment.segment_affinities``: (a) the tuning protocol --
segment raw[:125], score the weights' validation box (100 <= z < 125, or x >= 150 for ``xsplit``); (b) the whole cube scored on the held-out z >= 125; and
checks that a block-wise end-to-end run on the cube (U-Net tiles included) equals the single block.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/connectomics_blockwise.py \\
        [--shape 160,512,512] [--block 64,192,192] [--limit-gib 1.6] [--model classical|unet] [--json out.json]
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/connectomics_blockwise.py --fib25
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/connectomics_blockwise.py --fib25 --tune   # re-tune

``--fib25 --tune`` re-chooses (sigma, threshold, min_size) for new weights on their validation box and prints
the ``meta["agglomeration"]["exact"]`` entry that :func:`neuralscope.connectomics.pipeline.exact_settings`
reads from the weights file.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def parse(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(",")]
    return tuple(parts * 3 if len(parts) == 1 else parts)  # type: ignore[return-value]


def child(args: argparse.Namespace) -> int:
    """Segment ``args.raw`` into ``args.out``; print one JSON line (runs inside the bounded subprocess)."""
    if args.limit_gib:
        limit = int(args.limit_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import zarr

    import dask.array as da
    from neuralscope.connectomics.boundaries import ClassicalBoundary
    from neuralscope.connectomics.exact import ClassicalAffinities, UNetAffinities, segment_exact
    from neuralscope.connectomics.pipeline import _volume_stats, exact_settings

    raw = da.from_zarr(zarr.open_array(str(args.raw), mode="r"))
    block = parse(args.block) if args.block != "whole" else tuple(raw.shape)
    t0 = time.perf_counter()
    try:
        if args.model == "classical":
            model = ClassicalAffinities(ClassicalBoundary().fit(raw))
            settings, edge_model = exact_settings("classical"), None
        else:
            model = UNetAffinities(_volume_stats(raw), tile_shape=(64, 128, 128))
            meta = model.model()[1]
            settings = exact_settings("unet", meta)
            tuned = meta.get("agglomeration", {}) or {}
            edge_model = tuned.get("edge_model") if tuned.get("method") == "learned" else None
        res = segment_exact(raw, args.out, model, threshold=settings["threshold"], sigma=settings["sigma"],
                            min_size=int(settings["min_size"]), block_shape=block, n_workers=args.workers,
                            edge_model=edge_model)
        seconds = time.perf_counter() - t0
        status = {"ok": True, "n_segments": res.n_segments, "n_fragments": res.n_fragments, "n_edges": res.n_edges,
                  "n_blocks": res.n_blocks, "seconds": round(seconds, 2),
                  "voxels_per_second": round(float(np.prod(raw.shape)) / seconds, 0)}
    except MemoryError:
        status = {"ok": False, "error": "MemoryError", "seconds": round(time.perf_counter() - t0, 2)}
    status["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(status), flush=True)
    return 0


def run_child(raw: Path, out: Path, block: str, limit_gib: float, model: str, workers: int) -> dict:
    env = dict(os.environ, MALLOC_ARENA_MAX="2")  # per-thread malloc arenas reserve address space
    cmd = [sys.executable, __file__, "--child", "--raw", str(raw), "--out", str(out), "--block", block,
           "--limit-gib", str(limit_gib), "--model", model, "--workers", str(workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"ok": False, "error": f"rc {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"}
    return json.loads(lines[-1])


def _validation_box(meta: dict) -> tuple[str, tuple]:
    """The protocol the weights were trained under and its validation box (always within z < 125)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_affinities", REPO / "scripts" / "train_affinities.py")
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    protocol = meta.get("config", {}).get("extra", {}).get("protocol", "zslab")
    return protocol, train.protocol_regions(protocol)["val"]


def tune_fib25(json_path: Path | None, weights: Path | None = None, store: bool = False) -> int:
    """Grid of the exact pipeline's settings on FIB-25: segment raw[:125], score the weights' validation box.

    With ``store`` the best settings are written into the weights file (``meta["agglomeration"]["exact"]``).
    """
    import importlib.util

    from neuralscope.connectomics.exact import fragment_graph
    from neuralscope.connectomics.exact_graph import final_segments
    from neuralscope.connectomics.metrics import evaluate_segmentation
    from neuralscope.connectomics.networks.affinities import load_affinity_model, predict_affinities
    from neuralscope.connectomics.pipeline import _volume_stats

    em_dir = REPO.parent / "shared" / "data" / "em"
    spec = importlib.util.spec_from_file_location("load_em", em_dir / "load_em.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    raw, gt, _, _ = mod.load_fib25_training_sample2()
    raw, gt = raw[:125], gt[:125].astype(np.int64)
    model, meta = load_affinity_model(weights)
    protocol, val = _validation_box(meta)
    tuned = meta.get("agglomeration", {}) or {}
    edge_model = tuned.get("edge_model") if tuned.get("method") == "learned" else None
    flips = int(tuned.get("test_time_flips", 1))
    extra = {"test_time_flips": flips} if flips > 1 else {}
    aff = predict_affinities(raw, model, normalize=_volume_stats(raw), device="cpu",
                             precision=tuned.get("precision", "float32"), **extra)
    rows = []
    for sigma in (0.5, 1.0, 1.5, 2.0):
        fragments, graph, sizes = fragment_graph(aff, sigma=sigma, edge_model=edge_model)
        for min_size in (0, 200):
            for threshold in np.round(np.arange(0.4, 0.951, 0.05), 2):
                seg = final_segments(graph, int(fragments.max()), sizes, float(threshold), min_size)[fragments]
                s = evaluate_segmentation(seg[val], gt[val])
                rows.append({"sigma": sigma, "threshold": float(threshold), "min_size": min_size,
                             "vi_split": round(s.vi_split, 4), "vi_merge": round(s.vi_merge, 4),
                             "adapted_rand_error": round(s.adapted_rand_error, 4)})
                print(rows[-1], flush=True)
    best = min(rows, key=lambda r: r["adapted_rand_error"])
    print(f"best on the {protocol} validation box {val}:", best)
    print("store with the weights as meta['agglomeration']['exact'] =",
          json.dumps({k: best[k] for k in ("sigma", "threshold", "min_size")}))
    if json_path:
        json_path.write_text(json.dumps({"grid": rows, "best": best}, indent=2))
    if store:
        import torch

        from neuralscope.connectomics.networks.affinities import DEFAULT_WEIGHTS

        path = weights or DEFAULT_WEIGHTS
        state = torch.load(path, map_location="cpu", weights_only=True)
        state.setdefault("agglomeration", {})["exact"] = {k: best[k] for k in ("sigma", "threshold", "min_size")}
        state["agglomeration"]["exact_validation_adapted_rand_error"] = best["adapted_rand_error"]
        torch.save(state, path)
        print(f"stored in {path}")
    return 0


def fib25(block: tuple[int, int, int], json_path: Path | None) -> int:
    """FIB-25 quality of the exact pipeline vs ``segment_affinities`` (see the module docstring)."""
    import importlib.util

    from neuralscope.connectomics.exact import UNetAffinities, segment_affinities_exact, segment_exact
    from neuralscope.connectomics.metrics import evaluate_segmentation
    from neuralscope.connectomics.networks.affinities import load_affinity_model, predict_affinities
    from neuralscope.connectomics.networks.segment import segment_affinities
    from neuralscope.connectomics.pipeline import _volume_stats, exact_settings

    em_dir = REPO.parent / "shared" / "data" / "em"
    spec = importlib.util.spec_from_file_location("load_em", em_dir / "load_em.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    raw, gt, _, _ = mod.load_fib25_training_sample2()
    gt = gt.astype(np.int64)
    model, meta = load_affinity_model()
    tuned = meta.get("agglomeration", {}) or {}
    settings = exact_settings("unet", meta)
    edge_model = tuned.get("edge_model") if tuned.get("method") == "learned" else None
    work = Path(tempfile.mkdtemp(prefix="ns-fib25-"))

    protocol, val = _validation_box(meta)

    def score(seg, box):
        s = evaluate_segmentation(seg[box], gt[box])
        return {"vi_split": round(s.vi_split, 4), "vi_merge": round(s.vi_merge, 4),
                "adapted_rand_error": round(s.adapted_rand_error, 4)}

    def both(volume):
        aff = predict_affinities(volume, model, normalize=_volume_stats(volume), device="cpu",
                                 precision=tuned.get("precision", "float32"))
        t0 = time.perf_counter()
        seeded = segment_affinities(aff, tuned)
        t1 = time.perf_counter()
        exact = segment_affinities_exact(aff, work / "e.zarr", threshold=settings["threshold"], sigma=settings["sigma"],
                                         min_size=int(settings["min_size"]), block_shape=volume.shape,
                                         edge_model=edge_model).load()
        t2 = time.perf_counter()
        return aff, seeded, exact, (t1 - t0, t2 - t1)

    result: dict = {"settings": settings, "seeded_agglomeration": {k: tuned.get(k) for k in ("method", "threshold",
                                                                                            "seed_threshold")}}
    _, seeded, exact, secs = both(raw[:125])
    result["validation_box"] = {"protocol": protocol, "segment_affinities": score(seeded, val), "exact": score(exact, val)}
    aff, seeded, exact, secs = both(raw)
    held_out = (slice(125, None),)
    result["held_out_z125"] = {"segment_affinities": score(seeded, held_out), "exact": score(exact, held_out)}
    result["agglomeration_seconds_whole_cube"] = {"segment_affinities": round(secs[0], 2), "exact": round(secs[1], 2)}
    t0 = time.perf_counter()
    unet = UNetAffinities(_volume_stats(raw), device="cpu")
    res = segment_exact(raw, work / "b.zarr", unet, threshold=settings["threshold"], sigma=settings["sigma"],
                        min_size=int(settings["min_size"]), block_shape=block, edge_model=edge_model,
                        keep_affinities=work / "aff.zarr")
    seconds = time.perf_counter() - t0
    import zarr

    blocks = res.load()
    kept = zarr.open_array(str(work / "aff.zarr"), mode="r")[...]
    from neuralscope.connectomics.descent import quantize_affinities

    result["blockwise_end_to_end"] = {
        "block": list(block), "n_blocks": res.n_blocks, "seconds": round(seconds, 2),
        "voxels_per_second": round(raw.size / seconds, 0),
        "affinities_equal_predict_affinities": bool(np.array_equal(kept, quantize_affinities(aff))),
        "equals_single_block": bool(np.array_equal(blocks, exact)), "n_segments": res.n_segments}
    for name, part in ((f"validation box {val} of {protocol} (segmenting raw[:125])",
                        {k: v for k, v in result["validation_box"].items() if k != "protocol"}),
                       ("held-out z >= 125 (whole cube)", result["held_out_z125"])):
        print(name)
        for k, s in part.items():
            print(f"  {k:20s} VI split {s['vi_split']:.3f}  merge {s['vi_merge']:.3f}  ARAND {s['adapted_rand_error']:.3f}")
    print("block-wise end to end:", result["blockwise_end_to_end"])
    print(json.dumps(result))
    if json_path:
        json_path.write_text(json.dumps(result, indent=2))
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0 if result["blockwise_end_to_end"]["equals_single_block"] else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", default="160,512,512")
    p.add_argument("--block", default="64,192,192")
    p.add_argument("--limit-gib", type=float, default=1.6, help="RLIMIT_AS (virtual memory) of the block-wise run")
    p.add_argument("--model", default="classical", choices=["classical", "unet"])
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--single-under-limit", action="store_true", help="also try one block under the bound")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--fib25", action="store_true", help="FIB-25 quality and exactness instead (see above)")
    p.add_argument("--tune", action="store_true", help="with --fib25: grid of sigma/threshold/min_size on z < 125")
    p.add_argument("--weights", type=Path, default=None, help="with --fib25 --tune: these weights (default: shipped)")
    p.add_argument("--store", action="store_true", help="with --fib25 --tune: write the best settings into the weights")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args)
    if args.fib25 and args.tune:
        return tune_fib25(args.json, args.weights, args.store)
    if args.fib25:
        return fib25(parse(args.block) if args.block != "64,192,192" else (64, 128, 128), args.json)

    import dask.array as da
    import zarr

    from neuralscope.connectomics.metrics import evaluate_segmentation, variation_of_information
    from neuralscope.datasets.em import simulate_em_volume

    shape = parse(args.shape)
    n_voxels = int(np.prod(shape))
    work = Path(tempfile.mkdtemp(prefix="ns-blockwise-"))
    t0 = time.perf_counter()
    vol = simulate_em_volume(shape, chunks=(64, 256, 256), random_state=args.seed)
    da.to_zarr(vol.raw, str(work / "raw.zarr"))
    da.to_zarr(vol.labels, str(work / "truth.zarr"))
    print(f"simulated {shape} ({n_voxels / 1e6:.1f} M voxels) in {time.perf_counter() - t0:.0f} s; uint64 "
          f"segmentation {n_voxels * 8 / 2**30:.2f} GiB vs bound {args.limit_gib:.2f} GiB", flush=True)

    blockwise = run_child(work / "raw.zarr", work / "blocks.zarr", args.block, args.limit_gib, args.model, args.workers)
    print("block-wise under the bound:", blockwise, flush=True)
    single = run_child(work / "raw.zarr", work / "single.zarr", "whole", 0.0, args.model, 1)
    print("single block, no bound:   ", single, flush=True)
    result = {"shape": list(shape), "voxels": n_voxels, "block": args.block, "limit_gib": args.limit_gib,
              "model": args.model, "blockwise": blockwise, "single_block": single}
    if args.single_under_limit:
        result["single_block_under_limit"] = run_child(work / "raw.zarr", work / "single2.zarr", "whole",
                                                       args.limit_gib, args.model, 1)
        print("single block under the bound:", result["single_block_under_limit"], flush=True)
    if blockwise.get("ok") and single.get("ok"):
        a = zarr.open_array(str(work / "blocks.zarr"), mode="r")[...]
        b = zarr.open_array(str(work / "single.zarr"), mode="r")[...]
        # Partitions: identical iff the (a, b) id pairs are a one-to-one map.
        pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
        same = bool(pairs.shape[1] == len(np.unique(a)) == len(np.unique(b)))
        split, merge = variation_of_information(a, b, ignore_truth=())
        result.update({"identical_partitions": same, "identical_arrays": bool(np.array_equal(a, b)),
                       "vi_split_vs_single": split, "vi_merge_vs_single": merge})
        truth = zarr.open_array(str(work / "truth.zarr"), mode="r")[...]
        s = evaluate_segmentation(a, truth)
        result["vs_truth"] = {"vi_split": round(s.vi_split, 4), "vi_merge": round(s.vi_merge, 4),
                              "adapted_rand_error": round(s.adapted_rand_error, 4)}
        print(f"identical partitions: {same} (identical arrays: {result['identical_arrays']}); VI block-wise vs "
              f"single block: split {split:.4f}, merge {merge:.4f}")
        print(f"peak RSS block-wise {blockwise['peak_rss_mib']} MiB (bound {args.limit_gib * 1024:.0f} MiB), single "
              f"block {single['peak_rss_mib']} MiB; voxels/s block-wise {blockwise['voxels_per_second'] / 1e6:.3f} M, "
              f"single {single['voxels_per_second'] / 1e6:.3f} M; vs truth {result['vs_truth']}")
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0 if result.get("identical_partitions") else 1


if __name__ == "__main__":
    sys.exit(main())
