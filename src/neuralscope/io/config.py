"""YAML (or JSON) configuration files read for the CLI: one mapping, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neuralscope.core.errors import NeuralscopeError


def read_yaml_mapping(path: str | Path, expected: str = "a YAML mapping") -> dict[str, Any]:
    """Read a YAML (or JSON) file whose top level must be a mapping.

    Parameters
    ----------
    path : str or Path
        The configuration file.
    expected : str
        What the mapping should hold, for the error message (e.g. ``"a mapping of settings"``).

    Returns
    -------
    dict
        The parsed mapping.

    Raises
    ------
    NeuralscopeError
        The file is missing, is not valid YAML, or its top level is not a mapping.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise NeuralscopeError("CONFIG", "an existing YAML file", str(path))
    try:
        config = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise NeuralscopeError("CONFIG", "valid YAML", f"{p.name}: {' '.join(str(exc).split())[:120]}") from None
    if not isinstance(config, dict):
        raise NeuralscopeError("CONFIG", expected, type(config).__name__)
    return config
