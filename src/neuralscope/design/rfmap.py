"""Active receptive-field mapping with a Gaussian-process model of the response.

A simulated neuron answers each stimulus with a Poisson spike count. The
model is a GP on Anscombe-transformed counts ``z = 2 sqrt(count + 3/8)``
(variance ~1 whatever the rate, so the noise is known); the rate map is read
back as ``E[z^2] / 4 - 1/8``. The same model estimates the RF under every
sampling strategy; only the choice of stimuli differs:

- ``active``: the stimulus with the largest posterior variance of the
  *rate* there (``Var[z^2 / 4]``): uncertainty sampling weighted towards
  where the response is large, which is where the map's error lives;
- ``variance-reduction``: the stimulus whose observation most reduces the
  summed (linearised) rate variance over the whole map; several times slower
  and, on the simulated neurons, no better than ``active``;
- ``random``: uniform draws; ``grid``: a regular grid in shuffled blocks.

RF error is the relative RMSE of the estimated rate map against the true one
on a dense grid: ``||rate_hat - rate|| / ||rate - mean(rate)||``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.design.gp import GaussianProcess

STRATEGIES = ("active", "variance-reduction", "random", "grid")


class PositionRFNeuron:
    """A neuron with a 2-D Gaussian (elliptical, rotated) RF over ``[-1, 1]^2`` of visual space.

    Parameters
    ----------
    random_state : int
        Seed of its RF (centre, size, shape) and of its Poisson responses.
    baseline, peak : float
        Mean spike counts outside the RF and added at its centre.
    """

    axes = ("x_deg", "y_deg")
    bounds = np.array([[-1.0, 1.0], [-1.0, 1.0]])

    def __init__(self, random_state: int = 0, baseline: float = 2.0, peak: float = 20.0):
        r = np.random.default_rng([random_state, 11])
        self.random_state = random_state
        self.baseline, self.peak = baseline, peak
        self.center = r.uniform(-0.6, 0.6, size=2)
        self.sigmas = r.uniform(0.12, 0.25, size=2)
        self.angle = float(r.uniform(0, np.pi))
        self._rng = np.random.default_rng([random_state, 12])

    def rate(self, X: np.ndarray) -> np.ndarray:
        """Expected count at stimuli ``X`` (n, 2)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        d = np.atleast_2d(X) - self.center
        u = (c * d[:, 0] + s * d[:, 1]) / self.sigmas[0]
        v = (-s * d[:, 0] + c * d[:, 1]) / self.sigmas[1]
        return self.baseline + self.peak * np.exp(-0.5 * (u**2 + v**2))

    def features(self, X: np.ndarray) -> np.ndarray:
        """GP inputs of stimuli (the position itself)."""
        return np.atleast_2d(X)

    def respond(self, X: np.ndarray) -> np.ndarray:
        return self._rng.poisson(self.rate(X)).astype(float)


class OrientationSFNeuron:
    """A V1-like neuron tuned to orientation (von Mises, period 180 deg) and spatial frequency (log-Gaussian).

    Stimuli are ``(orientation in [0, pi), log2 spatial frequency in [-1, 3])``.
    """

    axes = ("orientation_rad", "log2_sf_cpd")
    bounds = np.array([[0.0, np.pi], [-1.0, 3.0]])

    def __init__(self, random_state: int = 0, baseline: float = 2.0, peak: float = 20.0):
        r = np.random.default_rng([random_state, 21])
        self.random_state = random_state
        self.baseline, self.peak = baseline, peak
        self.pref_orientation = float(r.uniform(0, np.pi))
        self.kappa = float(r.uniform(2.0, 5.0))
        self.pref_log2_sf = float(r.uniform(0.0, 2.0))
        self.sf_width = float(r.uniform(0.4, 0.7))
        self._rng = np.random.default_rng([random_state, 22])

    def rate(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        ori = np.exp(self.kappa * (np.cos(2 * (X[:, 0] - self.pref_orientation)) - 1.0))
        sf = np.exp(-0.5 * ((X[:, 1] - self.pref_log2_sf) / self.sf_width) ** 2)
        return self.baseline + self.peak * ori * sf

    def features(self, X: np.ndarray) -> np.ndarray:
        """Orientation on the circle (cos 2θ, sin 2θ) so the GP sees its periodicity."""
        X = np.atleast_2d(X)
        return np.column_stack([np.cos(2 * X[:, 0]), np.sin(2 * X[:, 0]), X[:, 1] / 2.0])

    def respond(self, X: np.ndarray) -> np.ndarray:
        return self._rng.poisson(self.rate(X)).astype(float)


NEURONS = {"position": PositionRFNeuron, "orientation-sf": OrientationSFNeuron}


def _grid(bounds: np.ndarray, n_per_axis: int, offset: float = 0.5) -> np.ndarray:
    axes = [lo + (np.arange(n_per_axis) + offset) / n_per_axis * (hi - lo) for lo, hi in bounds]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(bounds))


class RFModel:
    """GP estimate of a rate map from stimuli and Poisson counts.

    Parameters
    ----------
    features : callable
        Maps stimuli (n, k) to GP inputs (n, d).
    kernel : str
        GP kernel.
    random_state : int
    """

    def __init__(self, features: Callable[[np.ndarray], np.ndarray], kernel: str = "rbf", random_state: int = 0):
        self.features = features
        self.kernel = kernel
        self.random_state = random_state
        self._theta: np.ndarray | None = None

    def fit(self, X: np.ndarray, counts: np.ndarray, refit: bool = True) -> "RFModel":
        """Condition on stimuli ``X`` and ``counts``; ``refit`` re-estimates the hyper-parameters."""
        z = 2.0 * np.sqrt(np.asarray(counts, float) + 0.375)
        F = self.features(X)
        z_sd = max(float(z.std()), 1e-3)
        # Anscombe-transformed Poisson counts have variance ~1: known noise in standardised units.
        noise = 1.0 / z_sd**2
        gp = GaussianProcess(kernel=self.kernel, n_restarts=1, fixed_noise=noise, random_state=self.random_state)
        if refit or self._theta is None or len(self._theta) != F.shape[1] + 2:
            gp.fit(F, z, warm_start=self._theta)
            self._theta = gp.theta_
        else:
            gp.fit_fixed(F, z, self._theta)
        self.gp_ = gp
        return self

    def _moments(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, var = self.gp_.predict_normalized(self.features(X))
        s = self.gp_.y_std_
        return mean * s + self.gp_.y_mean_, var * s**2

    def predict_rate(self, X: np.ndarray) -> np.ndarray:
        """Estimated mean count at stimuli ``X``."""
        mu, var = self._moments(X)
        return np.maximum((mu**2 + var) / 4.0 - 0.125, 0.0)

    def rate_variance(self, X: np.ndarray) -> np.ndarray:
        """Posterior variance of ``z^2 / 4`` (z Gaussian): ``(4 mu^2 var + 2 var^2) / 16``."""
        mu, var = self._moments(X)
        return (4.0 * mu**2 * var + 2.0 * var**2) / 16.0

    def variance_reduction(self, candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Summed reduction of the (linearised) rate variance over ``reference`` from one trial at each candidate.

        Observing z at c with noise n shrinks var(z_j) by cov(c, j)^2 / (var(c) + n); through
        rate = z^2 / 4 that is weighted by (mu_j / 2)^2.
        """
        gp = self.gp_
        Fc, Fr = self.features(candidates), self.features(reference)
        cov = gp.posterior_covariance_normalized(Fc, Fr)
        _, var_c = gp.predict_normalized(Fc)
        mu_r, _ = gp.predict_normalized(Fr)
        mu_r = mu_r * gp.y_std_ + gp.y_mean_
        weight = (mu_r / 2.0) ** 2 * gp.y_std_**2
        return (cov**2 @ weight) / (var_c + gp.noise_var_)


def rf_error(model: RFModel, neuron, eval_points: np.ndarray) -> float:
    """Relative RMSE of the estimated rate map on ``eval_points``."""
    true = neuron.rate(eval_points)
    est = model.predict_rate(eval_points)
    return float(np.linalg.norm(est - true) / np.linalg.norm(true - true.mean()))


@dataclass
class MappingResult:
    """Stimuli, counts and RF error after each checkpoint of one mapping run."""

    strategy: str
    stimuli: np.ndarray
    counts: np.ndarray
    checkpoints: list[int]
    errors: list[float]
    model: RFModel

    def trials_to_reach(self, target: float) -> int | None:
        """First checkpoint with error <= ``target`` (None if never reached)."""
        for n, e in zip(self.checkpoints, self.errors):
            if e <= target:
                return n
        return None


def _refit_schedule(n: int) -> bool:
    # Hyper-parameters are re-estimated often early (they change fast) and then on a geometric schedule.
    return n <= 20 or n % max(10, n // 8) == 0


def map_receptive_field(neuron, strategy: str = "active", n_trials: int = 200, n_initial: int = 10,
                        checkpoints: Sequence[int] | None = None, n_candidates_per_axis: int = 30,
                        n_eval_per_axis: int = 50, grid_per_axis: int = 10, kernel: str = "rbf",
                        random_state: int = 0) -> MappingResult:
    """Map one neuron's RF with ``n_trials`` stimuli chosen by ``strategy``.

    Parameters
    ----------
    neuron : PositionRFNeuron or OrientationSFNeuron (or anything with ``bounds``, ``rate``,
        ``respond`` and ``features``)
    strategy : {"active", "variance-reduction", "random", "grid"}
    n_trials : int
    n_initial : int
        Uniform random stimuli before the active strategies take over.
    checkpoints : sequence of int, optional
        Trial counts at which the RF error is measured (default every 10).
    random_state : int
        Seed of the stimulus choices.
    """
    if strategy not in STRATEGIES:
        raise NeuralscopeError("strategy", f"one of {STRATEGIES}", strategy)
    if not (isinstance(n_trials, int) and n_trials >= max(3, n_initial)):
        raise NeuralscopeError("n_trials", f"an integer >= {max(3, n_initial)}", n_trials)
    bounds = np.asarray(neuron.bounds, float)
    lo, span = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
    rng = np.random.default_rng([random_state, STRATEGIES.index(strategy)])
    checks = sorted(set(checkpoints)) if checkpoints is not None else list(range(10, n_trials + 1, 10))
    checks = [c for c in checks if 3 <= c <= n_trials]
    eval_points = _grid(bounds, n_eval_per_axis, offset=0.5)
    candidates = _grid(bounds, n_candidates_per_axis, offset=0.25)
    reference = _grid(bounds, 20, offset=0.5)
    if strategy == "grid":
        base = _grid(bounds, grid_per_axis)
        reps = -(-n_trials // len(base))
        stimuli = np.vstack([base[rng.permutation(len(base))] for _ in range(reps)])[:n_trials]
    elif strategy == "random":
        stimuli = lo + rng.random((n_trials, len(lo))) * span
    else:
        stimuli = np.empty((n_trials, len(lo)))
        stimuli[:n_initial] = lo + rng.random((n_initial, len(lo))) * span
    counts = np.empty(n_trials)
    model = RFModel(neuron.features, kernel=kernel, random_state=random_state)
    errors: list[float] = []
    n_done = 0
    if strategy in ("grid", "random"):
        for c in checks:
            counts[n_done:c] = neuron.respond(stimuli[n_done:c])
            n_done = c
            model.fit(stimuli[:c], counts[:c])
            errors.append(rf_error(model, neuron, eval_points))
    else:
        counts[:n_initial] = neuron.respond(stimuli[:n_initial])
        for n in range(n_initial, n_trials + 1):
            model.fit(stimuli[:n], counts[:n], refit=_refit_schedule(n))
            if n in checks:
                errors.append(rf_error(model, neuron, eval_points))
            if n == n_trials:
                break
            if strategy == "variance-reduction":
                score = model.variance_reduction(candidates, reference)
            else:
                score = model.rate_variance(candidates)
            best = candidates[int(np.argmax(score))]
            # A small jitter inside the candidate cell keeps repeated picks from being identical stimuli.
            stim = np.clip(best + (rng.random(len(lo)) - 0.5) * span / n_candidates_per_axis, lo, lo + span)
            stimuli[n] = stim
            counts[n] = neuron.respond(stim[None, :])[0]
        checks = [c for c in checks if c >= n_initial]
    return MappingResult(strategy, stimuli, counts, checks, errors, model)
