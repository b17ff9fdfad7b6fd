"""Sparse views of a :class:`~neuralscope.core.connectome.Connectome` used by every analysis.

:func:`adjacency` builds them once: the chemical synapse-count matrix in CSR
(rows = presynaptic) and CSC-as-CSR of its transpose (rows = postsynaptic), and
the symmetrised simple graph (one row per neuron, neighbours sorted, each with
a direction code: 1 = out only, 2 = in only, 3 = both). Duplicate rows of the
edge list (e.g. one row per neuropil in FlyWire tables) are summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from neuralscope.core.connectome import CHEMICAL, Connectome
from neuralscope.core.errors import NeuralscopeError

OUT_ONLY, IN_ONLY, MUTUAL = 1, 2, 3


@dataclass(eq=False)
class Adjacency:
    """Weighted directed graph as CSR matrices (self-loops kept in ``weights`` only).

    Attributes
    ----------
    weights : scipy.sparse.csr_matrix, (n, n) float64
        Synapse count from row (pre) to column (post), duplicates summed.
    n_neurons : int
    """

    weights: sp.csr_matrix

    @property
    def n_neurons(self) -> int:
        return self.weights.shape[0]

    @cached_property
    def weights_in(self) -> sp.csr_matrix:
        """Transpose of :attr:`weights` in CSR (row = post, columns = its inputs)."""
        return self.weights.T.tocsr()

    @cached_property
    def out_degree(self) -> np.ndarray:
        return np.diff(self.weights.indptr).astype(np.int64)

    @cached_property
    def in_degree(self) -> np.ndarray:
        return np.bincount(self.weights.indices, minlength=self.n_neurons).astype(np.int64)

    @cached_property
    def out_strength(self) -> np.ndarray:
        return np.asarray(self.weights.sum(axis=1)).ravel()

    @cached_property
    def in_strength(self) -> np.ndarray:
        return np.bincount(self.weights.indices, weights=self.weights.data, minlength=self.n_neurons)

    @cached_property
    def loops_removed(self) -> sp.csr_matrix:
        """:attr:`weights` without self-loops (motifs and reciprocity are defined between distinct neurons)."""
        w = self.weights
        rows = np.repeat(np.arange(w.shape[0], dtype=np.int32), np.diff(w.indptr))
        if not (rows == w.indices).any():
            return w
        keep = rows != w.indices
        return _csr_from_sorted(rows[keep], w.indices[keep], w.data[keep], w.shape[0])

    @cached_property
    def undirected(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The symmetrised simple graph without self-loops: ``(indptr, indices, code)``.

        ``code[e]`` says how row ``i`` and neighbour ``indices[e]`` are connected:
        1 = i -> j only, 2 = j -> i only, 3 = both ways. Neighbours are sorted.
        """
        return symmetrise(self.loops_removed)


def _csr_from_sorted(rows: np.ndarray, cols: np.ndarray, data: np.ndarray, n: int) -> sp.csr_matrix:
    """CSR from (row, col) pairs already sorted by row then column, without scipy's copy-and-sort."""
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_matrix((data, cols.astype(np.int32, copy=False), indptr), shape=(n, n))


def symmetrise(w: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of a loop-free directed graph and its transpose, with direction codes (see :class:`Adjacency`)."""
    from neuralscope.connectomics.graph._kernels import merge_codes, transpose_pattern

    if not w.has_sorted_indices:
        w = w.copy()
        w.sort_indices()
    indptr = w.indptr.astype(np.int64, copy=False)
    indices = w.indices.astype(np.int32, copy=False)
    t_ptr, t_idx = transpose_pattern(indptr, indices, w.shape[0])
    return merge_codes(indptr, indices, t_ptr, t_idx)


def adjacency(connectome: Connectome, kind: str = "chemical") -> Adjacency:
    """The sparse views of ``connectome`` (chemical synapses by default).

    Parameters
    ----------
    connectome : Connectome
    kind : {"chemical", "electrical", "all"}
        Which edges to keep. Counts are used, not signs.

    Returns
    -------
    Adjacency
    """
    if not isinstance(connectome, Connectome):
        raise NeuralscopeError("connectome", "a neuralscope Connectome", type(connectome).__name__)
    if kind not in ("chemical", "electrical", "all"):
        raise NeuralscopeError("kind", "'chemical', 'electrical' or 'all'", kind)
    n = connectome.n_neurons
    pre, post, count = connectome.pre, connectome.post, connectome.count
    if kind != "all":
        sel = connectome.kind == (CHEMICAL if kind == "chemical" else 1)
        if not sel.all():
            pre, post, count = pre[sel], post[sel], count[sel]
    if len(pre) and np.all(pre[1:] >= pre[:-1]):
        # Edge lists sorted by pre (our stores, the synthetic generator): avoid scipy's COO sort of 15 M rows.
        order = np.lexsort((post, pre)) if not _rows_sorted(pre, post) else None
        if order is not None:
            pre, post, count = pre[order], post[order], count[order]
        keys = pre.astype(np.int64) * n + post
        first = np.concatenate([[True], keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, bool)
        if first.all():
            return Adjacency(_csr_from_sorted(pre, post, count.astype(np.float64), n))
        starts = np.flatnonzero(first)
        data = np.add.reduceat(count.astype(np.float64), starts)
        return Adjacency(_csr_from_sorted(pre[starts], post[starts], data, n))
    m = sp.csr_matrix((count.astype(np.float64), (pre, post)), shape=(n, n))
    m.sum_duplicates()
    return Adjacency(m)


def _rows_sorted(pre: np.ndarray, post: np.ndarray) -> bool:
    same = pre[1:] == pre[:-1]
    return bool(np.all(post[1:][same] >= post[:-1][same]))
