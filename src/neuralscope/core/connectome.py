"""A wiring diagram: a neuron table plus a signed, weighted edge list.

:class:`Connectome` is the object the connectomics and simulation code share.
Edges are stored as integer indices into :attr:`Connectome.neuron_ids` (int32,
so a FlyWire-size graph of 15 M edges stays near 200 MB), with a non-negative
synapse count, a sign (+1 excitatory, -1 inhibitory) and a kind (chemical or
electrical). :func:`read_connectome` reads CSV or parquet edge lists, including
the FlyWire ``Connectivity`` parquet of the Shiu et al. (2024) whole-brain model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neuralscope.core.errors import NeuralscopeError

CHEMICAL, ELECTRICAL = 0, 1
KIND_NAMES = ("chemical", "electrical")

#: Default sign per neurotransmitter (keys are lower-case). This is the fly
#: convention of FlyWire-based models: acetylcholine excites, GABA and
#: glutamate (via GluCl channels) and histamine (HisCl) inhibit. Modulatory
#: transmitters (dopamine, serotonin, octopamine) have no single sign: pass
#: ``transmitter_signs`` to decide.
NEUROTRANSMITTER_SIGNS: dict[str, int] = {
    "ach": 1, "acetylcholine": 1, "cholinergic": 1,
    "gaba": -1, "gabaergic": -1,
    "glu": -1, "glut": -1, "glutamate": -1, "glutamatergic": -1,
    "his": -1, "histamine": -1,
}

_FLYWIRE = ("Presynaptic_Index", "Postsynaptic_Index", "Connectivity")
_PRE_NAMES = ("pre", "presynaptic", "source", "pre_id", "pre_root_id", "presynaptic_id", "from")
_POST_NAMES = ("post", "postsynaptic", "target", "post_id", "post_root_id", "postsynaptic_id", "to")
_COUNT_NAMES = ("count", "synapses", "syn_count", "n_synapses", "connectivity")
_WEIGHT_NAMES = ("weight",)
_SIGN_NAMES = ("sign", "excitatory")
_NT_NAMES = ("neurotransmitter", "nt", "nt_type", "transmitter")
_KIND_NAMES = ("kind", "type", "synapse_type")


def _find(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lower = {c.lower().strip(): c for c in columns}
    for n in names:
        if n in lower:
            return lower[n]
    return None


class Connectome:
    """Neurons and the signed, weighted synapses between them.

    Parameters
    ----------
    pre, post : array-like of neuron ids, shape (n_edges,)
        Presynaptic and postsynaptic neuron of each edge (ids, not indices).
    count : array-like of float, shape (n_edges,)
        Synapse count (or gap-junction count) of each edge; must be >= 0.
    sign : array-like of {+1, -1}, optional
        +1 excitatory, -1 inhibitory (default all +1). Ignored for electrical edges.
    kind : array-like of {"chemical", "electrical"}, optional
        Default all chemical. An electrical row ``pre -> post`` drives ``post``
        by a current proportional to ``v_pre - v_post``; a junction listed in
        both directions therefore couples both ways.
    neuron_ids : array-like, optional
        All neurons, in index order (default: the sorted ids seen in the edges).
        Every edge must name neurons of this list.
    neurons : pandas.DataFrame, optional
        Metadata, one row per neuron, indexed by neuron id (extra ids are dropped,
        missing ones get NaN).
    name : str
        A label used in reports.

    Examples
    --------
    >>> c = Connectome(["a", "a", "b"], ["b", "c", "c"], [3, 1, 2], sign=[1, 1, -1])
    >>> c.n_neurons, c.n_edges, c.to_sparse().toarray()[0].tolist()
    (3, 3, [0.0, 3.0, 1.0])
    """

    def __init__(self, pre: Any, post: Any, count: Any, sign: Any = None, kind: Any = None,
                 neuron_ids: Any = None, neurons: pd.DataFrame | None = None, name: str = "connectome"):
        pre_ids, post_ids = np.asarray(pre), np.asarray(post)
        if pre_ids.ndim != 1 or post_ids.shape != pre_ids.shape:
            raise NeuralscopeError("pre/post", "two 1-D arrays of equal length", f"shapes {pre_ids.shape} and {post_ids.shape}")
        if neuron_ids is None:
            neuron_ids = pd.unique(np.concatenate([pre_ids, post_ids])) if pre_ids.size else np.array([], dtype=np.int64)
            neuron_ids = np.sort(neuron_ids)
        index = pd.Index(np.asarray(neuron_ids))
        pre_i, post_i = index.get_indexer(pre_ids), index.get_indexer(post_ids)
        _check_missing(pre_i, pre_ids, post_i, post_ids)
        self._init_from_indices(pre_i, post_i, count, sign, kind, np.asarray(index), neurons, name)

    @classmethod
    def from_indices(cls, pre: Any, post: Any, count: Any, sign: Any = None, kind: Any = None, *,
                     neuron_ids: Any = None, n_neurons: int | None = None,
                     neurons: pd.DataFrame | None = None, name: str = "connectome") -> Connectome:
        """Build from integer indices ``0 .. n_neurons - 1`` (the fast path for large graphs).

        ``neuron_ids`` (length ``n_neurons``) maps index to id; default ``range(n_neurons)``.
        """
        pre_i = np.asarray(pre)
        post_i = np.asarray(post)
        if pre_i.ndim != 1 or post_i.shape != pre_i.shape:
            raise NeuralscopeError("pre/post", "two 1-D index arrays of equal length", f"shapes {pre_i.shape} and {post_i.shape}")
        if pre_i.size and pre_i.dtype.kind not in "iu" or post_i.size and post_i.dtype.kind not in "iu":
            raise NeuralscopeError("pre/post", "integer neuron indices", f"dtypes {pre_i.dtype}, {post_i.dtype}")
        if neuron_ids is not None:
            ids = np.asarray(neuron_ids)
        else:
            n = n_neurons if n_neurons is not None else (int(max(pre_i.max(), post_i.max())) + 1 if pre_i.size else 0)
            ids = np.arange(n, dtype=np.int64)
        n = len(ids)
        bad = np.zeros(pre_i.shape, bool)
        if pre_i.size:
            bad = (pre_i < 0) | (pre_i >= n) | (post_i < 0) | (post_i >= n)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise NeuralscopeError(
                "edges", f"pre/post indices of the {n} listed neurons",
                f"{int(bad.sum())} edges to a missing neuron, e.g. {int(pre_i[k])} -> {int(post_i[k])}")
        if len(pd.unique(ids)) != n:
            raise NeuralscopeError("neuron_ids", "unique neuron ids", f"{n - len(pd.unique(ids))} duplicates")
        obj = cls.__new__(cls)
        obj._init_from_indices(pre_i, post_i, count, sign, kind, ids, neurons, name)
        return obj

    def _init_from_indices(self, pre_i, post_i, count, sign, kind, ids, neurons, name) -> None:
        n_edges = len(pre_i)
        cnt = np.asarray(count, dtype=np.float64) if not isinstance(count, np.ndarray) else count
        if cnt.shape != (n_edges,):
            raise NeuralscopeError("count", f"one value per edge ({n_edges})", f"shape {np.shape(cnt)}")
        if cnt.dtype.kind not in "iuf":
            raise NeuralscopeError("count", "numeric synapse counts", f"dtype {cnt.dtype}")
        if n_edges and not np.all(np.isfinite(cnt)):
            raise NeuralscopeError("count", "finite synapse counts", "NaN or inf")
        if n_edges and cnt.min() < 0:
            k = int(np.argmin(cnt))
            raise NeuralscopeError("count", "non-negative synapse counts (put inhibition in the sign)",
                                   f"{int((cnt < 0).sum())} negative, e.g. {cnt[k]!r} on edge {k}")
        self.neuron_ids = np.asarray(ids)
        self.pre = np.asarray(pre_i, dtype=np.int32)
        self.post = np.asarray(post_i, dtype=np.int32)
        self.count = cnt.astype(np.float32, copy=False)
        self.sign = _as_sign(sign, n_edges)
        self.kind = _as_kind(kind, n_edges)
        self.name = str(name)
        self._index: pd.Index | None = None
        table = pd.DataFrame(index=pd.Index(self.neuron_ids, name="neuron"))
        if neurons is not None:
            if not isinstance(neurons, pd.DataFrame):
                raise NeuralscopeError("neurons", "a pandas DataFrame indexed by neuron id", type(neurons).__name__)
            table = neurons.reindex(self.neuron_ids)
            table.index.name = "neuron"
        self.neurons = table

    # ------------------------------------------------------------------ basics
    @property
    def n_neurons(self) -> int:
        return len(self.neuron_ids)

    @property
    def n_edges(self) -> int:
        return len(self.pre)

    @property
    def n_synapses(self) -> float:
        """Total chemical synapse count."""
        return float(self.count[self.kind == CHEMICAL].sum(dtype=np.float64))

    @property
    def is_electrical(self) -> np.ndarray:
        return self.kind == ELECTRICAL

    def __repr__(self) -> str:
        n_el = int(self.is_electrical.sum())
        return (f"Connectome({self.name!r}: {self.n_neurons} neurons, {self.n_edges - n_el} chemical "
                f"and {n_el} electrical edges)")

    def index(self, ids: Any, name: str = "ids") -> np.ndarray:
        """Indices of the given neuron ids; unknown ids raise :class:`NeuralscopeError`.

        Ids given as strings (e.g. from a command line) match integer ids too.
        """
        values = np.atleast_1d(np.asarray(ids if not isinstance(ids, (str, int, np.integer)) else [ids]))
        if self._index is None:
            self._index = pd.Index(self.neuron_ids)
        idx = self._index.get_indexer(values)
        if (idx < 0).any() and self.neuron_ids.dtype.kind in "iu" and values.dtype.kind in "OUS":
            try:
                idx = self._index.get_indexer(values.astype(np.int64))
            except ValueError:
                pass
        if (idx < 0).any():
            missing = values[idx < 0]
            raise NeuralscopeError(name, f"neuron ids of {self.name!r}", f"unknown ids {', '.join(map(str, missing[:5]))}"
                                   + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""))
        return idx.astype(np.int64)

    def select(self, **criteria: Any) -> np.ndarray:
        """Neuron ids whose metadata match every ``column=value`` (a list means any of)."""
        mask = np.ones(self.n_neurons, bool)
        for col, value in criteria.items():
            if col not in self.neurons.columns:
                raise NeuralscopeError(col, f"a metadata column ({', '.join(map(str, self.neurons.columns))})", col)
            vals = value if isinstance(value, (list, tuple, set, np.ndarray)) else [value]
            mask &= self.neurons[col].isin(list(vals)).to_numpy()
        return self.neuron_ids[mask]

    @property
    def edges(self) -> pd.DataFrame:
        """The edge list as a table (pre id, post id, count, sign, kind)."""
        return pd.DataFrame({
            "pre": self.neuron_ids[self.pre], "post": self.neuron_ids[self.post], "count": self.count,
            "sign": self.sign, "kind": pd.Categorical.from_codes(self.kind, KIND_NAMES),
        })

    def to_sparse(self, kind: str = "chemical", signed: bool = True):
        """(n_neurons, n_neurons) ``scipy.sparse.csr_matrix``, rows = pre, columns = post.

        Values are synapse counts (times the sign if ``signed``); duplicate edges are summed.
        ``kind`` is ``"chemical"``, ``"electrical"`` or ``"all"``.
        """
        import scipy.sparse as sp

        if kind not in ("chemical", "electrical", "all"):
            raise NeuralscopeError("kind", "'chemical', 'electrical' or 'all'", kind)
        sel = slice(None) if kind == "all" else (self.kind == KIND_NAMES.index(kind))
        vals = self.count[sel].astype(np.float64)
        if signed:
            vals = vals * self.sign[sel]
        n = self.n_neurons
        m = sp.csr_matrix((vals, (self.pre[sel], self.post[sel])), shape=(n, n))
        m.sum_duplicates()
        return m

    # ------------------------------------------------------------------ writing
    def to_parquet(self, path: str | Path) -> Path:
        """Write the edge list (pre, post, count, sign, kind) with the neuron table embedded."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from neuralscope.io.atomic import atomic_path

        table = pa.Table.from_pandas(self.edges, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"neuralscope.neurons"] = self.neurons.reset_index().to_json(orient="split").encode()
        meta[b"neuralscope.name"] = self.name.encode()
        with atomic_path(path) as tmp:
            pq.write_table(table.replace_schema_metadata(meta), tmp)
        return Path(path)

    def to_csv(self, path: str | Path) -> Path:
        """Write the edge list as CSV (neurons without edges are not kept; use parquet for that)."""
        from neuralscope.io.atomic import atomic_path

        with atomic_path(path) as tmp:
            self.edges.to_csv(tmp, index=False)
        return Path(path)


def _check_missing(pre_i, pre_ids, post_i, post_ids) -> None:
    bad = (pre_i < 0) | (post_i < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise NeuralscopeError("edges", "pre/post ids listed in the neuron table",
                               f"{int(bad.sum())} edges to a missing neuron, e.g. {pre_ids[k]} -> {post_ids[k]}")


def _as_sign(sign: Any, n: int) -> np.ndarray:
    if sign is None:
        return np.ones(n, np.int8)
    s = np.asarray(sign)
    if s.shape != (n,):
        raise NeuralscopeError("sign", f"one sign per edge ({n})", f"shape {s.shape}")
    if s.dtype == bool:
        return np.where(s, 1, -1).astype(np.int8)
    if s.dtype.kind not in "iuf" or (n and not np.isin(s, (-1, 1)).all()):
        bad = s[~np.isin(s, (-1, 1))][:3] if s.dtype.kind in "iuf" else s[:3]
        raise NeuralscopeError("sign", "+1 (excitatory) or -1 (inhibitory)", f"values such as {list(bad)}")
    return s.astype(np.int8)


def _as_kind(kind: Any, n: int) -> np.ndarray:
    if kind is None:
        return np.zeros(n, np.int8)
    k = np.asarray(kind)
    if k.shape != (n,):
        raise NeuralscopeError("kind", f"one kind per edge ({n})", f"shape {k.shape}")
    if k.dtype.kind in "iu":
        if n and not np.isin(k, (CHEMICAL, ELECTRICAL)).all():
            raise NeuralscopeError("kind", "0 (chemical) or 1 (electrical)", f"values {np.unique(k)[:5].tolist()}")
        return k.astype(np.int8)
    low = pd.Series(k, dtype="string").str.strip().str.lower()
    codes = np.full(n, -1, np.int8)
    codes[low.isin(["chemical", "chem", "synapse", "c"]).to_numpy()] = CHEMICAL
    codes[low.isin(["electrical", "gap", "gap_junction", "gapjunction", "e"]).to_numpy()] = ELECTRICAL
    if (codes < 0).any():
        raise NeuralscopeError("kind", "'chemical' or 'electrical'", f"values such as {sorted(set(low[codes < 0]))[:3]}")
    return codes


def signs_from_transmitters(values: Iterable[Any], transmitter_signs: Mapping[str, int] | None = None) -> np.ndarray:
    """Map neurotransmitter names to +1/-1 (see :data:`NEUROTRANSMITTER_SIGNS`)."""
    table = dict(NEUROTRANSMITTER_SIGNS)
    table.update({str(k).lower(): int(v) for k, v in (transmitter_signs or {}).items()})
    low = pd.Series(list(values), dtype="string").str.strip().str.lower()
    mapped = low.map(table)
    if mapped.isna().any():
        unknown = sorted(set(low[mapped.isna()].astype(str)))[:5]
        raise NeuralscopeError("neurotransmitter", f"one of {sorted(table)} (or pass transmitter_signs)",
                               f"unknown transmitters {unknown}")
    return mapped.to_numpy(dtype=np.int8)


def _read_table(path: Path) -> pd.DataFrame:
    suffix = "".join(path.suffixes[-2:]).lower()
    try:
        if suffix.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if suffix.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
            sep = "\t" if ".tsv" in suffix else ","
            df = pd.read_csv(path, sep=sep, skipinitialspace=True)
            df.columns = [str(c).strip() for c in df.columns]
            for c in df.columns:
                if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
                    df[c] = df[c].astype("string").str.strip()
            return df
    except (OSError, ValueError, ImportError) as exc:
        raise NeuralscopeError("CONNECTOME", "a readable CSV or parquet edge list", f"{path.name}: {exc}") from None
    raise NeuralscopeError("CONNECTOME", "a .csv, .tsv or .parquet edge list", path.name)


def read_connectome(path: str | Path, *, neurons: str | Path | pd.DataFrame | None = None,
                    transmitter_signs: Mapping[str, int] | None = None, name: str | None = None) -> Connectome:
    """Read an edge list from CSV or parquet.

    Recognised layouts (column names are case-insensitive):

    - FlyWire ``Connectivity`` parquet: ``Presynaptic_Index``, ``Postsynaptic_Index``,
      ``Connectivity`` (synapse count), ``Excitatory`` (+1/-1) and/or
      ``Excitatory x Connectivity`` (signed count). Indices refer to the rows of
      ``neurons`` (the ``Completeness`` CSV, index = root id) when given; otherwise
      ``Presynaptic_ID``/``Postsynaptic_ID`` name the neurons when present, else the
      indices are the ids.
    - Generic: pre (``pre``/``source``/...), post (``post``/``target``/...), a
      count (``count``/``synapses``/``connectivity``, must be >= 0) or a ``weight``
      (signed weight allowed only when no sign column is given: sign = sign(weight)),
      optional ``sign`` (+1/-1) or ``neurotransmitter`` (mapped with
      :data:`NEUROTRANSMITTER_SIGNS` updated by ``transmitter_signs``), optional
      ``kind``/``type`` (chemical | electrical). This covers the C. elegans
      ``Source, Target, Weight, Type`` list.
    - A file written by :meth:`Connectome.to_parquet` (neuron table restored).
    """
    path = Path(path)
    if not path.exists() or path.is_dir():
        raise NeuralscopeError("CONNECTOME", "an existing CSV or parquet file", str(path))
    df = _read_table(path)
    table, stored_name = _neuron_table(neurons, path)
    name = name or stored_name or path.stem
    cols = list(df.columns)
    if all(c in cols for c in _FLYWIRE):
        return _from_flywire(df, table, name)
    pre_c, post_c = _find(cols, _PRE_NAMES), _find(cols, _POST_NAMES)
    count_c, weight_c = _find(cols, _COUNT_NAMES), _find(cols, _WEIGHT_NAMES)
    sign_c, nt_c, kind_c = _find(cols, _SIGN_NAMES), _find(cols, _NT_NAMES), _find(cols, _KIND_NAMES)
    if pre_c is None or post_c is None or (count_c is None and weight_c is None):
        raise NeuralscopeError("CONNECTOME", "columns pre, post and count (or weight)", f"columns {cols}")
    value_c = count_c or weight_c
    values = pd.to_numeric(df[value_c], errors="coerce").to_numpy(np.float64)
    if np.isnan(values).any():
        raise NeuralscopeError(value_c, "numeric synapse counts", f"{int(np.isnan(values).sum())} non-numeric values")
    sign = None
    if sign_c is not None:
        sign = _parse_sign_column(df[sign_c])
    elif nt_c is not None:
        sign = signs_from_transmitters(df[nt_c], transmitter_signs)
    elif count_c is None and (values < 0).any():  # a signed weight column carries the sign
        sign = np.where(values < 0, -1, 1).astype(np.int8)
        values = np.abs(values)
    kind = df[kind_c].to_numpy() if kind_c is not None else None
    ids = table.index.to_numpy() if table is not None else None
    return Connectome(df[pre_c].to_numpy(), df[post_c].to_numpy(), values, sign=sign, kind=kind,
                      neuron_ids=ids, neurons=table, name=name)


def _parse_sign_column(col: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(col):
        return np.where(col.to_numpy(), 1, -1).astype(np.int8)
    if pd.api.types.is_numeric_dtype(col):
        return _as_sign(col.to_numpy(), len(col))
    low = col.astype("string").str.strip().str.lower()
    mapping = {"+1": 1, "1": 1, "excitatory": 1, "exc": 1, "+": 1, "true": 1,
               "-1": -1, "inhibitory": -1, "inh": -1, "-": -1, "false": -1}
    mapped = low.map(mapping)
    if mapped.isna().any():
        raise NeuralscopeError("sign", "+1/-1 or excitatory/inhibitory", f"values such as {sorted(set(low[mapped.isna()]))[:3]}")
    return mapped.to_numpy(dtype=np.int8)


def _neuron_table(neurons: Any, path: Path) -> tuple[pd.DataFrame | None, str | None]:
    if isinstance(neurons, pd.DataFrame):
        return neurons, None
    if neurons is not None:
        npath = Path(neurons)
        if not npath.exists():
            raise NeuralscopeError("neurons", "an existing neuron table (CSV or parquet)", str(npath))
        df = pd.read_parquet(npath) if npath.suffix.lower() in (".parquet", ".pq") else pd.read_csv(npath, index_col=0)
        return df, None
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        if b"neuralscope.neurons" in meta:
            split = json.loads(meta[b"neuralscope.neurons"].decode())
            df = pd.DataFrame(split["data"], columns=split["columns"]).set_index("neuron")
            return df, meta.get(b"neuralscope.name", b"").decode() or None
    return None, None


def _from_flywire(df: pd.DataFrame, table: pd.DataFrame | None, name: str) -> Connectome:
    count = df["Connectivity"].to_numpy()
    signed = df["Excitatory x Connectivity"].to_numpy() if "Excitatory x Connectivity" in df.columns else None
    if "Excitatory" in df.columns:
        sign = _parse_sign_column(df["Excitatory"])
        if signed is not None and not np.array_equal(np.asarray(signed, np.float64), sign * np.asarray(count, np.float64)):
            raise NeuralscopeError("Excitatory x Connectivity", "Excitatory times Connectivity", "a different value on some rows")
    elif signed is not None:
        sign = np.where(np.asarray(signed) < 0, -1, 1).astype(np.int8)
    else:
        sign = None
    pre_i, post_i = df["Presynaptic_Index"].to_numpy(), df["Postsynaptic_Index"].to_numpy()
    if table is not None:
        return Connectome.from_indices(pre_i, post_i, count, sign, neuron_ids=table.index.to_numpy(),
                                       neurons=table, name=name)
    if "Presynaptic_ID" in df.columns and "Postsynaptic_ID" in df.columns:
        return Connectome(df["Presynaptic_ID"].to_numpy(), df["Postsynaptic_ID"].to_numpy(), count, sign, name=name)
    return Connectome.from_indices(pre_i, post_i, count, sign, name=name)
