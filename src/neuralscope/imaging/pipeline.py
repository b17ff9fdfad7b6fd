"""The whole imaging chain with per-stage checkpoints.

Stages: registration -> detection -> traces (dF/F) -> spikes. Each stage's
result is written atomically into a work folder; a later run with the same
input and settings loads finished stages instead of recomputing them, so an
interrupted run resumes where it stopped. Every stage streams over frames.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.io.atomic import atomic_path, write_text_atomic

__all__ = ["PipelineResult", "STAGES", "run_pipeline"]

STAGES = ("registration", "detection", "traces", "spikes")


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` produced (all arrays in NumPy)."""

    footprints: np.ndarray          # (n, H, W) in the registered (reference) frame
    centroids: np.ndarray           # (n, 2) row, col in the input movie's coordinates (median position)
    dff: np.ndarray                 # (n, T)
    spike_rates: np.ndarray         # (n, T)
    raw: np.ndarray                 # (n, T) weighted-mean fluorescence
    neuropil: np.ndarray            # (n, T)
    corrected: np.ndarray           # (n, T) demixed, neuropil-subtracted
    shifts: np.ndarray              # (T, 2) rigid displacement per frame
    block_shifts: np.ndarray        # (T, 2, gy, gx)
    block_centres: tuple
    reference: np.ndarray           # (H, W)
    mean_image: np.ndarray          # (H, W) of the registered movie (binned)
    correlation_image: np.ndarray   # (H, W)
    fs: float
    n_frames: int
    stage_seconds: dict
    resumed: list
    spike_info: dict
    registered_path: Path
    neuropil_coefficient: float
    extra: dict = field(default_factory=dict)

    @property
    def n_rois(self) -> int:
        return int(len(self.footprints))

    @property
    def frames_per_second(self) -> float:
        total = sum(self.stage_seconds.values())
        return float(self.n_frames / total) if total > 0 else float("inf")


def _fingerprint(source: Any, settings: dict) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files[:5000]:
            if f.is_file():
                st = f.stat()
                h.update(f"{f.relative_to(p) if p.is_dir() else f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        h.update(str(p.resolve()).encode())
    else:
        arr = np.asarray(source[: min(len(source), 50)])
        h.update(arr.tobytes())
        h.update(str(source.shape).encode())
    return h.hexdigest()


def _save_npz(path: Path, **arrays: Any) -> None:
    with atomic_path(path, suffix=".npz.tmp") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _load_npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def run_pipeline(movie: Any, fs: float, work_dir: str | os.PathLike, *, nonrigid: bool = True,
                 cell_radius: float = 5.0, chunk_frames: int = 200, dataset: str | None = None,
                 spike_method: str = "auto", classify: bool = True, seed: int = 0,
                 progress: Callable[[str], None] | None = None, client: Any = None,
                 n_workers: int = 1, max_bins: int = 800) -> PipelineResult:
    """Register, detect, extract and deconvolve one movie, resuming finished stages.

    Parameters
    ----------
    movie : str, PathLike or array-like
        A movie file/folder (see :func:`neuralscope.io.movies.read_movie`) or a (T, H, W) array.
    fs : float
        Frame rate (Hz).
    work_dir : str or PathLike
        Checkpoint folder (created). Holds ``registered.zarr`` and one file per stage.
    nonrigid : bool
        Piecewise-rigid registration after the rigid step.
    cell_radius : float
        Expected soma radius (px).
    chunk_frames : int
        Frames per streamed chunk.
    dataset : str, optional
        Dataset path inside an HDF5/zarr/NWB input.
    spike_method : str
        Passed to :func:`neuralscope.imaging.spikes.infer_spikes`.
    classify : bool
        Apply the cell / not-cell classifier.
    seed : int
        Seeds the reference-frame choice.
    progress : callable, optional
        Receives one line per stage.
    client : dask.distributed.Client, optional
        Run the chunk tasks on this cluster (default: the local threaded scheduler).
    n_workers : int
        Threads of the local scheduler (the kernels release the GIL).
    max_bins : int
        Most binned frames the detection keeps in memory (about ``3 * max_bins * H * W * 4`` bytes).

    Returns
    -------
    PipelineResult
    """
    import zarr

    from neuralscope.io.movies import as_movie, read_movie

    say = progress or (lambda m: None)
    if not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
        raise NeuralscopeError("--fs", "a frame rate > 0", fs)
    if isinstance(movie, (str, os.PathLike)):
        mov = read_movie(movie, dataset=dataset, chunk_frames=chunk_frames)
    else:
        mov = as_movie(movie, chunk_frames)
    n_frames, h, w = (int(s) for s in mov.shape)
    settings = {"fs": float(fs), "nonrigid": bool(nonrigid), "cell_radius": float(cell_radius), "dataset": dataset,
                "chunk_frames": int(chunk_frames), "spike_method": spike_method, "classify": bool(classify),
                "seed": int(seed), "max_bins": int(max_bins), "version": 1}
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    key = _fingerprint(movie, settings)
    state_file = work / "state.json"
    if state_file.exists():
        try:
            state = json.loads(state_file.read_text())
        except ValueError:
            state = {}
        if state.get("fingerprint") != key:  # other input or settings: the old checkpoints do not apply
            for name in STAGES:
                (work / f"{name}.npz").unlink(missing_ok=True)
            shutil.rmtree(work / "registered.zarr", ignore_errors=True)
    write_text_atomic(state_file, json.dumps({"fingerprint": key, "settings": settings}))
    seconds: dict[str, float] = {}
    resumed: list[str] = []

    # 1. registration -----------------------------------------------------------------------------
    from neuralscope.imaging.registration import Registration

    reg_file, zpath = work / "registration.npz", work / "registered.zarr"
    if reg_file.exists() and zpath.exists():
        r = _load_npz(reg_file)
        resumed.append("registration")
        say("registration: loaded from checkpoint")
    else:
        t0 = time.perf_counter()
        say(f"registration ({'piecewise-rigid' if nonrigid else 'rigid'}) of {n_frames} frames of {h}x{w}")
        registration = Registration(nonrigid=nonrigid, random_state=seed).fit_reference(mov)
        tmp = work / ".registered.zarr.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        out = zarr.create_array(str(tmp), shape=(n_frames, h, w), chunks=(mov.chunks[0][0], h, w), dtype="float32",
                                compressors=None)
        with _scheduler(client, n_workers):
            packed = registration.register(mov, out).compute()
        res = registration.unpack(np.asarray(packed))
        shutil.rmtree(zpath, ignore_errors=True)
        os.replace(tmp, zpath)
        seconds["registration"] = time.perf_counter() - t0
        r = {"shifts": res.shifts, "block_shifts": res.block_shifts, "centres_y": res.block_centres[0],
             "centres_x": res.block_centres[1], "correlation": res.correlation, "reference": registration.reference_,
             "seconds": np.float64(seconds["registration"])}
        _save_npz(reg_file, **r)
    seconds["registration"] = float(r["seconds"])
    import dask.array as da

    registered = da.from_zarr(zarr.open_array(str(zpath), mode="r"))

    # 2. detection --------------------------------------------------------------------------------
    from neuralscope.imaging.detection import CellDetector

    det_file = work / "detection.npz"
    if det_file.exists():
        d = _load_npz(det_file)
        resumed.append("detection")
        say("detection: loaded from checkpoint")
    else:
        t0 = time.perf_counter()
        say("detection")
        edge = int(math.ceil(np.abs(r["block_shifts"]).max())) + 2 if n_frames else 2
        with _scheduler(client, n_workers):
            det = CellDetector(cell_radius=cell_radius, classify=classify, max_bins=max_bins,
                                   random_state=seed).fit(registered, fs, edge=edge)
        if det.n_bins_ < 50:
            say(f"detection: warning: only {det.n_bins_} binned frames; activity-based detection needs a longer "
                "movie (a few hundred frames) to be reliable")
        d = {"footprints": det.footprints_.astype(np.float32), "features": det.features_,
             "is_cell": det.is_cell_, "probability": det.cell_probability_, "mean_image": det.mean_image_,
             "correlation_image": det.correlation_image_, "seconds": np.float64(time.perf_counter() - t0)}
        _save_npz(det_file, **d)
    seconds["detection"] = float(d["seconds"])
    footprints = d["footprints"]
    say(f"detection: {len(footprints)} cells ({int(np.sum(~d['is_cell']))} candidates rejected)")

    # 3. traces -----------------------------------------------------------------------------------
    from neuralscope.imaging.traces import TraceExtractor

    tr_file = work / "traces.npz"
    if tr_file.exists():
        tr = _load_npz(tr_file)
        resumed.append("traces")
        say("traces: loaded from checkpoint")
    else:
        t0 = time.perf_counter()
        say("traces: extraction, neuropil subtraction, dF/F")
        ext = TraceExtractor().fit(footprints)
        if len(footprints):
            with _scheduler(client, n_workers):
                traces = ext.transform(registered, fs)
            tr = {"raw": traces.raw, "neuropil": traces.neuropil, "corrected": traces.corrected, "dff": traces.dff,
                  "neuropil_coefficient": np.float64(traces.neuropil_coefficient)}
        else:
            empty = np.zeros((0, n_frames), np.float32)
            tr = {"raw": empty, "neuropil": empty, "corrected": empty, "dff": empty,
                  "neuropil_coefficient": np.float64(ext.neuropil_coefficient)}
        tr["seconds"] = np.float64(time.perf_counter() - t0)
        _save_npz(tr_file, **tr)
    seconds["traces"] = float(tr["seconds"])

    # 4. spikes -----------------------------------------------------------------------------------
    sp_file = work / "spikes.npz"
    if sp_file.exists():
        sp = _load_npz(sp_file)
        resumed.append("spikes")
        say("spikes: loaded from checkpoint")
    else:
        t0 = time.perf_counter()
        say("spikes: inference from dF/F")
        rates, info = _spikes(tr["dff"], fs, spike_method)
        sp = {"spike_rates": rates.astype(np.float32), "info": np.array(json.dumps(info, default=_jsonable)),
              "seconds": np.float64(time.perf_counter() - t0)}
        _save_npz(sp_file, **sp)
    seconds["spikes"] = float(sp["seconds"])
    from neuralscope.imaging.detection import _centroids

    return PipelineResult(
        # Footprints live in the registered (reference) frame; a cell sits at its reference position plus
        # the frames' median displacement in the input movie.
        footprints=footprints, centroids=_centroids(footprints) + np.median(r["shifts"], axis=0), dff=tr["dff"], spike_rates=sp["spike_rates"],
        raw=tr["raw"], neuropil=tr["neuropil"], corrected=tr["corrected"], shifts=r["shifts"],
        block_shifts=r["block_shifts"], block_centres=(r["centres_y"], r["centres_x"]), reference=r["reference"],
        mean_image=d["mean_image"], correlation_image=d["correlation_image"], fs=float(fs), n_frames=n_frames,
        stage_seconds=seconds, resumed=resumed, spike_info=json.loads(str(sp["info"])), registered_path=zpath,
        neuropil_coefficient=float(tr["neuropil_coefficient"]),
        extra={"is_cell": d["is_cell"], "probability": d["probability"], "features": d["features"]},
    )


def _scheduler(client: Any, n_workers: int) -> Any:
    """The local threaded scheduler, or nothing to set when a distributed client is active."""
    import contextlib

    import dask

    if client is not None:
        return contextlib.nullcontext()
    return dask.config.set(scheduler="threads", num_workers=int(n_workers))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


def _spikes(dff: np.ndarray, fs: float, method: str) -> tuple[np.ndarray, dict]:
    """Spike rates from ``neuralscope.imaging.spikes`` (imported only here)."""
    if len(dff) == 0:
        return np.zeros_like(dff), {"method": "none", "reason": "no cells"}
    from neuralscope.imaging.spikes import infer_spikes

    rates, info = infer_spikes(dff, fs, method=method, return_info=True)
    return np.asarray(rates), info
