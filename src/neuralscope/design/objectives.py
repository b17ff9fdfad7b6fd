"""Objectives that a ``design optimize`` config can name: built-in functions or a shell command."""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
from collections.abc import Mapping
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.design.functions import TEST_FUNCTIONS, StimulationNeuron

BUILTIN_OBJECTIVES = (*TEST_FUNCTIONS, "neuron")


class ObjectiveFailed(RuntimeError):
    """The objective could not produce a number for this trial (the trial is recorded as failed)."""


class BuiltinObjective:
    """A test function evaluated at a parameter dict (its parameters in box order)."""

    def __init__(self, name: str, parameter_names: list[str], random_state: int = 0):
        self.name = name
        self.parameter_names = parameter_names
        if name == "neuron":
            self._neuron = StimulationNeuron(random_state=random_state)
            self.optimum = self._neuron.optimum()[1]
        else:
            self._fn = TEST_FUNCTIONS[name]
            self.optimum = self._fn.optimum
            if len(parameter_names) != len(self._fn.bounds):
                raise NeuralscopeError("parameters", f"{len(self._fn.bounds)} parameters for {name}",
                                       f"{len(parameter_names)}")

    def expected(self, params: Mapping[str, Any]) -> float:
        """The noiseless value at ``params`` (the neuron's mean count; test functions are noiseless)."""
        if self.name == "neuron":
            return self._neuron.expected(float(params["amplitude_ua"]), float(params["frequency_hz"]),
                                         float(params["pulse_width_us"]))
        return self(params)

    def __call__(self, params: Mapping[str, Any]) -> float:
        if self.name == "neuron":
            return self._neuron(params)
        return float(self._fn(np.array([float(params[n]) for n in self.parameter_names])))


class CommandObjective:
    """Runs a shell command per trial; its last line of stdout must be one number.

    ``{name}`` placeholders in the command are replaced by the parameter
    values; the parameters are also given as JSON on stdin and in the
    ``NEURALSCOPE_PARAMS`` environment variable. A non-zero exit, a timeout
    or output that is not a finite number raises :class:`ObjectiveFailed`.
    """

    def __init__(self, command: str, timeout_s: float | None = None):
        if not isinstance(command, str) or not command.strip():
            raise NeuralscopeError("objective.command", "a non-empty command string", command)
        self.command = command
        self.timeout_s = timeout_s

    def __call__(self, params: Mapping[str, Any]) -> float:
        payload = json.dumps(dict(params))
        try:
            cmd = self.command.format(**{k: shlex.quote(str(v)) for k, v in params.items()})
        except (KeyError, IndexError, ValueError) as exc:
            raise ObjectiveFailed(f"command placeholders: {exc}") from None
        env = dict(os.environ, NEURALSCOPE_PARAMS=payload)
        try:
            proc = subprocess.run(cmd, shell=True, input=payload, capture_output=True, text=True, env=env,
                                  timeout=self.timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise ObjectiveFailed(f"timed out after {self.timeout_s} s") from None
        if proc.returncode != 0:
            tail = " ".join(proc.stderr.strip().split()[-20:])
            raise ObjectiveFailed(f"exit status {proc.returncode}: {tail}")
        lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
        try:
            value = float(lines[-1])
        except (IndexError, ValueError):
            raise ObjectiveFailed(f"last line of output is not a number: {lines[-1:]!r}") from None
        if not math.isfinite(value):
            raise ObjectiveFailed(f"value {value}")
        return value


def make_objective(spec: Any, parameter_names: list[str], seed: int = 0):
    """An objective from a config's ``objective`` entry (a name, or ``{command: ...}``)."""
    if isinstance(spec, str):
        if spec not in BUILTIN_OBJECTIVES:
            raise NeuralscopeError("objective", f"one of {', '.join(BUILTIN_OBJECTIVES)} or {{command: ...}}", spec)
        return BuiltinObjective(spec, parameter_names, random_state=seed)
    if isinstance(spec, Mapping):
        if "command" in spec:
            timeout = spec.get("timeout_s")
            if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
                raise NeuralscopeError("objective.timeout_s", "a number > 0", timeout)
            return CommandObjective(spec["command"], timeout)
        if "builtin" in spec:
            return make_objective(spec["builtin"], parameter_names, seed)
    raise NeuralscopeError("objective", f"one of {', '.join(BUILTIN_OBJECTIVES)} or {{command: ...}}", spec)
