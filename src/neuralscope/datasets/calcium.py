"""Calcium-indicator traces with ground-truth spikes.

- :data:`INDICATORS` -- rise, decay, dF/F amplitude per spike and nonlinearity of
  common indicators (GCaMP6f/6s, jGCaMP8f/8m/8s, OGB-1, jRCaMP1a, jRGECO1a)
- :func:`simulate_spike_train` -- seeded Poisson, bursty or rate-modulated spike counts
- :func:`spikes_to_calcium` -- noise-free dF/F from spike counts (double-exponential
  kernel, saturating nonlinearity)
- :func:`simulate_calcium_traces` -- noisy dF/F at a frame rate and noise level, with
  the spikes that made them
- :func:`noise_level` -- the CASCADE noise measure of a dF/F trace

Noise levels use the CASCADE convention (Rupprecht et al. 2021):
``nu = median(|diff(dff)|) / sqrt(fs) * 100`` in % per sqrt(Hz), so one number
describes recordings at any frame rate (white noise of standard deviation
``sigma`` has ``nu ~= 95.4 * sigma / sqrt(fs)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets._checks import check_int, check_nonnegative, check_positive, check_rng

__all__ = ["INDICATORS", "CalciumTraces", "Indicator", "noise_level", "simulate_calcium_traces",
           "simulate_spike_train", "spikes_to_calcium"]

# median |x1 - x2| of two independent N(0, s^2) samples is 0.6745 * sqrt(2) * s.
_MEDIAN_ABS_DIFF = 0.6744897501960817 * math.sqrt(2.0)


@dataclass(frozen=True)
class Indicator:
    """Kinetics of one calcium indicator (in vivo, one action potential).

    Attributes
    ----------
    name : str
    tau_rise, tau_decay : float
        Time constants (s) of the double-exponential response to one spike.
    amplitude : float
        Peak dF/F (fraction) of the response to one isolated spike.
    hill : float
        Exponent of the response to accumulated calcium (1 = linear).
    saturation : float
        Number of simultaneous spikes at which the response is half saturated.
    """

    name: str
    tau_rise: float
    tau_decay: float
    amplitude: float
    hill: float = 1.0
    saturation: float = 50.0


# Rounded from published single-AP measurements in mouse V1 (Chen et al. 2013 for
# GCaMP6; Zhang et al. 2023 for jGCaMP8; Dana et al. 2016 for the red indicators;
# OGB-1 from Theis et al. 2016 / Kerr et al. 2005). Cell-to-cell spread is larger
# than the differences between some entries, so the simulator jitters them.
INDICATORS: dict[str, Indicator] = {
    "GCaMP6f": Indicator("GCaMP6f", 0.02, 0.20, 0.19, hill=1.4, saturation=15.0),
    "GCaMP6s": Indicator("GCaMP6s", 0.07, 0.80, 0.23, hill=1.5, saturation=12.0),
    "GCaMP8f": Indicator("GCaMP8f", 0.004, 0.10, 0.30, hill=1.1, saturation=20.0),
    "GCaMP8m": Indicator("GCaMP8m", 0.006, 0.17, 0.45, hill=1.1, saturation=20.0),
    "GCaMP8s": Indicator("GCaMP8s", 0.010, 0.40, 0.60, hill=1.1, saturation=15.0),
    "OGB-1": Indicator("OGB-1", 0.010, 0.60, 0.08, hill=1.0, saturation=40.0),
    "jRCaMP1a": Indicator("jRCaMP1a", 0.08, 1.20, 0.10, hill=1.2, saturation=20.0),
    "jRGECO1a": Indicator("jRGECO1a", 0.05, 0.60, 0.20, hill=1.3, saturation=15.0),
}


@dataclass
class CalciumTraces:
    """Simulated traces and their ground truth.

    Attributes
    ----------
    dff : numpy.ndarray
        Noisy dF/F, shape (n_neurons, n_frames).
    calcium : numpy.ndarray
        Noise-free dF/F (same shape).
    spikes : numpy.ndarray
        Spike counts per frame (same shape, int).
    spike_times : list of numpy.ndarray
        Spike times (s) per neuron.
    fs : float
        Frame rate (Hz).
    indicator : Indicator
    noise_level : float
        CASCADE noise level of the added noise (% per sqrt(Hz)).
    amplitudes : numpy.ndarray
        Per-neuron dF/F amplitude of one spike after jitter.
    """

    dff: np.ndarray
    calcium: np.ndarray
    spikes: np.ndarray
    spike_times: list[np.ndarray]
    fs: float
    indicator: Indicator
    noise_level: float
    amplitudes: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _indicator(indicator: Any) -> Indicator:
    if isinstance(indicator, Indicator):
        return indicator
    if isinstance(indicator, str) and indicator in INDICATORS:
        return INDICATORS[indicator]
    raise NeuralscopeError("indicator", f"one of {sorted(INDICATORS)} or an Indicator", indicator)


def noise_level(dff: Any, fs: float) -> np.ndarray | float:
    """CASCADE noise level ``median(|diff(dff)|) / sqrt(fs) * 100`` along the last axis.

    Parameters
    ----------
    dff : array-like, shape (T,) or (n, T)
        dF/F as a fraction (0.1 = 10 %). NaNs are ignored.
    fs : float
        Frame rate (Hz).

    Returns
    -------
    float or numpy.ndarray
        One value per trace (% per sqrt(Hz)).
    """
    fs = check_positive(fs, "fs")
    x = np.asarray(dff, dtype=float)
    nu = np.nanmedian(np.abs(np.diff(x, axis=-1)), axis=-1) / math.sqrt(fs) * 100.0
    return float(nu) if np.ndim(nu) == 0 else nu


def simulate_spike_train(
    n_neurons: int = 1,
    duration: float = 60.0,
    fs: float = 1000.0,
    rate: float = 1.0,
    firing: str = "poisson",
    burst_fraction: float = 0.3,
    random_state: Any = 0,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Seeded spike trains, as counts per bin and as spike times.

    Parameters
    ----------
    n_neurons : int
    duration : float
        Seconds.
    fs : float
        Bin rate (Hz) of the returned counts.
    rate : float
        Mean firing rate (Hz).
    firing : {"poisson", "bursts", "modulated"}
        ``"poisson"``: homogeneous Poisson. ``"bursts"``: a fraction
        ``burst_fraction`` of the spikes comes in bursts of 2-8 spikes at
        5-15 ms intervals. ``"modulated"``: Poisson with a slowly varying
        (log-normal, ~1 s correlation) rate, plus bursts.
    burst_fraction : float
        Share of spikes in bursts (``"bursts"`` and ``"modulated"``).
    random_state : int or numpy.random.Generator

    Returns
    -------
    counts : numpy.ndarray, shape (n_neurons, round(duration * fs)), int
    spike_times : list of numpy.ndarray
    """
    n_neurons = check_int(n_neurons, "n_neurons")
    duration = check_positive(duration, "duration")
    fs = check_positive(fs, "fs")
    rate = check_nonnegative(rate, "rate")
    burst_fraction = check_nonnegative(burst_fraction, "burst_fraction")
    if firing not in ("poisson", "bursts", "modulated"):
        raise NeuralscopeError("firing", "'poisson', 'bursts' or 'modulated'", firing)
    if burst_fraction > 1:
        raise NeuralscopeError("burst_fraction", "a number in [0, 1]", burst_fraction)
    rng = check_rng(random_state)
    n_bins = max(1, int(round(duration * fs)))
    counts = np.zeros((n_neurons, n_bins), dtype=np.int64)
    times: list[np.ndarray] = []
    mean_burst = 4.0  # spikes per burst: 2 + Poisson(2), clipped at 8
    for i in range(n_neurons):
        frac = 0.0 if firing == "poisson" else burst_fraction
        single_rate = rate * (1.0 - frac)
        burst_rate = rate * frac / mean_burst
        if firing == "modulated":
            # Rate envelope on a 10 ms grid: exp of a smoothed Gaussian process.
            grid = np.arange(0.0, duration, 0.01)
            noise = rng.standard_normal(grid.size)
            k = np.exp(-0.5 * (np.arange(-300, 301) / 100.0) ** 2)
            log_env = np.convolve(noise, k / np.sqrt(np.sum(k**2)), mode="same")
            env = np.exp(log_env - 0.5)  # E[exp(N(0,1) - 0.5)] = 1: keeps the mean rate
            cum = np.concatenate([[0.0], np.cumsum(env) * 0.01])

            def draw(r: float) -> np.ndarray:
                n = rng.poisson(r * cum[-1])
                u = np.sort(rng.uniform(0.0, cum[-1], n))
                return np.interp(u, cum, np.concatenate([grid, [duration]]))
        else:

            def draw(r: float) -> np.ndarray:
                return np.sort(rng.uniform(0.0, duration, rng.poisson(r * duration)))

        spikes = [draw(single_rate)]
        if burst_rate > 0:
            for start in draw(burst_rate):
                n = int(min(8, 2 + rng.poisson(2.0)))
                spikes.append(start + np.concatenate([[0.0], np.cumsum(rng.uniform(0.005, 0.015, n - 1))]))
        t = np.sort(np.concatenate(spikes))
        t = t[(t >= 0) & (t < duration)]
        times.append(t)
        idx = np.minimum((t * fs).astype(np.int64), n_bins - 1)
        np.add.at(counts[i], idx, 1)
    return counts, times


def _double_exp_filter(x: np.ndarray, dt: float, tau_rise: float, tau_decay: float) -> np.ndarray:
    """Response to unit impulses, normalised so one isolated impulse peaks at 1."""
    from scipy.signal import lfilter

    d = math.exp(-dt / tau_decay)
    r = math.exp(-dt / tau_rise) if tau_rise > 0 else 0.0
    decay = lfilter([1.0], [1.0, -d], x, axis=-1)
    rise = lfilter([1.0], [1.0, -r], x, axis=-1) if r > 0 else x
    h = decay - rise
    # Peak of exp(-t/td) - exp(-t/tr), sampled on the grid.
    t = np.arange(0, int(10 * tau_decay / dt) + 2) * dt
    peak = np.max(np.exp(-t / tau_decay) - (np.exp(-t / tau_rise) if r > 0 else (t == 0)))
    return h / max(peak, 1e-12)


def spikes_to_calcium(
    spikes: Any,
    fs: float,
    indicator: Any = "GCaMP6f",
    amplitude: float | np.ndarray | None = None,
    nonlinear: bool = True,
) -> np.ndarray:
    """Noise-free dF/F produced by spike counts.

    Each spike adds a double-exponential transient (``tau_rise``, ``tau_decay``);
    the summed calcium ``c`` (in units of one spike's peak) maps to dF/F as
    ``amplitude * g(c)`` with ``g(c) = c^h / (1 + (c / K)^h) * (1 + K^-h)``
    (``g(1) = 1``: one isolated spike gives ``amplitude``; ``h``, ``K`` are the
    indicator's hill exponent and saturation).

    Parameters
    ----------
    spikes : array-like, shape (T,) or (n, T)
        Non-negative spike counts per frame.
    fs : float
        Frame rate (Hz).
    indicator : str or Indicator
        A key of :data:`INDICATORS` or an :class:`Indicator`.
    amplitude : float or array of shape (n,), optional
        dF/F of one spike; default the indicator's.
    nonlinear : bool
        Apply the saturating nonlinearity (False: linear, ``amplitude * c``).

    Returns
    -------
    numpy.ndarray
        dF/F (fraction), same shape as ``spikes``.
    """
    fs = check_positive(fs, "fs")
    ind = _indicator(indicator)
    s = np.asarray(spikes, dtype=float)
    if s.ndim not in (1, 2) or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise NeuralscopeError("spikes", "finite non-negative counts of shape (T,) or (n, T)", f"shape {s.shape}")
    c = _double_exp_filter(s, 1.0 / fs, ind.tau_rise, ind.tau_decay)
    c = np.maximum(c, 0.0)
    if nonlinear and (ind.hill != 1.0 or np.isfinite(ind.saturation)):
        h, k = ind.hill, ind.saturation
        c = c**h / (1.0 + (c / k) ** h) * (1.0 + k ** (-h))
    amp = ind.amplitude if amplitude is None else np.asarray(amplitude, dtype=float)
    if np.ndim(amp) == 1 and s.ndim == 2:
        amp = amp[:, None]
    return amp * c


def simulate_calcium_traces(
    n_neurons: int = 10,
    duration: float = 60.0,
    fs: float = 30.0,
    indicator: Any = "GCaMP6f",
    noise_level: float = 2.0,
    rate: float = 1.0,
    firing: str = "bursts",
    amplitude_jitter: float = 0.3,
    baseline_drift: float = 0.0,
    random_state: Any = 0,
) -> CalciumTraces:
    """Noisy dF/F traces of an indicator at a frame rate, with their true spikes.

    Calcium is simulated on a fine grid (>= 500 Hz) so spikes fall anywhere in
    a frame, then averaged over each frame's exposure; Gaussian white noise of
    the requested CASCADE noise level is added.

    Parameters
    ----------
    n_neurons : int
    duration : float
        Seconds.
    fs : float
        Frame rate (Hz).
    indicator : str or Indicator
    noise_level : float
        CASCADE noise level (% per sqrt(Hz)); typical recordings are 1-8.
    rate : float
        Mean firing rate (Hz).
    firing : {"poisson", "bursts", "modulated"}
        See :func:`simulate_spike_train`.
    amplitude_jitter : float
        Log-normal spread (sigma) of the per-neuron spike amplitude.
    baseline_drift : float
        Standard deviation (dF/F) of a slow (~20 s) baseline wander.
    random_state : int or numpy.random.Generator

    Returns
    -------
    CalciumTraces

    Examples
    --------
    >>> sim = simulate_calcium_traces(n_neurons=3, duration=10, fs=30, random_state=1)
    >>> sim.dff.shape, sim.spikes.shape
    ((3, 300), (3, 300))
    """
    n_neurons = check_int(n_neurons, "n_neurons")
    duration = check_positive(duration, "duration")
    fs = check_positive(fs, "fs")
    nu = check_nonnegative(noise_level, "noise_level")
    jitter = check_nonnegative(amplitude_jitter, "amplitude_jitter")
    drift = check_nonnegative(baseline_drift, "baseline_drift")
    ind = _indicator(indicator)
    rng = check_rng(random_state)
    n_frames = max(1, int(round(duration * fs)))
    up = max(1, int(math.ceil(500.0 / fs)))
    fine_counts, times = simulate_spike_train(n_neurons, n_frames / fs, fs * up, rate, firing, random_state=rng)
    amps = ind.amplitude * np.exp(jitter * rng.standard_normal(n_neurons) - 0.5 * jitter**2)
    fine = spikes_to_calcium(fine_counts, fs * up, ind, amplitude=amps)
    calcium = fine[:, : n_frames * up].reshape(n_neurons, n_frames, up).mean(axis=2)
    spikes = fine_counts[:, : n_frames * up].reshape(n_neurons, n_frames, up).sum(axis=2)
    sigma = nu / 100.0 * math.sqrt(fs) / _MEDIAN_ABS_DIFF
    dff = calcium + sigma * rng.standard_normal(calcium.shape)
    if drift > 0:
        t = np.arange(n_frames) / fs
        for i in range(n_neurons):
            phases = rng.uniform(0, 2 * np.pi, 3)
            periods = rng.uniform(15.0, 60.0, 3)
            wave = sum(np.sin(2 * np.pi * t / p + ph) for p, ph in zip(periods, phases))
            dff[i] += drift * wave / np.sqrt(1.5)
    return CalciumTraces(dff=dff, calcium=calcium, spikes=spikes, spike_times=times, fs=fs,
                         indicator=ind, noise_level=nu, amplitudes=amps)
