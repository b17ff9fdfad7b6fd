"""Scores against ground truth: ROI matching (Neurofinder style), traces."""

from __future__ import annotations

from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

__all__ = ["match_rois", "trace_correlation"]


def _centroids(masks: np.ndarray) -> np.ndarray:
    out = np.zeros((len(masks), 2))
    for i, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        out[i] = (ys.mean(), xs.mean()) if len(ys) else (np.nan, np.nan)
    return out


def match_rois(detected: Any, true: Any, method: str = "centroid", threshold: float | None = None) -> dict:
    """One-to-one matching of detected to true ROIs (Hungarian) and detection scores.

    Parameters
    ----------
    detected, true : numpy.ndarray (n, H, W)
        Masks (bool) or footprints (> 0 counts as inside).
    method : {"centroid", "iou"}
        ``"centroid"`` (Neurofinder): pairs whose centres are at most
        ``threshold`` px apart (default 5) can match, cost = distance.
        ``"iou"``: pairs with intersection-over-union at least ``threshold``
        (default 0.3), cost = 1 - IoU.
    threshold : float, optional

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``n_detected``, ``n_true``,
        ``n_matched``, ``pairs`` (k x 2 array of (detected, true) indices),
        ``mean_iou`` of matched pairs.
    """
    from scipy.optimize import linear_sum_assignment

    d = np.asarray(detected) > 0
    t = np.asarray(true) > 0
    if d.ndim != 3 or t.ndim != 3 or d.shape[1:] != t.shape[1:]:
        raise NeuralscopeError("detected", f"masks (n, H, W) like the true ones {t.shape}", d.shape)
    nd, nt = len(d), len(t)
    n_pix = int(np.prod(t.shape[1:]))
    df = d.reshape(nd, n_pix).astype(np.float32)
    tf = t.reshape(nt, n_pix).astype(np.float32)
    inter = df @ tf.T
    union = df.sum(1)[:, None] + tf.sum(1)[None, :] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    if method == "centroid":
        thr = 5.0 if threshold is None else float(threshold)
        cd, ct = _centroids(d), _centroids(t)
        dist = np.linalg.norm(cd[:, None, :] - ct[None, :, :], axis=-1) if nd and nt else np.zeros((nd, nt))
        ok = dist <= thr
        cost = np.where(ok, dist, 1e6)
    elif method == "iou":
        thr = 0.3 if threshold is None else float(threshold)
        ok = iou >= thr
        cost = np.where(ok, 1.0 - iou, 1e6)
    else:
        raise NeuralscopeError("method", "'centroid' or 'iou'", method)
    pairs = np.zeros((0, 2), int)
    if nd and nt:
        r, c = linear_sum_assignment(cost)
        keep = ok[r, c]
        pairs = np.stack([r[keep], c[keep]], 1)
    k = len(pairs)
    precision = k / nd if nd else 0.0
    recall = k / nt if nt else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "n_detected": nd, "n_true": nt, "n_matched": k,
            "pairs": pairs, "mean_iou": float(iou[pairs[:, 0], pairs[:, 1]].mean()) if k else 0.0}


def trace_correlation(estimated: Any, true: Any, pairs: Any) -> np.ndarray:
    """Pearson r between matched traces: ``estimated[pairs[:, 0]]`` vs ``true[pairs[:, 1]]``."""
    e, t = np.asarray(estimated, float), np.asarray(true, float)
    p = np.asarray(pairs, int).reshape(-1, 2)
    out = np.empty(len(p))
    for k, (i, j) in enumerate(p):
        a, b = e[i] - e[i].mean(), t[j] - t[j].mean()
        den = np.sqrt((a @ a) * (b @ b))
        out[k] = (a @ b) / den if den > 0 else np.nan
    return out
