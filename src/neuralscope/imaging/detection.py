"""Cell detection from a registered movie (activity based) or a mean image.

Activity-based detection works on a temporally binned copy of the movie whose
size is capped (``max_bins`` frames), built in one streaming pass, so memory
does not grow with the recording. Each binned frame is spatially high-passed
(neuropil and background are smooth) and every pixel standardised by its noise.
Cells are then found greedily, strongest first: the seed pixel's trace picks
the frames in which the cell is active; the footprint is the regression of
each nearby pixel on that trace over those frames, cut to the connected
region around the seed; the cell's contribution is subtracted before the next
seed, so a cell overlapping a brighter one is still found when it fires on
its own. A small classifier (shape and activity features) then keeps somata
and drops dendrite pieces and out-of-focus blobs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

__all__ = ["CellDetector", "binned_movie", "detect_from_mean_image", "roi_features"]


def binned_movie(movie: Any, bin_frames: int, max_bins: int = 800) -> tuple[np.ndarray, int]:
    """Mean over consecutive frames, streamed chunk by chunk.

    The bin is enlarged so that at most ``max_bins`` binned frames are kept.

    Returns
    -------
    binned : numpy.ndarray, float32 (n_bins, H, W)
    bin_frames : int
        The bin length used.
    """
    import dask.array as da

    mov = movie if isinstance(movie, da.Array) else da.from_array(np.asarray(movie), chunks=(200, -1, -1), name=False)
    t = int(mov.shape[0])
    b = max(1, int(bin_frames), int(math.ceil(t / max_bins)))
    n_bins = max(1, t // b)
    usable = n_bins * b if t >= b else t
    b = min(b, usable)
    # Re-chunk to whole bins so each task bins its own frames.
    per_chunk = max(1, (mov.chunks[0][0] // b)) * b
    mov = mov[:usable].rechunk((per_chunk, -1, -1))
    binned = mov.map_blocks(lambda x: x.reshape(-1, b, *x.shape[1:]).mean(1, dtype=np.float32),
                            chunks=(tuple(c // b for c in mov.chunks[0]), mov.chunks[1], mov.chunks[2]),
                            dtype=np.float32)
    return np.asarray(binned.compute()), b


def _disk(radius: float) -> np.ndarray:
    r = int(math.ceil(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (yy**2 + xx**2) <= radius**2


def roi_features(weights: np.ndarray, mask: np.ndarray, trace: np.ndarray, cell_radius: float) -> np.ndarray:
    """Shape and activity features of one ROI: the first five of :data:`FEATURE_NAMES`."""
    ys, xs = np.nonzero(mask)
    area = len(ys) / (math.pi * cell_radius**2)
    if len(ys) >= 3:
        cov = np.cov(np.stack([ys, xs]).astype(float))
        ev = np.sort(np.linalg.eigvalsh(cov))
        elong = math.sqrt(ev[1] / max(ev[0], 1e-3))
    else:
        elong = 10.0
    # Compactness: share of the ROI's pixels within the radius its area implies.
    cy, cx = ys.mean(), xs.mean()
    r_eq = math.sqrt(len(ys) / math.pi)
    compact = float(np.mean((ys - cy) ** 2 + (xs - cx) ** 2 <= (1.2 * r_eq) ** 2))
    tr = np.asarray(trace, float)
    sd = 1.4826 * np.median(np.abs(np.diff(tr))) / math.sqrt(2) + 1e-9
    z = (tr - np.median(tr)) / sd
    skew = float(np.mean(z**3) / max(np.mean(z**2), 1e-9) ** 1.5) if z.std() > 0 else 0.0
    peak = float(np.percentile(z, 99.5))
    return np.array([area, elong, compact, skew, math.log1p(max(peak, 0.0))])


#: Features of a candidate ROI, in the classifier's order (the last two need the whole detection).
FEATURE_NAMES = ("area_rel", "elongation", "compactness", "trace_skew", "log_peak_snr", "log_score_ratio",
                 "mean_image_contrast")


@dataclass
class _Roi:
    weights: np.ndarray     # footprint weights inside the window
    mask: np.ndarray        # boolean, window
    window: tuple           # (y0, y1, x0, x1)
    trace: np.ndarray       # binned trace (standardised units)
    score: float


class CellDetector:
    """Activity-based cell detection with a cell / not-cell classifier.

    Parameters
    ----------
    cell_radius : float
        Expected soma radius (px).
    bin_seconds : float
        Length of a temporal bin (s); a transient spans a few bins.
    max_bins : int
        Most binned frames kept in memory.
    max_cells : int
        Stop after this many candidate ROIs.
    threshold : float
        Stop when the best seed's activity score falls below this (in units of
        the score of pure noise).
    footprint_fraction : float
        Pixels whose weight is below this fraction of the peak weight leave the footprint.
    classify : bool
        Keep only ROIs the classifier calls cells.
    patience : int
        With ``classify``, stop after this many candidates in a row that are not cells.
    random_state : int
        Unused randomness guard (the method is deterministic); kept for the API.

    Attributes
    ----------
    footprints_ : numpy.ndarray (n, H, W)
        Non-negative weights of each detected cell (peak 1).
    masks_ : numpy.ndarray (n, H, W), bool
    centroids_ : numpy.ndarray (n, 2)
        Weighted centres (row, col).
    features_ : numpy.ndarray (n_candidates, n_features)
    is_cell_ : numpy.ndarray (n_candidates,), bool
    mean_image_, correlation_image_ : numpy.ndarray (H, W)
    bin_frames_ : int
    """

    def __init__(self, cell_radius: float = 5.0, bin_seconds: float = 0.2, max_bins: int = 800,
                 max_cells: int = 500, threshold: float = 20.0, footprint_fraction: float = 0.25,
                 classify: bool = True, patience: int = 40, random_state: int = 0):
        self.cell_radius = cell_radius
        self.bin_seconds = bin_seconds
        self.max_bins = max_bins
        self.max_cells = max_cells
        self.threshold = threshold
        self.footprint_fraction = footprint_fraction
        self.classify = classify
        self.patience = patience
        self.random_state = random_state

    def _standardised(self, binned: np.ndarray) -> np.ndarray:
        from scipy.ndimage import gaussian_filter, uniform_filter1d

        x = binned.astype(np.float32, copy=True)
        # Slow temporal trends (bleaching, drift) out: a long running mean over bins.
        win = max(3, min(len(x), 61))
        x -= uniform_filter1d(x, win, axis=0, mode="nearest")
        # Spatially smooth structure (neuropil, background) out.
        x -= _smooth_frames(x, 3.0 * self.cell_radius)
        noise = 1.4826 * np.median(np.abs(np.diff(x, axis=0)), axis=0) / math.sqrt(2) + 1e-6
        x /= noise
        return x

    def _score(self, z: np.ndarray) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        s = max(0.5, self.cell_radius / 2.5)
        zs = gaussian_filter(z, (0, s, s), mode="nearest")
        # Smoothing shrinks the noise: restandardise so the score is in noise units.
        gain = 1.0 / math.sqrt(max(np.sum(_gauss_kernel(s) ** 2), 1e-6))
        zs *= gain
        return zs

    def fit(self, movie: Any, fs: float, edge: int = 2) -> "CellDetector":
        """Detect cells in a registered (T, H, W) movie sampled at ``fs`` Hz.

        ``edge``: border width (px) where no cell is seeded (the largest
        registration shift is a good value).
        """
        if not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
            raise NeuralscopeError("fs", "a frame rate > 0", fs)
        import dask.array as da

        mov = movie if isinstance(movie, da.Array) else da.from_array(np.asarray(movie), chunks=(200, -1, -1),
                                                                      name=False)
        binned, self.bin_frames_ = binned_movie(mov, max(1, int(round(self.bin_seconds * fs))), self.max_bins)
        self.mean_image_ = binned.mean(0)
        self.n_bins_ = int(len(binned))
        self.edge_ = max(1, int(edge))
        z = self._standardised(binned)
        del binned
        # Pixels near the border were filled by edge replication in some frames: they carry motion, not cells.
        e = self.edge_
        z[:, :e], z[:, -e:], z[:, :, :e], z[:, :, -e:] = 0, 0, 0, 0
        self._detect(z)
        return self

    def _detect(self, z: np.ndarray) -> None:
        from scipy.ndimage import label

        n_t, h, w = z.shape
        zs = self._score(z)
        thr = 2.5
        score = np.mean(np.maximum(zs - thr, 0.0) ** 2, axis=0)
        # Registration leaves replicated edge pixels: no seeds there.
        edge = self.edge_
        score[:edge], score[-edge:], score[:, :edge], score[:, -edge:] = 0, 0, 0, 0
        # Most pixels hold no cell: the median score is the level of noise (and faint neuropil).
        noise_score = float(np.median(score)) + 1e-9
        self.noise_score_ = noise_score
        self.correlation_image_ = _local_correlation(z)
        half = int(math.ceil(3.0 * self.cell_radius))
        rois: list[_Roi] = []
        min_area = max(4, int(0.15 * math.pi * self.cell_radius**2))
        max_area = int(4.0 * math.pi * self.cell_radius**2)
        suppressed = np.zeros((h, w), bool)
        from neuralscope.imaging.classifier import RoiClassifier

        clf = RoiClassifier.default() if self.classify else None
        since_cell = 0
        for _ in range(int(self.max_cells) * 3):
            sc = np.where(suppressed, 0.0, score)
            k = int(np.argmax(sc))
            py, px = divmod(k, w)
            if sc[py, px] < self.threshold * noise_score or len(rois) >= self.max_cells:
                break
            y0, y1, x0, x1 = max(0, py - half), min(h, py + half + 1), max(0, px - half), min(w, px + half + 1)
            zw = z[:, y0:y1, x0:x1]
            seed = zs[:, py, px]
            mask = None
            trace = seed
            for _it in range(3):
                active = trace >= max(thr, np.percentile(trace, 90))
                if active.sum() < 3:
                    active = trace >= np.sort(trace)[-3]
                ta = trace[active]
                wts = np.tensordot(ta, zw[active], axes=(0, 0)) / max(float(ta @ ta), 1e-9)
                sy, sx = py - y0, px - x0
                peak = float(wts[max(0, sy - 1):sy + 2, max(0, sx - 1):sx + 2].max())
                if peak <= 0:
                    mask = None
                    break
                lab, _ = label(wts >= self.footprint_fraction * peak)
                cand = lab == lab[sy, sx] if lab[sy, sx] else None
                if cand is None:
                    mask = None
                    break
                mask = cand
                wm = np.where(mask, np.maximum(wts, 0), 0.0)
                trace = np.tensordot(zw, wm, axes=((1, 2), (0, 1))) / max(float(np.sum(wm**2)), 1e-9)
            suppressed[max(0, py - 1):py + 2, max(0, px - 1):px + 2] = True
            if mask is None or not (min_area <= mask.sum() <= max_area):
                continue
            wm = np.where(mask, np.maximum(wts, 0), 0.0).astype(np.float32)
            # Take the cell out of the residual so overlapping neighbours can be found.
            z[:, y0:y1, x0:x1] -= trace[:, None, None].astype(np.float32) * wm[None]
            pad = int(math.ceil(4 * max(0.5, self.cell_radius / 2.5))) + 1  # reach of the score's smoothing
            oy, ox = max(0, y0 - pad), max(0, x0 - pad)
            zsw = self._score(z[:, oy:min(h, y1 + pad), ox:min(w, x1 + pad)])
            zs[:, oy:oy + zsw.shape[1], ox:ox + zsw.shape[2]] = zsw
            score[oy:oy + zsw.shape[1], ox:ox + zsw.shape[2]] = np.mean(np.maximum(zsw - thr, 0.0) ** 2, axis=0)
            roi = _Roi(wm / max(wm.max(), 1e-9), mask, (y0, y1, x0, x1), trace, float(sc[py, px]))
            rois.append(roi)
            if clf is not None:
                # Candidates come strongest first: after `patience` non-cells in a row, the rest is clutter.
                since_cell = 0 if clf.predict_proba(self._features(roi)[None])[0] >= 0.5 else since_cell + 1
                if since_cell >= self.patience:
                    break
        self._finish(rois, (h, w))

    def _features(self, r: _Roi) -> np.ndarray:
        base = roi_features(r.weights, r.mask, r.trace, self.cell_radius)
        return np.concatenate([base, [math.log(max(r.score, 1e-9) / self.noise_score_),
                                      _contrast(self.mean_image_, r.window, r.mask, self.cell_radius)]])

    def _finish(self, rois: list[_Roi], shape: tuple[int, int]) -> None:
        from neuralscope.imaging.classifier import RoiClassifier

        h, w = shape
        n = len(rois)
        fp = np.zeros((n, h, w), np.float32)
        for i, r in enumerate(rois):
            y0, y1, x0, x1 = r.window
            fp[i, y0:y1, x0:x1] = r.weights
        feats = np.array([self._features(r) for r in rois]).reshape(n, len(FEATURE_NAMES))
        self.candidate_footprints_ = fp
        self.features_ = feats
        self.scores_ = np.array([r.score for r in rois])
        if self.classify and n:
            self.cell_probability_ = RoiClassifier.default().predict_proba(feats)
            self.is_cell_ = self.cell_probability_ >= 0.5
        else:
            self.cell_probability_ = np.ones(n)
            self.is_cell_ = np.ones(n, bool)
        keep = self.is_cell_
        self.footprints_ = fp[keep]
        self.masks_ = self.footprints_ > 0
        self.centroids_ = _centroids(self.footprints_)


def _contrast(image: np.ndarray, window: tuple, mask: np.ndarray, radius: float) -> float:
    from scipy.ndimage import binary_dilation

    y0, y1, x0, x1 = window
    sub = image[y0:y1, x0:x1]
    ring = binary_dilation(mask, iterations=max(2, int(round(radius / 2)))) & ~mask
    if not ring.any():
        return 0.0
    sd = float(np.std(image)) + 1e-9
    return float((sub[mask].mean() - sub[ring].mean()) / sd)


def _smooth_frames(x: np.ndarray, sigma: float, batch: int = 64) -> np.ndarray:
    """Gaussian blur of each frame through the FFT (a wide kernel costs the same as a narrow one);
    frames are reflect-padded by 2 sigma so the edges do not wrap around."""
    import scipy.fft as sfft

    t, h, w = x.shape
    p = int(math.ceil(2 * sigma))
    hp, wp = sfft.next_fast_len(h + 2 * p, real=True), sfft.next_fast_len(w + 2 * p, real=True)
    fy = sfft.fftfreq(hp)[:, None]
    fx = sfft.rfftfreq(wp)[None, :]
    g = np.exp(-2 * (math.pi * sigma) ** 2 * (fy**2 + fx**2)).astype(np.float32)
    out = np.empty_like(x)
    for a in range(0, t, batch):
        blk = np.pad(x[a:a + batch], ((0, 0), (p, hp - h - p), (p, wp - w - p)), mode="reflect")
        sm = sfft.irfft2(sfft.rfft2(blk, workers=1) * g, s=(hp, wp), workers=1)
        out[a:a + batch] = sm[:, p:p + h, p:p + w]
    return out


def _gauss_kernel(sigma: float) -> np.ndarray:
    r = int(math.ceil(4 * sigma))
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    g /= g.sum()
    return np.outer(g, g)


def _local_correlation(z: np.ndarray) -> np.ndarray:
    """Mean temporal correlation of each pixel with its 4 neighbours."""
    x = z - z.mean(0)
    x /= np.sqrt(np.mean(x**2, 0)) + 1e-9
    acc = np.zeros(z.shape[1:])
    cnt = np.zeros(z.shape[1:])
    c = np.mean(x[:, 1:, :] * x[:, :-1, :], 0)
    acc[1:, :] += c
    acc[:-1, :] += c
    cnt[1:, :] += 1
    cnt[:-1, :] += 1
    c = np.mean(x[:, :, 1:] * x[:, :, :-1], 0)
    acc[:, 1:] += c
    acc[:, :-1] += c
    cnt[:, 1:] += 1
    cnt[:, :-1] += 1
    return (acc / cnt).astype(np.float32)


def _centroids(footprints: np.ndarray) -> np.ndarray:
    n, h, w = footprints.shape
    if n == 0:
        return np.zeros((0, 2))
    tot = footprints.sum(axis=(1, 2)) + 1e-12
    cy = (footprints.sum(2) @ np.arange(h)) / tot
    cx = (footprints.sum(1) @ np.arange(w)) / tot
    return np.stack([cy, cx], 1)


def detect_from_mean_image(image: np.ndarray, cell_radius: float = 5.0, threshold: float = 2.0,
                           min_distance: float | None = None) -> np.ndarray:
    """Somata from a mean image: blob enhancement, peaks, watershed regions.

    The image is normalised by its local mean and contrast, filtered with a
    difference of Gaussians matched to the cell size, and its local maxima
    above ``threshold`` (robust z units) seed a watershed restricted to the
    bright pixels around each peak.

    Returns
    -------
    numpy.ndarray (n, H, W), bool
        One mask per cell.
    """
    from scipy.ndimage import gaussian_filter
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    img = np.asarray(image, np.float64)
    if img.ndim != 2:
        raise NeuralscopeError("image", "a 2-D mean image", img.shape)
    bg = gaussian_filter(img, 4 * cell_radius)
    sd = np.sqrt(gaussian_filter((img - bg) ** 2, 4 * cell_radius)) + 1e-9
    e = (img - bg) / sd
    s = cell_radius / math.sqrt(2)
    dog = gaussian_filter(e, s) - gaussian_filter(e, 2.5 * s)
    z = (dog - np.median(dog)) / (1.4826 * np.median(np.abs(dog - np.median(dog))) + 1e-9)
    md = int(round(min_distance if min_distance is not None else cell_radius))
    peaks = peak_local_max(z, min_distance=max(1, md), threshold_abs=threshold, exclude_border=False)
    markers = np.zeros(img.shape, np.int32)
    for i, (y, x) in enumerate(peaks, start=1):
        markers[y, x] = i
    fg = z > 0.5 * threshold
    lab = watershed(-z, markers, mask=fg)
    masks = []
    max_area = 4 * math.pi * cell_radius**2
    for i in range(1, len(peaks) + 1):
        m = lab == i
        # Cap each region to a disk around its peak (watershed basins can spread along bright neuropil).
        y, x = peaks[i - 1]
        yy, xx = np.ogrid[:img.shape[0], :img.shape[1]]
        m &= (yy - y) ** 2 + (xx - x) ** 2 <= (1.6 * cell_radius) ** 2
        if 0.2 * math.pi * cell_radius**2 <= m.sum() <= max_area:
            masks.append(m)
    return np.array(masks, bool).reshape(len(masks), *img.shape)
