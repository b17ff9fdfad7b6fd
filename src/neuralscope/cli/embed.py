"""``neuralscope embed``: data in; an embedding file, scores, figures and a report out."""

from __future__ import annotations

from pathlib import Path

from neuralscope.cli._common import Console, emit, load_data, write_metrics_and_report
from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import TrialActivity
from neuralscope.io.atomic import atomic_directory
from neuralscope.report import Report


def _check_args(method: str, dims: int, train_fraction: float | None, steps: int, out: Path | None) -> None:
    # The methods are neuralscope.manifold.analysis.METHODS (others register there).
    from neuralscope.manifold.analysis import METHODS

    if method not in METHODS:
        raise NeuralscopeError("--method", f"one of {', '.join(METHODS)}", method)
    if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
        raise NeuralscopeError("--dims", "an integer >= 1", dims)
    if train_fraction is not None and not 0.0 < float(train_fraction) < 1.0:
        raise NeuralscopeError("--train-fraction", "a fraction in (0, 1)", train_fraction)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise NeuralscopeError("--steps", "an integer >= 1", steps)
    if out is not None and out.exists() and not out.is_dir():
        raise NeuralscopeError("--out", "a folder (new or existing)", f"{out} is a file")


def run_embed_command(
    *, data: str, method: str = "pca", dims: int = 3, target: str | None = None,
    train_fraction: float | None = None, seed: int = 0, steps: int = 1000, out: Path | None = None,
    as_json: bool = False, verbose: int = 0, quiet: bool = False,
) -> dict:
    """Run the embed command; returns the JSON result.

    Writes to ``out`` (all or nothing): ``embedding.npz`` (``embedding``
    n_samples x dims, plus ``target`` and ``train_mask`` when present),
    ``embedding.nwb`` (processing module ``manifold``; needs pynwb),
    ``metrics.json``, ``report.html`` and ``figures/``.
    """
    from neuralscope.manifold.analysis import run_embedding
    from neuralscope.manifold.export import write_embedding_npz, write_embedding_nwb
    from neuralscope.manifold.sections import embedding_section

    console = Console(verbose, quiet)
    _check_args(method, dims, train_fraction, steps, out)
    dataset = load_data(data)
    console.info(f"loaded {data}: {type(dataset).__name__} {dataset.data.shape}")
    analysis = run_embedding(dataset, method=method, dims=dims, target=target, train_fraction=train_fraction,
                             seed=seed, n_steps=steps, progress=console.info)
    result = analysis.to_json()
    result["data"] = data
    is_trials = isinstance(dataset, TrialActivity)
    if out is not None:
        labels = dataset.labels(analysis.target) if is_trials and analysis.target else None
        section = embedding_section(analysis, f"Embedding of {data} ({method})", fs=dataset.fs, trial_labels=labels)
        report = Report("neuralscope embed", subtitle=data)
        report.add_section(section)
        import numpy as np

        extras = {}
        if analysis.y is not None and analysis.y.dtype.kind in "biuf":
            extras["target"] = analysis.y
        if analysis.n_train is not None:
            mask = np.zeros(len(analysis.embedding), dtype=bool)
            mask[: analysis.n_train] = True
            extras["train_mask"] = mask
        if analysis.trial_shape is not None:
            extras["trial_shape"] = np.asarray(analysis.trial_shape)
        with atomic_directory(out) as staging:
            write_embedding_npz(staging / "embedding.npz", analysis.embedding, **extras)
            nwb = None
            if not is_trials:  # NWB TimeSeries need one regular time axis
                nwb = write_embedding_nwb(staging / "embedding.nwb", analysis.embedding, fs=dataset.fs,
                                          t0=dataset.t0, method=method)
            result["files"] = ["embedding.npz"] + (["embedding.nwb"] if nwb else []) + \
                ["metrics.json", "report.html", "figures/"]
            write_metrics_and_report(staging, result, report)
        console.info(f"wrote {out / 'embedding.npz'} and {out / 'report.html'}")
    emit(result, as_json, _print_summary)
    return result


def _print_summary(result: dict) -> None:
    print(f"{result['method']} embedding: {result['n_samples']} samples x {result['dims']} dims "
          f"(fit {result['fit_seconds']:.2f} s)")
    for key, value in result["metrics"].items():
        print(f"  {key:<18} {value:.3f}")
