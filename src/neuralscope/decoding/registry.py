"""Decoders by name, as the CLI and the demo ask for them.

Torch is imported only when a deep decoder is asked for, so the classical
decoders work without the ``[deep]`` extra.
"""

from __future__ import annotations

import importlib
from typing import Any

from neuralscope.core.errors import NeuralscopeError

# name -> (module, class, extra keyword arguments)
CLASSIFIERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "linear": ("linear", "LinearDecoder", {}),
    "svm": ("linear", "SVMDecoder", {"kernel": "rbf"}),
    "linear-svm": ("linear", "SVMDecoder", {"kernel": "linear"}),
    "cnn": ("deep", "CNNClassifier", {}),
    "lstm": ("deep", "RNNClassifier", {"cell": "lstm"}),
    "gru": ("deep", "RNNClassifier", {"cell": "gru"}),
    "transformer": ("deep", "TransformerClassifier", {}),
}

REGRESSORS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "linear": ("linear", "RidgeDecoder", {}),
    "ridge": ("linear", "RidgeDecoder", {}),
    "wiener": ("wiener", "WienerFilter", {}),
    "wiener-cascade": ("wiener", "WienerCascade", {}),
    "kalman": ("kalman", "KalmanDecoder", {}),
    "cnn": ("deep", "CNNRegressor", {}),
    "lstm": ("deep", "RNNRegressor", {"cell": "lstm"}),
    "gru": ("deep", "RNNRegressor", {"cell": "gru"}),
    "transformer": ("deep", "TransformerRegressor", {}),
}

DEEP = {"cnn", "lstm", "gru", "transformer"}


def available_decoders(task: str) -> list[str]:
    """Names accepted by :func:`make_decoder` for ``task``."""
    return list(CLASSIFIERS if task == "classification" else REGRESSORS)


def check_model_names(names: list[str], task: str) -> list[str]:
    """Raise a one-line error naming the first unknown model."""
    table = CLASSIFIERS if task == "classification" else REGRESSORS
    if not names:
        raise NeuralscopeError("--models", f"at least one of {','.join(table)}", "nothing")
    for name in names:
        if name not in table:
            raise NeuralscopeError("--models", f"names among {','.join(table)} for {task}", name)
    return names


def make_decoder(name: str, task: str, *, random_state: int | None = 0, n_history: int = 10, **params: Any) -> Any:
    """Build decoder ``name`` for ``task`` ("classification" or "regression").

    Parameters
    ----------
    name : str
        One of :func:`available_decoders`.
    task : {"classification", "regression"}
    random_state : int, optional
        Seed passed to decoders that have one.
    n_history : int
        Bins of past activity for history-based regressors (Kalman uses none).
    **params
        Further hyper-parameters forwarded to the estimator.
    """
    check_model_names([name], task)
    module_name, cls_name, fixed = (CLASSIFIERS if task == "classification" else REGRESSORS)[name]
    try:
        module = importlib.import_module(f"neuralscope.decoding.{module_name}")
    except ImportError as exc:  # torch missing: the [deep] extra
        raise NeuralscopeError("--models", "torch installed (pip install neuralscope[deep])", f"{name}: {exc}") from None
    cls = getattr(module, cls_name)
    kwargs: dict[str, Any] = dict(fixed)
    accepted = cls().get_params()
    if "random_state" in accepted:
        kwargs["random_state"] = random_state
    if task == "regression" and "n_history" in accepted:
        kwargs["n_history"] = n_history
    kwargs.update(params)
    return cls(**kwargs)
