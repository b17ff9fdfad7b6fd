"""Spike trains: one array of spike times per unit, and binning to counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, _check_unit_ids, _check_units_table
from neuralscope.core.validation import check_array, check_positive


@dataclass(eq=False)
class SpikeTrains:
    """Spike times (seconds) of a set of units.

    Parameters
    ----------
    times : sequence of array-like
        One 1-D array of spike times per unit; sorted on construction.
    unit_ids : array-like, optional
        Unique id per unit.
    units : pandas.DataFrame, optional
        Per-unit metadata.
    t_start, t_stop : float, optional
        Recording bounds; default to the first and last spike.
    """

    times: Sequence[np.ndarray]
    unit_ids: np.ndarray | None = None
    units: pd.DataFrame | None = None
    t_start: float | None = None
    t_stop: float | None = None

    def __repr__(self) -> str:
        return (f"SpikeTrains(n_units={self.n_units}, n_spikes={self.n_spikes}, "
                f"t_start={self.t_start:g}, t_stop={self.t_stop:g})")

    def __post_init__(self) -> None:
        if len(self.times) == 0:
            raise NeuralscopeError("times", "spike times of at least one unit", "no units")
        trains = []
        for i, t in enumerate(self.times):
            arr = check_array(t, f"times[{i}]", ndim=1, allow_empty=True)
            trains.append(np.sort(arr))
        self.times = trains
        self.unit_ids = _check_unit_ids(self.unit_ids, len(trains))
        self.units = _check_units_table(self.units, len(trains))
        nonempty = [t for t in trains if t.size]
        lo = min((t[0] for t in nonempty), default=0.0)
        hi = max((t[-1] for t in nonempty), default=0.0)
        self.t_start = float(lo if self.t_start is None else self.t_start)
        self.t_stop = float(hi if self.t_stop is None else self.t_stop)
        if self.t_stop < self.t_start:
            raise NeuralscopeError("t_stop", f">= t_start ({self.t_start})", self.t_stop)

    @property
    def n_units(self) -> int:
        return len(self.times)

    @property
    def n_spikes(self) -> int:
        return int(sum(t.size for t in self.times))

    def firing_rates(self) -> np.ndarray:
        """Mean rate of each unit over [t_start, t_stop] (Hz)."""
        dur = max(self.t_stop - self.t_start, np.finfo(float).eps)
        return np.array([t.size for t in self.times]) / dur

    def bin(
        self,
        bin_size: float,
        t_start: float | None = None,
        t_stop: float | None = None,
        covariates: dict[str, Any] | None = None,
    ) -> ContinuousActivity:
        """Count spikes in bins of ``bin_size`` seconds.

        Returns
        -------
        ContinuousActivity
            Counts (n_bins, n_units) with ``fs = 1 / bin_size`` and ``t0 = t_start``.
        """
        width = check_positive(bin_size, "bin_size")
        lo = self.t_start if t_start is None else float(t_start)
        hi = self.t_stop if t_stop is None else float(t_stop)
        n_bins = int(np.floor((hi - lo) / width + 1e-9))
        if n_bins < 1:
            raise NeuralscopeError("bin_size", f"at most the recording length {hi - lo:g} s", width)
        edges = lo + width * np.arange(n_bins + 1)
        counts = np.stack([np.histogram(t, bins=edges)[0] for t in self.times], axis=1)
        return ContinuousActivity(
            counts.astype(float), fs=1.0 / width, t0=lo,
            unit_ids=self.unit_ids, units=self.units, covariates=covariates or {},
        )
