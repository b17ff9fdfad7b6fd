"""A light simulated two-photon rig that renders frames on demand.

Neurons fire (Poisson, modulated by a hidden behavioural state and by
stimulation), calcium follows AR(1) kinetics, somata and a textured
neuropil are drawn into a canvas that moves rigidly (smooth drift plus
jitter), and shot + read noise is added. Frames must be read in order:
stimulation changes what comes next. Everything is seeded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from neuralscope.core.errors import NeuralscopeError

STIMULUS_KEYS = {"targets", "rate_hz", "duration_s", "orientation", "contrast"}


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _render(static, npil_img, npil_val, indptr, rows, cols, weights, amp, dy, dx, noise_z, gain, read_sd,
            canvas, out):
    h, w = static.shape
    for y in range(h):
        for x in range(w):
            canvas[y, x] = static[y, x] + npil_val * npil_img[y, x]
    for i in range(indptr.shape[0] - 1):
        a = amp[i]
        if a != 0.0:
            for k in range(indptr[i], indptr[i + 1]):
                canvas[rows[k], cols[k]] += a * weights[k]
    # out(p) = canvas(p - shift), bilinear, edges clamped.
    fy0 = math.floor(-dy)
    fx0 = math.floor(-dx)
    ty = -dy - fy0
    tx = -dx - fx0
    w00 = (1.0 - ty) * (1.0 - tx)
    w01 = (1.0 - ty) * tx
    w10 = ty * (1.0 - tx)
    w11 = ty * tx
    for y in range(h):
        y0 = min(max(y + fy0, 0), h - 1)
        y1 = min(max(y + fy0 + 1, 0), h - 1)
        for x in range(w):
            x0 = min(max(x + fx0, 0), w - 1)
            x1 = min(max(x + fx0 + 1, 0), w - 1)
            v = w00 * canvas[y0, x0] + w01 * canvas[y0, x1] + w10 * canvas[y1, x0] + w11 * canvas[y1, x1]
            sd = math.sqrt(gain * max(v, 0.0) + read_sd * read_sd)
            out[y, x] = v + sd * noise_z[y, x]


@dataclass
class RigTruth:
    """Ground truth of the frames rendered so far (rows = frames)."""

    shifts: np.ndarray
    calcium: np.ndarray
    spikes: np.ndarray
    state: np.ndarray


class SimulatedRig:
    """Simulated neurons imaged in real time, with motion and stimulation.

    Parameters
    ----------
    height, width : int
        Frame size (pixels).
    n_rois : int
        Number of neurons (each one soma footprint).
    fs : float
        Frame rate (Hz).
    n_frames : int
        Session length (frames); motion and hidden state are drawn up front.
    seed : int
        Seed of the anatomy (footprints, texture); ``session`` adds to it for
        the dynamics, so sessions of one rig share the field of view.
    session : int
        Session number: a calibration session (``session=1``) sees the same
        cells with different activity and motion.
    motion_px : float
        Standard deviation of the slow rigid drift (pixels).
    tau_s : float
        Calcium decay time constant (seconds).
    base_rate_hz : float
        Mean spontaneous rate.
    state_fraction, state_gain : float
        Fraction of cells whose rate is multiplied by ``state_gain`` while the
        hidden state is 1 (a decodable "behavioural" state).
    state_dwell_s : float
        Mean duration of each hidden-state epoch.
    spike_amplitude : float
        dF/F added by one spike.
    brightness : float
        Mean soma baseline (photons per pixel per frame).
    noise : float
        Shot-noise gain (variance = noise * intensity) and read-noise SD scale.
    """

    def __init__(self, height: int = 512, width: int = 512, n_rois: int = 300, fs: float = 30.0,
                 n_frames: int = 3000, seed: int = 0, session: int = 0, motion_px: float = 2.0,
                 tau_s: float = 0.7, base_rate_hz: float = 0.4, state_fraction: float = 0.3,
                 state_gain: float = 6.0, state_dwell_s: float = 3.0, spike_amplitude: float = 0.5,
                 brightness: float = 150.0, noise: float = 2.0):
        for name, value in (("height", height), ("width", width), ("n_rois", n_rois), ("n_frames", n_frames)):
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise NeuralscopeError(name, "an integer >= 1", value)
        if height < 32 or width < 32:
            raise NeuralscopeError("height/width", "at least 32 pixels", (height, width))
        if not (math.isfinite(fs) and fs > 0):
            raise NeuralscopeError("fs", "a number > 0", fs)
        self.height, self.width, self.n_rois, self.fs = int(height), int(width), int(n_rois), float(fs)
        self.n_frames, self.seed, self.session = int(n_frames), int(seed), int(session)
        self.motion_px, self.tau_s, self.base_rate_hz = float(motion_px), float(tau_s), float(base_rate_hz)
        self.state_fraction, self.state_gain, self.state_dwell_s = float(state_fraction), float(state_gain), float(state_dwell_s)
        self.spike_amplitude, self.brightness, self.noise = float(spike_amplitude), float(brightness), float(noise)
        self._build_anatomy()
        self._build_session()

    # -- set-up ---------------------------------------------------------------------------------------------------
    def _build_anatomy(self) -> None:
        import scipy.sparse as sp
        from scipy.ndimage import gaussian_filter

        rng = np.random.default_rng([self.seed, 0])
        h, w, n = self.height, self.width, self.n_rois
        radii = rng.uniform(3.5, 5.5, size=n)
        margin = 8
        centers = np.empty((n, 2))
        min_dist = 1.6 * radii.mean()
        for i in range(n):  # rejection sampling: neighbours may touch, rarely overlap much
            for _ in range(200):
                c = rng.uniform([margin, margin], [h - margin, w - margin])
                if i == 0 or np.min(np.hypot(*(centers[:i] - c).T)) >= min_dist:
                    break
            centers[i] = c
        data, indices, indptr = [], [], [0]
        for (cy, cx), r in zip(centers, radii):
            ext = int(np.ceil(r + 1))
            ys, xs = np.mgrid[max(0, int(cy) - ext):min(h, int(cy) + ext + 2), max(0, int(cx) - ext):min(w, int(cx) + ext + 2)]
            d = np.hypot(ys - cy, xs - cx)
            keep = d <= r + 0.5
            wts = np.exp(-0.5 * (d[keep] / (0.6 * r)) ** 2)
            indices.append((ys[keep] * w + xs[keep]).ravel())
            data.append(wts / wts.max())
            indptr.append(indptr[-1] + int(keep.sum()))
        self.footprints = sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.array(indptr)), shape=(n, h * w))
        self.centers = centers
        self.f0 = self.brightness * rng.uniform(0.7, 1.3, size=n)
        texture = gaussian_filter(rng.standard_normal((h, w)), 3.0)
        texture /= texture.std()
        vessels = gaussian_filter(rng.standard_normal((h, w)), 12.0)
        vessels = np.clip(vessels / vessels.std(), -3, 3)
        self.background = (0.35 * self.brightness * (1.0 + 0.25 * texture + 0.2 * vessels)).clip(1.0).astype(np.float64)
        self.neuropil_image = (0.15 * self.brightness * (1.0 + 0.3 * vessels)).clip(0.0)
        static = self.background.ravel().copy()
        static += self.footprints.T @ self.f0
        self.static = static.reshape(h, w)
        self._csr = (self.footprints.indptr.astype(np.int64), (self.footprints.indices // w).astype(np.int64),
                     (self.footprints.indices % w).astype(np.int64), self.footprints.data.astype(np.float64))
        self.state_cells = np.sort(rng.choice(n, size=int(round(self.state_fraction * n)), replace=False))
        self.preferred_orientation = rng.uniform(0.0, 180.0, size=n)
        self.tuned = rng.random(n) < 0.5

    def _build_session(self) -> None:
        rng = np.random.default_rng([self.seed, 1 + self.session])
        t = self.n_frames
        # Motion: Ornstein-Uhlenbeck drift (2 s) plus frame-to-frame jitter.
        a = math.exp(-1.0 / (2.0 * self.fs))
        drift = np.zeros((t, 2))
        kicks = rng.standard_normal((t, 2)) * self.motion_px * math.sqrt(1 - a * a)
        drift[0] = rng.standard_normal(2) * self.motion_px
        for k in range(1, t):
            drift[k] = a * drift[k - 1] + kicks[k]
        self.true_shifts = drift + rng.standard_normal((t, 2)) * 0.1 * self.motion_px
        switch = 1.0 / (self.state_dwell_s * self.fs)
        flips = rng.random(t) < switch
        self.true_state = (np.cumsum(flips) % 2).astype(np.int8)
        self._rng = rng
        self.g = math.exp(-1.0 / (self.fs * self.tau_s))
        self.frame_shape = (self.height, self.width)
        self._calcium = np.zeros(self.n_rois)
        self._npil = 0.0
        self._active: list[tuple[int, np.ndarray]] = []
        self._next = 0
        self._canvas = np.empty((self.height, self.width))
        self._z = np.empty((self.height, self.width), dtype=np.float32)
        self.calcium_log = np.zeros((t, self.n_rois), dtype=np.float32)
        self.spike_log = np.zeros((t, self.n_rois), dtype=np.uint8)
        self.stimuli: list[tuple[int, dict]] = []

    def calibration_session(self, n_frames: int) -> "SimulatedRig":
        """Another session of the same field of view (same cells, new activity and motion)."""
        return SimulatedRig(self.height, self.width, self.n_rois, self.fs, n_frames, self.seed, self.session + 1,
                            self.motion_px, self.tau_s, self.base_rate_hz, self.state_fraction, self.state_gain,
                            self.state_dwell_s, self.spike_amplitude, self.brightness, self.noise)

    # -- the source interface -------------------------------------------------------------------------------------
    def stimulate(self, command: dict) -> None:
        """Apply a stimulus from the next frame on.

        ``{"targets": [rois], "rate_hz": 30, "duration_s": 0.3}`` drives the
        target cells (photostimulation); ``{"orientation": deg, "contrast": c,
        "duration_s": 0.5}`` drives orientation-tuned cells (a grating).
        """
        unknown = set(command) - STIMULUS_KEYS
        if unknown:
            raise NeuralscopeError("stimulus", f"keys among {sorted(STIMULUS_KEYS)}", sorted(unknown))
        duration = float(command.get("duration_s", 0.3))
        frames = max(1, int(round(duration * self.fs)))
        extra = np.zeros(self.n_rois)
        if "targets" in command:
            targets = np.asarray(command["targets"], dtype=int).ravel()
            if targets.size and (targets.min() < 0 or targets.max() >= self.n_rois):
                raise NeuralscopeError("stimulus targets", f"ROI indices in [0, {self.n_rois})", targets.tolist())
            extra[targets] += float(command.get("rate_hz", 30.0))
        if "orientation" in command:
            contrast = float(command.get("contrast", 1.0))
            d = np.deg2rad(2.0 * (float(command["orientation"]) - self.preferred_orientation))
            extra += self.tuned * 25.0 * contrast * np.exp(2.0 * (np.cos(d) - 1.0))
        self._active.append((self._next + frames, extra))  # stimuli add up while they overlap
        self.stimuli.append((self._next, dict(command)))

    def read(self, index: int) -> np.ndarray:
        """Render frame ``index`` (must be the next one) and return it (float32, H x W)."""
        if index != self._next:
            raise NeuralscopeError("frame index", f"the next frame ({self._next}); the rig renders in order", index)
        if index >= self.n_frames:
            raise NeuralscopeError("frame index", f"< n_frames ({self.n_frames})", index)
        dt = 1.0 / self.fs
        rate = np.full(self.n_rois, self.base_rate_hz)
        if self.true_state[index]:
            rate[self.state_cells] *= self.state_gain
        if self._active:
            self._active = [(until, extra) for until, extra in self._active if index < until]
            for _, extra in self._active:
                rate = rate + extra
        spikes = self._rng.poisson(rate * dt)
        self._calcium *= self.g
        self._calcium += self.spike_amplitude * spikes
        self._npil = 0.95 * self._npil + 0.05 * float(self._calcium.mean()) * 3.0
        self._rng.standard_normal(out=self._z, dtype=np.float32)
        out = np.empty((self.height, self.width), dtype=np.float32)
        dy, dx = self.true_shifts[index]
        _render(self.static, self.neuropil_image, self._npil, *self._csr, self.f0 * self._calcium, dy, dx, self._z,
                self.noise, 2.0 * self.noise, self._canvas, out)
        self.calcium_log[index] = self._calcium
        self.spike_log[index] = np.minimum(spikes, 255)
        self._next = index + 1
        return out

    def truth(self) -> RigTruth:
        """Ground truth of the frames rendered so far."""
        k = self._next
        return RigTruth(self.true_shifts[:k].copy(), self.calcium_log[:k].copy(), self.spike_log[:k].copy(),
                        self.true_state[:k].copy())

    def render(self, n_frames: int) -> np.ndarray:
        """The next ``n_frames`` frames as one (T, H, W) float32 array."""
        return np.stack([self.read(self._next) for _ in range(n_frames)])
