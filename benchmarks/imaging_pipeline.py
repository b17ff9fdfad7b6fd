"""Imaging pipeline benchmark: neuralscope against Suite2p, side by side in one run.

Not a test. Both tools get the same TIFF movies (simulated, with ground truth:
an "easy" and a "hard" movie -- overlapping somata, dendrites, out-of-focus
cells, low SNR, non-rigid motion) and report frames/s (whole pipeline, from
the TIFF to traces and spikes, one thread each), registration error against
the true shifts (px), detection precision / recall / F1 (Neurofinder-style
centroid matching within 5 px, Hungarian; IoU >= 0.3 matching also shown) and
the trace correlation of matched cells with the true calcium. Then cell
detection on the real Neurofinder subset (40 frames, 330 ground-truth ROIs).

Suite2p is installed by this script into its own venv under
``~/.cache/neuralscope-bench/suite2p`` (CPU torch 2.13.0 first, suite2p
without its GUI/cellpose extras) and run through that venv's python.

Run: .venv/bin/python benchmarks/imaging_pipeline.py [--quick] [--setup] [--scale]
``--scale`` instead streams a generated zarr movie larger than the stated
memory bound through our pipeline in a subprocess and prints its peak RSS.
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

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "calcium"
VENV = Path.home() / ".cache" / "neuralscope-bench" / "suite2p"
PY = VENV / "bin" / "python"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
SUITE2P_DEPS = ["numpy", "scipy", "numba", "tifffile", "natsort", "scikit-learn", "matplotlib", "importlib-metadata",
                "rastermap", "scanimage-tiff-reader"]


def setup() -> None:
    """Create the Suite2p venv (idempotent)."""
    if PY.exists() and subprocess.run([str(PY), "-c", "import suite2p"], capture_output=True).returncode == 0:
        return
    print(f"installing Suite2p into {VENV}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(PY), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["torch==2.13.0"], check=True)
    # suite2p pins cellpose (and through it torchvision and GUI packages) that the pipeline does not use.
    subprocess.run(pip + ["suite2p==0.14.6", "--no-deps"], check=True)
    subprocess.run(pip + SUITE2P_DEPS, check=True)


_SUITE2P_RUNNER = r"""
import json, sys, time, numpy as np
from suite2p import default_ops, run_s2p
import suite2p.detection.sparsedetect as sd
# Suite2p 0.14.6 under numpy 2: its spatial-scale estimate returns a 1-element array (scipy's mode with
# keepdims) that int() rejects later; the same estimate, made a scalar.
_estimate = sd.estimate_spatial_scale
sd.estimate_spatial_scale = lambda I: int(np.ravel(_estimate(I))[0])
cfg = json.loads(sys.argv[1])
ops = default_ops()
ops.update(cfg["ops"])
db = {"data_path": [cfg["data"]], "save_path0": cfg["save"], "fast_disk": cfg["save"]}
t0 = time.perf_counter()
out = run_s2p(ops=ops, db=db)
seconds = time.perf_counter() - t0
from suite2p.registration.nonrigid import make_blocks
yb, xb, nb = make_blocks(out["Ly"], out["Lx"], out["block_size"])[:3]
print(json.dumps({"seconds": seconds, "yblock": np.asarray(yb).tolist(), "xblock": np.asarray(xb).tolist(),
                  "nblocks": [int(v) for v in nb]}))
"""


def run_suite2p(tif_dir: Path, save: Path, fs: float, nonrigid: bool, diameter: int, tau: float) -> dict:
    # spatial_scale 1 (6 px cells): on the easy movie (2000 x 256^2, 10 px cells) Suite2p's own estimate
    # (0 = auto) picks 2 and keeps 6 ROIs (F1 0.14); scale 1 gives it F1 0.82, so it runs with 1.
    return _run_suite2p(tif_dir, save, fs, nonrigid, diameter, tau, 1)


def _run_suite2p(tif_dir: Path, save: Path, fs: float, nonrigid: bool, diameter: int, tau: float, scale: int) -> dict:
    cfg = {"data": str(tif_dir), "save": str(save),
           "ops": {"fs": fs, "nonrigid": nonrigid, "diameter": diameter, "tau": tau, "batch_size": 500,
                   "spatial_scale": scale,
                   "keep_movie_raw": False, "delete_bin": False, "num_workers": 1, "num_workers_roi": 1}}
    env = {**os.environ, **ONE_THREAD}
    t0 = time.perf_counter()
    proc = subprocess.run([str(PY), "-c", _SUITE2P_RUNNER, json.dumps(cfg)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError("suite2p failed:\n" + proc.stderr[-3000:])
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    inner = info["seconds"]
    plane = save / "suite2p" / "plane0"
    ops = np.load(plane / "ops.npy", allow_pickle=True).item()  # Suite2p's own output format
    ops.update(yblock=info["yblock"], xblock=info["xblock"], nblocks=info["nblocks"])
    stat = np.load(plane / "stat.npy", allow_pickle=True)
    return {"seconds": inner, "wall": wall, "spatial_scale": scale, "ops": ops, "stat": stat,
            "iscell": np.load(plane / "iscell.npy"),
            "F": np.load(plane / "F.npy"), "Fneu": np.load(plane / "Fneu.npy")}


def suite2p_masks(stat, shape, keep=None) -> np.ndarray:
    idx = range(len(stat)) if keep is None else np.nonzero(keep)[0]
    masks = np.zeros((len(idx), *shape), bool)
    for k, i in enumerate(idx):
        masks[k, stat[i]["ypix"], stat[i]["xpix"]] = True
    return masks


def _signed(est: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, int]:
    """Suite2p's yoff/xoff are the correction; ours the displacement. Match the sign to the truth."""
    c = np.corrcoef(est.ravel(), true.ravel())[0, 1]
    return (est, 1) if c >= 0 else (-est, -1)


def score(name, masks, true_masks, traces, calcium, shifts_est, sim, block_est=None, block_centres=None) -> dict:
    from neuralscope.imaging.metrics import match_rois, trace_correlation
    from neuralscope.imaging.registration import shift_error

    err = shift_error(shifts_est, sim.shifts)
    off = np.rint(np.asarray(err["offset"])).astype(int)
    true_reg = np.roll(true_masks, tuple(-off), axis=(1, 2))  # true cells in the registered frame
    m = match_rois(masks, true_reg, "centroid", 5)
    m_iou = match_rois(masks, true_reg, "iou", 0.3)
    r = trace_correlation(traces, calcium, m["pairs"]) if m["n_matched"] else np.array([np.nan])
    out = {"tool": name, "reg_rms_px": err["rms_px"], "precision": m["precision"], "recall": m["recall"],
           "f1": m["f1"], "f1_iou": m_iou["f1"], "n_rois": m["n_detected"], "trace_r": float(np.nanmedian(r))}
    if block_est is not None:
        pts = np.stack(np.meshgrid(*block_centres, indexing="ij"), -1).reshape(-1, 2)
        true = sim.displacement_at(pts)
        out["block_rms_px"] = shift_error(block_est, true)["rms_px"]
    return out


def bench_movie(preset: str, quick: bool, seed: int, spike_method: str) -> list[dict]:
    import tifffile

    from neuralscope.datasets.movies import simulate_movie
    from neuralscope.imaging.pipeline import run_pipeline
    from neuralscope.imaging.traces import delta_f_over_f

    n_frames, shape, n_cells = (1000, (128, 128), 25) if quick else (2000, (256, 256), 80)
    fs, radius, tau = 30.0, 5.0, 0.7  # GCaMP6f; Suite2p's recommended tau for it
    sim = simulate_movie(n_frames, shape, n_cells, fs=fs, preset=preset, random_state=seed)
    nonrigid = preset == "hard"
    rows = []
    with tempfile.TemporaryDirectory(prefix="ns-bench-") as tmp:
        tif_dir = Path(tmp) / "tif"
        tif_dir.mkdir()
        tifffile.imwrite(tif_dir / "movie.tif", np.clip(np.rint(sim.movie), 0, 32767).astype(np.int16))
        del sim.movie
        t0 = time.perf_counter()
        res = run_pipeline(tif_dir / "movie.tif", fs, Path(tmp) / "ours", nonrigid=nonrigid, cell_radius=radius,
                           spike_method=spike_method, seed=seed)
        ours_s = time.perf_counter() - t0
        block = res.block_shifts.reshape(n_frames, 2, -1).transpose(0, 2, 1) if nonrigid else None
        row = score("neuralscope", res.footprints > 0, sim.masks, res.dff, sim.calcium, res.shifts, sim, block,
                    res.block_centres)
        row.update(fps=n_frames / ours_s, seconds=ours_s, stages=res.stage_seconds)
        rows.append(row)
        s2p = run_suite2p(tif_dir, Path(tmp) / "s2p", fs, nonrigid, int(2 * radius), tau)
        ops = s2p["ops"]
        est, sign = _signed(np.stack([ops["yoff"], ops["xoff"]], 1).astype(float), sim.shifts)
        block_est = centres = None
        if nonrigid:
            yb, xb = np.asarray(ops["yblock"]), np.asarray(ops["xblock"])
            cy, cx = yb.mean(1), xb.mean(1)
            ny, nx = ops["nblocks"]
            centres = (cy.reshape(ny, nx)[:, 0], cx.reshape(ny, nx)[0])
            tot = np.stack([ops["yoff1"], ops["xoff1"]], -1) * sign + est[:, None, :]
            block_est = tot
        keep = s2p["iscell"][:, 0] > 0.5
        fc = s2p["F"] - 0.7 * s2p["Fneu"]
        masks = suite2p_masks(s2p["stat"], shape, keep)
        row = score("suite2p", masks, sim.masks, fc[keep], sim.calcium, est, sim, block_est, centres)
        dff_s2p, _ = delta_f_over_f(np.maximum(fc[keep], 1e-3), fs) if keep.any() else (fc[keep], None)
        row["trace_r_dff"] = score("suite2p", masks, sim.masks, dff_s2p, sim.calcium, est, sim)["trace_r"]
        row.update(fps=n_frames / s2p["seconds"], seconds=s2p["seconds"], spatial_scale=s2p["spatial_scale"])
        all_masks = suite2p_masks(s2p["stat"], shape)
        row["f1_all_rois"] = score("suite2p", all_masks, sim.masks, fc, sim.calcium, est, sim)["f1"]
        rows.append(row)
    for r in rows:
        r["movie"] = f"{preset} {n_frames}x{shape[0]}x{shape[1]}, {n_cells} cells"
    return rows


def bench_neurofinder(quick: bool) -> list[dict]:
    from neuralscope.imaging.detection import detect_from_mean_image
    from neuralscope.imaging.metrics import match_rois
    from neuralscope.io.movies import read_movie

    folder = SHARED / "neurofinder_subset"
    if not folder.is_dir():
        print("neurofinder subset absent: skipped", file=sys.stderr)
        return []
    regions = json.loads((folder / "regions" / "regions.json").read_text())
    mov = read_movie(folder / "images")
    shape = tuple(mov.shape[1:])
    true = np.zeros((len(regions), *shape), bool)
    for i, r in enumerate(regions):
        c = np.asarray(r["coordinates"])
        true[i, c[:, 0], c[:, 1]] = True
    t0 = time.perf_counter()
    mean = np.asarray(mov.mean(0).compute())
    ours = detect_from_mean_image(mean, cell_radius=5.0)
    ours_s = time.perf_counter() - t0
    rows = [{"tool": "neuralscope (mean image)", "seconds": ours_s,
             **{k: v for k, v in match_rois(ours, true, "centroid", 5).items() if k != "pairs"}}]
    with tempfile.TemporaryDirectory(prefix="ns-nf-") as tmp:
        try:
            s2p = run_suite2p(folder / "images", Path(tmp), 7.0, False, 12, 1.0)
        except RuntimeError as exc:
            # Suite2p refuses movies under 50 frames; its mean-image mode (anatomical_only) needs cellpose
            # model weights fetched at run time, which this benchmark does not download.
            reason = str(exc).strip().splitlines()[-1]
            rows.append({"tool": "suite2p", "note": f"could not run: {reason}"})
            print(f"suite2p on the Neurofinder subset: {reason}", file=sys.stderr)
            return rows
        keep = s2p["iscell"][:, 0] > 0.5
        for label, k in (("suite2p (functional, iscell)", keep), ("suite2p (functional, all ROIs)", None)):
            m = match_rois(suite2p_masks(s2p["stat"], shape, k), true, "centroid", 5)
            rows.append({"tool": label, "seconds": s2p["seconds"], **{a: b for a, b in m.items() if a != "pairs"}})
    return rows


_SCALE_RUNNER = r"""
import json, resource, sys, time
from neuralscope.imaging.pipeline import run_pipeline
cfg = json.loads(sys.argv[1])
t0 = time.perf_counter()
res = run_pipeline(cfg["movie"], 30.0, cfg["work"], nonrigid=False, spike_method="oasis", max_bins=cfg["max_bins"])
print(json.dumps({"seconds": time.perf_counter() - t0, "n_rois": res.n_rois,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench_scale(bound_mib: int, frames: int) -> dict:
    from neuralscope.datasets.movies import simulate_movie_to_zarr

    with tempfile.TemporaryDirectory(prefix="ns-scale-") as tmp:
        path = Path(tmp) / "big.zarr"
        t0 = time.perf_counter()
        simulate_movie_to_zarr(path, frames, (256, 256), 80, random_state=7, chunk_frames=200)
        gen = time.perf_counter() - t0
        size_mib = frames * 256 * 256 * 4 / 2**20
        env = {**os.environ, **ONE_THREAD}
        proc = subprocess.run([sys.executable, "-c", _SCALE_RUNNER,
                               json.dumps({"movie": str(path), "work": str(Path(tmp) / "work"), "max_bins": 300})],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"movie_mib": size_mib, "bound_mib": bound_mib, "generate_s": gen, **out,
            "within_bound": out["peak_rss_mib"] <= bound_mib, "movie_over_bound": size_mib / bound_mib}


def _fmt(rows: list[dict], cols: list[str]) -> str:
    lines = [" | ".join(f"{c:>12}" for c in cols)]
    for r in rows:
        lines.append(" | ".join(f"{r.get(c, ''):>12.3f}" if isinstance(r.get(c), float) else f"{str(r.get(c, '')):>12}"
                                for c in cols))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1000 x 128^2 movies with 25 cells")
    ap.add_argument("--setup", action="store_true", help="only install Suite2p")
    ap.add_argument("--scale", action="store_true", help="only the larger-than-memory run")
    ap.add_argument("--bound-mib", type=int, default=1024)
    ap.add_argument("--scale-frames", type=int, default=17000)
    ap.add_argument("--presets", default="easy,hard")
    ap.add_argument("--seed", type=int, default=1, help="movie seed (the classifier was trained on seeds >= 1000)")
    ap.add_argument("--spike-method", default="auto")
    ap.add_argument("--skip-neurofinder", action="store_true")
    ap.add_argument("--json", help="also write all rows to this file")
    args = ap.parse_args(argv)
    for k, v in ONE_THREAD.items():
        os.environ.setdefault(k, v)
    if args.scale:
        r = bench_scale(args.bound_mib, args.scale_frames)
        print(json.dumps(r, indent=1))
        return 0
    setup()
    if args.setup:
        return 0
    report: dict = {"movies": [], "neurofinder": []}
    for preset in [p for p in args.presets.split(",") if p and p != "none"]:
        rows = bench_movie(preset, args.quick, args.seed, args.spike_method)
        report["movies"] += rows
        print(f"\n== {rows[0]['movie']} ==")
        print(_fmt(rows, ["tool", "fps", "seconds", "reg_rms_px", "block_rms_px", "precision", "recall", "f1",
                          "f1_iou", "n_rois", "trace_r"]))
        ours, s2p = rows
        print(f"ratios: frames/s ours / suite2p = {ours['fps'] / s2p['fps']:.2f}x; "
              f"F1 ours - suite2p = {ours['f1'] - s2p['f1']:+.3f}; "
              f"suite2p F1 over all its ROIs {s2p['f1_all_rois']:.3f};"
              f" suite2p trace r with our dF/F on its traces {s2p['trace_r_dff']:.3f}")
        print(f"our stage seconds: {json.dumps({k: round(v, 2) for k, v in ours['stages'].items()})}")
    if not args.skip_neurofinder:
        rows = bench_neurofinder(args.quick)
        report["neurofinder"] = rows
        if rows:
            print("\n== Neurofinder subset (40 frames, 330 ROIs; centroid matching within 5 px) ==")
            print(_fmt(rows, ["tool", "precision", "recall", "f1", "n_detected", "seconds"]))
            for r in rows:
                if "note" in r:
                    print(f"{r['tool']}: {r['note']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o),
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
