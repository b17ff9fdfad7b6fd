"""A two-photon movie simulator with ground truth.

The scene is a sum of spatial components times time courses: soma footprints
(cytosolic rings, optionally overlapping), dendrite-like processes and
out-of-focus cells with their own activity, neuropil fields driven by the
population, and a slowly bleaching background. Each frame is displaced by a
rigid shift plus (``preset="hard"``) a smooth non-rigid field, then photon shot
noise and read noise are added. Spikes and indicator kinetics come from
:mod:`neuralscope.datasets.calcium`.

- :func:`simulate_movie` -- the movie in memory with its ground truth
- :func:`simulate_movie_to_zarr` -- the same, streamed to a zarr store chunk by chunk
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets._checks import check_int, check_positive, check_rng

__all__ = ["MOVIE_PRESETS", "MoviePreset", "SimulatedMovie", "simulate_movie", "simulate_movie_to_zarr"]


@dataclass(frozen=True)
class MoviePreset:
    """Difficulty knobs of the simulator (see :data:`MOVIE_PRESETS`)."""

    min_distance: float = 2.2          # closest soma centres, in soma radii (< 2: overlaps)
    dendrites_per_cell: float = 0.0    # active dendrite-like processes per soma
    out_of_focus_per_cell: float = 0.0  # active blurred cells per soma
    photons: float = 60.0              # photons per pixel per frame at a soma's resting brightness
    read_noise: float = 2.0            # read-noise standard deviation (photon units)
    neuropil: float = 0.5              # neuropil brightness relative to a soma at rest
    rigid_px: float = 1.5              # standard deviation of the rigid shift (px)
    nonrigid_px: float = 0.0           # standard deviation of the non-rigid field at control points (px)
    rate_hz: float = 1.0               # mean firing rate
    firing: str = "poisson"
    bleach_tau_s: float = 600.0


MOVIE_PRESETS: dict[str, MoviePreset] = {
    "easy": MoviePreset(),
    "hard": MoviePreset(min_distance=1.1, dendrites_per_cell=0.5, out_of_focus_per_cell=0.3, photons=12.0,
                        read_noise=4.0, neuropil=0.9, rigid_px=3.0, nonrigid_px=1.2, rate_hz=0.7,
                        firing="bursts", bleach_tau_s=200.0),
}


@dataclass
class SimulatedMovie:
    """A simulated movie and its ground truth.

    Attributes
    ----------
    movie : numpy.ndarray or None
        Frames (T, H, W), float32 photon counts (None when streamed to zarr).
    footprints : numpy.ndarray
        Soma footprints (n_cells, H, W), peak 1, in reference (motion-free) coordinates.
    masks : numpy.ndarray
        Boolean soma masks (n_cells, H, W).
    centroids : numpy.ndarray
        Soma centres (n_cells, 2), row/col.
    spikes : numpy.ndarray
        Spike counts per frame (n_cells, T).
    calcium : numpy.ndarray
        Noise-free dF/F of each soma (n_cells, T).
    shifts : numpy.ndarray
        Displacement of each frame's content (T, 2; rows, cols, px): the rigid part
        plus the mean of the non-rigid field. ``frame(x) = scene(x - shift)``.
    field_grid : numpy.ndarray
        Full displacement at the control points (T, 2, gy, gx), rigid part included.
    grid_centres : tuple of numpy.ndarray
        Row and column positions of the control points.
    fs : float
    indicator : str
    preset : str
    """

    movie: np.ndarray | None
    footprints: np.ndarray
    masks: np.ndarray
    centroids: np.ndarray
    spikes: np.ndarray
    calcium: np.ndarray
    shifts: np.ndarray
    field_grid: np.ndarray
    grid_centres: tuple[np.ndarray, np.ndarray]
    fs: float
    indicator: str
    preset: str
    extra: dict = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        return int(self.footprints.shape[0])

    def displacement_at(self, points: np.ndarray) -> np.ndarray:
        """True displacement (T, n_points, 2) at pixel positions ``points`` (n x 2)."""
        from neuralscope.imaging._warp import field_at

        return field_at(self.field_grid, *self.grid_centres, points)


def _ar1(rng: np.random.Generator, n: int, phi: float, std: float, shape: tuple = ()) -> np.ndarray:
    x = np.zeros((n, *shape))
    e = rng.standard_normal((n, *shape)) * std * math.sqrt(1 - phi**2)
    x[0] = rng.standard_normal(shape) * std
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def _soma(rng, hs, ws, cy, cx, radius) -> np.ndarray:
    yy, xx = np.mgrid[0:hs, 0:ws].astype(np.float32)
    a = radius * rng.uniform(0.85, 1.15)
    b = a * rng.uniform(0.8, 1.0)
    th = rng.uniform(0, np.pi)
    dy, dx = yy - cy, xx - cx
    u = (dy * np.cos(th) + dx * np.sin(th)) / a
    v = (-dy * np.sin(th) + dx * np.cos(th)) / b
    r = np.sqrt(u**2 + v**2)
    img = 1.0 / (1.0 + np.exp(np.minimum((r - 1.0) / 0.08, 60.0)))          # soft-edged ellipse
    img *= 1.0 - 0.5 * np.exp(-(r / 0.45) ** 2)           # darker nucleus (cytosolic indicator)
    return (img / img.max()).astype(np.float32)


def _dendrite(rng, hs, ws, length) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    img = np.zeros((hs, ws), np.float32)
    y, x = rng.uniform(0, hs), rng.uniform(0, ws)
    ang = rng.uniform(0, 2 * np.pi)
    for _ in range(int(length * 2)):
        ang += rng.normal(0, 0.15)
        y, x = y + 0.5 * np.sin(ang), x + 0.5 * np.cos(ang)
        if 0 <= y < hs and 0 <= x < ws:
            img[int(y), int(x)] = 1.0
    img = gaussian_filter(img, 0.8)
    return img / max(img.max(), 1e-6)


def _smooth_field(rng, hs, ws, sigma) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal((hs, ws)), sigma)
    f = (f - f.min()) / max(np.ptp(f), 1e-9)
    return (0.4 + 0.6 * f).astype(np.float32)


class _Scene:
    """Components and time courses; renders frames in chunks."""

    def __init__(self, n_frames, shape, n_cells, fs, preset, indicator, cell_radius, rng):
        from neuralscope.datasets.calcium import simulate_spike_train, spikes_to_calcium

        h, w = shape
        motion = 3 * preset.rigid_px + 3 * preset.nonrigid_px
        self.margin = m = int(math.ceil(motion)) + 3
        hs, ws = h + 2 * m, w + 2 * m
        self.shape, self.n_frames = (h, w), n_frames
        # Soma centres: rejection sampling at the preset's minimum distance, inside the FOV.
        centres: list[tuple[float, float]] = []
        tries = 0
        while len(centres) < n_cells and tries < 20000:
            tries += 1
            c = (rng.uniform(cell_radius, h - cell_radius), rng.uniform(cell_radius, w - cell_radius))
            if all(math.hypot(c[0] - a, c[1] - b) >= preset.min_distance * cell_radius for a, b in centres):
                centres.append(c)
        if len(centres) < n_cells:
            raise NeuralscopeError("n_cells", f"at most {len(centres)} cells in a {h}x{w} field at this spacing",
                                   n_cells)
        comps, courses = [], []
        soma = [_soma(rng, hs, ws, cy + m, cx + m, cell_radius) for cy, cx in centres]
        duration = n_frames / fs
        counts, _ = simulate_spike_train(n_cells, duration, fs, preset.rate_hz, preset.firing, random_state=rng)
        counts = counts[:, :n_frames]
        amp = np.exp(rng.normal(0, 0.25, n_cells))
        cal = spikes_to_calcium(counts, fs, indicator, amplitude=amp * spikes_to_calcium_amp(indicator))
        base = rng.uniform(0.6, 1.4, n_cells)
        self.spikes, self.calcium = counts, cal.astype(np.float32)
        for i in range(n_cells):
            comps.append(soma[i])
            courses.append(base[i] * (1.0 + cal[i]))
        # Active structure that is not a soma: processes and out-of-focus cells.
        n_dend = int(round(preset.dendrites_per_cell * n_cells))
        n_oof = int(round(preset.out_of_focus_per_cell * n_cells))
        n_other = n_dend + n_oof
        if n_other:
            oc, _ = simulate_spike_train(n_other, duration, fs, preset.rate_hz, preset.firing, random_state=rng)
            ocal = spikes_to_calcium(oc[:, :n_frames], fs, indicator)
            for j in range(n_dend):
                comps.append(_dendrite(rng, hs, ws, rng.uniform(20, 50)))
                courses.append(0.7 * (1.0 + ocal[j]))
            from scipy.ndimage import gaussian_filter

            for j in range(n_oof):
                cy, cx = rng.uniform(0, hs), rng.uniform(0, ws)
                disk = _soma(rng, hs, ws, cy, cx, 2.0 * cell_radius)
                disk = gaussian_filter(disk, cell_radius)
                comps.append(disk / disk.max())
                courses.append(0.35 * (1.0 + ocal[n_dend + j]))
        # Neuropil: smooth fields, driven by (low-passed) population activity.
        from scipy.ndimage import gaussian_filter1d

        pop = gaussian_filter1d(cal.mean(0), fs * 0.5) if n_cells else np.zeros(n_frames)
        for k in range(2):
            comps.append(_smooth_field(rng, hs, ws, 10.0 + 10 * k))
            mix = gaussian_filter1d(rng.standard_normal(n_frames), fs * 2.0)
            courses.append(preset.neuropil * 0.5 * (1.0 + 2.0 * pop + 0.1 * mix / max(mix.std(), 1e-9)))
        # Background with vignetting, bleaching over the recording.
        yy, xx = np.mgrid[0:hs, 0:ws]
        vign = np.exp(-(((yy - hs / 2) / hs) ** 2 + ((xx - ws / 2) / ws) ** 2)).astype(np.float32)
        comps.append(vign)
        courses.append(np.full(n_frames, 0.2))
        bleach = np.exp(-np.arange(n_frames) / (fs * preset.bleach_tau_s))
        self.components = np.stack(comps).reshape(len(comps), -1).astype(np.float32)
        self.courses = (np.stack(courses) * bleach).astype(np.float32)
        self.scene_shape = (hs, ws)
        self.footprints = np.stack([s[m:m + h, m:m + w] for s in soma]) if n_cells else np.zeros((0, h, w), np.float32)
        self.masks = self.footprints > 0.5
        self.centroids = np.array(centres, dtype=float).reshape(-1, 2)
        # Motion: a rigid AR(1) walk plus a smooth field on a 3 x 3 grid of control points.
        rigid = _ar1(rng, n_frames, 0.95, preset.rigid_px, (2,))
        gy = gx = 3 if preset.nonrigid_px > 0 else 1
        self.centres = (np.linspace(0, h - 1, gy) if gy > 1 else np.array([(h - 1) / 2]),
                        np.linspace(0, w - 1, gx) if gx > 1 else np.array([(w - 1) / 2]))
        grid = np.repeat(rigid[:, :, None, None], gy, 2).repeat(gx, 3)
        if preset.nonrigid_px > 0:
            nr = _ar1(rng, n_frames, 0.98, preset.nonrigid_px, (2, gy, gx))
            grid = grid + nr - nr.mean(axis=(2, 3), keepdims=True) * 0.5
        self.grid = grid.astype(np.float32)
        self.shifts = self.grid.mean(axis=(2, 3)) if gy > 1 else self.grid[:, :, 0, 0].copy()
        self.photons, self.read_noise = preset.photons, preset.read_noise
        self.noise_rng = np.random.default_rng(rng.integers(2**63))

    def render(self, t0: int, t1: int) -> np.ndarray:
        from neuralscope.imaging._warp import warp_frames

        hs, ws = self.scene_shape
        scene = (self.courses[:, t0:t1].T @ self.components).reshape(t1 - t0, hs, ws)
        m = self.margin
        # frame(x) = scene(x - d(x)): sample the scene at x + margin - d.
        frames = warp_frames(scene, -self.grid[t0:t1], *self.centres, out_shape=self.shape, offset=(m, m))
        lam = np.maximum(frames * self.photons, 0.0)
        rng = np.random.default_rng([self.noise_rng.integers(2**32), t0])  # chunk-order independent
        noisy = lam + np.sqrt(lam) * rng.standard_normal(lam.shape, dtype=np.float32)
        noisy += self.read_noise * rng.standard_normal(lam.shape, dtype=np.float32)
        return noisy.astype(np.float32)


def spikes_to_calcium_amp(indicator: str) -> float:
    from neuralscope.datasets.calcium import INDICATORS

    if indicator not in INDICATORS:
        raise NeuralscopeError("indicator", f"one of {sorted(INDICATORS)}", indicator)
    return INDICATORS[indicator].amplitude


def _build(n_frames, shape, n_cells, fs, preset, indicator, cell_radius, random_state, overrides):
    n_frames = check_int(n_frames, "n_frames")
    n_cells = check_int(n_cells, "n_cells", minimum=0)
    fs = check_positive(fs, "fs")
    cell_radius = check_positive(cell_radius, "cell_radius")
    if isinstance(preset, str):
        if preset not in MOVIE_PRESETS:
            raise NeuralscopeError("preset", f"one of {sorted(MOVIE_PRESETS)} or a MoviePreset", preset)
        name, params = preset, MOVIE_PRESETS[preset]
    elif isinstance(preset, MoviePreset):
        name, params = "custom", preset
    else:
        raise NeuralscopeError("preset", "a preset name or a MoviePreset", preset)
    if overrides:
        params = replace(params, **overrides)
    if len(shape) != 2 or min(shape) < 16:
        raise NeuralscopeError("shape", "(rows, cols), each >= 16", shape)
    spikes_to_calcium_amp(indicator)
    return name, _Scene(n_frames, tuple(int(s) for s in shape), n_cells, fs, params, indicator, cell_radius,
                        check_rng(random_state))


def _result(scene: _Scene, movie, fs, indicator, name) -> SimulatedMovie:
    return SimulatedMovie(movie=movie, footprints=scene.footprints, masks=scene.masks, centroids=scene.centroids,
                          spikes=scene.spikes, calcium=scene.calcium, shifts=scene.shifts, field_grid=scene.grid,
                          grid_centres=scene.centres, fs=fs, indicator=indicator, preset=name)


def simulate_movie(n_frames: int = 1000, shape: tuple[int, int] = (128, 128), n_cells: int = 30, fs: float = 30.0,
                   preset: str | MoviePreset = "easy", indicator: str = "GCaMP6f", cell_radius: float = 5.0,
                   random_state: Any = 0, chunk_frames: int = 250, **overrides: Any) -> SimulatedMovie:
    """Simulate a two-photon movie with known cells, spikes and motion.

    Parameters
    ----------
    n_frames : int
    shape : (int, int)
        Frame size (rows, cols).
    n_cells : int
        Number of somata (ground-truth cells).
    fs : float
        Frame rate (Hz).
    preset : {"easy", "hard"} or MoviePreset
        ``"hard"``: overlapping somata, dendrites, out-of-focus cells, low SNR,
        stronger neuropil, rigid plus non-rigid motion, bursty firing.
    indicator : str
        A key of :data:`neuralscope.datasets.calcium.INDICATORS` (GCaMP6f/6s/8, OGB-1, ...).
    cell_radius : float
        Mean soma radius (px).
    random_state : int or numpy.random.Generator
    chunk_frames : int
        Frames rendered at a time.
    **overrides
        Fields of :class:`MoviePreset` to change (e.g. ``photons=30``).

    Returns
    -------
    SimulatedMovie
    """
    name, scene = _build(n_frames, shape, n_cells, fs, preset, indicator, cell_radius, random_state, overrides)
    movie = np.empty((n_frames, *scene.shape), np.float32)
    for t0 in range(0, n_frames, chunk_frames):
        t1 = min(n_frames, t0 + chunk_frames)
        movie[t0:t1] = scene.render(t0, t1)
    return _result(scene, movie, fs, indicator, name)


def simulate_movie_to_zarr(path: str | Path, n_frames: int = 1000, shape: tuple[int, int] = (128, 128),
                           n_cells: int = 30, fs: float = 30.0, preset: str | MoviePreset = "easy",
                           indicator: str = "GCaMP6f", cell_radius: float = 5.0, random_state: Any = 0,
                           chunk_frames: int = 250, dtype: Any = np.float32, **overrides: Any) -> SimulatedMovie:
    """Like :func:`simulate_movie`, but the frames go to a zarr array chunk by
    chunk (memory stays at one chunk), for movies larger than memory.

    Returns
    -------
    SimulatedMovie
        With ``movie=None``; the frames are in ``path``.
    """
    import zarr

    name, scene = _build(n_frames, shape, n_cells, fs, preset, indicator, cell_radius, random_state, overrides)
    target = Path(path)
    if target.exists():
        raise NeuralscopeError("path", "a zarr path that does not exist yet", str(target))
    arr = zarr.create_array(str(target), shape=(n_frames, *scene.shape), chunks=(chunk_frames, *scene.shape),
                            dtype=dtype, compressors=None)
    for t0 in range(0, n_frames, chunk_frames):
        t1 = min(n_frames, t0 + chunk_frames)
        frames = scene.render(t0, t1)
        if np.dtype(dtype).kind in "ui":
            frames = np.clip(np.rint(frames), 0, np.iinfo(dtype).max)
        arr[t0:t1] = frames.astype(dtype)
    return _result(scene, None, fs, indicator, name)
