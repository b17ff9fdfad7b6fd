"""Connectome tables in, one :class:`~neuralscope.core.connectome.Connectome` out, and a parquet store.

Recognised layouts (column names case-insensitive):

- FlyWire connections: ``pre_root_id, post_root_id, syn_count`` with optional
  ``neuropil`` and ``nt_type`` (one row per pair and neuropil);
- neuPrint adjacencies: ``bodyId_pre, bodyId_post, weight`` with optional
  ``roi`` and ``type_pre/type_post``, ``instance_pre/instance_post``;
- anything :func:`neuralscope.core.connectome.read_connectome` reads: generic
  ``pre, post, count|weight``, the C. elegans ``Source, Target, Weight, Type``
  list, the FlyWire ``Connectivity`` parquet, files of ``Connectome.to_parquet``;
- a store folder written by :func:`write_store` (the fast path: 15 M edges load in about a second).

Per-edge annotations (neuropil / ROI, transmitter) are kept as
``connectome.edge_attributes`` (a DataFrame aligned with the edges; rows of one
pair in several neuropils stay separate edges and are summed in the adjacency).
Per-neuron annotations go to ``connectome.neurons``: ``nt_type`` (the
transmitter of most of a neuron's output synapses), ``cell_type`` (neuPrint
``type``), ``instance``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from neuralscope.core.connectome import NEUROTRANSMITTER_SIGNS, Connectome, _read_table, read_connectome
from neuralscope.core.errors import NeuralscopeError

STORE_VERSION = 1
_FLYWIRE = {"pre": "pre_root_id", "post": "post_root_id", "count": "syn_count", "region": "neuropil",
            "nt": "nt_type"}
_NEUPRINT = {"pre": "bodyid_pre", "post": "bodyid_post", "count": "weight", "region": "roi"}
#: Modulatory transmitters have no single sign; for graph analyses they count as +1 unless told otherwise.
MODULATORY_SIGNS = {"da": 1, "dopamine": 1, "ser": 1, "serotonin": 1, "5ht": 1, "oct": 1, "octopamine": 1,
                    "tyr": 1, "tyramine": 1}


def detect_layout(columns) -> str:
    """``"flywire"``, ``"neuprint"`` or ``"generic"`` from a table's column names."""
    low = {str(c).strip().lower() for c in columns}
    if {"pre_root_id", "post_root_id"} <= low:
        return "flywire"
    if {"bodyid_pre", "bodyid_post"} <= low:
        return "neuprint"
    return "generic"


def read_edge_table(source: str | Path | pd.DataFrame, *, neurons: str | Path | pd.DataFrame | None = None,
                    transmitter_signs: Mapping[str, int] | None = None, name: str | None = None) -> Connectome:
    """Read a connectome edge table (CSV, TSV, parquet, a DataFrame or a store folder).

    Parameters
    ----------
    source : path or DataFrame
        See the module notes for the recognised layouts (a DataFrame must have
        the FlyWire or neuPrint columns).
    neurons : path or DataFrame, optional
        Neuron table indexed by neuron id (CSV with the id in the first column, or
        parquet), e.g. FlyWire's classification table or neuPrint's neuron table:
        its columns join ``connectome.neurons``. For generic layouts it also fixes
        the neuron order (see ``read_connectome``).
    transmitter_signs : mapping, optional
        Sign per transmitter name, on top of :data:`NEUROTRANSMITTER_SIGNS` and
        :data:`MODULATORY_SIGNS`.
    name : str, optional

    Returns
    -------
    Connectome
    """
    if isinstance(source, pd.DataFrame):
        df, label = source, name or "connectome"
    else:
        path = Path(source)
        if path.is_dir():
            return read_store(path)
        if not path.exists():
            raise NeuralscopeError("EDGES", "an existing CSV/parquet edge table or store folder", str(path))
        df, label = _read_table(path), name or path.stem
        layout = detect_layout(df.columns)
        if layout == "generic":
            return read_connectome(path, neurons=neurons, transmitter_signs=transmitter_signs, name=name)
    layout = detect_layout(df.columns)
    if len(df) == 0:
        raise NeuralscopeError("EDGES", "a table with at least one edge", "0 rows")
    if layout in ("flywire", "neuprint"):
        conn = _from_named(df, _FLYWIRE if layout == "flywire" else _NEUPRINT, transmitter_signs, label)
        if neurons is not None:
            extra = _read_neurons(neurons)
            joined = conn.neurons.join(extra.reindex(conn.neuron_ids).drop(columns=conn.neurons.columns, errors="ignore"))
            conn.neurons = joined.rename_axis("neuron")
        return conn
    raise NeuralscopeError("EDGES", "FlyWire (pre_root_id, post_root_id, syn_count), neuPrint (bodyId_pre, "
                           "bodyId_post, weight) or pre/post/count columns", f"columns {list(df.columns)[:8]}")


def _read_neurons(neurons: str | Path | pd.DataFrame) -> pd.DataFrame:
    if isinstance(neurons, pd.DataFrame):
        return neurons
    path = Path(neurons)
    if not path.is_file():
        raise NeuralscopeError("neurons", "an existing neuron table (CSV or parquet)", str(path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, index_col=0)
    except (OSError, ValueError) as exc:
        raise NeuralscopeError("neurons", "a readable neuron table", f"{path.name}: {exc}") from None


def _column(df: pd.DataFrame, name: str) -> str | None:
    for c in df.columns:
        if str(c).strip().lower() == name:
            return c
    return None


def _ids(values: pd.Series, what: str) -> np.ndarray:
    if pd.api.types.is_integer_dtype(values) and not values.isna().any():
        return values.to_numpy()
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() | (numeric != np.floor(numeric))
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise NeuralscopeError(what, "integer neuron ids", f"{int(bad.sum())} bad values, e.g. {values.iloc[k]!r} on row {k}")
    return numeric.to_numpy().astype(np.int64)


def _from_named(df: pd.DataFrame, names: dict, transmitter_signs, label: str) -> Connectome:
    cols = {key: _column(df, col) for key, col in names.items()}
    if cols["count"] is None:
        raise NeuralscopeError("EDGES", f"a {names['count']} column (synapses per row)", f"columns {list(df.columns)[:8]}")
    pre, post = _ids(df[cols["pre"]], names["pre"]), _ids(df[cols["post"]], names["post"])
    count = pd.to_numeric(df[cols["count"]], errors="coerce").to_numpy(np.float64)
    if np.isnan(count).any():
        raise NeuralscopeError(names["count"], "numeric synapse counts", f"{int(np.isnan(count).sum())} missing or non-numeric")
    if (count < 0).any():
        raise NeuralscopeError(names["count"], "synapse counts >= 0", f"{int((count < 0).sum())} negative values")
    attrs = {}
    if cols["region"] is not None:
        attrs["neuropil"] = pd.Categorical(df[cols["region"]].astype("string").str.strip())
    sign, neurons = None, None
    nt_col = cols.get("nt")
    if nt_col is not None:
        nt = df[nt_col].astype("string").str.strip()
        attrs["nt_type"] = pd.Categorical(nt)
        sign = _signs(nt, transmitter_signs)
    conn = Connectome(pre, post, count, sign=sign, name=label)
    neurons = _neuron_annotations(df, conn, attrs.get("nt_type"), count)
    if neurons is not None:
        conn.neurons = neurons.reindex(conn.neuron_ids).rename_axis("neuron")
    conn.edge_attributes = pd.DataFrame(attrs) if attrs else None
    return conn


def _signs(nt: pd.Series, transmitter_signs) -> np.ndarray:
    table = {**NEUROTRANSMITTER_SIGNS, **MODULATORY_SIGNS, **{str(k).lower(): int(v) for k, v in (transmitter_signs or {}).items()}}
    low = nt.str.lower()
    mapped = low.map(table)
    unknown = mapped.isna() & low.notna() & (low != "")
    if unknown.any():
        raise NeuralscopeError("nt_type", f"one of {sorted(table)} (or pass transmitter_signs)",
                               f"unknown transmitters {sorted(set(low[unknown].astype(str)))[:5]}")
    return mapped.fillna(1).to_numpy(dtype=np.int8)  # no transmitter predicted: counted as +1


def _neuron_annotations(df, conn: Connectome, nt: pd.Categorical | None, count: np.ndarray) -> pd.DataFrame | None:
    table = pd.DataFrame(index=pd.Index(conn.neuron_ids, name="neuron"))
    if nt is not None:
        # Each neuron's transmitter: the one of most of its output synapses.
        frame = pd.DataFrame({"pre": conn.pre, "nt": nt, "w": count})
        frame = frame[frame["nt"].notna()]
        if len(frame):
            sums = frame.groupby(["pre", "nt"], observed=True)["w"].sum().reset_index()
            top = sums.sort_values("w", ascending=False, kind="stable").drop_duplicates("pre")
            table["nt_type"] = pd.Series(top["nt"].astype(str).to_numpy(), index=conn.neuron_ids[top["pre"].to_numpy()])
    for side in ("pre", "post"):
        for src, dst in (("type", "cell_type"), ("instance", "instance")):
            col = _column(df, f"{src}_{side}")
            if col is None:
                continue
            ids = conn.neuron_ids[conn.pre if side == "pre" else conn.post]
            values = pd.Series(df[col].to_numpy(), index=ids)
            values = values[~values.index.duplicated()].dropna()
            table[dst] = table.get(dst, pd.Series(index=table.index, dtype=object)).combine_first(values)
    return table if len(table.columns) else None


# ---------------------------------------------------------------------------- store
def write_store(connectome: Connectome, folder: str | Path) -> Path:
    """Write ``edges.parquet`` (indices, counts, signs, kinds, edge attributes) and
    ``neurons.parquet`` (ids + metadata) into ``folder``, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from neuralscope.io.atomic import atomic_directory

    cols = {"pre": pa.array(connectome.pre), "post": pa.array(connectome.post),
            "count": pa.array(connectome.count), "sign": pa.array(connectome.sign), "kind": pa.array(connectome.kind)}
    extra = getattr(connectome, "edge_attributes", None)
    if extra is not None:
        for c in extra.columns:
            cols[f"attr.{c}"] = pa.array(extra[c]).dictionary_encode() if not isinstance(extra[c].dtype, pd.CategoricalDtype) \
                else pa.array(extra[c])
    meta = {b"neuralscope.store": str(STORE_VERSION).encode(), b"neuralscope.name": connectome.name.encode()}
    edges = pa.table(cols).replace_schema_metadata(meta)
    neurons = connectome.neurons.reset_index()
    neurons.columns = [str(c) for c in neurons.columns]
    for c in neurons.columns:
        if neurons[c].dtype == object:
            neurons[c] = neurons[c].astype("string")
    with atomic_directory(folder) as staging:
        pq.write_table(edges, staging / "edges.parquet")
        pq.write_table(pa.Table.from_pandas(neurons, preserve_index=False), staging / "neurons.parquet")
        (staging / "store.json").write_text(json.dumps({"format": "neuralscope-connectome", "version": STORE_VERSION,
                                                         "name": connectome.name, "n_neurons": connectome.n_neurons,
                                                         "n_edges": connectome.n_edges}))
    return Path(folder)


def read_store(folder: str | Path) -> Connectome:
    """Read a folder written by :func:`write_store`."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    if not (folder / "edges.parquet").exists() or not (folder / "neurons.parquet").exists():
        raise NeuralscopeError("EDGES", "a store folder with edges.parquet and neurons.parquet", str(folder))
    try:
        edges = pq.read_table(folder / "edges.parquet")
        neurons = pq.read_table(folder / "neurons.parquet").to_pandas()
    except (OSError, ValueError) as exc:
        raise NeuralscopeError("EDGES", "a readable store", f"{folder}: {exc}") from None
    need = {"pre", "post", "count", "sign", "kind"}
    if not need <= set(edges.column_names) or "neuron" not in neurons.columns:
        raise NeuralscopeError("EDGES", f"store columns {sorted(need)} and neuron", f"{edges.column_names}")
    meta = edges.schema.metadata or {}
    name = meta.get(b"neuralscope.name", folder.name.encode()).decode()
    # Writable copies: Arrow hands out read-only views, which numba would compile its kernels for a second time.
    arr = {c: np.array(edges.column(c).to_numpy()) for c in need}
    table = neurons.set_index("neuron")
    conn = Connectome.from_indices(arr["pre"], arr["post"], arr["count"], arr["sign"], arr["kind"],
                                   neuron_ids=table.index.to_numpy(), neurons=table if len(table.columns) else None,
                                   name=name)
    attrs = [c for c in edges.column_names if c.startswith("attr.")]
    conn.edge_attributes = (pd.DataFrame({c[5:]: edges.column(c).to_pandas() for c in attrs}) if attrs else None)
    return conn
