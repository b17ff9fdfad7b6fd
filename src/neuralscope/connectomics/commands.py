"""The work behind ``neuralscope connectome segment`` and ``neuralscope connectome synapses``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.cli._common import Console, emit, to_json
from neuralscope.core.errors import NeuralscopeError

__all__ = ["SYNAPSE_HALO_SLICES", "parse_block", "run_merge", "run_segment", "run_synapses"]


def parse_block(text: str | None, name: str = "--block", minimum: int = 1) -> tuple[int, int, int] | None:
    """``"64,256,256"`` (or one number for a cube) -> (z, y, x), each >= ``minimum``."""
    if text is None:
        return None
    expected = f"Z,Y,X integers >= {minimum} (e.g. 128,256,256)"
    try:
        parts = [int(p) for p in str(text).split(",") if p.strip()]
    except ValueError:
        raise NeuralscopeError(name, expected, text) from None
    if len(parts) == 1:
        parts *= 3
    if len(parts) != 3 or min(parts) < minimum:
        raise NeuralscopeError(name, expected, text)
    return tuple(parts)  # type: ignore[return-value]


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise NeuralscopeError("--out", "a folder (new or existing)", f"{out} is a file")


def _open_labels(path: Path, dataset: str | None, name: str, shape: tuple[int, ...]):
    from neuralscope.connectomics.volumes import open_volume

    labels = open_volume(path, dataset=dataset)
    if labels.dtype.kind not in "iu":
        raise NeuralscopeError(name, "integer labels", f"{path} has dtype {labels.dtype}")
    if tuple(labels.shape) != tuple(shape):
        raise NeuralscopeError(name, f"the shape of RAW {tuple(shape)}", f"{path} has shape {tuple(labels.shape)}")
    return labels


def _check_ffn_options(**given: Any) -> None:
    """``--model ffn`` takes --block, --halo, --scheduler and --workers; the affinity models' options are errors."""
    unused = {"method": "mean", "threshold": None, "test_time_flips": None, "anisotropy": 1.0, "precision": None}
    for key, default in unused.items():
        if given[key] != default:
            option = "--" + key.replace("_", "-")
            raise NeuralscopeError(option, f"no {option} with --model ffn (the flood-filling network segments with "
                                   "its own settings; use --model unet or classical for it)", given[key])
    if given["halo"] is not None and given["block"] is None:
        # One block has no neighbours: a halo alone would be silently ignored.
        raise NeuralscopeError("--halo", "--block as well with --model ffn (without it the volume is one block)",
                               given["halo"])


def _write_suggestions(seg: np.ndarray, affinities: Path, truth: np.ndarray | None, top: int, staging: Path,
                       out: Path) -> dict:
    """merge_suggestions.csv from the kept affinities (then removed); with truth, its answer per pair."""
    import shutil

    import zarr

    from neuralscope.connectomics.proofreading import merge_suggestions, truth_answers

    table = merge_suggestions(seg, zarr.open_array(str(affinities), mode="r")[...], top=top)
    if truth is not None:
        table["truth_merge"] = truth_answers(table, seg, truth)
    table.to_csv(staging / "merge_suggestions.csv", index=False)
    shutil.rmtree(affinities)
    return {"n_suggestions": len(table), "merge_suggestions": str(out / "merge_suggestions.csv")}


def run_segment(*, raw: Path, out: Path, truth: Path | None = None, scheduler: str | None = None,
                model: str = "auto", method: str = "mean", threshold: float | None = None, block: str | None = None,
                halo: str | None = None, workers: int | None = None, dataset: str | None = None, anisotropy: float = 1.0,
                as_json: bool = False, test_time_flips: int | None = None, weights: Path | None = None,
                precision: str | None = None, suggestions: int | None = None, verbose: int = 0,
                quiet: bool = False) -> dict:
    """Segment ``raw`` into ``out/segmentation.zarr``; returns (and prints) the JSON result.

    With ``suggestions`` N, also ``out/merge_suggestions.csv``
    (:func:`~neuralscope.connectomics.proofreading.merge_suggestions` on the exact pipeline's affinities).
    """
    from neuralscope.connectomics.pipeline import resolve_model, segment_volume
    from neuralscope.connectomics.volumes import open_volume
    from neuralscope.io.atomic import atomic_directory, write_text_atomic

    console = Console(verbose, quiet)
    _check_out(out)
    block_shape = parse_block(block)
    halo_shape = parse_block(halo, "--halo", minimum=0)
    if workers is not None and workers < 1:
        raise NeuralscopeError("--workers", "an integer >= 1", workers)
    if not anisotropy > 0:
        raise NeuralscopeError("--anisotropy", "a value > 0", anisotropy)
    if method not in ("mean", "mutex"):
        raise NeuralscopeError("--method", "mean or mutex", method)
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise NeuralscopeError("--threshold", "a value in [0, 1]", threshold)
    if test_time_flips is not None and test_time_flips not in (1, 2, 4, 8):
        raise NeuralscopeError("--test-time-flips", "1, 2, 4 or 8", test_time_flips)
    from neuralscope.connectomics.networks.affinities import PRECISIONS

    if precision is not None and precision not in PRECISIONS:
        raise NeuralscopeError("--precision", " or ".join(PRECISIONS), precision)
    if suggestions is not None and suggestions < 1:
        raise NeuralscopeError("--suggestions", "a number of pairs >= 1", suggestions)
    if suggestions is not None and (method != "mean" or model == "ffn"):
        raise NeuralscopeError("--suggestions", "--method mean with the unet or classical model (it ranks the "
                               "contacts on that pipeline's affinities)", f"--method {method} --model {model}")
    volume = open_volume(raw, dataset=dataset)
    if min(volume.shape) == 0:
        raise NeuralscopeError("RAW", "a non-empty volume", f"shape {tuple(volume.shape)}")
    if volume.dtype.kind not in "uif":
        raise NeuralscopeError("RAW", "a numeric grey-scale volume", f"dtype {volume.dtype}")
    truth_arr = _open_labels(truth, dataset, "--truth", volume.shape) if truth is not None else None
    if weights is not None and not Path(weights).is_file():
        raise NeuralscopeError("--weights", "a weights file (scripts/train_affinities.py or scripts/train_ffn.py)",
                               str(weights))
    if weights is not None and model not in ("auto", "unet", "ffn"):
        raise NeuralscopeError("--weights", "--model unet or ffn (the classical model has no weights)", model)
    name = "unet" if weights is not None and model == "auto" else resolve_model(model, allow_ffn=True)
    if name == "ffn":
        _check_ffn_options(method=method, block=block, halo=halo, threshold=threshold,
                           test_time_flips=test_time_flips, anisotropy=anisotropy, precision=precision)
    if name == "classical" and precision is not None:
        raise NeuralscopeError("--precision", "--model unet (the classical model has no network)", precision)
    console.info(f"{raw}: {tuple(volume.shape)} {volume.dtype}, model {name}")
    t0 = time.perf_counter()
    with atomic_directory(out) as staging:
        kept = staging / ".affinities.zarr" if suggestions is not None else None
        extra = {"keep_affinities": kept} if kept is not None else {}
        if name == "ffn":
            from neuralscope.connectomics.ffn_segment import segment_ffn_volume

            result, info = segment_ffn_volume(volume, staging / "segmentation.zarr", weights=weights,
                                              progress=console.info, block_shape=block_shape, halo=halo_shape,
                                              scheduler=scheduler, n_workers=workers)
        else:
            result, info = segment_volume(volume, staging / "segmentation.zarr", model=name, threshold=threshold,
                                          method=method, sampling=(anisotropy, 1.0, 1.0), block_shape=block_shape,
                                          halo=halo_shape, scheduler=scheduler, n_workers=workers,
                                          progress=console.info, test_time_flips=test_time_flips,
                                          weights=weights, precision=precision, **extra)
        seconds = time.perf_counter() - t0
        n_voxels = int(np.prod(volume.shape))
        res: dict[str, Any] = {
            "voxels_per_second": n_voxels / seconds if seconds > 0 else float("inf"),
            "n_segments": result.n_segments, "shape": list(volume.shape), "n_voxels": n_voxels,
            "seconds": seconds, "n_blocks": result.n_blocks, "face_merges": result.n_face_merges,
            "segmentation": str(out / "segmentation.zarr"),
            **{k: v for k, v in info.items() if k not in ("n_blocks", "n_face_merges")},  # reported above
        }
        # Read once for the scores and the suggestions alike.
        seg = result.load() if truth_arr is not None or kept is not None else None
        truth_np = np.asarray(truth_arr.compute()) if truth_arr is not None else None
        if truth_np is not None:
            from neuralscope.connectomics.metrics import evaluate_segmentation

            console.info("scoring against the ground truth (truth id 0 ignored)")
            scores = evaluate_segmentation(seg, truth_np)
            res.update({"vi_split": scores.vi_split, "vi_merge": scores.vi_merge,
                        "adapted_rand_error": scores.adapted_rand_error, "rand_precision": scores.rand_precision,
                        "rand_recall": scores.rand_recall})
            scores.split_objects.head(1000).to_csv(staging / "split_objects.csv", index=False)
            scores.merge_objects.head(1000).to_csv(staging / "merge_objects.csv", index=False)
        if kept is not None:
            res.update(_write_suggestions(seg, kept, truth_np, int(suggestions), staging, out))  # type: ignore[arg-type]
        write_text_atomic(staging / "metrics.json", to_json(res))
    console.info(f"wrote {out / 'segmentation.zarr'}")

    def summary(r: dict) -> None:
        line = f"{r['n_segments']} segments in {r['seconds']:.1f} s ({r['voxels_per_second'] / 1e6:.2f} M voxels/s, {r['model']})"
        if "vi_split" in r:
            line += f"; VI split {r['vi_split']:.3f}, merge {r['vi_merge']:.3f}, ARAND {r['adapted_rand_error']:.3f}"
        print(line)

    emit(res, as_json, summary)
    return res


def _network_detector_available() -> bool:
    try:
        from neuralscope.connectomics.networks import synapses as net
    except ImportError:
        return False
    weights = getattr(net, "DEFAULT_SYNAPSE_WEIGHTS", None)
    return hasattr(net, "detect_synapses") and weights is not None and Path(weights).is_file()


def _read_csv(path: Path, option: str, columns: tuple[str, ...], expected: str):
    """A CSV with ``columns``, or a one-line error naming ``option``."""
    import pandas as pd

    if not path.is_file():
        raise NeuralscopeError(option, expected, str(path))
    try:
        table = pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001
        raise NeuralscopeError(option, "a readable CSV", f"{path}: {type(exc).__name__}") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise NeuralscopeError(option, f"columns {', '.join(columns)}", f"{path} lacks {missing}")
    return table


def _read_truth_synapses(path: Path):
    return _read_csv(path, "--truth", ("z", "y", "x"), "an existing CSV of synapses (z, y, x)")


_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0", ""}


def _accepted_pairs(path: Path, column: str) -> np.ndarray:
    """(a, b) rows of a pairs CSV whose ``column`` says yes (every row when the column is absent)."""
    table = _read_csv(path, "--pairs", ("segment_a", "segment_b"), "an existing CSV with segment_a, segment_b columns")
    if column in table.columns:
        answers = table[column].fillna("").astype(str).str.strip().str.lower()
        bad = ~answers.isin(_TRUE | _FALSE)
        if bad.any():
            raise NeuralscopeError("--column", f"{column} values yes/no, true/false or 1/0",
                                   f"{table[column][bad].iloc[0]!r} in row {int(np.flatnonzero(bad)[0]) + 1}")
        table = table[answers.isin(_TRUE).to_numpy()]
    try:
        pairs = table[["segment_a", "segment_b"]].to_numpy(dtype=np.int64)
    except (TypeError, ValueError):
        raise NeuralscopeError("--pairs", "integer segment ids", f"{path}") from None
    return pairs


def run_merge(*, segmentation: Path, pairs: Path, out: Path, column: str = "accept", dataset: str | None = None,
              as_json: bool = False, verbose: int = 0, quiet: bool = False) -> dict:
    """Join accepted segment pairs (e.g. a proofread ``merge_suggestions.csv``) into ``out/segmentation.zarr``.

    Streams the segmentation chunk by chunk (two passes: the ids present, then the relabelling).
    """
    import dask.array as da

    from neuralscope.connectomics.proofreading import merge_mapping, relabel
    from neuralscope.connectomics.volumes import open_volume, write_zarr
    from neuralscope.io.atomic import atomic_directory, write_text_atomic

    console = Console(verbose, quiet)
    _check_out(out)
    accepted = _accepted_pairs(pairs, column)
    volume = open_volume(segmentation, dataset=dataset)
    if volume.dtype.kind not in "iu":
        raise NeuralscopeError("SEGMENTATION", "integer labels", f"{segmentation} has dtype {volume.dtype}")
    if (accepted == 0).any():
        raise NeuralscopeError("--pairs", "segment ids > 0 (0 is the background)", "a pair with id 0")
    ids, roots = merge_mapping(accepted)
    t0 = time.perf_counter()
    present = np.asarray(da.unique(volume).compute())
    present = present[present != 0]
    unknown = ids[~np.isin(ids, present)]
    if len(unknown):
        raise NeuralscopeError("--pairs", f"ids of segments in {segmentation}", f"unknown id {int(unknown[0])}")
    n_joined = len(np.unique(roots))
    console.info(f"{len(accepted)} accepted pairs join {len(ids)} segments into {n_joined}")
    merged = volume.map_blocks(relabel, ids, roots, dtype=volume.dtype)
    with atomic_directory(out) as staging:
        write_zarr(merged, staging / "segmentation.zarr")
        res = {"n_pairs": len(accepted), "n_segments_before": len(present),
               "n_segments": len(present) - len(ids) + n_joined, "seconds": time.perf_counter() - t0,
               "segmentation": str(out / "segmentation.zarr")}
        write_text_atomic(staging / "metrics.json", to_json(res))
    emit(res, as_json, lambda r: print(f"{r['n_pairs']} pairs merged: {r['n_segments_before']} -> "
                                       f"{r['n_segments']} segments in {r['seconds']:.1f} s"))
    return res


#: Sections of the network detector's halo around each slab (synapses spanning fewer sections are
#: found exactly as in a whole-volume run).
SYNAPSE_HALO_SLICES = 8


def run_synapses(*, raw: Path, segmentation: Path, out: Path, truth: Path | None = None, tolerance: float = 5.0,
                 detector: str = "auto", radius: float = 3.0, threshold: float | None = None,
                 anisotropy: float = 1.0, slab_slices: int = 64, downsample: int | None = None,
                 as_json: bool = False, verbose: int = 0, quiet: bool = False) -> dict:
    """Detect synapses in ``raw``, assign partners in ``segmentation``, write the edge list.

    The raw volume and the segmentation are read in slabs of ``slab_slices`` sections (plus the
    filters' reach), never whole.
    """
    from neuralscope.connectomics.synapses import (
        assign_partners,
        detect_synapses_classical,
        match_synapses,
        synapses_to_connectome,
    )
    from neuralscope.connectomics.volumes import open_volume
    from neuralscope.io.atomic import atomic_directory, write_text_atomic

    console = Console(verbose, quiet)
    _check_out(out)
    if detector not in ("auto", "classical", "network"):
        raise NeuralscopeError("--detector", "auto, classical or network", detector)
    if not tolerance > 0:
        raise NeuralscopeError("--tolerance", "a distance > 0", tolerance)
    volume = open_volume(raw)
    if min(volume.shape) == 0:
        raise NeuralscopeError("RAW", "a non-empty volume", f"shape {tuple(volume.shape)}")
    seg = _open_labels(segmentation, None, "--segmentation", volume.shape)
    truth_table = _read_truth_synapses(truth) if truth is not None else None
    # The network works at a fixed resolution (its weights' in-plane down-sampling, 4 for ~4-5 nm ssTEM
    # pixels); auto uses it for anisotropic (serial-section) volumes only. Isotropic volumes whose
    # synapses are a few voxels across need --detector network --downsample 1.
    use_network = detector == "network" or (detector == "auto" and anisotropy > 1 and _network_detector_available())
    if detector == "network" and not _network_detector_available():
        raise NeuralscopeError("--detector", "classical (the synapse network's weights are not installed)", detector)
    if slab_slices < 1:
        raise NeuralscopeError("--slab", "a number of sections >= 1", slab_slices)
    if downsample is not None and (downsample < 1 or not use_network):
        raise NeuralscopeError("--downsample", "an integer >= 1, with the network detector", downsample)
    t0 = time.perf_counter()
    sampling = (anisotropy, 1.0, 1.0)
    if use_network:
        from neuralscope.connectomics.networks.synapses import detect_synapses, load_synapse_model

        model, meta = load_synapse_model()
        if downsample is not None:  # the network's working resolution: synapses a few pixels across
            meta = {**meta, "downsample": int(downsample)}
        console.info(f"detector: synapse network (neuralscope.connectomics.networks), in-plane down-sampling "
                     f"{meta.get('downsample', 1)}, slabs of {slab_slices} sections")
        found = detect_synapses(volume, model, meta, threshold=threshold, slab_slices=slab_slices,
                                halo_slices=SYNAPSE_HALO_SLICES)
    else:
        console.info(f"detector: classical dark-blob detector, slabs of {slab_slices} sections")
        found = detect_synapses_classical(volume, radius=radius, sampling=sampling, slab_slices=slab_slices,
                                          **({"threshold": threshold} if threshold is not None else {}))
    assigned = assign_partners(found, seg, radius=2 * radius, sampling=sampling, slab_slices=slab_slices)
    connectome = synapses_to_connectome(assigned)
    res: dict[str, Any] = {
        "detector": "network" if use_network else "classical", "n_synapses": int(len(assigned)),
        **({"downsample": int(meta.get("downsample", 1))} if use_network else {}),
        "n_assigned": int(assigned["valid"].sum()), "n_neurons": int(connectome.n_neurons),
        "n_edges": int(connectome.n_edges), "seconds": time.perf_counter() - t0,
    }
    if truth_table is not None:
        match = match_synapses(found, truth_table, tolerance=tolerance, sampling=sampling)
        res.update(match.as_dict())
        res["tolerance"] = tolerance
    import pandas as pd

    edges = pd.DataFrame({"pre": connectome.neuron_ids[connectome.pre], "post": connectome.neuron_ids[connectome.post],
                          "weight": connectome.count.astype(np.int64)})
    with atomic_directory(out) as staging:
        assigned.to_csv(staging / "synapses.csv", index=False)
        edges.to_csv(staging / "edges.csv", index=False)
        write_text_atomic(staging / "metrics.json", to_json(res))
    console.info(f"wrote {out / 'synapses.csv'} and {out / 'edges.csv'}")

    def summary(r: dict) -> None:
        line = (f"{r['n_synapses']} synapses ({r['detector']} detector), {r['n_assigned']} with two partners -> "
                f"{r['n_edges']} edges between {r['n_neurons']} segments")
        if "precision" in r:
            line += f"; precision {r['precision']:.3f}, recall {r['recall']:.3f} at {r['tolerance']:g} voxels"
        print(line)

    emit(res, as_json, summary)
    return res
