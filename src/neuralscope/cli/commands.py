"""Imports every command module of the sub-command groups (see ``groups``);
a module that is absent (an optional capability not installed) is skipped."""

from __future__ import annotations

import importlib

COMMAND_MODULES = (
    "neuralscope.cli.imaging_run",
    "neuralscope.cli.imaging_spikes",
    "neuralscope.cli.connectome_segment",
    "neuralscope.cli.connectome_stats",
    "neuralscope.cli.design_optimize",
    "neuralscope.cli.loop_run",
)

for _name in COMMAND_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:
        if exc.name != _name:  # a real import error inside the module: surface it
            raise
