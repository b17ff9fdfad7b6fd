"""Parameter checks shared by the simulators (private)."""

from __future__ import annotations

from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.validation import check_positive


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise when it is not an integer >= ``minimum``."""
    # bool is an int subclass, but ``n_trials=True`` is never meant as 1.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise NeuralscopeError(name, f"an integer >= {minimum}", value)
    if int(value) < minimum:
        raise NeuralscopeError(name, f"an integer >= {minimum}", value)
    return int(value)


def check_nonnegative(value: Any, name: str) -> float:
    """Return ``value`` as a finite float >= 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise NeuralscopeError(name, "a non-negative number", value) from None
    if not np.isfinite(v) or v < 0:
        raise NeuralscopeError(name, "a non-negative finite number", value)
    return v


def check_rng(random_state: Any) -> np.random.Generator:
    """A numpy Generator from an int seed (or an existing Generator)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, (int, np.integer)):
        raise NeuralscopeError("random_state", "an integer seed or a numpy Generator", random_state)
    if int(random_state) < 0:
        raise NeuralscopeError("random_state", "a non-negative integer seed", random_state)
    return np.random.default_rng(int(random_state))


__all__ = ["check_int", "check_nonnegative", "check_positive", "check_rng"]
