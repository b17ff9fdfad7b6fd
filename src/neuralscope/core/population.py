"""Population activity: continuous (time x neurons) and trial-structured
(trials x neurons x time), with behaviour covariates and trial labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.validation import (
    check_array,
    check_consistent_length,
    check_positive,
)


def _check_unit_ids(unit_ids: Any, n_units: int) -> np.ndarray:
    if unit_ids is None:
        return np.arange(n_units)
    ids = np.asarray(unit_ids)
    if ids.ndim != 1 or ids.shape[0] != n_units:
        raise NeuralscopeError("unit_ids", f"{n_units} ids, one per neuron", f"shape {ids.shape}")
    if np.unique(ids).size != ids.size:
        raise NeuralscopeError("unit_ids", "unique ids", "duplicated ids")
    return ids


def _check_units_table(units: pd.DataFrame | None, n_units: int) -> pd.DataFrame:
    if units is None:
        return pd.DataFrame(index=pd.RangeIndex(n_units))
    if not isinstance(units, pd.DataFrame) or len(units) != n_units:
        raise NeuralscopeError("units", f"a DataFrame with {n_units} rows", type(units).__name__)
    return units.reset_index(drop=True)


@dataclass(eq=False)
class ContinuousActivity:
    """Activity sampled on a regular time grid: ``data`` is (n_time, n_neurons).

    Parameters
    ----------
    data : array-like of shape (n_time, n_neurons)
        Spike counts, rates, or fluorescence. Finite values only.
    fs : float
        Sampling rate in Hz (1 / bin width).
    t0 : float
        Time of the first sample, in seconds.
    unit_ids : array-like of shape (n_neurons,), optional
        Unique id per neuron (defaults to ``0..n_neurons-1``).
    units : pandas.DataFrame, optional
        Per-neuron metadata, one row per neuron (e.g. brain area, depth).
    covariates : mapping of str to array-like, optional
        Behaviour sampled on the same grid: each value is (n_time,) or
        (n_time, k), e.g. ``{"velocity": v}`` with ``v`` of shape (n_time, 2).

    Examples
    --------
    >>> import numpy as np
    >>> act = ContinuousActivity(np.zeros((100, 3)), fs=20.0)
    >>> act.n_time, act.n_neurons, act.duration
    (100, 3, 5.0)
    """

    data: np.ndarray
    fs: float
    t0: float = 0.0
    unit_ids: np.ndarray | None = None
    units: pd.DataFrame | None = None
    covariates: dict[str, np.ndarray] = field(default_factory=dict)

    def __repr__(self) -> str:
        covs = ", ".join(f"{k}{tuple(v.shape[1:]) or ''}" for k, v in self.covariates.items())
        return (f"ContinuousActivity(n_time={self.n_time}, n_neurons={self.n_neurons}, fs={self.fs:g}, "
                f"t0={self.t0:g}, covariates=[{covs}])")

    def __post_init__(self) -> None:
        self.data = check_array(self.data, "data", ndim=2)
        self.fs = check_positive(self.fs, "fs")
        self.t0 = float(self.t0)
        self.unit_ids = _check_unit_ids(self.unit_ids, self.n_neurons)
        self.units = _check_units_table(self.units, self.n_neurons)
        covs: dict[str, np.ndarray] = {}
        for key, value in dict(self.covariates).items():
            arr = check_array(value, f"covariates[{key!r}]", ndim=(1, 2))
            check_consistent_length(self.n_time, arr.shape[0], f"covariates[{key!r}]")
            covs[str(key)] = arr
        self.covariates = covs

    @property
    def n_time(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_neurons(self) -> int:
        return int(self.data.shape[1])

    @property
    def times(self) -> np.ndarray:
        """Sample times in seconds (bin starts)."""
        return self.t0 + np.arange(self.n_time) / self.fs

    @property
    def duration(self) -> float:
        return self.n_time / self.fs

    def covariate(self, name: str) -> np.ndarray:
        """Return covariate ``name`` as a (n_time, k) array."""
        if name not in self.covariates:
            raise NeuralscopeError("target", f"one of {sorted(self.covariates)}", name)
        arr = self.covariates[name]
        return arr[:, None] if arr.ndim == 1 else arr

    def epoch(
        self,
        trials: pd.DataFrame,
        *,
        align: str = "start_time",
        window: tuple[float, float] = (0.0, 1.0),
        labels: list[str] | None = None,
    ) -> "TrialActivity":
        """Cut trials out of the continuous recording.

        Parameters
        ----------
        trials : pandas.DataFrame
            Trial table with an ``align`` column in seconds (NWB style:
            ``start_time``, ``stop_time`` and any label columns).
        align : str
            Column giving each trial's alignment time.
        window : (float, float)
            Seconds relative to the alignment time, e.g. ``(-0.2, 0.8)``.
        labels : list of str, optional
            Trial-table columns to carry as labels (default: all columns).

        Returns
        -------
        TrialActivity
            Trials whose window lies fully inside the recording; the others
            are dropped (their count is in ``attrs['n_dropped']``).
        """
        if not isinstance(trials, pd.DataFrame) or align not in trials.columns:
            raise NeuralscopeError("trials", f"a DataFrame with a {align!r} column", type(trials).__name__)
        pre, post = float(window[0]), float(window[1])
        if post <= pre:
            raise NeuralscopeError("window", "(start, stop) with stop > start", window)
        n_bins = int(round((post - pre) * self.fs))
        if n_bins < 1:
            raise NeuralscopeError("window", f"at least one bin at fs={self.fs}", window)
        onset = np.round((trials[align].to_numpy(float) + pre - self.t0) * self.fs).astype(int)
        keep = (onset >= 0) & (onset + n_bins <= self.n_time)
        if not keep.any():
            raise NeuralscopeError("trials", "at least one trial inside the recording", "none")
        idx = onset[keep][:, None] + np.arange(n_bins)[None, :]
        data = self.data[idx].transpose(0, 2, 1)  # trials x neurons x time
        cols = list(trials.columns) if labels is None else list(labels)
        table = trials.loc[keep, cols].reset_index(drop=True)
        out = TrialActivity(data, fs=self.fs, t0=pre, unit_ids=self.unit_ids, units=self.units, trials=table)
        out.attrs["n_dropped"] = int((~keep).sum())
        return out


@dataclass(eq=False)
class TrialActivity:
    """Trial-structured activity: ``data`` is (n_trials, n_neurons, n_time).

    Parameters
    ----------
    data : array-like of shape (n_trials, n_neurons, n_time)
    fs : float
        Sampling rate in Hz.
    t0 : float
        Time of the first bin relative to the trial's alignment event (s).
    unit_ids, units
        As in :class:`ContinuousActivity`.
    trials : pandas.DataFrame, optional
        One row per trial: labels (stimulus, choice, ...) and any metadata.
    """

    data: np.ndarray
    fs: float
    t0: float = 0.0
    unit_ids: np.ndarray | None = None
    units: pd.DataFrame | None = None
    trials: pd.DataFrame | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"TrialActivity(n_trials={self.n_trials}, n_neurons={self.n_neurons}, n_time={self.n_time}, "
                f"fs={self.fs:g}, t0={self.t0:g}, labels={list(self.trials.columns)})")

    def __post_init__(self) -> None:
        self.data = check_array(self.data, "data", ndim=3)
        self.fs = check_positive(self.fs, "fs")
        self.t0 = float(self.t0)
        self.unit_ids = _check_unit_ids(self.unit_ids, self.n_neurons)
        self.units = _check_units_table(self.units, self.n_neurons)
        if self.trials is None:
            self.trials = pd.DataFrame(index=pd.RangeIndex(self.n_trials))
        elif not isinstance(self.trials, pd.DataFrame):
            raise NeuralscopeError("trials", "a pandas DataFrame", type(self.trials).__name__)
        else:
            check_consistent_length(self.n_trials, len(self.trials), "trials")
            self.trials = self.trials.reset_index(drop=True)

    @classmethod
    def from_labels(
        cls, data: Any, labels: Mapping[str, Any] | Any, fs: float, **kwargs: Any
    ) -> "TrialActivity":
        """Build from an array and labels (a mapping, or one array named ``label``)."""
        if not isinstance(labels, Mapping):
            labels = {"label": labels}
        table = pd.DataFrame({k: np.asarray(v) for k, v in labels.items()})
        return cls(data, fs=fs, trials=table, **kwargs)

    @property
    def n_trials(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_neurons(self) -> int:
        return int(self.data.shape[1])

    @property
    def n_time(self) -> int:
        return int(self.data.shape[2])

    @property
    def times(self) -> np.ndarray:
        """Bin times relative to alignment (s)."""
        return self.t0 + np.arange(self.n_time) / self.fs

    def labels(self, name: str | None = None) -> np.ndarray:
        """Return the per-trial label column ``name`` (the only one if None)."""
        cols = list(self.trials.columns)
        if name is None:
            if len(cols) != 1:
                raise NeuralscopeError("target", f"one of {cols} (several label columns)", None)
            name = cols[0]
        if name not in cols:
            raise NeuralscopeError("target", f"one of {cols}", name)
        return self.trials[name].to_numpy()

    def to_continuous(self) -> ContinuousActivity:
        """Concatenate trials in time (trial labels become per-sample covariates
        when numeric)."""
        data = self.data.transpose(0, 2, 1).reshape(-1, self.n_neurons)
        covs = {}
        for col in self.trials.columns:
            values = self.trials[col].to_numpy()
            if values.dtype.kind in "biuf":
                covs[col] = np.repeat(values.astype(float), self.n_time)
        return ContinuousActivity(data, fs=self.fs, unit_ids=self.unit_ids, units=self.units, covariates=covs)

    def mean_over_time(self) -> np.ndarray:
        """(n_trials, n_neurons) mean activity over the window."""
        return self.data.mean(axis=2)
