"""Readers for the public data sets kept beside the checkout (``../shared/data``).

Each reader takes the file's path (default: the copy in the shared data
folder) and returns neuralscope objects. The files' provenance and licences
are described in ``shared/data/population/SOURCES.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity
from neuralscope.io.arrays import check_input_file
from neuralscope.io.nwb import NWBContents
from neuralscope.io.nwb_read import read_nwb

__all__ = [
    "BCI_GOLUB2018_FILE",
    "BCILearningData",
    "M1_REACHING_FILE",
    "MTL_NWB_FILE",
    "load_bci_golub2018",
    "load_m1_reaching",
    "load_mtl_nwb",
    "shared_data_dir",
]

M1_REACHING_FILE = "population/spykesML_m1_stevenson_2011.mat"
BCI_GOLUB2018_FILE = "population/golub2018_bci_learning_exampleData.mat"
MTL_NWB_FILE = "population/pynapple_dandi000207_sub-4_ses-4_ecephys+image.nwb"


def shared_data_dir() -> Path:
    """The shared data folder beside the repository (``<repo>/../shared/data``).

    It exists only in a development checkout; readers raise
    :class:`NeuralscopeError` when a file is absent.
    """
    # src/neuralscope/io/realdata.py -> parents[3] is the repository root.
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _resolve(path: str | Path | None, default: str) -> Path:
    return check_input_file(shared_data_dir() / default if path is None else path)


def _loadmat(file: Path, **kwargs: Any) -> dict[str, Any]:
    import scipy.io

    try:
        return scipy.io.loadmat(file, **kwargs)
    except Exception as exc:  # scipy raises many types for damaged files
        raise NeuralscopeError(str(file), "a readable MATLAB v5 file", f"{type(exc).__name__}: {exc}") from None


def _require(mat: dict[str, Any], keys: tuple[str, ...], file: Path) -> None:
    missing = [k for k in keys if k not in mat]
    if missing:
        raise NeuralscopeError(str(file), f"variables {list(keys)}", f"missing {missing}")


# ----------------------------------------------------------------------------- M1 reaching


def load_m1_reaching(path: str | Path | None = None) -> ContinuousActivity:
    """Macaque M1 during 2-D centre-out reaching (Stevenson et al. 2011, via spykesML).

    Parameters
    ----------
    path : str or Path, optional
        ``spykesML_m1_stevenson_2011.mat`` (default: the shared copy).

    Returns
    -------
    ContinuousActivity
        Spike counts of 171 units in 15,536 bins of 50 ms (``fs = 20`` Hz,
        ``t0`` = the file's first bin time), with covariates ``"position"``
        (m) and ``"velocity"`` (m/s), each (n_time, 2) for x and y (the
        file's z row is all zeros and is dropped).
    """
    file = _resolve(path, M1_REACHING_FILE)
    mat = _loadmat(file)
    _require(mat, ("spikes", "time", "handPos", "handVel"), file)
    spikes = np.asarray(mat["spikes"], dtype=float).T  # units x bins in the file
    time = np.asarray(mat["time"], dtype=float).reshape(-1)
    if time.size != spikes.shape[0] or time.size < 2:
        raise NeuralscopeError(str(file), "one time stamp per spike-count bin", f"{time.size} stamps")
    # Bin times wobble by +-0.5 ms around 50 ms (rounding in the export), so the
    # rate is the median step, rounded to 0.1 ms.
    step = float(np.round(np.median(np.diff(time)), 4))
    covariates = {
        "position": np.asarray(mat["handPos"], dtype=float)[:2].T,
        "velocity": np.asarray(mat["handVel"], dtype=float)[:2].T,
    }
    units = pd.DataFrame({"area": ["M1"] * spikes.shape[1]})
    return ContinuousActivity(spikes, fs=1.0 / step, t0=float(time[0]), units=units, covariates=covariates)


# ----------------------------------------------------------------------------- BCI learning


@dataclass(eq=False)
class BCILearningData:
    """A brain-computer-interface learning session (Golub et al. 2018).

    Attributes
    ----------
    activity : TrialActivity
        One "trial" per 45 ms timestep: data (n_samples, n_units, 1) spike
        counts. Trials columns: ``phase`` ("before" / "after" learning),
        ``angle`` (cursor-to-target direction bin, degrees), ``direction_x``,
        ``direction_y`` (unit vector to the target), ``cursor_progress``,
        ``intuitive_progress``, ``perturbed_progress``, ``sample`` (index
        within its angle bin).
    factors : numpy.ndarray of shape (n_samples, n_factors)
        The file's factor activity for each sample.
    intuitive_velocity, perturbed_velocity : numpy.ndarray of shape (n_samples, 2)
        Raw cursor velocity each mapping gives from the spike counts
        (``M2 @ counts + m0`` of that mapping).
    intuitive_mapping, perturbed_mapping : dict
        The BCI mappings: factor-analysis parameters (``L``, ``Ph``, ``mu_u``,
        ``beta``, ...) and the velocity decoder (``M1``, ``M2``, ``m0``, ...).
    info : dict
        ``monkey``, ``date``, ``lambda`` and each phase's ``window_idx``.
    """

    activity: TrialActivity
    factors: np.ndarray
    intuitive_velocity: np.ndarray
    perturbed_velocity: np.ndarray
    intuitive_mapping: dict[str, Any]
    perturbed_mapping: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)


def _struct_dict(struct: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in struct._fieldnames:
        value = getattr(struct, name)
        out[name] = np.asarray(value, dtype=float) if np.asarray(value).dtype.kind in "biuf" else value
        if isinstance(out[name], np.ndarray) and out[name].ndim == 0:
            out[name] = float(out[name])
    return out


def load_bci_golub2018(path: str | Path | None = None) -> BCILearningData:
    """Macaque M1 BCI learning example session (Golub et al. 2018, ``exampleData.mat``).

    Parameters
    ----------
    path : str or Path, optional
        ``golub2018_bci_learning_exampleData.mat`` (default: the shared copy).

    Returns
    -------
    BCILearningData
        86 units; 8 angle bins x 69 timesteps before and after learning
        (1,104 samples in all), at ``fs = 1 / 0.045`` Hz.
    """
    file = _resolve(path, BCI_GOLUB2018_FILE)
    mat = _loadmat(file, squeeze_me=True, struct_as_record=False)
    _require(mat, ("expParams", "beforeLearning", "afterLearning"), file)
    params = mat["expParams"]
    intuitive = _struct_dict(params.intuitiveMapping)
    perturbed = _struct_dict(params.perturbedMapping)
    counts, factors, table = [], [], []
    window_idx = {}
    for phase, key in (("before", "beforeLearning"), ("after", "afterLearning")):
        clouds = mat[key].clouds
        window_idx[phase] = np.asarray(clouds.windowIdx, dtype=int)
        for i, angle in enumerate(np.atleast_1d(clouds.angles)):
            spikes = np.asarray(clouds.spikes[i], dtype=float)  # units x timesteps
            n = spikes.shape[1]
            direction = np.asarray(clouds.cursorToTargetDirection[i], dtype=float)
            counts.append(spikes.T)
            factors.append(np.asarray(clouds.factorActivity[i], dtype=float).T)
            table.append(pd.DataFrame({
                "phase": phase, "angle": int(angle),
                "direction_x": direction[0], "direction_y": direction[1],
                "cursor_progress": np.asarray(clouds.cursorProgress[i], dtype=float),
                "intuitive_progress": np.asarray(clouds.intuitiveProgress[i], dtype=float),
                "perturbed_progress": np.asarray(clouds.perturbedProgress[i], dtype=float),
                "sample": np.arange(n),
            }))
    data = np.concatenate(counts)
    dt = float(intuitive.get("dt", 0.045))
    activity = TrialActivity(data[:, :, None], fs=1.0 / dt, trials=pd.concat(table, ignore_index=True))

    def velocity(mapping: dict[str, Any]) -> np.ndarray:
        return data @ mapping["M2"].T + mapping["m0"]

    info = {"monkey": str(params.monkName), "date": str(params.expDate),
            "lambda": float(getattr(params, "lambda")), "window_idx": window_idx}
    return BCILearningData(
        activity=activity, factors=np.concatenate(factors),
        intuitive_velocity=velocity(intuitive), perturbed_velocity=velocity(perturbed),
        intuitive_mapping=intuitive, perturbed_mapping=perturbed, info=info,
    )


# ----------------------------------------------------------------------------- human MTL (NWB)


def load_mtl_nwb(path: str | Path | None = None) -> NWBContents:
    """Human MTL single units during a video-boundary memory task (DANDI:000207, via pynapple).

    Parameters
    ----------
    path : str or Path, optional
        ``pynapple_dandi000207_sub-4_ses-4_ecephys+image.nwb`` (default: the shared copy).

    Returns
    -------
    NWBContents
        ``spikes``: 35 units (``spikes.units["location"]`` is the brain area,
        hippocampus_right or amygdala_right); ``tables``: ``encoding_table``
        (90 clips, ``stimCategory`` 0/1/2), ``recognition_table`` and
        ``timediscrimination_table`` (180 trials each). Epoch spikes on a
        table with ``spikes.bin(...).epoch(table, align="start_time", ...)``.
    """
    file = _resolve(path, MTL_NWB_FILE)
    contents = read_nwb(file)
    if contents.spikes is None:
        raise NeuralscopeError(str(file), "a Units table with spike times", "none")
    return contents
