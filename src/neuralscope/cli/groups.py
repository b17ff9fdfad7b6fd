"""Sub-command groups (``neuralscope imaging ...``, ``connectome ...``,
``design ...``, ``loop ...``).

Each group is a Typer app defined here; the modules that implement its
commands register them on import with ``@GROUP.command(...)``. Command
modules stay light to import: heavy work is imported inside the command.
"""

from __future__ import annotations

import typer

imaging_app = typer.Typer(help="Calcium imaging: movie -> cells, dF/F and spikes.", no_args_is_help=True)
connectome_app = typer.Typer(help="EM segmentation, synapses and connectome graphs.", no_args_is_help=True)
design_app = typer.Typer(help="Experiment design: Bayesian optimisation and active RF mapping.", no_args_is_help=True)
loop_app = typer.Typer(help="Real-time closed loop: online imaging, decoding and stimulation.", no_args_is_help=True)

GROUPS: list[tuple[str, typer.Typer]] = [
    ("imaging", imaging_app),
    ("connectome", connectome_app),
    ("design", design_app),
    ("loop", loop_app),
]


def cli_state() -> dict:
    """The root options (``-v``, ``-q``) of the running command."""
    from neuralscope.cli.main import _STATE

    return _STATE
