"""``neuralscope connectome segment``, ``merge`` and ``synapses`` (registered on import).

Kept light to import: the work happens in :mod:`neuralscope.connectomics.commands`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from neuralscope.cli.groups import cli_state, connectome_app
from neuralscope.connectomics.ffn_segment import FFN_MAX_VOXELS


@connectome_app.command("segment")
def segment(
    raw: Path = typer.Argument(..., help="EM volume (z, y, x): zarr folder, HDF5, TIFF stack, PNG/TIFF slice folder or .npy."),
    out: Path = typer.Option(..., "--out", help="Folder for segmentation.zarr (uint64, 0 = background) and metrics.json."),
    truth: Optional[Path] = typer.Option(None, "--truth", help="Ground-truth labels (same formats and shape): adds VI and ARAND."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="dask.distributed scheduler address, or 'local' for a LocalCluster (default: threads)."),
    model: str = typer.Option("auto", "--model", help=(
        "auto, classical, unet or ffn (auto = unet when its weights are installed). ffn: the flood-filling network "
        f"with its shipped (undertrained) weights: one block for small volumes, or block-wise with --block (stitched "
        f"across faces); at most {FFN_MAX_VOXELS:,} voxels per task, the whole volume or one block plus its halo "
        "(it runs at a few thousand voxels/s on a CPU); --method, --threshold, --anisotropy, --test-time-flips and "
        "--precision do not apply to it.")),
    method: str = typer.Option("mean", "--method", help="Agglomeration: mean (descent fragments + one global merging, exact block-wise) or mutex (stitched blocks)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Merge threshold on the mean affinity (default: the model's tuned value)."),
    block: Optional[str] = typer.Option(None, "--block", help="Block size Z,Y,X for block-wise processing (default 128,256,256); with --method mean the result is the same for any block size."),
    halo: Optional[str] = typer.Option(None, "--halo", help="Context voxels Z,Y,X around each block for --method mutex and --model ffn (the exact mean pipeline computes the context it needs)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Parallel blocks (threads, or LocalCluster workers)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="HDF5 dataset of RAW (and of --truth)."),
    anisotropy: float = typer.Option(1.0, "--anisotropy", help="z voxel size relative to y/x."),
    test_time_flips: Optional[int] = typer.Option(None, "--test-time-flips", help="U-Net: average over 1, 2, 4 or 8 mirrorings (default: the value the weights were tuned with; 1 is fastest)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights instead of the shipped ones: a U-Net (or ensemble) file written by scripts/train_affinities.py, or with --model ffn one written by scripts/train_ffn.py."),
    precision: Optional[str] = typer.Option(None, "--precision", help="U-Net: float32 or bfloat16 arithmetic of the network pass (bfloat16 is 2-3x faster on CPUs that support it; default: what the weights were tuned with)."),
    suggestions: Optional[int] = typer.Option(None, "--suggestions", help="Also write DIR/merge_suggestions.csv: the N touching segment pairs most worth a proofreader's look (size_a * size_b * mean contact affinity, with a voxel to inspect; with --truth, what the truth says). --method mean only; the segmentation and its affinities are loaded into memory for it."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Dense neuron segmentation of an EM volume, block by block; the same result as one block."""
    from neuralscope.connectomics.commands import run_segment

    st = cli_state()
    run_segment(raw=raw, out=out, truth=truth, scheduler=scheduler, model=model, method=method, threshold=threshold,
                block=block, halo=halo, workers=workers, dataset=dataset, anisotropy=anisotropy, as_json=as_json,
                test_time_flips=test_time_flips, weights=weights, precision=precision, suggestions=suggestions,
                verbose=st["verbose"], quiet=st["quiet"])


@connectome_app.command("merge")
def merge(
    segmentation: Path = typer.Argument(..., help="Segment ids (z, y, x), e.g. DIR/segmentation.zarr from `segment`."),
    pairs: Path = typer.Option(..., "--pairs", help="CSV with segment_a, segment_b (e.g. merge_suggestions.csv from `segment --suggestions`)."),
    out: Path = typer.Option(..., "--out", help="Folder for the merged segmentation.zarr and metrics.json."),
    column: str = typer.Option("accept", "--column", help="Column of yes/no answers; only 'yes' rows are merged (every row when the CSV has no such column)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="HDF5 dataset of SEGMENTATION."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Join proofread segment pairs (joined segments take the smallest id), chunk by chunk."""
    from neuralscope.connectomics.commands import run_merge

    st = cli_state()
    run_merge(segmentation=segmentation, pairs=pairs, out=out, column=column, dataset=dataset, as_json=as_json,
              verbose=st["verbose"], quiet=st["quiet"])


@connectome_app.command("synapses")
def synapses(
    raw: Path = typer.Argument(..., help="EM volume (z, y, x), same formats as `segment`."),
    segmentation: Path = typer.Option(..., "--segmentation", help="Segment ids (e.g. DIR/segmentation.zarr from `segment`)."),
    out: Path = typer.Option(..., "--out", help="Folder for synapses.csv, edges.csv and metrics.json."),
    truth: Optional[Path] = typer.Option(None, "--truth", help="CSV of true synapses (z, y, x[, pre_id, post_id]): adds precision/recall."),
    tolerance: float = typer.Option(5.0, "--tolerance", help="Distance (voxels) within which a detection matches a true synapse."),
    detector: str = typer.Option("auto", "--detector", help="auto, classical or network (auto = network for anisotropic volumes, --anisotropy > 1, when its weights are installed; classical otherwise)."),
    radius: float = typer.Option(3.0, "--radius", help="Synapse radius (voxels) of the classical detector."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Detection threshold."),
    anisotropy: float = typer.Option(1.0, "--anisotropy", help="z voxel size relative to y/x."),
    downsample: Optional[int] = typer.Option(None, "--downsample", help="Network detector: in-plane down-sampling before the network (default: the weights' value, 4, for ~4-5 nm ssTEM pixels; 1 for volumes whose synapses are a few voxels across)."),
    slab: int = typer.Option(64, "--slab", help="Sections read at a time (raw and segmentation are streamed in slabs; memory grows with it, the result does not change)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Detect synapses, assign pre/post partners to segments, write the neuron x neuron edge list."""
    from neuralscope.connectomics.commands import run_synapses

    st = cli_state()
    run_synapses(raw=raw, segmentation=segmentation, out=out, truth=truth, tolerance=tolerance, detector=detector,
                 radius=radius, threshold=threshold, anisotropy=anisotropy, slab_slices=slab, downsample=downsample,
                 as_json=as_json, verbose=st["verbose"], quiet=st["quiet"])
