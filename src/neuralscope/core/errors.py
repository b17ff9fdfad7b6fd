"""The one exception type that every neuralscope boundary check raises."""

from __future__ import annotations

from typing import Any


class NeuralscopeError(ValueError):
    """Invalid input given to neuralscope.

    The message names the parameter, what was expected and what was received,
    on one line, so the CLI can print it as is.

    Parameters
    ----------
    parameter : str
        Name of the offending argument, file or field (e.g. ``"X"``, ``"--models"``).
    expected : str
        What a valid value looks like.
    received : Any
        What was given (its repr is shortened to keep the message on one line).

    Examples
    --------
    >>> raise NeuralscopeError("X", "a 2-D array", "shape (3,)")
    Traceback (most recent call last):
    ...
    neuralscope.core.errors.NeuralscopeError: X: expected a 2-D array, received shape (3,)
    """

    def __init__(self, parameter: str, expected: str, received: Any):
        self.parameter = parameter
        self.expected = expected
        self.received = received
        text = received if isinstance(received, str) else repr(received)
        text = " ".join(str(text).split())
        if len(text) > 200:
            text = text[:197] + "..."
        super().__init__(f"{parameter}: expected {expected}, received {text}")
