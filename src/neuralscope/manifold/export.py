"""Writing an embedding: ``.npz`` (always) and an NWB processing module (when pynwb is installed)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.io.atomic import atomic_path

__all__ = ["write_embedding_npz", "write_embedding_nwb"]


def write_embedding_npz(path: str | Path, embedding: np.ndarray, **arrays: Any) -> Path:
    """``embedding`` (n_samples, n_components) plus any extra arrays, atomically, without pickles."""
    path = Path(path)
    clean = {k: np.asarray(v) for k, v in arrays.items() if v is not None}
    if any(v.dtype.kind == "O" for v in clean.values()):
        raise TypeError("object arrays would need pickling")  # internal misuse, not user input
    with atomic_path(path, suffix=".tmp.npz") as tmp:
        np.savez_compressed(tmp, embedding=np.asarray(embedding, dtype=float), **clean)
    return path


def write_embedding_nwb(path: str | Path, embedding: np.ndarray, *, fs: float, t0: float = 0.0,
                        method: str = "", description: str = "") -> Path | None:
    """The embedding as ``processing/manifold/embedding``, a TimeSeries at the data's rate.

    Returns None (and writes nothing) when pynwb is not installed.
    """
    try:
        from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    except ImportError:
        return None
    path = Path(path)
    nwbfile = NWBFile(
        session_description=description or f"neuralscope embedding ({method})",
        identifier=str(uuid.uuid4()),
        session_start_time=datetime.now(timezone.utc).replace(microsecond=0),
    )
    module = nwbfile.create_processing_module("manifold", f"Low-dimensional embedding of the activity ({method}).")
    module.add(TimeSeries(
        name="embedding", data=np.asarray(embedding, dtype=float), unit="a.u.", rate=float(fs),
        starting_time=float(t0), description=f"{method} embedding, one row per time bin",
    ))
    with atomic_path(path, suffix=".tmp.nwb") as tmp:
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwbfile)
    return path
