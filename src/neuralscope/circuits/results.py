"""Simulation output: spike trains per trial, rates with confidence intervals,
perturbed-versus-control differences."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from neuralscope.core.errors import NeuralscopeError


@dataclass
class SimulationResult:
    """Spikes of every trial of one simulated experiment.

    Attributes
    ----------
    steps, neurons, trials : numpy.ndarray
        One entry per spike: time step, neuron index (into ``neuron_ids``), trial.
    neuron_ids : numpy.ndarray
        Neuron ids of the connectome, in index order.
    n_trials, duration, dt : int, float, float
        Batch size, simulated seconds per trial, time step (s).
    experiment, params : Experiment, LIFParameters
        What was simulated.
    wall_seconds : float
        Wall time of the run (not counting the network build).
    max_active : int
        Largest number of neurons stepped at once (the active set).
    """

    steps: np.ndarray
    neurons: np.ndarray
    trials: np.ndarray
    neuron_ids: np.ndarray
    n_trials: int
    duration: float
    dt: float
    experiment: Any = None
    params: Any = None
    wall_seconds: float = float("nan")
    device: str = "cpu"
    max_active: int = 0
    build_seconds: float = 0.0
    _counts: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_neurons(self) -> int:
        return len(self.neuron_ids)

    @property
    def n_spikes(self) -> int:
        return len(self.steps)

    @property
    def times(self) -> np.ndarray:
        """Spike times in seconds (start of the step in which the spike occurred, as in Brian2)."""
        return self.steps * self.dt

    def spikes(self) -> pd.DataFrame:
        """One row per spike: ``t`` (s), ``trial``, ``neuron`` (id), sorted by time, trial, neuron."""
        order = np.lexsort((self.neurons, self.trials, self.steps))
        return pd.DataFrame({
            "t": self.times[order].astype(np.float64),
            "trial": self.trials[order].astype(np.int32),
            "neuron": self.neuron_ids[self.neurons[order]],
        })

    def to_parquet(self, path: str | Path) -> Path:
        """Write :meth:`spikes` to a parquet file (atomically)."""
        from neuralscope.io.atomic import atomic_path

        with atomic_path(path) as tmp:
            self.spikes().to_parquet(tmp, index=False)
        return Path(path)

    def counts(self) -> np.ndarray:
        """Spike counts, shape (n_trials, n_neurons)."""
        if self._counts is None:
            flat = self.trials.astype(np.int64) * self.n_neurons + self.neurons
            self._counts = np.bincount(flat, minlength=self.n_trials * self.n_neurons).reshape(self.n_trials, self.n_neurons)
        return self._counts

    def trial_rates(self, neurons: Any = None) -> np.ndarray:
        """Firing rates (Hz) per trial, shape (n_trials, n_selected)."""
        return self.counts()[:, self._select(neurons)] / self.duration

    @property
    def mean_rate_hz(self) -> float:
        """Mean firing rate over all neurons and trials."""
        return float(self.n_spikes / (self.n_neurons * self.n_trials * self.duration))

    def rates(self, neurons: Any = None, *, ci: float = 0.95, method: str = "t", n_boot: int = 2000,
              random_state: int = 0) -> pd.DataFrame:
        """Trial-averaged rate per neuron with a confidence interval across trials.

        ``method="t"`` uses the Student t interval of the mean; ``"bootstrap"``
        the percentile interval of ``n_boot`` resamples of trials (seeded).
        With a single trial the interval is NaN.
        """
        idx = self._select(neurons)
        r = self.counts()[:, idx] / self.duration
        mean = r.mean(axis=0)
        lo, hi = _interval(r, ci, method, n_boot, random_state)
        return pd.DataFrame({"rate_hz": mean, "ci_low": lo, "ci_high": hi,
                             "sem": r.std(axis=0, ddof=1) / np.sqrt(len(r)) if len(r) > 1 else np.nan},
                            index=pd.Index(self.neuron_ids[idx], name="neuron"))

    def population_rate(self, bin_size: float = 1e-3, neurons: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Bin centres (s) and the population rate (Hz per neuron) per trial, shape (n_trials, n_bins)."""
        idx = self._select(neurons)
        keep = np.isin(self.neurons, idx)
        n_bins = max(1, round(self.duration / bin_size))
        b = np.minimum((self.times[keep] / bin_size).astype(np.int64), n_bins - 1)
        hist = np.zeros((self.n_trials, n_bins))
        np.add.at(hist, (self.trials[keep], b), 1.0)
        return (np.arange(n_bins) + 0.5) * bin_size, hist / (len(idx) * bin_size)

    def compare(self, control: SimulationResult, neurons: Any = None, *, ci: float = 0.95, method: str = "t",
                n_boot: int = 2000, random_state: int = 0) -> pd.DataFrame:
        """Rate difference (this minus ``control``) per neuron with a confidence interval.

        ``"t"``: Welch interval for the difference of two means; ``"bootstrap"``:
        percentile interval, trials resampled independently in both conditions.
        """
        if not np.array_equal(np.asarray(control.neuron_ids), np.asarray(self.neuron_ids)):
            raise NeuralscopeError("control", "a result on the same connectome", "different neuron ids")
        idx = self._select(neurons)
        a = self.counts()[:, idx] / self.duration
        b = control.counts()[:, idx] / control.duration
        diff = a.mean(0) - b.mean(0)
        if method == "t":
            va = a.var(0, ddof=1) / len(a) if len(a) > 1 else np.full(len(idx), np.nan)
            vb = b.var(0, ddof=1) / len(b) if len(b) > 1 else np.full(len(idx), np.nan)
            se = np.sqrt(va + vb)
            with np.errstate(divide="ignore", invalid="ignore"):
                dof = (va + vb) ** 2 / (va ** 2 / max(len(a) - 1, 1) + vb ** 2 / max(len(b) - 1, 1))
            dof = np.where(np.isfinite(dof), dof, max(len(a) + len(b) - 2, 1))
            half = stats.t.ppf(0.5 + ci / 2, dof) * se
            half = np.where(se == 0, 0.0, half)
            lo, hi = diff - half, diff + half
        elif method == "bootstrap":
            rng = np.random.default_rng(random_state)
            boots = np.empty((n_boot, len(idx)))
            for i in range(n_boot):
                boots[i] = a[rng.integers(0, len(a), len(a))].mean(0) - b[rng.integers(0, len(b), len(b))].mean(0)
            lo, hi = np.quantile(boots, [0.5 - ci / 2, 0.5 + ci / 2], axis=0)
        else:
            raise NeuralscopeError("method", "'t' or 'bootstrap'", method)
        return pd.DataFrame({"rate_hz": a.mean(0), "control_rate_hz": b.mean(0), "difference_hz": diff,
                             "ci_low": lo, "ci_high": hi}, index=pd.Index(self.neuron_ids[idx], name="neuron"))

    def _select(self, neurons: Any) -> np.ndarray:
        if neurons is None:
            return np.arange(self.n_neurons)
        values = np.atleast_1d(np.asarray(neurons))
        index = pd.Index(self.neuron_ids)
        idx = index.get_indexer(values)
        if (idx < 0).any() and self.neuron_ids.dtype.kind in "iu" and values.dtype.kind in "OUS":
            try:
                idx = index.get_indexer(values.astype(np.int64))
            except ValueError:
                pass
        if (idx < 0).any():
            raise NeuralscopeError("neurons", "neuron ids of the simulated connectome",
                                   f"unknown ids {list(values[idx < 0][:5])}")
        return idx


def _interval(r: np.ndarray, ci: float, method: str, n_boot: int, random_state: int):
    if not 0 < ci < 1:
        raise NeuralscopeError("ci", "a confidence level in (0, 1)", ci)
    n = len(r)
    if n < 2:
        nan = np.full(r.shape[1], np.nan)
        return nan, nan
    mean = r.mean(0)
    if method == "t":
        half = stats.t.ppf(0.5 + ci / 2, n - 1) * r.std(0, ddof=1) / np.sqrt(n)
        return mean - half, mean + half
    if method == "bootstrap":
        rng = np.random.default_rng(random_state)
        picks = rng.integers(0, n, size=(n_boot, n))
        boots = np.stack([r[p].mean(0) for p in picks])
        return tuple(np.quantile(boots, [0.5 - ci / 2, 0.5 + ci / 2], axis=0))
    raise NeuralscopeError("method", "'t' or 'bootstrap'", method)
