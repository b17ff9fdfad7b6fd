"""EM segmentation benchmark: throughput, block-wise = single-block, larger-than-memory, FIB-25.

Parts (``--parts``, comma-separated; default all):

- ``throughput``: ``neuralscope connectome segment`` end to end (read zarr -> classical affinities ->
  watershed + merging -> stitched zarr) on a simulated volume, 2 threads; voxels/s as printed by
  the command's JSON.
- ``equality``: a block-wise run against a single-block run of the same volume: a context-free
  segmenter (connected components) must give identical partitions (VI 0 / 0); the classical
  watershed pipeline (context-dependent) is reported as VI between the two runs.
- ``large``: a simulated volume whose segmentation alone (uint64) is larger than the address space
  allowed to the process (``RLIMIT_AS``, default 1 GiB), segmented block-wise by the CLI in a child
  process under that limit; peak RSS from ``getrusage``. The same command run as one block under
  the same limit is expected to fail (``--try-single``).
- ``fib25``: FIB-25 protocol (``../shared/data/README.md``): the classical pipeline's settings are
  chosen on z < 125 only, then every method is scored on z >= 125 only: ours (classical; the U-Net
  of ``neuralscope.connectomics.networks`` when its weights ship), the shipped watershed
  over-segmentation and Google's FFN result, all restricted to the same half and relabelled by
  connected components inside it.

Run: ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/connectomics_segmentation.py``.
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

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


_CHILD = """
import resource, sys
from neuralscope.cli.main import main
try:
    code = main(sys.argv[1:])
finally:
    print(f"PEAK_RSS_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr, flush=True)
sys.exit(code)
"""


def _cli(args: list[str], limit_bytes: int | None = None) -> tuple[int, dict | None, str, float]:
    """Run ``neuralscope`` in a child process (optionally under RLIMIT_AS); (rc, json, last error line, peak RSS MiB)."""
    def limit():
        if limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
    proc = subprocess.run([PY, "-c", _CHILD, *args], capture_output=True, text=True, env=env, preexec_fn=limit)
    lines = proc.stderr.strip().splitlines()
    peak = next((int(line.split("=")[1]) / 1024 for line in reversed(lines) if line.startswith("PEAK_RSS_KB=")), float("nan"))
    errors = [line for line in lines if not line.startswith("PEAK_RSS_KB=")]
    out = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    return proc.returncode, out, errors[-1] if errors else "", peak


def part_throughput(tmp: Path, shape: tuple[int, int, int]) -> dict:
    from neuralscope.connectomics.volumes import write_zarr
    from neuralscope.datasets.em import simulate_em_volume

    vol = simulate_em_volume(shape, random_state=0)
    write_zarr(vol.raw, tmp / "raw.zarr", chunks=(64, 128, 128))
    np.save(tmp / "truth.npy", vol.labels)
    warm = simulate_em_volume((16, 64, 64), random_state=1)
    np.save(tmp / "warm.npy", warm.raw)
    _cli(["-q", "connectome", "segment", str(tmp / "warm.npy"), "--out", str(tmp / "warm"), "--model", "classical",
          "--json"])  # compiles / loads the numba kernels once (cached on disk afterwards)
    rc, res, err, _ = _cli(["-q", "connectome", "segment", str(tmp / "raw.zarr"), "--out", str(tmp / "thr"),
                            "--truth", str(tmp / "truth.npy"), "--model", "classical", "--workers", "2", "--json"])
    if rc != 0:
        raise RuntimeError(err)
    print(f"[throughput] {shape} = {np.prod(shape) / 1e6:.1f} M voxels, classical, 2 threads: "
          f"{res['voxels_per_second'] / 1e6:.3f} M voxels/s end to end ({res['seconds']:.1f} s, {res['n_blocks']} blocks); "
          f"ARAND {res['adapted_rand_error']:.3f}, VI {res['vi_split']:.3f}/{res['vi_merge']:.3f}", flush=True)
    return {"shape": list(shape), **{k: res[k] for k in ("voxels_per_second", "seconds", "n_blocks", "n_segments",
                                                         "adapted_rand_error", "vi_split", "vi_merge")}}


def _components(block):
    from scipy import ndimage as ndi

    return ndi.label(block > 150)[0]


def part_equality(tmp: Path, shape: tuple[int, int, int]) -> dict:
    from neuralscope.connectomics.blockwise import segment_blockwise
    from neuralscope.connectomics.boundaries import ClassicalBoundary
    from neuralscope.connectomics.metrics import variation_of_information
    from neuralscope.connectomics.pipeline import ClassicalSegmenter
    from neuralscope.datasets.em import simulate_em_volume

    vol = simulate_em_volume(shape, random_state=2)
    block = (shape[0] // 2, shape[1] // 2, shape[2] // 2)
    out = {}
    cc_one = segment_blockwise(vol.raw, _components, tmp / "cc1.zarr", block_shape=shape, halo=(0, 0, 0)).load()
    cc_many = segment_blockwise(vol.raw, _components, tmp / "cc8.zarr", block_shape=block, halo=(2, 2, 2))
    vi = variation_of_information(cc_many.load(), cc_one, ignore_truth=())
    out["components"] = {"vi_split": vi[0], "vi_merge": vi[1], "identical_partition": vi == (0.0, 0.0),
                         "n_blocks": cc_many.n_blocks, "n_segments": cc_many.n_segments}
    segmenter = ClassicalSegmenter(ClassicalBoundary().fit(vol.raw))
    one = segment_blockwise(vol.raw, segmenter, tmp / "w1.zarr", block_shape=shape, halo=(0, 0, 0)).load()
    many = segment_blockwise(vol.raw, segmenter, tmp / "w8.zarr", block_shape=block, halo=(16, 24, 24))
    vi = variation_of_information(many.load(), one, ignore_truth=())
    out["classical"] = {"vi_split": vi[0], "vi_merge": vi[1], "n_blocks": many.n_blocks,
                        "n_segments_blockwise": many.n_segments, "n_segments_single": int(one.max())}
    print(f"[equality] {shape}, {cc_many.n_blocks} blocks vs 1: connected components VI {out['components']['vi_split']:.4f}"
          f" / {out['components']['vi_merge']:.4f} (identical: {out['components']['identical_partition']}); "
          f"classical watershed pipeline VI {vi[0]:.4f} / {vi[1]:.4f} "
          f"({many.n_segments} vs {int(one.max())} segments)", flush=True)
    return out


def part_large(tmp: Path, shape: tuple[int, int, int], limit_gib: float, try_single: bool,
               raw_path: Path | None = None) -> dict:
    import dask.array as da

    from neuralscope.connectomics.volumes import write_zarr
    from neuralscope.datasets.em import simulate_em_volume

    n = int(np.prod(shape))
    t0 = time.perf_counter()
    big = raw_path or tmp / "big.zarr"
    if not (big / "zarr.json").exists():
        lazy = simulate_em_volume(shape, chunks=(64, 176, 176), random_state=3)
        write_zarr(lazy.raw, big, chunks=(64, 176, 176))  # streamed chunk by chunk
    print(f"[large] simulated {shape} ({n / 1e6:.0f} M voxels, raw {n / 2**20:.0f} MiB, uint64 segmentation "
          f"{8 * n / 2**30:.2f} GiB) in {time.perf_counter() - t0:.0f} s", flush=True)
    limit = int(limit_gib * 2**30)
    rc, res, err, peak = _cli(["-q", "connectome", "segment", str(big), "--out", str(tmp / "big-out"),
                               "--model", "classical", "--block", "64,176,176", "--halo", "16,16,16", "--workers", "1",
                               "--json"], limit)
    out = {"shape": list(shape), "voxels": n, "limit_gib": limit_gib, "segmentation_gib": 8 * n / 2**30,
           "rc": rc, "peak_rss_mib": peak}
    if rc != 0:
        print(f"[large] block-wise run failed under {limit_gib} GiB: {err}", flush=True)
        return out
    out.update({k: res[k] for k in ("voxels_per_second", "seconds", "n_blocks", "n_segments", "face_merges")})
    seg = da.from_zarr(str(tmp / "big-out" / "segmentation.zarr"))
    out["max_id_check"] = int(seg.max().compute()) == res["n_segments"]
    print(f"[large] block-wise under RLIMIT_AS {limit_gib} GiB: rc 0, {res['n_blocks']} blocks, "
          f"{res['voxels_per_second'] / 1e6:.3f} M voxels/s, peak RSS {peak:.0f} MiB, {res['n_segments']} segments", flush=True)
    if try_single:
        rc1, _, err1, _ = _cli(["-q", "connectome", "segment", str(big), "--out", str(tmp / "one-out"),
                                "--model", "classical", "--block", ",".join(map(str, shape)), "--json"], limit)
        out["single_block_rc"], out["single_block_error"] = rc1, err1
        print(f"[large] the same volume as ONE block under the same limit: rc {rc1} ({err1[:120]})", flush=True)
    return out


def _restrict(labels: np.ndarray) -> np.ndarray:
    """Ids inside the test half, one per connected piece (0 stays 0)."""
    from skimage.measure import label

    from neuralscope.connectomics.agglomeration import relabel_consecutive

    # label() joins equal neighbouring values only, so touching objects stay apart.
    lab, _ = relabel_consecutive(labels)
    out = label(lab.astype(np.int64) + 1, background=1 if (lab == 0).any() else 0, connectivity=1)
    return out.astype(np.uint64)


def part_fib25(tmp: Path, quick: bool) -> dict:
    from neuralscope.connectomics.agglomeration import (
        _apply_mapping,
        affinities_to_boundary,
        agglomerate,
        boundary_to_affinities,
        region_graph,
        watershed_fragments,
    )
    from neuralscope.connectomics.boundaries import ClassicalBoundary
    from neuralscope.connectomics.metrics import evaluate_segmentation
    from neuralscope.connectomics.pipeline import unet_available
    from neuralscope.connectomics.volumes import FIB25_TEST_Z, load_fib25

    data = load_fib25()
    raw, truth = data["raw"], data["truth"]
    train, test = slice(0, FIB25_TEST_Z), slice(FIB25_TEST_Z, None)
    # 1. Tune the classical pipeline on z < 125 only.
    grid = []
    sizes = (9,) if quick else (7, 9, 11)
    for closing in sizes:
        est = ClassicalBoundary(closing_size=closing).fit(raw[train])
        aff = boundary_to_affinities(est.transform(raw[train]))
        for seed_t in ((0.3,) if quick else (0.3, 0.5)):
            frag = watershed_fragments(affinities_to_boundary(aff), seed_t, 2.0)
            graph = region_graph(frag, aff)
            for thr in (0.3, 0.35, 0.4, 0.45, 0.5):
                s = evaluate_segmentation(_apply_mapping(frag, agglomerate(graph, thr)), truth[train])
                grid.append({"closing_size": closing, "seed_threshold": seed_t, "threshold": thr,
                             "train_arand": s.adapted_rand_error, "train_vi_split": s.vi_split, "train_vi_merge": s.vi_merge})
                print(f"[fib25 tune z<125] closing {closing} seed {seed_t} threshold {thr}: ARAND {s.adapted_rand_error:.3f} "
                      f"VI {s.vi_split:.3f}/{s.vi_merge:.3f}", flush=True)
    best = min(grid, key=lambda g: g["train_arand"])
    # 2. Run on the whole cube with those settings (the boundary scale is learnt on z < 125 only),
    #    then score z >= 125 only.
    est = ClassicalBoundary(closing_size=best["closing_size"]).fit(raw[train])
    t0 = time.perf_counter()
    aff = boundary_to_affinities(est.transform(raw))
    frag = watershed_fragments(affinities_to_boundary(aff), best["seed_threshold"], 2.0)
    ours = _apply_mapping(frag, agglomerate(region_graph(frag, aff), best["threshold"]))
    seconds = time.perf_counter() - t0
    rows = {}
    candidates = {"neuralscope classical": ours, "watershed over-segmentation (shipped)": data["watershed"],
                  "FFN (google/ffn result)": data["ffn_raw_ids"]}
    if unet_available():
        from neuralscope.connectomics.networks import segment_em

        candidates["neuralscope U-Net (networks)"] = segment_em(raw)
    for name, seg in candidates.items():
        s = evaluate_segmentation(_restrict(seg[test]), truth[test])
        rows[name] = {"vi_split": s.vi_split, "vi_merge": s.vi_merge, "adapted_rand_error": s.adapted_rand_error}
    print(f"\n[fib25] held-out half z >= {FIB25_TEST_Z} (truth id 0 ignored; each result restricted to the half and "
          "relabelled by 6-connected components there)")
    print(f"{'method':<42}{'VI split':>10}{'VI merge':>10}{'ARAND':>8}")
    for name, r in rows.items():
        print(f"{name:<42}{r['vi_split']:>10.3f}{r['vi_merge']:>10.3f}{r['adapted_rand_error']:>8.3f}")
    print(f"classical settings chosen on z < 125: {best} ; whole-cube run {seconds:.1f} s "
          f"({raw.size / seconds / 1e6:.2f} M voxels/s, 1 thread)", flush=True)
    return {"tuning": grid, "chosen": best, "held_out": rows, "classical_seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="throughput,equality,large,fib25")
    parser.add_argument("--throughput-shape", default="128,256,256")
    parser.add_argument("--equality-shape", default="64,160,160")
    parser.add_argument("--large-shape", default="256,704,704")
    parser.add_argument("--limit-gib", type=float, default=1.0)
    parser.add_argument("--try-single", action="store_true", help="Also run the large volume as one block (expected to fail).")
    parser.add_argument("--large-raw", type=Path, help="Keep (or reuse) the large simulated raw volume here.")
    parser.add_argument("--quick", action="store_true", help="Smaller tuning grid on FIB-25.")
    parser.add_argument("--json", type=Path, help="Write all results to this file.")
    args = parser.parse_args(argv)
    shape = lambda s: tuple(int(v) for v in s.split(","))  # noqa: E731
    results = {}
    with tempfile.TemporaryDirectory(prefix="ns-em-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for part in [p.strip() for p in args.parts.split(",") if p.strip()]:
            sub = tmp / part
            sub.mkdir()
            if part == "throughput":
                results[part] = part_throughput(sub, shape(args.throughput_shape))
            elif part == "equality":
                results[part] = part_equality(sub, shape(args.equality_shape))
            elif part == "large":
                results[part] = part_large(sub, shape(args.large_shape), args.limit_gib, args.try_single, args.large_raw)
            elif part == "fib25":
                results[part] = part_fib25(sub, args.quick)
            else:
                parser.error(f"unknown part {part!r}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
