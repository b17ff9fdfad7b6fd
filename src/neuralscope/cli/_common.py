"""Helpers shared by the sub-commands: data resolution, output, progress."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity

DEMO_PREFIX = "demo:"


class Console:
    """Progress and messages go to stderr so stdout stays machine-readable."""

    def __init__(self, verbose: int = 0, quiet: bool = False):
        self.verbose = verbose
        self.quiet = quiet

    def info(self, msg: str) -> None:
        if not self.quiet:
            print(f"[neuralscope] {msg}", file=sys.stderr, flush=True)

    def debug(self, msg: str) -> None:
        if self.verbose and not self.quiet:
            print(f"[neuralscope] {msg}", file=sys.stderr, flush=True)


def load_data(source: str) -> ContinuousActivity | TrialActivity:
    """A built-in data set (``demo:NAME``) or a user's file."""
    if source.startswith(DEMO_PREFIX):
        from neuralscope.datasets import load_demo

        return load_demo(source[len(DEMO_PREFIX):])
    path = Path(source)
    if not path.exists():
        raise NeuralscopeError("DATA", "an existing file or demo:NAME", source)
    if path.is_dir():
        raise NeuralscopeError("DATA", "a file, not a directory", source)
    from neuralscope.io import load

    return load(path)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any, indent: int | None = 2) -> str:
    return json.dumps(obj, default=_jsonable, indent=indent, allow_nan=True)


def write_metrics_and_report(folder: Path, result: dict, report: Any) -> None:
    """The artefacts every command leaves in ``--out``: ``metrics.json``,
    ``report.html`` and ``figures/*.png`` (call inside ``atomic_directory``)."""
    from neuralscope.io.atomic import write_text_atomic

    write_text_atomic(folder / "metrics.json", to_json(result))
    report.save(folder / "report.html", figures_dir=folder / "figures")


def emit(result: dict, as_json: bool, print_summary: Any) -> None:
    """One JSON object on stdout with ``--json``, a human summary otherwise."""
    if as_json:
        print(to_json(result, indent=None))
    else:
        print_summary(result)


def parse_models(models: str) -> list[str]:
    names = [m.strip().lower() for m in models.split(",") if m.strip()]
    if len(set(names)) != len(names):
        raise NeuralscopeError("--models", "each name once", models)
    return names
