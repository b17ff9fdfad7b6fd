"""Plain array files: ``.npz``, ``.mat`` (v5 and v7.3) and ``.csv``.

Key conventions (``.npz`` and ``.mat``)
---------------------------------------
``X`` (required)
    ``(n_trials, n_neurons, n_time)`` -> :class:`~neuralscope.core.TrialActivity`, or
    ``(n_time, n_neurons)`` -> :class:`~neuralscope.core.ContinuousActivity`.
``y`` (optional)
    Trial data: one label per trial (numbers or strings) -> trials column ``"y"``.
    Continuous data: ``(n_time,)`` or ``(n_time, n_outputs)`` -> covariate ``"y"``.
``fs`` (optional, default 1.0)
    Sampling rate in Hz. The default 1.0 means "time is counted in bins".
``t0`` (optional, default 0.0)
    Time of the first bin (s): relative to the alignment event for trial data.
``unit_ids`` (optional)
    One id per neuron.
Any other array
    Whose first dimension equals the number of trials (1-D) or of time bins
    (1-D or 2-D) becomes a further trial column / covariate under its own
    name; other arrays are ignored.

In MATLAB files a trailing singleton dimension is lost, so a trial array with
a single time bin reads as continuous data; save such data as ``.npz``.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity
from neuralscope.core.validation import check_array, check_positive
from neuralscope.io.atomic import atomic_path

__all__ = ["check_input_file", "read_csv", "read_mat", "read_npz", "write_npz"]

RESERVED_KEYS = ("X", "y", "fs", "t0", "unit_ids")


def check_input_file(path: str | Path, suffixes: Sequence[str] | None = None) -> Path:
    """Return ``path`` as a Path after checking it is an existing regular file.

    Parameters
    ----------
    path : str or Path
        File to read.
    suffixes : sequence of str, optional
        Allowed extensions (lower case, with the dot).

    Raises
    ------
    NeuralscopeError
        When the path does not exist, is a folder, or has another extension.
    """
    file = Path(path)
    if not file.exists():
        raise NeuralscopeError(str(file), "an existing file", "a path that does not exist")
    if file.is_dir():
        raise NeuralscopeError(str(file), "a file", "a directory")
    if suffixes is not None and file.suffix.lower() not in suffixes:
        raise NeuralscopeError(str(file), f"a file ending in {' or '.join(suffixes)}", file.suffix or "no extension")
    return file


def _scalar(value: Any, name: str) -> float:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        raise NeuralscopeError(name, "a single number", f"array of shape {arr.shape} and dtype {arr.dtype}")
    return float(arr.reshape(-1)[0])


def _vector(value: np.ndarray, n: int) -> np.ndarray:
    """Flatten a MATLAB-style (1, n) or (n, 1) array; leave anything else as is."""
    arr = np.asarray(value)
    if arr.ndim == 2 and n in arr.shape and 1 in arr.shape and arr.size == n:
        return arr.reshape(-1)
    return arr


def _cellstr(arr: np.ndarray) -> np.ndarray | None:
    """Text of a MATLAB cell array of strings (objects holding str arrays), else None."""
    items = [np.asarray(v) for v in arr.reshape(-1)]
    if not all(v.dtype.kind == "U" and v.size <= 1 for v in items):
        return None
    return np.array([str(v.reshape(-1)[0]) if v.size else "" for v in items]).reshape(arr.shape)


def _labels(value: np.ndarray, n: int, name: str) -> np.ndarray:
    arr = _vector(value, n)
    if arr.dtype.kind == "O":
        text = _cellstr(arr)
        if text is None:
            raise NeuralscopeError(name, "numeric or text labels", "a cell array that does not hold text")
        arr = text
    if arr.ndim != 1:
        raise NeuralscopeError(name, "one label per trial (a 1-D array)", f"array of shape {arr.shape}")
    if arr.shape[0] != n:
        raise NeuralscopeError(name, f"{n} labels, one per trial of X", f"{arr.shape[0]} labels")
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        raise NeuralscopeError(name, "labels without NaN or inf", "non-finite labels")
    if arr.dtype.kind not in "biufUS":
        raise NeuralscopeError(name, "numeric or text labels", f"dtype {arr.dtype}")
    return arr.astype(str) if arr.dtype.kind == "S" else arr


def _covariate(value: np.ndarray, n: int, name: str) -> np.ndarray:
    arr = _vector(value, n)
    arr = check_array(arr, name, ndim=(1, 2))
    if arr.shape[0] != n:
        raise NeuralscopeError(name, f"{n} rows, one per time bin of X", f"{arr.shape[0]} rows")
    return arr


def build_activity(arrays: Mapping[str, Any], source: str) -> ContinuousActivity | TrialActivity:
    """Build activity from arrays named after the module's key conventions.

    Parameters
    ----------
    arrays : mapping of str to array-like
        Arrays keyed ``X``, ``y``, ``fs``, ``t0``, ``unit_ids`` and extras.
    source : str
        File name used in error messages (``"file.npz[X]"``).
    """
    if "X" not in arrays:
        raise NeuralscopeError(f"{source}[X]", "an array named 'X'", f"keys {sorted(arrays)}")
    X = check_array(arrays["X"], f"{source}[X]", ndim=(2, 3))
    fs = check_positive(_scalar(arrays["fs"], f"{source}[fs]"), f"{source}[fs]") if "fs" in arrays else 1.0
    t0 = _scalar(arrays["t0"], f"{source}[t0]") if "t0" in arrays else 0.0
    n_neurons = X.shape[1]
    unit_ids = None
    if "unit_ids" in arrays:
        unit_ids = _vector(np.asarray(arrays["unit_ids"]), n_neurons)
        if unit_ids.dtype.kind == "O":
            text = _cellstr(unit_ids)
            if text is None:
                raise NeuralscopeError(f"{source}[unit_ids]", "numbers or text", "a cell array of other values")
            unit_ids = text
        if unit_ids.ndim != 1 or unit_ids.shape[0] != n_neurons:
            raise NeuralscopeError(f"{source}[unit_ids]", f"{n_neurons} ids, one per neuron of X",
                                   f"array of shape {unit_ids.shape}")
        if np.unique(unit_ids).size != unit_ids.size:
            raise NeuralscopeError(f"{source}[unit_ids]", "unique ids", "duplicated ids")
    extras = {k: v for k, v in arrays.items() if k not in RESERVED_KEYS}
    if X.ndim == 3:
        n = X.shape[0]
        table = {}
        if "y" in arrays:
            table["y"] = _labels(np.asarray(arrays["y"]), n, f"{source}[y]")
        for key, value in extras.items():
            arr = _vector(np.asarray(value), n)
            if arr.dtype.kind == "O":
                arr = _cellstr(arr) if arr.size else None
                if arr is None:
                    continue
            if arr.ndim == 1 and arr.shape[0] == n and arr.dtype.kind in "biufUS":
                table[key] = _labels(arr, n, f"{source}[{key}]")
        trials = pd.DataFrame(table, index=pd.RangeIndex(n))
        return TrialActivity(X, fs=fs, t0=t0, unit_ids=unit_ids, trials=trials)
    n = X.shape[0]
    covariates = {}
    if "y" in arrays:
        covariates["y"] = _covariate(np.asarray(arrays["y"]), n, f"{source}[y]")
    for key, value in extras.items():
        arr = _vector(np.asarray(value), n)
        if arr.ndim in (1, 2) and arr.shape[0] == n and arr.dtype.kind in "biuf":
            covariates[key] = _covariate(arr, n, f"{source}[{key}]")
    return ContinuousActivity(X, fs=fs, t0=t0, unit_ids=unit_ids, covariates=covariates)


# ----------------------------------------------------------------------------- .npz


def read_npz(path: str | Path) -> ContinuousActivity | TrialActivity:
    """Read a ``.npz`` archive that follows the module's key conventions.

    Parameters
    ----------
    path : str or Path
        The archive. Loaded with ``allow_pickle=False``: object arrays are refused.

    Returns
    -------
    ContinuousActivity or TrialActivity
        By the number of dimensions of ``X``.

    Raises
    ------
    NeuralscopeError
        For a missing, truncated or corrupt file, a missing ``X``, non-finite
        values, a wrong number of dimensions, or mismatched lengths.
    """
    file = check_input_file(path)
    name = file.name
    if not zipfile.is_zipfile(file):
        # Say what the file is instead of letting numpy suggest unpickling it.
        with open(file, "rb") as handle:
            head = handle.read(6)
        what = "a single .npy array" if head == b"\x93NUMPY" else "a file that is not a zip archive (truncated?)"
        raise NeuralscopeError(name, "an .npz archive of named arrays", what)
    try:
        with np.load(file, allow_pickle=False) as archive:
            # Members are read here, inside the try: a truncated member fails on read, not on open.
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, zlib.error, RuntimeError) as exc:
        raise NeuralscopeError(name, "a readable .npz archive", f"{type(exc).__name__}: {exc}") from None
    return build_activity(arrays, name)


def write_npz(path: str | Path, activity: ContinuousActivity | TrialActivity, *, compress: bool = True) -> Path:
    """Write activity to a ``.npz`` archive (atomically) that :func:`read_npz` reads back.

    Parameters
    ----------
    path : str or Path
        Destination file.
    activity : ContinuousActivity or TrialActivity
        Written as ``X``, ``fs``, ``t0``, ``unit_ids``; trial-table columns
        (trial data) or covariates (continuous data) under their own names.
    compress : bool
        Use ``numpy.savez_compressed``.

    Returns
    -------
    Path
        The written file.
    """
    if isinstance(activity, TrialActivity):
        named = {str(c): activity.trials[c].to_numpy() for c in activity.trials.columns}
    elif isinstance(activity, ContinuousActivity):
        named = {str(k): v for k, v in activity.covariates.items()}
    else:
        raise NeuralscopeError("activity", "a ContinuousActivity or TrialActivity", type(activity).__name__)
    arrays: dict[str, np.ndarray] = {
        "X": activity.data, "fs": np.asarray(activity.fs), "t0": np.asarray(activity.t0),
        "unit_ids": np.asarray(activity.unit_ids),
    }
    for key, value in named.items():
        if key in arrays:
            raise NeuralscopeError("activity", f"label / covariate names other than {list(arrays)}", key)
        arrays[key] = value
    for key, value in arrays.items():
        if value.dtype.kind == "O":  # text stays readable without pickle
            arrays[key] = value.astype(str)
    saver = np.savez_compressed if compress else np.savez
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:  # a handle stops numpy from appending ".npz" to the temp name
            saver(handle, allow_pickle=False, **arrays)
    return Path(path)


# ----------------------------------------------------------------------------- .mat


def _read_mat_hdf5(file: Path) -> dict[str, Any]:
    """Numeric arrays of a MATLAB v7.3 (HDF5) file, in MATLAB's axis order."""
    import h5py

    arrays: dict[str, Any] = {}
    with h5py.File(file, "r") as handle:
        for key, item in handle.items():
            if not isinstance(item, h5py.Dataset) or key.startswith("#"):
                continue
            data = item[()]
            if item.attrs.get("MATLAB_class", b"") in (b"char", "char"):
                data = np.array(["".join(map(chr, np.asarray(data).reshape(-1)))])
            elif np.asarray(data).dtype.kind not in "biuf":
                continue  # cell arrays hold object references that would need another walk
            # HDF5 stores MATLAB's column-major arrays with the axes reversed.
            arrays[key] = np.asarray(data).T
    return arrays


def read_mat(path: str | Path) -> ContinuousActivity | TrialActivity:
    """Read a MATLAB ``.mat`` file (v5 via scipy, v7.3 via h5py).

    The variables follow the module's key conventions (``X``, ``y``, ``fs``,
    ``t0``, ``unit_ids``), with MATLAB's axis order (``X`` is
    trials x neurons x time in MATLAB too). In v7.3 files only numeric and
    char variables are read.
    """
    import h5py
    import scipy.io

    file = check_input_file(path)
    name = file.name
    try:
        if h5py.is_hdf5(file):
            arrays = _read_mat_hdf5(file)
        else:
            raw = scipy.io.loadmat(file, squeeze_me=False)
            arrays = {k: v for k, v in raw.items() if not k.startswith("__")}
    except NeuralscopeError:
        raise
    except Exception as exc:  # scipy and h5py raise many types for damaged files
        raise NeuralscopeError(name, "a readable MATLAB .mat file", f"{type(exc).__name__}: {exc}") from None
    return build_activity(arrays, name)


# ----------------------------------------------------------------------------- .csv


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_csv(
    path: str | Path, *, fs: float = 1.0, t0: float = 0.0, covariates: Sequence[str] | None = None
) -> ContinuousActivity:
    """Read continuous activity from a ``.csv`` table (rows = time bins).

    Parameters
    ----------
    path : str or Path
        Comma-separated values. The first row is a header when any of its
        fields is not a number; otherwise columns are named ``"0", "1", ...``.
    fs : float
        Sampling rate in Hz (default 1.0: time counted in bins).
    t0 : float
        Time of the first row (s).
    covariates : sequence of str, optional
        Columns to read as covariates under their own names.

    Returns
    -------
    ContinuousActivity
        Columns named ``y`` or ``y_0, y_1, ...`` form covariate ``"y"``
        (1-D for a single ``y``, else (n_time, k) in index order); the
        ``covariates`` columns become covariates under their own names; all
        other columns are neurons, with the column names as unit ids.
    """
    file = check_input_file(path)
    name = file.name
    fs = check_positive(fs, "fs")
    try:
        with open(file, encoding="utf-8") as handle:
            first = handle.readline()
        if not first.strip():
            raise NeuralscopeError(name, "a CSV table with at least one row", "an empty file")
        has_header = not all(_is_number(tok.strip()) for tok in first.split(","))
        table = pd.read_csv(file, header=0 if has_header else None)
    except NeuralscopeError:
        raise
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        raise NeuralscopeError(name, "a readable CSV table", f"{type(exc).__name__}: {exc}") from None
    table.columns = [str(c).strip() for c in table.columns]
    if len(table) == 0:
        raise NeuralscopeError(name, "a CSV table with at least one data row", "a header only")
    asked = list(covariates or [])
    missing = [c for c in asked if c not in table.columns]
    if missing:
        raise NeuralscopeError("covariates", f"columns of {name} ({list(table.columns)})", missing)
    y_cols = [c for c in table.columns if c == "y"]
    indexed = sorted((int(c[2:]), c) for c in table.columns if c.startswith("y_") and c[2:].isdigit())
    if y_cols and indexed:
        raise NeuralscopeError(name, "either a 'y' column or 'y_0, y_1, ...' columns", "both")
    y_cols += [c for _, c in indexed]
    neuron_cols = [c for c in table.columns if c not in y_cols and c not in asked]
    if not neuron_cols:
        raise NeuralscopeError(name, "at least one neuron column", "only covariate columns")

    def numeric(cols: list[str], what: str) -> np.ndarray:
        try:
            values = table[cols].to_numpy(dtype=float)
        except (TypeError, ValueError):
            bad = [c for c in cols if not pd.api.types.is_numeric_dtype(table[c])]
            raise NeuralscopeError(f"{name}[{what}]", "numeric values", f"text in columns {bad}") from None
        return check_array(values, f"{name}[{what}]", ndim=2)

    data = numeric(neuron_cols, "neurons")
    covs: dict[str, np.ndarray] = {}
    if y_cols:
        y = numeric(y_cols, "y")
        covs["y"] = y[:, 0] if y_cols == ["y"] else y
    for col in asked:
        covs[col] = numeric([col], col)[:, 0]
    return ContinuousActivity(data, fs=fs, t0=t0, unit_ids=np.array(neuron_cols), covariates=covs)
