"""Orientation-tuned Poisson population: the classic stimulus-decoding demo."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import TrialActivity
from neuralscope.datasets._checks import (
    check_int,
    check_nonnegative,
    check_positive,
    check_rng,
)

__all__ = ["simulate_tuning", "von_mises_orientation"]


def von_mises_orientation(theta_deg: Any, preferred_deg: Any, width_deg: float) -> np.ndarray:
    """Normalised von Mises tuning over orientation (period 180 degrees).

    Parameters
    ----------
    theta_deg : array-like
        Stimulus orientation(s) in degrees.
    preferred_deg : array-like
        Preferred orientation(s) in degrees (broadcast against ``theta_deg``).
    width_deg : float
        Full width at half-maximum in degrees (must be below 180).

    Returns
    -------
    numpy.ndarray
        Values in (0, 1], equal to 1 at the preferred orientation and 0.5 at
        ``preferred +- width_deg / 2``.
    """
    half = np.deg2rad(width_deg) / 2.0
    # Orientation is 180-periodic, hence the doubled angle. kappa is chosen so
    # that exp(kappa * (cos(2 h) - 1)) = 1/2 at the half-width h: the width is
    # then a full width at half-maximum users can read off a plot, rather than
    # an opaque concentration.
    kappa = np.log(2.0) / (1.0 - np.cos(2.0 * half))
    delta = np.deg2rad(np.asarray(theta_deg, float) - np.asarray(preferred_deg, float))
    return np.exp(kappa * (np.cos(2.0 * delta) - 1.0))


def simulate_tuning(
    n_neurons: int = 60,
    n_stimuli: int = 8,
    n_trials_per_stimulus: int = 30,
    n_time: int = 20,
    fs: float = 50.0,
    tuning_width_deg: float = 30.0,
    baseline_rate: float = 2.0,
    peak_rate: float = 30.0,
    onset_time: float = 0.2,
    gain_noise: float = 0.5,
    untuned_fraction: float = 0.25,
    random_state: int | np.random.Generator = 0,
) -> TrialActivity:
    """Simulate an orientation-tuned Poisson population responding to gratings.

    Each neuron ``i`` has a preferred orientation ``phi_i`` (evenly spread over
    0..180 degrees with a random jitter) and a von Mises tuning curve
    ``r_i(theta) = baseline + (peak_i - baseline) * vm(theta - phi_i)`` whose
    full width at half-maximum is ``tuning_width_deg``; ``peak_i`` varies by
    +-30 % around ``peak_rate``, and on each trial each neuron's evoked
    response is scaled by a log-normal gain (mean 1, log-sd ``gain_noise``),
    which makes counts over-dispersed as in cortex. Before stimulus onset
    (the first ``onset_time`` seconds of each trial) every neuron fires at
    ``baseline_rate``; after onset the rate rises to its tuned value with a
    50 ms time constant, so time-resolved decoding starts at chance and climbs.
    Spike counts per bin are Poisson with mean ``rate / fs``.

    Parameters
    ----------
    n_neurons : int
        Number of neurons.
    n_stimuli : int
        Number of orientations, evenly spaced over [0, 180) degrees and rounded
        to whole degrees (integer-valued labels are what scikit-learn treats as
        classes; 22.5 would read as a continuous target).
    n_trials_per_stimulus : int
        Repeats of each orientation; trials are presented in a shuffled order.
    n_time : int
        Bins per trial.
    fs : float
        Sampling rate in Hz (bin width ``1 / fs``).
    tuning_width_deg : float
        Tuning full width at half-maximum, in (0, 180) degrees.
    baseline_rate : float
        Untuned firing rate in Hz (>= 0).
    peak_rate : float
        Mean rate at the preferred orientation in Hz (> ``baseline_rate``).
    onset_time : float
        Seconds of pre-stimulus baseline at the start of each trial (>= 0 and
        shorter than the trial). ``times`` are relative to stimulus onset.
        The default leaves half of each trial before the stimulus.
    gain_noise : float
        Standard deviation of the log of the per-trial, per-neuron response
        gain (>= 0; 0 gives pure Poisson counts).
    untuned_fraction : float
        Fraction of neurons in [0, 1) that respond to every orientation alike
        (flat tuning at their mean rate): responsive, but uninformative.
    random_state : int or numpy.random.Generator
        Seed; the same seed gives identical data.

    Returns
    -------
    TrialActivity
        ``data`` of shape (n_stimuli * n_trials_per_stimulus, n_neurons,
        n_time) with spike counts; ``trials["stimulus"]`` is the orientation
        in degrees (int). ``units`` has ``preferred_orientation``,
        ``peak_rate`` and ``tuned`` columns. Ground truth in ``attrs``:

        - ``orientations`` (n_stimuli,) stimulus orientations in degrees
        - ``preferred_orientation`` (n_neurons,) in degrees
        - ``tuned`` (n_neurons,) bool, False for the untuned neurons
        - ``tuning_curves`` (n_neurons, n_stimuli) mean post-onset rates in Hz
        - ``time_course`` (n_time,) fraction of the tuned response per bin
          (0 before onset)
        - ``rates`` (n_trials, n_neurons, n_time) the Poisson means in Hz

    Examples
    --------
    >>> act = simulate_tuning(n_neurons=10, n_trials_per_stimulus=2)
    >>> act.data.shape, act.attrs["orientations"][:3].tolist()
    ((16, 10, 20), [0, 22, 45])
    """
    n_neurons = check_int(n_neurons, "n_neurons")
    n_stimuli = check_int(n_stimuli, "n_stimuli", minimum=2)
    n_rep = check_int(n_trials_per_stimulus, "n_trials_per_stimulus")
    n_time = check_int(n_time, "n_time")
    fs = check_positive(fs, "fs")
    width = check_positive(tuning_width_deg, "tuning_width_deg")
    if width >= 180.0:
        raise NeuralscopeError("tuning_width_deg", "a full width below 180 degrees", tuning_width_deg)
    baseline = check_nonnegative(baseline_rate, "baseline_rate")
    peak = check_positive(peak_rate, "peak_rate")
    if peak <= baseline:
        raise NeuralscopeError("peak_rate", f"a rate above baseline_rate ({baseline:g} Hz)", peak_rate)
    onset = check_nonnegative(onset_time, "onset_time")
    gain_noise = check_nonnegative(gain_noise, "gain_noise")
    if not 0.0 <= float(untuned_fraction) < 1.0:
        raise NeuralscopeError("untuned_fraction", "a fraction in [0, 1)", untuned_fraction)
    if onset >= n_time / fs:
        raise NeuralscopeError("onset_time", f"less than the trial length {n_time / fs:g} s", onset_time)
    rng = check_rng(random_state)

    orientations = np.round(np.arange(n_stimuli) * 180.0 / n_stimuli).astype(int)
    spacing = 180.0 / n_neurons
    preferred = (np.arange(n_neurons) * spacing + rng.uniform(-0.5, 0.5, n_neurons) * spacing) % 180.0
    peaks = peak * rng.uniform(0.7, 1.3, n_neurons)
    shape = von_mises_orientation(orientations[None, :], preferred[:, None], width)
    tuning = baseline + (peaks[:, None] - baseline) * shape  # neurons x stimuli
    # Real populations hold visually responsive but untuned cells: they respond
    # to every grating alike, so they carry no orientation information (the
    # ground truth that neuron-importance maps are scored against).
    untuned = np.zeros(n_neurons, dtype=bool)
    untuned[rng.permutation(n_neurons)[: int(round(untuned_fraction * n_neurons))]] = True
    tuning[untuned] = tuning[untuned].mean(axis=1, keepdims=True)

    # Times relative to onset; the response at a bin uses the bin's end so the
    # first post-onset bin already carries some signal.
    times = -onset + np.arange(n_time) / fs
    after = times >= -1e-12
    time_course = np.where(after, 1.0 - np.exp(-(times + 1.0 / fs) / 0.05), 0.0)

    stim_index = rng.permutation(np.repeat(np.arange(n_stimuli), n_rep))
    tuned = tuning[:, stim_index].T  # trials x neurons
    # exp(s N - s^2/2) has mean 1: the gain adds variability, not bias.
    gain = np.exp(gain_noise * rng.standard_normal(tuned.shape) - gain_noise**2 / 2)
    tuned = baseline + (tuned - baseline) * gain
    rates = baseline + (tuned[:, :, None] - baseline) * time_course[None, None, :]
    counts = rng.poisson(rates / fs).astype(float)

    units = pd.DataFrame({"preferred_orientation": preferred, "peak_rate": peaks, "tuned": ~untuned})
    trials = pd.DataFrame({"stimulus": orientations[stim_index]})
    act = TrialActivity(counts, fs=fs, t0=-onset, units=units, trials=trials)
    act.attrs.update(
        orientations=orientations,
        preferred_orientation=preferred,
        tuned=~untuned,
        tuning_curves=tuning,
        time_course=time_course,
        rates=rates,
    )
    return act
