"""One entry point to read activity from a file, whatever its format."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity
from neuralscope.core.validation import check_positive
from neuralscope.io.arrays import check_input_file, read_csv, read_mat, read_npz
from neuralscope.io.nwb import NWBContents
from neuralscope.io.nwb_read import read_nwb

__all__ = ["SUPPORTED_SUFFIXES", "load", "nwb_to_activity"]

SUPPORTED_SUFFIXES = (".npz", ".mat", ".csv", ".nwb")


def _interpolate(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray | None:
    """Linear interpolation of each column at ``at`` (held constant past the ends),
    using finite samples only; None when a column has fewer than two."""
    cols = values[:, None] if values.ndim == 1 else values
    out = np.empty((at.size, cols.shape[1]))
    for j in range(cols.shape[1]):
        ok = np.isfinite(times) & np.isfinite(cols[:, j])
        if ok.sum() < 2:
            return None
        order = np.argsort(times[ok], kind="stable")
        out[:, j] = np.interp(at, times[ok][order], cols[ok, j][order])
    return out[:, 0] if values.ndim == 1 else out


def nwb_to_activity(contents: NWBContents, bin_size: float = 0.05) -> ContinuousActivity:
    """Turn the contents of an NWB file into continuous activity.

    Parameters
    ----------
    contents : NWBContents
        From :func:`~neuralscope.io.read_nwb`.
    bin_size : float
        Bin width (s) for spike counts.

    Returns
    -------
    ContinuousActivity
        The file's stored activity matrix when it has one; otherwise spike
        counts of the Units table in ``bin_size`` bins over
        ``[t_start, t_stop]``, with each numeric behaviour series linearly
        interpolated at the bin centres as a covariate (held at its first /
        last value outside its own time range).
    """
    if contents.activity is not None:
        return contents.activity
    if contents.spikes is None:
        raise NeuralscopeError("nwb", "a Units table with spike times or an ecephys/activity series", "neither")
    width = check_positive(bin_size, "bin_size")
    binned = contents.spikes.bin(width)
    centres = binned.times + width / 2
    covariates = {}
    for name, (times, values) in contents.behaviour.items():
        if values.dtype.kind not in "biuf" or values.ndim not in (1, 2) or len(times) != len(values):
            continue
        sampled = _interpolate(np.asarray(times, float), values.astype(float), centres)
        if sampled is not None:
            covariates[name] = sampled
    return ContinuousActivity(binned.data, fs=binned.fs, t0=binned.t0, unit_ids=binned.unit_ids,
                              units=binned.units, covariates=covariates)


def load(
    path: str | Path,
    *,
    bin_size: float = 0.05,
    fs: float = 1.0,
    covariates: Sequence[str] | None = None,
) -> ContinuousActivity | TrialActivity:
    """Read activity from ``.npz``, ``.mat``, ``.csv`` or ``.nwb``.

    Parameters
    ----------
    path : str or Path
        The file; its extension picks the reader.
    bin_size : float
        ``.nwb`` only: bin width (s) for spike counts (see :func:`nwb_to_activity`).
    fs : float
        ``.csv`` only: sampling rate in Hz (``.npz`` / ``.mat`` carry theirs as ``fs``).
    covariates : sequence of str, optional
        ``.csv`` only: columns to read as covariates (see :func:`~neuralscope.io.read_csv`).

    Returns
    -------
    ContinuousActivity or TrialActivity
        ``.npz`` / ``.mat``: by the number of dimensions of ``X``;
        ``.csv`` and ``.nwb``: continuous.

    Raises
    ------
    NeuralscopeError
        For a missing file, a folder, an unknown extension, or unreadable content.

    Examples
    --------
    >>> act = load("session.nwb", bin_size=0.02)  # doctest: +SKIP
    """
    file = check_input_file(path, SUPPORTED_SUFFIXES)
    suffix = file.suffix.lower()
    if suffix == ".npz":
        return read_npz(file)
    if suffix == ".mat":
        return read_mat(file)
    if suffix == ".csv":
        return read_csv(file, fs=fs, covariates=covariates)
    return nwb_to_activity(read_nwb(file), bin_size=bin_size)
