"""Mutex watershed (Wolf et al. 2018) on nearest-neighbour affinities, through ``mwatershed``.

Attractive edges are the nearest-neighbour affinities minus ``bias``; repulsive long-range edges
are derived from them (the weakest link on the straight path), since a boundary-only model has
no long-range output of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuralscope.connectomics.agglomeration import OFFSETS, _check_affinities, relabel_consecutive
from neuralscope.core.errors import NeuralscopeError

__all__ = ["mutex_watershed"]


def _long_range(aff: np.ndarray, step: int) -> list[tuple[np.ndarray, tuple[int, int, int]]]:
    """Repulsion evidence ``step`` voxels apart: the weakest link on the straight path."""
    out = []
    for d in range(3):
        n = aff.shape[1 + d]
        if n <= step:
            continue
        weakest = np.ones(aff.shape[1:], np.float32)
        for k in range(step):
            # affinity between v - k e_d and v - (k + 1) e_d, aligned on v
            sl_dst = [slice(None)] * 3
            sl_src = [slice(None)] * 3
            sl_dst[d] = slice(k, None)
            sl_src[d] = slice(0, n - k)
            np.minimum(weakest[tuple(sl_dst)], aff[d][tuple(sl_src)], out=weakest[tuple(sl_dst)])
        sl = [slice(None)] * 3
        sl[d] = slice(0, step)
        weakest[tuple(sl)] = 1.0  # no neighbour that far back
        off = [0, 0, 0]
        off[d] = -step
        out.append((weakest, tuple(off)))
    return out


def mutex_watershed(affinities: Any, bias: float = 0.5, long_range_step: int = 4) -> np.ndarray:
    """Mutex watershed (Wolf et al. 2018) through the ``mwatershed`` package.

    Nearest-neighbour affinities above ``bias`` attract; long-range repulsive edges
    ``long_range_step`` voxels apart are derived from the weakest nearest-neighbour affinity on the
    straight path between the two voxels (a membrane anywhere in between repels).

    Parameters
    ----------
    affinities : array-like, shape (3, z, y, x)
    bias : float
        Affinities above it attract, below it repel.
    long_range_step : int
        Distance (voxels) of the repulsive edges; 0 disables them.

    Returns
    -------
    numpy.ndarray, uint64
        Labels ``1..n``.
    """
    try:
        import mwatershed
    except ImportError as exc:  # optional dependency
        raise NeuralscopeError("method", "the mwatershed package for method='mutex' (pip install mwatershed)",
                               "not installed") from exc
    aff = _check_affinities(affinities)
    channels = [aff[d] - bias for d in range(3)]
    offsets = [list(o) for o in OFFSETS]
    if long_range_step and long_range_step > 1:
        for weakest, off in _long_range(aff, long_range_step):
            # Only repulsive: a long edge never merges on its own.
            channels.append(np.minimum(weakest - bias, 0.0) - 1e-3)
            offsets.append(list(off))
    stacked = np.stack(channels).astype(np.float64)
    for c, off in enumerate(offsets):  # the first plane(s) along each axis have no partner
        d = int(np.flatnonzero(off)[0])
        sl = [slice(None)] * 3
        sl[d] = slice(0, -off[d])
        stacked[c][tuple(sl)] = 0.0
    labels = mwatershed.agglom(stacked, offsets)
    return relabel_consecutive(np.asarray(labels), keep_zero=False)[0]
