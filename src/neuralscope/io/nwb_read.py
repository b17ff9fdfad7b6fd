"""Reading NWB files: any NWB 2.x file, opened read-only, returned as
neuralscope objects and plain pandas tables (see :func:`read_nwb`)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity
from neuralscope.core.spikes import SpikeTrains
from neuralscope.io.arrays import check_input_file
from neuralscope.io.nwb import (
    ACTIVITY_MODULE,
    ACTIVITY_NAME,
    ACTIVITY_UNITS_NAME,
    NWBContents,
)

__all__ = ["read_nwb"]

def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _clean_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Decode bytes, widen integers to int64, and drop the id index."""
    out = df.reset_index(drop=True).copy()
    for col in out.columns:
        values = out[col].to_numpy()
        if values.dtype.kind in "iu":
            out[col] = values.astype(np.int64)
        elif values.dtype.kind in "OSU":
            out[col] = [_text(v) for v in values]
    return out


def _is_scalar_column(values: pd.Series) -> bool:
    if values.dtype.kind in "biufSU":
        return True
    if values.dtype.kind == "O":
        return all(isinstance(v, (str, bytes, int, float, bool, np.generic)) for v in values)
    return False


def _read_units(nwbfile: Any) -> SpikeTrains | None:
    from hdmf.common.table import DynamicTableRegion, VectorIndex

    units = nwbfile.units
    if units is None or "spike_times" not in units.colnames or len(units) == 0:
        return None
    flat = np.asarray(units["spike_times"].target.data[:], dtype=float)
    ends = np.asarray(units["spike_times"].data[:], dtype=np.int64)  # the VectorIndex
    starts = np.concatenate([[0], ends[:-1]])
    times = [flat[a:b] for a, b in zip(starts, ends)]
    table: dict[str, Any] = {}
    skip = {"spike_times", "obs_intervals", "electrodes", "waveforms", "waveform_mean", "waveform_sd"}
    for name in units.colnames:
        if name in skip:
            continue
        vector = units[name]
        if isinstance(vector, (VectorIndex, DynamicTableRegion)) or not hasattr(vector, "data"):
            continue  # ragged or linked columns hold no single value per unit
        column = pd.Series(list(vector.data[:]))
        if len(column) == len(times) and _is_scalar_column(column):
            table[name] = column
    if "electrodes" in units.colnames and nwbfile.electrodes is not None:
        # One brain area per unit (its first electrode), because a decoder is
        # often run per area and the Units table rarely repeats it.
        try:
            locations = np.asarray(nwbfile.electrodes["location"].data[:])
            column = units["electrodes"]
            if isinstance(column, VectorIndex):  # several electrodes per unit
                where = np.asarray(column.target.data[:], dtype=np.int64)
                ends = np.asarray(column.data[:], dtype=np.int64)
                firsts = np.concatenate([[0], ends[:-1]])
                area = [_text(locations[where[a]]) if b > a else "" for a, b in zip(firsts, ends)]
            else:  # one electrode per unit
                area = [_text(locations[i]) for i in np.asarray(column.data[:], dtype=np.int64)]
            if len(area) == len(times):
                table.setdefault("location", pd.Series(area))
        except (KeyError, IndexError, AttributeError, TypeError, ValueError):
            pass  # the brain area is a convenience: a file without it still reads
    frame = _clean_frame(pd.DataFrame(table)) if table else None
    ids = np.asarray(units.id.data[:])
    if frame is not None and "unit_name" in frame.columns:
        ids = frame.pop("unit_name").to_numpy().astype(str)
        if frame.shape[1] == 0:
            frame = None
    t_start = t_stop = None
    if "obs_intervals" in units.colnames:
        obs = np.asarray(units["obs_intervals"].target.data[:], dtype=float).reshape(-1, 2)
        if obs.size:
            t_start, t_stop = float(obs[:, 0].min()), float(obs[:, 1].max())
    return SpikeTrains(times, unit_ids=ids, units=frame, t_start=t_start, t_stop=t_stop)


def _series_in(container: Any) -> list[Any]:
    from pynwb import TimeSeries

    if isinstance(container, TimeSeries):
        return [container]
    found = [*getattr(container, "spatial_series", {}).values(), *getattr(container, "time_series", {}).values()]
    return [s for s in found if isinstance(s, TimeSeries)]


def _series_values(series: Any) -> tuple[np.ndarray, np.ndarray]:
    data = np.asarray(series.data[:])
    if data.dtype.kind in "biuf":
        data = data.astype(float) * float(series.conversion) + float(getattr(series, "offset", 0.0) or 0.0)
    return np.asarray(series.get_timestamps(), dtype=float), data


def _read_behaviour(nwbfile: Any) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    behaviour: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    grids: dict[str, Any] = {}
    for module_name, module in nwbfile.processing.items():
        if module_name.lower() not in ("behavior", "behaviour"):
            continue
        for container_name, container in module.data_interfaces.items():
            for series in _series_in(container):
                key = series.name if series.name not in behaviour else f"{container_name}.{series.name}"
                behaviour[key] = _series_values(series)
                grids[key] = (series.rate, series.starting_time)
    return behaviour, grids


def _read_activity(nwbfile: Any, behaviour: dict, grids: dict) -> ContinuousActivity | None:
    module = nwbfile.processing.get(ACTIVITY_MODULE)
    if module is None or ACTIVITY_NAME not in module.data_interfaces:
        return None
    series = module.data_interfaces[ACTIVITY_NAME]
    if series.rate is None:
        return None
    data = np.asarray(series.data[:], dtype=float)
    if data.ndim == 1:
        data = data[:, None]
    unit_ids, units = None, None
    if ACTIVITY_UNITS_NAME in module.data_interfaces:
        frame = _clean_frame(module.data_interfaces[ACTIVITY_UNITS_NAME].to_dataframe())
        if len(frame) == data.shape[1] and "unit_id" in frame.columns:
            unit_ids = frame.pop("unit_id").to_numpy()
            units = frame if frame.shape[1] else None
    t0 = float(series.starting_time or 0.0)
    covariates = {
        name: values for name, (_, values) in behaviour.items()
        if grids[name] == (series.rate, series.starting_time) and len(values) == data.shape[0]
        and values.dtype.kind == "f" and values.ndim in (1, 2)
    }
    return ContinuousActivity(data, fs=float(series.rate), t0=t0, unit_ids=unit_ids, units=units,
                              covariates=covariates)


def _read_tables(nwbfile: Any) -> dict[str, pd.DataFrame]:
    from hdmf.common import DynamicTable

    tables: dict[str, pd.DataFrame] = {}
    for name, table in (nwbfile.intervals or {}).items():
        if name != "trials":
            tables[name] = _clean_frame(table.to_dataframe())
    for module_name, module in nwbfile.processing.items():
        for name, obj in module.data_interfaces.items():
            if isinstance(obj, DynamicTable) and name != ACTIVITY_UNITS_NAME:
                tables[name if name not in tables else f"{module_name}.{name}"] = _clean_frame(obj.to_dataframe())
    return tables


def _read_metadata(nwbfile: Any) -> dict[str, Any]:
    names = ("session_description", "identifier", "session_start_time", "session_id",
             "experiment_description", "institution", "lab")
    meta: dict[str, Any] = {key: getattr(nwbfile, key) for key in names}
    for key in ("experimenter", "keywords"):
        values = getattr(nwbfile, key)
        meta[key] = tuple(_text(v) for v in (values[:] if values is not None else ()))
    if nwbfile.subject is not None:
        for key in ("subject_id", "species", "sex", "age", "description"):
            meta["subject_description" if key == "description" else key] = getattr(nwbfile.subject, key, None)
    return meta


def read_nwb(path: str | Path) -> NWBContents:
    """Read an NWB file (read-only) into plain numpy / pandas objects.

    Parameters
    ----------
    path : str or Path
        An NWB 2.x HDF5 file. It is opened in read mode and never modified.

    Returns
    -------
    NWBContents
        Spikes, activity, behaviour, trials, other tables and metadata.

    Raises
    ------
    NeuralscopeError
        When the path is missing, is a folder, or is not a readable NWB file.

    Notes
    -----
    Warnings that pynwb raises about the file's own conformance (common in
    older files) are silenced; run nwbinspector to see them.
    """
    import h5py
    from pynwb import NWBHDF5IO

    file = check_input_file(path)
    if not h5py.is_hdf5(file):
        raise NeuralscopeError(str(file), "an NWB (HDF5) file", "a file that is not HDF5")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with NWBHDF5IO(str(file), mode="r", load_namespaces=True) as io:
                nwbfile = io.read()
                spikes = _read_units(nwbfile)
                behaviour, grids = _read_behaviour(nwbfile)
                activity = _read_activity(nwbfile, behaviour, grids)
                trials = _clean_frame(nwbfile.trials.to_dataframe()) if nwbfile.trials is not None else None
                return NWBContents(spikes=spikes, activity=activity, behaviour=behaviour, trials=trials,
                                   tables=_read_tables(nwbfile), metadata=_read_metadata(nwbfile))
    except NeuralscopeError:
        raise
    except Exception as exc:  # any reader failure is the file's fault: name it, on one line
        raise NeuralscopeError(str(file), "a readable NWB file", f"{type(exc).__name__}: {exc}") from None
