"""Cosine-tuned motor population driven by smooth 2-D arm kinematics: the
continuous-decoding demo (Wiener, Kalman and recurrent decoders)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity
from neuralscope.datasets._checks import check_int, check_positive, check_rng

__all__ = ["simulate_reaching"]

_KINEMATICS = ("random", "center_out")


def _random_positions(n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth, bounded 2-D hand positions (cm): Gaussian-smoothed white noise."""
    sigma = 0.15 * fs  # 150 ms smoothing: arm-like speeds, no jitter
    pad = int(np.ceil(4 * sigma))
    # Padding before smoothing avoids the filter's edge effects at both ends.
    noise = rng.standard_normal((n + 2 * pad, 2))
    pos = gaussian_filter1d(noise, sigma, axis=0)[pad : pad + n]
    return 5.0 * pos / pos.std(axis=0)  # about +-10 cm workspace


def _min_jerk(n_steps: int) -> np.ndarray:
    """Minimum-jerk profile going 0 -> 1 over ``n_steps`` samples."""
    s = np.linspace(0.0, 1.0, n_steps)
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def _center_out_positions(n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Centre-out-and-back reaches to 8 targets on a 8 cm circle, with holds."""
    angles = np.deg2rad(np.arange(8) * 45.0)
    segments: list[np.ndarray] = []
    total = 0
    while total < n:
        angle = rng.choice(angles)
        target = 8.0 * np.array([np.cos(angle), np.sin(angle)])
        move = max(round(rng.uniform(0.4, 0.7) * fs), 2)
        profile = _min_jerk(move)[:, None]
        out = profile * target[None, :]
        hold_out = np.repeat(target[None, :], round(rng.uniform(0.2, 0.6) * fs), axis=0)
        back = (1.0 - profile) * target[None, :]
        hold_in = np.zeros((round(rng.uniform(0.2, 0.6) * fs), 2))
        for part in (out, hold_out, back, hold_in):
            segments.append(part)
            total += len(part)
    return np.concatenate(segments)[:n]


def simulate_reaching(
    n_neurons: int = 80,
    duration: float = 300.0,
    fs: float = 20.0,
    lag: float = 0.1,
    kinematics: str = "random",
    baseline_rate: tuple[float, float] = (5.0, 20.0),
    modulation: tuple[float, float] = (0.5, 1.0),
    random_state: int | np.random.Generator = 0,
    return_truth: bool = False,
) -> ContinuousActivity | tuple[ContinuousActivity, dict[str, Any]]:
    """Simulate a motor-cortex-like population during 2-D arm movements.

    Neuron ``i`` has a preferred direction ``theta_i`` (uniform on the circle)
    and fires at

    ``rate_i(t) = max(0, b_i + m_i * b_i * (u_i . v(t + lag)) / v_scale)``

    where ``u_i = (cos theta_i, sin theta_i)``, ``v`` is hand velocity and
    ``v_scale`` its RMS speed per axis: classic cosine tuning to velocity with
    a rectification at zero rate. The activity *leads* the movement by
    ``lag`` seconds, as in motor cortex, so causal decoders benefit from a few
    bins of history. Spike counts are Poisson with mean ``rate / fs`` per bin.

    Parameters
    ----------
    n_neurons : int
        Number of neurons.
    duration : float
        Recording length in seconds.
    fs : float
        Bin rate in Hz (20 Hz = 50 ms bins).
    lag : float
        Seconds by which neural activity leads kinematics (negative: lags).
        Rounded to whole bins.
    kinematics : {"random", "center_out"}
        ``"random"``: smooth random hand trajectories (Gaussian-smoothed noise,
        150 ms time scale, about 5 cm RMS per axis). ``"center_out"``: reaches
        from the centre to one of 8 targets on an 8 cm circle and back, with
        minimum-jerk profiles and random holds.
    baseline_rate : (float, float)
        Range of the uniform distribution of baseline rates ``b_i`` in Hz.
    modulation : (float, float)
        Range of the relative modulation depth ``m_i`` (fraction of the
        baseline reached at one RMS speed along the preferred direction).
    random_state : int or numpy.random.Generator
        Seed; the same seed gives identical data.
    return_truth : bool
        Also return a dict with the ground truth.

    Returns
    -------
    ContinuousActivity
        ``data`` (n_time, n_neurons) spike counts with ``n_time = round(duration
        * fs)``; covariates ``"position"`` (cm) and ``"velocity"`` (cm/s), both
        (n_time, 2), with ``velocity = numpy.gradient(position, 1 / fs)``.
        ``units`` holds ``preferred_direction`` (radians), ``baseline_rate`` and
        ``modulation_depth`` per neuron.
    truth : dict, only when ``return_truth``
        ``preferred_direction`` (n_neurons,), ``baseline_rate``,
        ``modulation_depth``, ``rates`` (n_time, n_neurons) Poisson means in Hz,
        ``lag_bins`` (int) and ``velocity_scale`` (cm/s).

    Examples
    --------
    >>> act = simulate_reaching(n_neurons=5, duration=10.0)
    >>> act.data.shape, act.covariate("velocity").shape
    ((200, 5), (200, 2))
    """
    n_neurons = check_int(n_neurons, "n_neurons")
    duration = check_positive(duration, "duration")
    fs = check_positive(fs, "fs")
    n_time = round(duration * fs)
    if n_time < 2:
        raise NeuralscopeError("duration", f"at least 2 bins at fs={fs:g} Hz", duration)
    try:
        lag_bins = round(float(lag) * fs)
    except (TypeError, ValueError):
        raise NeuralscopeError("lag", "a number of seconds", lag) from None
    if abs(lag_bins) >= n_time:
        raise NeuralscopeError("lag", f"shorter than the recording ({duration:g} s)", lag)
    if kinematics not in _KINEMATICS:
        raise NeuralscopeError("kinematics", f"one of {list(_KINEMATICS)}", kinematics)
    lo_b, hi_b = _check_range(baseline_rate, "baseline_rate")
    lo_m, hi_m = _check_range(modulation, "modulation")
    rng = check_rng(random_state)

    n_kin = n_time + abs(lag_bins)
    make = _random_positions if kinematics == "random" else _center_out_positions
    pos_all = make(n_kin, fs, rng)
    vel_all = np.gradient(pos_all, 1.0 / fs, axis=0)
    if lag_bins >= 0:  # activity at t reflects the velocity lag_bins later
        position = pos_all[:n_time]
        drive = vel_all[lag_bins : lag_bins + n_time]
    else:
        position = pos_all[-lag_bins:]
        drive = vel_all[:n_time]
    # Recomputed on the returned samples so the covariates are exactly
    # consistent, end bins included (one-sided differences there).
    velocity = np.gradient(position, 1.0 / fs, axis=0)

    v_scale = float(np.sqrt(np.mean(vel_all**2)))
    preferred = rng.uniform(0.0, 2 * np.pi, n_neurons)
    base = rng.uniform(lo_b, hi_b, n_neurons)
    depth = rng.uniform(lo_m, hi_m, n_neurons)
    directions = np.stack([np.cos(preferred), np.sin(preferred)])  # 2 x neurons
    rates = np.maximum(base + depth * base * (drive @ directions) / v_scale, 0.0)
    counts = rng.poisson(rates / fs).astype(float)

    units = pd.DataFrame(
        {"preferred_direction": preferred, "baseline_rate": base, "modulation_depth": depth}
    )
    act = ContinuousActivity(
        counts, fs=fs, units=units, covariates={"position": position, "velocity": velocity}
    )
    if not return_truth:
        return act
    truth = {
        "preferred_direction": preferred,
        "baseline_rate": base,
        "modulation_depth": depth,
        "rates": rates,
        "lag_bins": lag_bins,
        "velocity_scale": v_scale,
    }
    return act, truth


def _check_range(value: Any, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise NeuralscopeError(name, "a (low, high) pair of numbers", value) from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi < lo:
        raise NeuralscopeError(name, "0 <= low <= high, both finite", value)
    return lo, hi
