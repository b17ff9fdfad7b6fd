"""Constrained MALIS: a structured affinity loss that weights each edge by the voxel pairs it decides.

Per-edge losses treat every edge alike, yet a segmentation error costs what it costs in voxel
pairs: one low affinity across the neck of a large neurite splits it, and the adapted Rand error
charges the product of the two parts' sizes. MALIS (Turaga et al., NIPS 2009) weights the loss
of each edge by the number of voxel pairs whose maximin path runs through it; the constrained
version (Funke et al., TPAMI 2019) computes the counts in two passes so that only wrong edges get
weight:

- **positive pass**: edges between different objects are removed; a maximum spanning forest of
  the remaining (within-object) edges by predicted affinity charges each edge that joins two
  parts with the product of their sizes -- these edges should be high;
- **negative pass**: within-object edges are set to 1 (joined first); edges between objects, in
  decreasing predicted affinity, are charged the number of pairs of different objects they join
  -- these edges should be low.

The loss is the weighted squared error of the predicted probabilities, each pass normalised by
its own total weight (the two passes count equally). Only the nearest-neighbour channels (offsets (1,0,0), (0,1,0), (0,0,1)) take part.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuralscope.connectomics._merge_kernel import find as _find
from neuralscope.connectomics.networks.targets import DEFAULT_OFFSETS, labels_to_affinities


@njit(cache=True)
def _edges(labels):
    """Nearest-neighbour edges (v, v - e_axis) between labelled voxels: (u, v, channel index)."""
    nz, ny, nx = labels.shape
    flat = labels.ravel()
    strides = (ny * nx, nx, 1)
    n = flat.size
    u = np.empty(3 * n, np.int64)
    v = np.empty(3 * n, np.int64)
    idx = np.empty(3 * n, np.int64)
    m = 0
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                i = (z * ny + y) * nx + x
                if flat[i] == 0:
                    continue
                for c in range(3):
                    if (c == 0 and z == 0) or (c == 1 and y == 0) or (c == 2 and x == 0):
                        continue
                    j = i - strides[c]
                    if flat[j] == 0:
                        continue
                    u[m] = i
                    v[m] = j
                    idx[m] = c * n + i
                    m += 1
    return u[:m], v[:m], idx[:m]


@njit(cache=True)
def _malis_weights(labels, affinities):
    nz, ny, nx = labels.shape
    n = nz * ny * nx
    flat = labels.ravel()
    aff = affinities.ravel()
    u, v, idx = _edges(labels)
    same = flat[u] == flat[v]
    weights = np.zeros(3 * n, np.float64)
    # Positive pass: within-object edges only, strongest first.
    parent = np.arange(n)
    size = np.ones(n, np.float64)
    pos = np.nonzero(same)[0]
    order = pos[np.argsort(-aff[idx[pos]], kind="mergesort")]
    for e in order:
        a, b = _find(parent, u[e]), _find(parent, v[e])
        if a != b:
            weights[idx[e]] = size[a] * size[b]
            if size[a] < size[b]:
                a, b = b, a
            parent[b] = a
            size[a] += size[b]
    # Negative pass: within-object edges join first (affinity 1), so every part is pure.
    parent = np.arange(n)
    for e in pos:
        a, b = _find(parent, u[e]), _find(parent, v[e])
        if a != b:
            parent[b] = a
    n_labels = int(flat.max()) + 1
    row = np.full(n, -1, np.int64)
    n_rows = 0
    for i in range(n):
        if flat[i] > 0:
            r = _find(parent, i)
            if row[r] < 0:
                row[r] = n_rows
                n_rows += 1
    counts = np.zeros((n_rows, n_labels), np.float64)
    total = np.zeros(n_rows, np.float64)
    for i in range(n):
        if flat[i] > 0:
            r = row[_find(parent, i)]
            counts[r, flat[i]] += 1.0
            total[r] += 1.0
    neg = np.nonzero(~same)[0]
    order = neg[np.argsort(-aff[idx[neg]], kind="mergesort")]
    for e in order:
        a, b = _find(parent, u[e]), _find(parent, v[e])
        if a != b:
            ra, rb = row[a], row[b]
            if total[ra] < total[rb]:
                a, b, ra, rb = b, a, rb, ra
            w = total[ra] * total[rb]
            for lab in range(n_labels):
                w -= counts[ra, lab] * counts[rb, lab]
                counts[ra, lab] += counts[rb, lab]
            weights[idx[e]] = w
            total[ra] += total[rb]
            parent[b] = a
    return weights.reshape((3, nz, ny, nx))


def malis_weights(affinities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Constrained MALIS pair counts of each nearest-neighbour edge.

    Parameters
    ----------
    affinities : ndarray of float, shape (3, z, y, x)
        Predicted affinities; ``affinities[c, z, y, x]`` links voxel (z, y, x) to the voxel one
        step before it along axis ``c`` (the convention of
        :func:`~neuralscope.connectomics.networks.targets.labels_to_affinities`).
    labels : ndarray of int, shape (z, y, x)
        Dense ground truth, 0 = unlabelled (its edges get no weight).

    Returns
    -------
    weights : ndarray of float64, shape (3, z, y, x)
        Voxel pairs whose maximin edge each edge is (positive pass for within-object edges,
        negative pass for edges between objects); 0 for edges that decide nothing.
    target : ndarray of float32, shape (3, z, y, x)
        1 for within-object edges, 0 otherwise.
    """
    labels = np.asarray(labels)
    affinities = np.asarray(affinities, dtype=np.float32)
    if labels.ndim != 3 or affinities.shape != (3, *labels.shape):
        raise ValueError(f"affinities must have shape (3, *labels.shape); got {affinities.shape} and {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    ids, compact = np.unique(labels, return_inverse=True)
    compact = compact.reshape(labels.shape).astype(np.int64)
    if ids[0] != 0:
        compact += 1  # keep 0 for "unlabelled"
    weights = _malis_weights(np.ascontiguousarray(compact), np.ascontiguousarray(affinities))
    target, _ = labels_to_affinities(compact, DEFAULT_OFFSETS[:3])
    return weights, target


def malis_loss(logits, labels: np.ndarray, margin: int = 0):
    """Constrained MALIS loss of a batch (torch; differentiable in ``logits``).

    Parameters
    ----------
    logits : torch.Tensor, shape (batch, channels, z, y, x)
        Network output; channels 0-2 are the nearest-neighbour affinities.
    labels : ndarray of int, shape (batch, z, y, x)
        Ground truth of the same patches.
    margin : int
        Voxels cropped from each side before the forest is built (as the per-edge loss does).

    Returns
    -------
    torch.Tensor
        Scalar: mean of the two passes' weighted squared errors (target - probability)^2, each
        divided by its pass's total weight.
    """
    import torch

    sl = (slice(margin, -margin),) * 3 if margin else (slice(None),) * 3
    prob = torch.sigmoid(logits[:, :3][(slice(None), slice(None), *sl)].float())
    weights, targets = [], []
    for b in range(prob.shape[0]):
        w, t = malis_weights(prob[b].detach().cpu().numpy(), np.asarray(labels[b])[sl])
        weights.append(w)
        targets.append(t)
    w = torch.from_numpy(np.stack(weights)).to(prob.device, torch.float32)
    t = torch.from_numpy(np.stack(targets)).to(prob.device)
    # Each pass normalised by its own weight: pairs of different objects far outnumber pairs
    # within one, and a shared normaliser would teach the network to cut everywhere.
    err = w * (t - prob) ** 2
    pos = (err * t).sum() / (w * t).sum().clamp_min(1.0)
    neg = (err * (1 - t)).sum() / (w * (1 - t)).sum().clamp_min(1.0)
    return 0.5 * (pos + neg)
