"""Spike inference from calcium traces: dF/F -> expected spikes per frame.

- :func:`infer_spikes` -- one call for any frame rate and noise level; ``method="auto"``
  uses the shipped deep model (falls back to OASIS when torch is unavailable)
- :class:`DeepSpikeInference` -- the 1-D network trained on ground truth
  (``scripts/train_spike_inference.py``), weights in ``imaging/spikes/data``
- :class:`OasisDeconvolution`, :func:`oasis_deconvolve` -- OASIS-class AR(1)/AR(2)
  non-negative sparse deconvolution (noise-constrained)
- :mod:`~neuralscope.imaging.spikes.metrics` -- binned correlation (Spikefinder 40 ms
  convention), event precision/recall, CPU-seconds per neuron-minute
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.validation import check_positive
from neuralscope.imaging.spikes.metrics import (
    bin_frames,
    cpu_seconds_per_neuron_minute,
    event_precision_recall,
    spike_correlation,
)
from neuralscope.imaging.spikes.oasis import OasisDeconvolution, oasis_deconvolve

__all__ = ["METHODS", "DeepSpikeInference", "OasisDeconvolution", "bin_frames", "check_traces",
           "cpu_seconds_per_neuron_minute", "event_precision_recall", "infer_spikes", "oasis_deconvolve",
           "spike_correlation"]

#: Accepted values of ``method``.
METHODS = ("auto", "deep", "oasis", "oasis-ar2")


def __getattr__(name: str) -> Any:
    # The deep model pulls in torch: import it only when asked for.
    if name == "DeepSpikeInference":
        from neuralscope.imaging.spikes.deep import DeepSpikeInference

        return DeepSpikeInference
    raise AttributeError(name)


def check_traces(dff: Any, name: str = "dff") -> np.ndarray:
    """``dff`` as a finite float array of shape (T,) or (n, T); raise NeuralscopeError otherwise."""
    try:
        x = np.asarray(dff, dtype=float)
    except (TypeError, ValueError):
        raise NeuralscopeError(name, "a numeric array of shape (n, T) or (T,)", type(dff).__name__) from None
    if x.ndim not in (1, 2):
        raise NeuralscopeError(name, "an array of shape (n, T) or (T,)", f"{x.ndim}-D array of shape {x.shape}")
    if x.shape[-1] < 8 or (x.ndim == 2 and x.shape[0] == 0):
        raise NeuralscopeError(name, "at least one trace of >= 8 frames", f"shape {x.shape}")
    if not np.all(np.isfinite(x)):
        bad = int(np.sum(~np.isfinite(x)))
        raise NeuralscopeError(name, "finite values (no NaN or inf)", f"{bad} non-finite values")
    return x


def _oasis_rates(x: np.ndarray, p: int, spike_amplitude: float | None) -> np.ndarray:
    est = OasisDeconvolution(p=p, spike_amplitude=spike_amplitude).fit(x)
    return est.spikes_


def infer_spikes(
    dff: Any,
    fs: float,
    method: str = "auto",
    return_info: bool = False,
    spike_amplitude: float | None = None,
    batch_size: int = 256,
) -> np.ndarray | tuple[np.ndarray, dict]:
    """Expected spikes per frame from dF/F traces.

    Parameters
    ----------
    dff : array-like, shape (n, T) or (T,)
        dF/F as a fraction (0.2 = 20 %), one row per cell.
    fs : float
        Frame rate (Hz), any value; the deep model resamples to its own rate
        and back, conserving the spike count.
    method : {"auto", "deep", "oasis", "oasis-ar2"}
        ``"deep"``: the shipped network (calibrated: the output integrates to
        the spike count). ``"oasis"`` / ``"oasis-ar2"``: AR(1) / AR(2) OASIS
        deconvolution; its output is in dF/F units unless ``spike_amplitude``
        (dF/F of one spike) is given. ``"auto"``: ``"deep"`` when torch is
        installed, else ``"oasis"``.
    return_info : bool
        Also return a dict saying which model ran (``method``, ``model``,
        ``model_fs``, ``noise_level`` per trace).
    spike_amplitude : float, optional
        Only for OASIS: divide its output by this to get counts.
    batch_size : int
        Traces per network pass (deep model).

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, dict)
        Same shape as ``dff``.

    Raises
    ------
    NeuralscopeError
        For NaN/inf values, a wrong number of dimensions, ``fs <= 0`` or an
        unknown method.

    Examples
    --------
    >>> from neuralscope.datasets.calcium import simulate_calcium_traces
    >>> sim = simulate_calcium_traces(n_neurons=2, duration=20, fs=30, random_state=0)
    >>> infer_spikes(sim.dff, 30.0).shape
    (2, 600)
    """
    fs = check_positive(fs, "fs")
    x = check_traces(dff)
    if method not in METHODS:
        raise NeuralscopeError("method", f"one of {list(METHODS)}", method)
    if method == "auto":
        try:
            import torch  # noqa: F401

            method = "deep"
        except ImportError:
            method = "oasis"
    x2 = np.atleast_2d(x)
    from neuralscope.datasets.calcium import noise_level

    info: dict[str, Any] = {"method": method, "fs": fs, "noise_level": np.atleast_1d(noise_level(x2, fs))}
    if method == "deep":
        from neuralscope.imaging.spikes.deep import DeepSpikeInference

        model = DeepSpikeInference.load_default()
        rates = model.predict(x2, fs, batch_size=batch_size)
        info.update(model=model.name_, model_fs=model.model_fs_, calibrated=True)
    else:
        p = 2 if method == "oasis-ar2" else 1
        rates = _oasis_rates(x2, p, spike_amplitude)
        info.update(model=f"OASIS AR({p}), noise-constrained", model_fs=fs, calibrated=spike_amplitude is not None)
    rates = rates.reshape(x.shape)
    return (rates, info) if return_info else rates
