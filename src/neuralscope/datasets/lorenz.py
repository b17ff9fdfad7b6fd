"""Poisson neurons driven by a Lorenz attractor: the benchmark for single-trial
latent-dynamics models (the synthetic set of the LFADS paper, Pandarinath et
al. 2018, rebuilt from its description)."""

from __future__ import annotations

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

__all__ = ["simulate_lorenz_population"]

# The classic chaotic parameter set (Lorenz 1963).
_SIGMA, _RHO, _BETA = 10.0, 28.0, 8.0 / 3.0
# Largest RK4 step in Lorenz time units; 0.005 is well inside the stable and
# accurate range for these parameters (errors << the attractor's scale).
_MAX_STEP = 0.005
# Lorenz time spent settling random starting points onto the attractor, long
# enough (~10 Lyapunov times) for the start to be forgotten.
_BURN_IN = 10.0


def _lorenz_rhs(s: np.ndarray) -> np.ndarray:
    x, y, z = s[:, 0], s[:, 1], s[:, 2]
    return np.stack([_SIGMA * (y - x), x * (_RHO - z) - y, x * y - _BETA * z], axis=1)


def _rk4(s: np.ndarray, h: float, n_steps: int) -> np.ndarray:
    """Advance the states ``s`` (n, 3) by ``n_steps`` RK4 steps of size ``h``."""
    for _ in range(n_steps):
        k1 = _lorenz_rhs(s)
        k2 = _lorenz_rhs(s + 0.5 * h * k1)
        k3 = _lorenz_rhs(s + 0.5 * h * k2)
        k4 = _lorenz_rhs(s + h * k3)
        s = s + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return s


def simulate_lorenz_population(
    n_neurons: int = 30,
    n_trials: int = 200,
    n_time: int = 50,
    fs: float = 50.0,
    n_conditions: int = 20,
    speed: float = 1.0,
    ic_jitter: float = 0.5,
    gain: float = 1.0,
    baseline_rate: float = 10.0,
    random_state: int | np.random.Generator = 0,
) -> TrialActivity:
    """Simulate Poisson neurons reading out a 3-D Lorenz attractor.

    The latent state follows the Lorenz system (sigma = 10, rho = 28,
    beta = 8/3), integrated with 4th-order Runge-Kutta. Each of the
    ``n_conditions`` conditions starts from its own random point on the
    attractor; each trial starts from its condition's point plus Gaussian
    jitter of standard deviation ``ic_jitter`` (Lorenz units; the attractor
    spans about +-20), so trials of one condition share a mean trajectory but
    differ, increasingly over the trial because the system is chaotic. The
    trajectory is sampled once per bin; one second of trial covers ``speed``
    Lorenz time units. The latents are z-scored (each dimension over all trials
    and bins) before the read-out.

    Neuron ``i`` has rate ``baseline_i * exp(C[i] . z(t))`` Hz, with
    loadings ``C[i]`` normal of standard deviation ``gain / sqrt(3)`` (so
    the log-rate modulation has standard deviation about ``gain``) and
    ``baseline_i`` uniform in [0.5, 1.5] x ``baseline_rate``. Counts per bin
    are Poisson with mean ``rate / fs``.

    Parameters
    ----------
    n_neurons : int
        Number of neurons.
    n_trials : int
        Number of trials (>= ``n_conditions``); conditions are assigned in
        turn (balanced) and the order is shuffled.
    n_time : int
        Bins per trial (>= 2).
    fs : float
        Sampling rate (bins per second).
    n_conditions : int
        Number of distinct initial conditions (>= 1).
    speed : float
        Lorenz time units per second of trial (> 0); larger values give
        faster latent dynamics relative to the bin width.
    ic_jitter : float
        Standard deviation of each trial's initial-condition jitter around its
        condition's starting point, in Lorenz units (>= 0; 0 makes all trials
        of a condition share their rates exactly).
    gain : float
        Scale of the read-out loadings (>= 0; 0 gives constant rates, a
        useful null).
    baseline_rate : float
        Mean baseline rate in Hz.
    random_state : int or numpy.random.Generator
        Seed; the same seed gives identical data.

    Returns
    -------
    TrialActivity
        ``data`` (n_trials, n_neurons, n_time) spike counts;
        ``trials["condition"]`` in ``0..n_conditions-1``. Ground truth in
        ``attrs``: ``latents`` (n_trials, 3, n_time) z-scored Lorenz state,
        ``lorenz_state`` (same shape, raw units), ``initial_conditions``
        (n_trials, 3) raw, ``loadings`` (n_neurons, 3), ``baseline``
        (n_neurons,) Hz and ``rates`` (n_trials, n_neurons, n_time) Hz.

    Raises
    ------
    NeuralscopeError
        On a non-integer or too small count, a non-positive ``fs``,
        ``speed`` or ``baseline_rate``, negative ``ic_jitter`` or ``gain``,
        or fewer trials than conditions.

    Examples
    --------
    >>> act = simulate_lorenz_population(n_neurons=5, n_trials=6, n_time=10, n_conditions=3)
    >>> act.data.shape, act.attrs["latents"].shape
    ((6, 5, 10), (6, 3, 10))
    """
    n_neurons = check_int(n_neurons, "n_neurons")
    n_trials = check_int(n_trials, "n_trials")
    n_time = check_int(n_time, "n_time", minimum=2)
    fs = check_positive(fs, "fs")
    n_conditions = check_int(n_conditions, "n_conditions")
    if n_trials < n_conditions:
        raise NeuralscopeError("n_trials", f"at least n_conditions={n_conditions} trials", n_trials)
    speed = check_positive(speed, "speed")
    ic_jitter = check_nonnegative(ic_jitter, "ic_jitter")
    gain = check_nonnegative(gain, "gain")
    baseline_rate = check_positive(baseline_rate, "baseline_rate")
    rng = check_rng(random_state)

    # Starting points on the attractor: random states near the attractor's
    # centre, then a burn-in long enough for chaos to spread them over it.
    starts = rng.standard_normal((n_conditions, 3)) * 5.0 + np.array([0.0, 0.0, 25.0])
    n_burn = int(np.ceil(_BURN_IN / _MAX_STEP))
    starts = _rk4(starts, _BURN_IN / n_burn, n_burn)

    condition = rng.permutation(np.arange(n_trials) % n_conditions)
    ics = starts[condition] + ic_jitter * rng.standard_normal((n_trials, 3))

    # Integrate all trials at once, recording one sample per bin.
    bin_span = speed / fs  # Lorenz time per bin
    n_sub = max(1, int(np.ceil(bin_span / _MAX_STEP)))
    state = ics.copy()
    traj = np.empty((n_trials, 3, n_time))
    traj[:, :, 0] = state
    for k in range(1, n_time):
        state = _rk4(state, bin_span / n_sub, n_sub)
        traj[:, :, k] = state

    mean = traj.mean(axis=(0, 2), keepdims=True)
    std = traj.std(axis=(0, 2), keepdims=True)
    latents = (traj - mean) / np.where(std > 0, std, 1.0)

    loadings = gain / np.sqrt(3.0) * rng.standard_normal((n_neurons, 3))
    baseline = baseline_rate * rng.uniform(0.5, 1.5, n_neurons)
    drive = np.einsum("nk,rkt->rnt", loadings, latents)
    # Clip the exponent so an unusually large loading cannot produce absurd
    # rates (> e^4 x baseline) that would dominate every likelihood.
    rates = baseline[None, :, None] * np.exp(np.clip(drive, -4.0, 4.0))
    data = rng.poisson(rates / fs).astype(float)

    trials = pd.DataFrame({"condition": condition.astype(int)})
    act = TrialActivity(data, fs=fs, t0=0.0, trials=trials)
    act.attrs.update(
        latents=latents,
        lorenz_state=traj,
        initial_conditions=ics,
        loadings=loadings,
        baseline=baseline,
        rates=rates,
    )
    return act
