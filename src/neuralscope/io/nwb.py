"""Neurodata Without Borders (NWB) files: write what neuralscope holds, read
what a lab shares.

:func:`write_nwb` writes spike trains (Units table), continuous activity and
its behaviour covariates (processing modules ``ecephys`` and ``behavior``),
a trials table and extra interval tables, with session and subject metadata,
so that the file passes ``nwbinspector`` (DANDI configuration) without
messages. :func:`read_nwb` opens any NWB 2.x file read-only and returns its
contents as plain numpy / pandas objects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity
from neuralscope.core.spikes import SpikeTrains
from neuralscope.io.atomic import atomic_path

__all__ = ["NWBContents", "SessionMetadata", "write_nwb"]

#: Processing-module and object names used by :func:`write_nwb` (and looked for by :func:`read_nwb`).
ACTIVITY_MODULE = "ecephys"
ACTIVITY_NAME = "activity"
ACTIVITY_UNITS_NAME = "activity_units"
BEHAVIOR_MODULE = "behavior"

# Datasets above this size are gzip-compressed; small ones are not, since
# compression makes tiny datasets larger and slower to read.
_COMPRESS_BYTES = 1_000_000


@dataclass
class SessionMetadata:
    """Session and subject metadata written to the NWB file.

    The defaults are placeholders that satisfy the DANDI checks; replace
    them with the real values when they are known.

    Parameters
    ----------
    session_description, experiment_description, institution, lab : str
        Free text on the session, the experiment and where the data come from.
    identifier, session_id : str, optional
        Globally unique file id (a random UUID when None); the lab's session name.
    session_start_time : datetime, optional
        Start of the session (now, UTC, when None; naive datetimes are taken
        as UTC). All times in the file are seconds from it.
    experimenter, keywords : tuple of str
        Names in "Last, First" form; search terms.
    subject_id, species, sex, age, subject_description : str
        Subject id (no slashes); Latin binomial ("Mus musculus", "Macaca
        mulatta"); "M", "F", "O" or "U"; ISO 8601 duration ("P90D", "P5Y");
        free text.
    """

    session_description: str = "Neural population activity exported by neuralscope"
    identifier: str | None = None
    session_start_time: datetime | None = None
    session_id: str | None = None
    experiment_description: str = "Neural population recording exported by neuralscope for decoding analyses."
    experimenter: tuple[str, ...] = ("Unknown, Unknown",)
    institution: str = "Unknown institution"
    lab: str = "Unknown lab"
    keywords: tuple[str, ...] = ("neural decoding", "population activity")
    subject_id: str = "subject-1"
    species: str = "Mus musculus"
    sex: str = "U"
    age: str = "P90D"
    subject_description: str = "Experimental subject (details not recorded by neuralscope)"


@dataclass(eq=False)
class NWBContents:
    """What :func:`read_nwb` found in a file.

    Attributes
    ----------
    spikes : SpikeTrains or None
        Spike times of the Units table; ``spikes.units`` holds the scalar unit
        columns (plus ``location`` from the electrodes table when linked).
    activity : ContinuousActivity or None
        The binned activity matrix written by :func:`write_nwb` (``ecephys/activity``),
        with the behaviour series sampled on the same grid as covariates.
    behaviour : dict of str to (timestamps, data)
        Every time series in the ``behavior`` processing module; ``data`` is in
        the series' unit (conversion and offset applied).
    trials : pandas.DataFrame or None
        The trials table (``start_time``, ``stop_time`` and label columns).
    tables : dict of str to pandas.DataFrame
        Other tables: interval tables (e.g. ``encoding_table``) and dynamic
        tables in processing modules.
    metadata : dict
        Session and subject fields.
    """

    spikes: SpikeTrains | None = None
    activity: ContinuousActivity | None = None
    behaviour: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    trials: pd.DataFrame | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- writing


def _metadata(meta: SessionMetadata | Mapping[str, Any] | None) -> SessionMetadata:
    if meta is None or isinstance(meta, SessionMetadata):
        return meta or SessionMetadata()
    if not isinstance(meta, Mapping):
        raise NeuralscopeError("metadata", "a SessionMetadata or a mapping", type(meta).__name__)
    known = {f.name for f in fields(SessionMetadata)}
    if set(meta) - known:
        raise NeuralscopeError("metadata", f"keys among {sorted(known)}", sorted(set(meta) - known))
    return SessionMetadata(**dict(meta))


def _column_data(values: pd.Series, name: str) -> np.ndarray:
    """A table column as an HDF5-friendly array.

    Integers are stored in the smallest integer type that holds them, because
    nwbinspector flags 0/1 columns wider than one byte; strings and any other
    objects are stored as text.
    """
    if "/" in str(name):
        raise NeuralscopeError("column name", "a name without '/'", name)
    arr = values.to_numpy()
    if arr.dtype.kind == "b":
        return arr.astype(bool)
    if arr.dtype.kind in "iu":
        if arr.size == 0:
            return arr.astype(np.int64)
        lo, hi = int(arr.min()), int(arr.max())
        for dt in (np.uint8, np.uint16, np.uint32) if lo >= 0 else (np.int8, np.int16, np.int32):
            info = np.iinfo(dt)
            if info.min <= lo and hi <= info.max:
                return arr.astype(dt)
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        return arr.astype(np.float64)
    return np.array([str(v) for v in arr], dtype=object)


def _maybe_compress(arr: np.ndarray) -> Any:
    if arr.nbytes > _COMPRESS_BYTES:
        from hdmf.backends.hdf5.h5_utils import H5DataIO

        return H5DataIO(arr, compression="gzip")
    return arr


def _add_trials(nwbfile: Any, table: Any, trials: pd.DataFrame, what: str) -> None:
    """Fill a TimeIntervals ``table`` from ``trials`` (sorted by start time)."""
    if not isinstance(trials, pd.DataFrame):
        raise NeuralscopeError(what, "a pandas DataFrame", type(trials).__name__)
    for col in ("start_time", "stop_time"):
        if col not in trials.columns:
            raise NeuralscopeError(what, "a DataFrame with 'start_time' and 'stop_time' columns", list(trials.columns))
    start, stop = trials["start_time"].to_numpy(float), trials["stop_time"].to_numpy(float)
    if len(trials) == 0:
        raise NeuralscopeError(what, "at least one row", "an empty table")
    if not np.all(np.isfinite(start) & np.isfinite(stop)):
        raise NeuralscopeError(what, "finite start_time and stop_time", "NaN or inf")
    if np.any(stop < start):
        raise NeuralscopeError(what, "stop_time >= start_time on every row", "a row ending before it starts")
    # NWB asks for rows in time order; a stable sort keeps the given order of ties.
    ordered = trials.iloc[np.argsort(start, kind="stable")].reset_index(drop=True)
    extra = [c for c in ordered.columns if c not in ("start_time", "stop_time")]
    columns = {str(c): _column_data(ordered[c], c) for c in extra}
    for name in columns:
        table.add_column(name=name, description=f"{name} ({what} column)")
    for i in range(len(ordered)):
        row = {name: values[i] for name, values in columns.items()}
        table.add_row(start_time=float(ordered["start_time"].iloc[i]),
                      stop_time=float(ordered["stop_time"].iloc[i]), **row)


def _add_units(nwbfile: Any, spikes: SpikeTrains, resolution: float) -> None:
    from pynwb.misc import Units

    if not isinstance(spikes, SpikeTrains):
        raise NeuralscopeError("spikes", "a SpikeTrains", type(spikes).__name__)
    units = Units(name="units", description="Sorted single and multi units", resolution=float(resolution))
    ids = np.asarray(spikes.unit_ids)
    int_ids = ids.dtype.kind in "iu"
    columns = {str(c): _column_data(spikes.units[c], c) for c in spikes.units.columns}
    if not int_ids:
        columns["unit_name"] = np.array([str(v) for v in ids], dtype=object)
    for name in columns:
        units.add_column(name=name, description=f"{name} of each unit")
    obs = [[spikes.t_start, spikes.t_stop]]
    for i, times in enumerate(spikes.times):
        row = {name: values[i] for name, values in columns.items()}
        kwargs = {"id": int(ids[i])} if int_ids else {}
        units.add_unit(spike_times=np.asarray(times, float), obs_intervals=obs, **row, **kwargs)
    nwbfile.units = units


def _add_activity(nwbfile: Any, activity: ContinuousActivity, activity_unit: str,
                  covariate_units: Mapping[str, str]) -> None:
    from hdmf.common import DynamicTable, VectorData
    from pynwb import TimeSeries
    from pynwb.behavior import BehavioralTimeSeries, Position, SpatialSeries

    if not isinstance(activity, ContinuousActivity):
        raise NeuralscopeError("activity", "a ContinuousActivity", type(activity).__name__)
    ecephys = nwbfile.create_processing_module(ACTIVITY_MODULE, "Binned population activity")
    ecephys.add(TimeSeries(
        name=ACTIVITY_NAME, data=_maybe_compress(activity.data), unit=activity_unit,
        starting_time=activity.t0, rate=activity.fs,
        description="Population activity, time x neurons; columns follow the activity_units table",
    ))
    if activity.n_neurons > 1:  # a one-row table is flagged by nwbinspector and says nothing
        cols = {"unit_id": _column_data(pd.Series(activity.unit_ids), "unit_id")}
        cols.update({str(c): _column_data(activity.units[c], c) for c in activity.units.columns})
        ecephys.add(DynamicTable(
            name=ACTIVITY_UNITS_NAME, description="One row per column of the activity matrix",
            id=list(range(activity.n_neurons)),
            columns=[VectorData(name=n, description=f"{n} of each activity column", data=v)
                     for n, v in cols.items()],
        ))
    if not activity.covariates:
        return
    behavior = nwbfile.create_processing_module(BEHAVIOR_MODULE, "Behaviour sampled on the activity grid")
    position = Position(name="Position")
    other = BehavioralTimeSeries(name="BehavioralTimeSeries")
    for name, values in activity.covariates.items():
        if "/" in name:
            raise NeuralscopeError("covariate name", "a name without '/'", name)
        unit = str(covariate_units.get(name, "n.a."))
        common = dict(name=name, data=_maybe_compress(values), unit=unit,
                      starting_time=activity.t0, rate=activity.fs, description=f"Covariate {name}")
        # Positions go in Position as SpatialSeries (at most x, y, z); every other
        # covariate is a plain TimeSeries, so its unit is not forced to a length.
        if "position" in name.lower() and (values.ndim == 1 or values.shape[1] <= 3):
            position.add_spatial_series(SpatialSeries(reference_frame="arbitrary origin", **common))
        else:
            other.add_timeseries(TimeSeries(**common))
    for container in (position, other):
        if len(container.time_series if hasattr(container, "time_series") else container.spatial_series):
            behavior.add(container)


def write_nwb(
    path: str | Path,
    *,
    spikes: SpikeTrains | None = None,
    activity: ContinuousActivity | None = None,
    trials: pd.DataFrame | None = None,
    intervals: Mapping[str, pd.DataFrame] | None = None,
    metadata: SessionMetadata | Mapping[str, Any] | None = None,
    spike_resolution: float = 1.0 / 30000.0,
    activity_unit: str = "n.a.",
    covariate_units: Mapping[str, str] | None = None,
) -> Path:
    """Write spikes, activity, behaviour and trials to an NWB file, atomically.

    Parameters
    ----------
    path : str or Path
        Destination (``.nwb``). Written to a temporary file in the same folder
        and renamed into place, so a failed write leaves no partial file.
    spikes : SpikeTrains, optional
        Written as the Units table: ``spike_times``, one observation interval
        ``[t_start, t_stop]`` per unit, the columns of ``spikes.units``, and
        the unit ids (as table ids when integers, else a ``unit_name`` column).
    activity : ContinuousActivity, optional
        The activity matrix goes to ``processing/ecephys/activity`` (a
        TimeSeries with ``starting_time`` and ``rate``), its unit ids and unit
        metadata to ``processing/ecephys/activity_units``. Covariates go to the
        ``behavior`` module: names containing "position" as SpatialSeries in
        ``Position``, the others as TimeSeries in ``BehavioralTimeSeries``.
    trials : pandas.DataFrame, optional
        NWB trials table: ``start_time`` and ``stop_time`` (seconds) plus any
        label columns. Rows are written in order of start time.
    intervals : mapping of str to pandas.DataFrame, optional
        Further interval tables (same format as ``trials``), e.g.
        ``{"recognition_table": df}``.
    metadata : SessionMetadata or mapping, optional
        Session and subject metadata (defaults: :class:`SessionMetadata`).
    spike_resolution : float
        Smallest distinguishable difference between spike times (s), i.e.
        1 / the acquisition sampling rate; the default assumes 30 kHz.
    activity_unit : str
        Unit of the activity values (e.g. "counts", "Hz"; "n.a." if unknown).
    covariate_units : mapping of str to str, optional
        Unit of each covariate (default "n.a."), e.g. ``{"position": "meters"}``.

    Returns
    -------
    Path
        The written file.

    Notes
    -----
    Integer table columns are stored in the narrowest integer type (read back
    as int64), since nwbinspector flags 0/1 columns wider than one byte; other
    objects are stored as text. nwbinspector also flags, and this writer
    leaves as given: an activity matrix with more neurons than time bins,
    negative times, columns holding only 0.0/1.0 floats or "yes"/"no"
    strings, and one-row tables. A single-neuron activity matrix's unit id is
    not stored.

    Examples
    --------
    >>> write_nwb("session.nwb", spikes=spikes, trials=trials,  # doctest: +SKIP
    ...           metadata={"subject_id": "M12", "species": "Macaca mulatta", "age": "P6Y"})
    """
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.epoch import TimeIntervals
    from pynwb.file import Subject

    if spikes is None and activity is None and trials is None and not intervals:
        raise NeuralscopeError("write_nwb", "at least one of spikes, activity, trials, intervals", "nothing")
    meta = _metadata(metadata)
    start_time = meta.session_start_time or datetime.now(timezone.utc).replace(microsecond=0)
    if start_time.tzinfo is None:
        start_time = start_time.replace(tzinfo=timezone.utc)
    nwbfile = NWBFile(
        session_description=meta.session_description,
        identifier=meta.identifier or str(uuid.uuid4()),
        session_start_time=start_time,
        session_id=meta.session_id,
        experiment_description=meta.experiment_description,
        experimenter=list(meta.experimenter),
        institution=meta.institution,
        lab=meta.lab,
        keywords=list(meta.keywords),
        subject=Subject(subject_id=meta.subject_id, species=meta.species, sex=meta.sex, age=meta.age,
                        description=meta.subject_description),
    )
    if spikes is not None:
        _add_units(nwbfile, spikes, spike_resolution)
    if activity is not None:
        _add_activity(nwbfile, activity, activity_unit, covariate_units or {})
    if trials is not None:
        table = TimeIntervals(name="trials", description="Experimental trials")
        _add_trials(nwbfile, table, trials, "trials")
        nwbfile.trials = table
    for name, df in (intervals or {}).items():
        if name == "trials" or "/" in name:
            raise NeuralscopeError("intervals", "table names other than 'trials', without '/'", name)
        table = TimeIntervals(name=name, description=f"{name} intervals")
        _add_trials(nwbfile, table, df, f"intervals[{name!r}]")
        nwbfile.add_time_intervals(table)
    # The temporary name ends in ".nwb" too, else pynwb warns about the extension.
    with atomic_path(path, suffix=".nwb") as tmp:
        with NWBHDF5IO(str(tmp), mode="w") as io:
            io.write(nwbfile)
    return Path(path)


# ----------------------------------------------------------------------------- reading
