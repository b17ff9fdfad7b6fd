"""``neuralscope`` entry point: sub-commands, exit codes, one-line errors.

Exit codes: 0 success, 2 bad input or usage (one line on stderr),
1 internal error (one line; ``-v`` adds the traceback).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Optional

import click
import typer

from neuralscope import __version__
from neuralscope.core.errors import NeuralscopeError

app = typer.Typer(
    name="neuralscope",
    help="A computational microscope for neuroscience.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_STATE = {"verbose": 0, "quiet": False}

# Recent typer vendors its own click: catch both families of exceptions.
try:
    from typer._click import exceptions as _typer_click
except ImportError:  # older typer runs on click itself
    _typer_click = click.exceptions
_EXIT = tuple({click.exceptions.Exit, typer.Exit})
_ABORT = tuple({click.exceptions.Abort, typer.Abort})
_USAGE = tuple({click.ClickException, _typer_click.ClickException})


def _version(value: bool) -> None:
    if value:
        print(f"neuralscope {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More messages (tracebacks on internal errors)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress messages."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _STATE["verbose"] = verbose
    _STATE["quiet"] = quiet


@app.command()
def decode(
    data: str = typer.Argument(..., help="A file (.npz, .mat, .csv, .nwb) or a built-in set: demo:tuning, demo:reaching, demo:decision."),
    target: Optional[str] = typer.Option(None, "--target", help="Trial label (classification) or behaviour covariate (regression)."),
    models: str = typer.Option("linear,cnn", "--models", help="Comma-separated decoders, e.g. linear,svm,cnn,lstm,gru,transformer,wiener,kalman."),
    cv: int = typer.Option(5, "--cv", help="Folds (stratified for trials, contiguous blocks for time series)."),
    history: int = typer.Option(10, "--history", help="Bins of past activity for regression decoders."),
    seed: int = typer.Option(0, "--seed", help="Seed for folds and models."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for metrics.json, figures/ and report.html."),
    extras: bool = typer.Option(True, "--extras/--no-extras", help="Time-resolved accuracy, neuron importance, learning curve, latents."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Decode a stimulus, choice or movement from population activity."""
    from neuralscope.cli.decode import run_decode_command

    run_decode_command(
        data=data, target=target, models=models, cv=cv, history=history, seed=seed,
        out=out, extras=extras, as_json=as_json, verbose=_STATE["verbose"], quiet=_STATE["quiet"],
    )


@app.command()
def demo(
    out: Path = typer.Option(Path("neuralscope-demo"), "--out", help="Folder for report.html, metrics.json and figures."),
    seed: int = typer.Option(0, "--seed", help="Seed of every simulation and model."),
    quick: bool = typer.Option(False, "--quick", help="Smaller data and fewer models (for smoke tests)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Run every capability on built-in data and write one HTML report."""
    from neuralscope.cli.demo import run_demo_command

    run_demo_command(out=out, seed=seed, quick=quick, as_json=as_json, verbose=_STATE["verbose"], quiet=_STATE["quiet"])


@app.command()
def embed(
    data: str = typer.Argument(..., help="A file (.npz, .mat, .csv, .nwb) or a built-in set: demo:decision, demo:reaching, demo:m1, ..."),
    method: str = typer.Option("pca", "--method", help="pca, fa, tsne, umap, contrastive-time, contrastive-behavior, hybrid, seqvae."),
    dims: int = typer.Option(3, "--dims", help="Embedding dimensions."),
    target: Optional[str] = typer.Option(None, "--target", help="Behaviour covariate or trial label to score (and to contrast on)."),
    train_fraction: Optional[float] = typer.Option(None, "--train-fraction", help="Fit on the first F of the time axis, transform the rest, score k-NN on the rest."),
    steps: int = typer.Option(1000, "--steps", help="Training steps of contrastive models."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random thing."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for embedding.npz, embedding.nwb, metrics.json, figures/ and report.html."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Embed population activity in a low-dimensional space and score it."""
    from neuralscope.cli.embed import run_embed_command

    run_embed_command(
        data=data, method=method, dims=dims, target=target, train_fraction=train_fraction, seed=seed,
        steps=steps, out=out, as_json=as_json, verbose=_STATE["verbose"], quiet=_STATE["quiet"],
    )


@app.command()
def simulate(
    connectome: str = typer.Argument(..., help="Edge list (.csv or .parquet; FlyWire Connectivity columns accepted) or demo:celegans."),
    preset: str = typer.Option("flywire-lif", "--preset", help="flywire-lif (Shiu et al. 2024), celegans-lif or cuba."),
    activate: Optional[list[str]] = typer.Option(None, "--activate", help="IDS[@HZ]: neurons driven by Poisson input (repeatable)."),
    silence: Optional[str] = typer.Option(None, "--silence", help="Comma-separated ids whose outgoing synapses are removed."),
    report: Optional[str] = typer.Option(None, "--report", help="Comma-separated ids whose trial-averaged rates are printed."),
    duration: str = typer.Option("1s", "--duration", help="Simulated time per trial, e.g. 1s or 500ms."),
    trials: int = typer.Option(30, "--trials", help="Trials, simulated together in one batch."),
    neurons: Optional[str] = typer.Option(None, "--neurons", help="Neuron table the edge indices refer to (e.g. FlyWire Completeness_783.csv)."),
    dt: Optional[float] = typer.Option(None, "--dt", help="Time step in seconds (overrides the preset)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu or cuda (default: cuda when present)."),
    threads: int = typer.Option(1, "--threads", help="CPU threads; 1 is fastest for small per-step tensors on busy machines."),
    control: bool = typer.Option(True, "--control/--no-control", help="Also run the unperturbed control and compare."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Poisson input."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for spikes.parquet, rates, figures and report.html."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
) -> None:
    """Simulate a spiking circuit built from a connectome, with perturbations."""
    from neuralscope.cli.simulate import run_simulate_command

    run_simulate_command(
        connectome=connectome, preset=preset, activate=activate, silence=silence, report=report,
        duration=duration, trials=trials, seed=seed, out=out, as_json=as_json, verbose=_STATE["verbose"],
        quiet=_STATE["quiet"], neurons=neurons, dt=dt, device=device, threads=threads, control=control,
    )


def _register_groups() -> None:
    from neuralscope.cli import groups

    # Importing a command module registers its commands on its group.
    import neuralscope.cli.commands  # noqa: F401

    for name, group in groups.GROUPS:
        if group.registered_commands:
            app.add_typer(group, name=name)


_register_groups()


def _fail(msg: str, code: int) -> int:
    print(f"neuralscope: error: {' '.join(str(msg).split())}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns (and exits with) the exit code."""
    command = typer.main.get_command(app)
    code = 0
    try:
        command.main(args=argv, prog_name="neuralscope", standalone_mode=False)
    except _EXIT as exc:
        code = exc.exit_code
    except _ABORT:
        code = _fail("aborted", 130)
    except _USAGE as exc:
        if exc.__class__.__name__ == "NoArgsIsHelpError":  # bare `neuralscope`: help was wanted
            print(exc.format_message(), file=sys.stderr)
            code = 2
        else:
            code = _fail(exc.format_message(), 2)
    except NeuralscopeError as exc:
        code = _fail(str(exc), 2)
    except KeyboardInterrupt:
        code = _fail("interrupted", 130)
    except Exception as exc:  # one line unless -v: users see no traceback
        if _STATE["verbose"]:
            traceback.print_exc()
        code = _fail(f"internal error: {type(exc).__name__}: {exc}", 1)
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
