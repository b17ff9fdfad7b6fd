"""Deep spike inference: a small dilated 1-D CNN from dF/F to expected spikes.

Every trace is resampled to the model frame rate (25 Hz by default, the
Spikefinder scoring rate) with an integral-conserving box filter, fed with its
CASCADE noise level as a second channel, and the output (expected spikes per
model frame, softplus) is moved back to the input frames conserving the sum.
Training (``fit``, run by ``scripts/train_spike_inference.py``) regresses the
ground-truth counts smoothed by a 25 ms Gaussian, so the amplitude is calibrated.
Weights are saved as ``.npz`` arrays plus a JSON config (no pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuralscope.core.errors import NeuralscopeError
from neuralscope.imaging.spikes.resample import n_frames_at, resample_counts, resample_trace

__all__ = ["DEFAULT_MODEL", "DeepSpikeInference", "SpikeNet", "TrainingTrace", "remove_baseline"]

#: File stem of the shipped model inside ``imaging/spikes/data``.
DEFAULT_MODEL = "deep_spikes_v1"
_NOISE_SCALE = 0.1  # noise levels are ~1-10 (% / sqrt(Hz)); the network sees ~0.1-1


class SpikeNet(nn.Module):
    """Non-causal dilated CNN with residual blocks (about 9k parameters, +-3.2 s receptive field at 25 Hz)."""

    def __init__(self, channels: int = 16, kernel: int = 7, dilations: tuple[int, ...] = (1, 2, 4, 8, 16)):
        super().__init__()
        self.inp = nn.Conv1d(2, channels, 9, padding=4)
        self.blocks = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2) for d in dilations)
        self.out = nn.Conv1d(channels, 1, 1)
        self.act = nn.ELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.inp(x))
        for conv in self.blocks:
            h = h + self.act(conv(h))
        return nn.functional.softplus(self.out(h)).squeeze(1)

    @property
    def receptive_field(self) -> int:
        return 9 + sum(c.dilation[0] * (c.kernel_size[0] - 1) for c in self.blocks)


@dataclass
class TrainingTrace:
    """One ground-truth recording: dF/F at its frame rate and spike counts per frame."""

    dff: np.ndarray
    spikes: np.ndarray
    fs: float
    name: str = ""
    # Model-rate inputs/targets, keyed by (model_fs, smoothing): reused when one recording
    # serves several trainings (the folds of a benchmark).
    cache: dict = field(default_factory=dict, repr=False, compare=False)


def _noise_level(x: np.ndarray, fs: float) -> np.ndarray:
    return np.median(np.abs(np.diff(x, axis=-1)), axis=-1) / np.sqrt(fs) * 100.0


def remove_baseline(xm: np.ndarray, fs: float, block: float = 30.0, percentile: float = 10.0) -> np.ndarray:
    """Subtract a slow baseline: the low percentile of the 0.5 s-smoothed trace in 30 s blocks, interpolated.

    Real dF/F often sits above zero (F0 under-estimated) or drifts; the network
    only sees +-3 s, so the offset is removed first (same step in training).
    """
    from scipy.ndimage import uniform_filter1d

    x2 = np.atleast_2d(xm)
    n = x2.shape[-1]
    smooth = uniform_filter1d(x2, max(1, int(round(0.5 * fs))), axis=-1, mode="nearest")
    size = max(1, int(round(block * fs)))
    n_blocks = max(1, n // size)
    bounds = np.linspace(0, n, n_blocks + 1).astype(int)
    levels = np.stack([np.percentile(smooth[:, a:b], percentile, axis=-1) for a, b in zip(bounds[:-1], bounds[1:])],
                      axis=-1)
    if n_blocks == 1:
        base = np.repeat(levels, n, axis=-1)
    else:
        centres = (bounds[:-1] + bounds[1:]) / 2.0
        grid = np.arange(n)
        base = np.stack([np.interp(grid, centres, row) for row in levels])
    return (x2 - base).reshape(np.shape(xm))


class DeepSpikeInference:
    """The deep spike-inference model (scikit-learn style hyper-parameters).

    Parameters
    ----------
    model_fs : float
        Frame rate (Hz) the network works at.
    channels : int
        Width of the network.
    window : int
        Training window (model frames).
    n_steps : int
        Optimiser steps of ``fit``.
    batch_size : int
    learning_rate : float
    smoothing : float
        Standard deviation (s) of the Gaussian applied to training targets.
    loss_weighting : {"none", "variance"}
        ``"variance"`` weights each trace's squared error by 1 / var(target).
    random_state : int

    Attributes
    ----------
    net_ : SpikeNet
    name_ : str
        Which model this is (shown by :func:`~neuralscope.imaging.spikes.infer_spikes`).
    model_fs_ : float
    history_ : list of float
        Training loss every 50 steps.
    """

    def __init__(self, model_fs: float = 25.0, channels: int = 16, window: int = 320, n_steps: int = 3000,
                 batch_size: int = 48, learning_rate: float = 3e-3, smoothing: float = 0.025,
                 loss_weighting: str = "none", random_state: int = 0):
        self.model_fs = model_fs
        self.channels = channels
        self.window = window
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.smoothing = smoothing
        self.loss_weighting = loss_weighting
        self.random_state = random_state

    # ---------------------------------------------------------------- inference
    def _inputs(self, x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
        nu = _noise_level(x, fs)
        xm = remove_baseline(resample_trace(x, fs, self.model_fs_), self.model_fs_)
        return xm, nu

    def predict_model_rate(self, xm: np.ndarray, nu: np.ndarray, batch_size: int = 256,
                           chunk: int = 30000) -> np.ndarray:
        """Network output for traces already at the model rate (expected spikes per model frame).

        Long traces run in time chunks of ``chunk`` frames overlapping by the
        receptive field, so memory stays bounded and the result equals one pass.
        """
        n, length = xm.shape
        out = np.empty((n, length), dtype=np.float64)
        pad = self.net_.receptive_field // 2 + 1
        chunk = max(chunk, 4 * pad)
        rows = max(1, min(batch_size, 2_000_000 // min(length + 2 * pad, chunk + 2 * pad)))
        self.net_.eval()
        with torch.no_grad():
            for i in range(0, n, rows):
                for s in range(0, length, chunk):
                    a, e = max(0, s - pad), min(length, s + chunk + pad)
                    xb = torch.as_tensor(xm[i:i + rows, a:e], dtype=torch.float32)
                    nb = torch.as_tensor(nu[i:i + rows] * _NOISE_SCALE, dtype=torch.float32)[:, None].expand_as(xb)
                    y = self.net_(torch.stack([xb, nb], dim=1)).numpy()
                    stop = min(length, s + chunk)
                    out[i:i + rows, s:stop] = y[:, s - a:s - a + stop - s]
        return out

    def predict(self, dff: Any, fs: float, batch_size: int = 256) -> np.ndarray:
        """Expected spikes per input frame, shape of ``dff`` ((n, T) or (T,))."""
        x = np.asarray(dff, dtype=float)
        x2 = np.atleast_2d(x)
        xm, nu = self._inputs(x2, fs)
        rates_m = self.predict_model_rate(xm, nu, batch_size)
        rates = resample_counts(rates_m, self.model_fs_, fs, x2.shape[-1])
        return rates.reshape(x.shape)

    # ---------------------------------------------------------------- training
    def _prepare(self, traces: list[TrainingTrace]) -> list[tuple[np.ndarray, np.ndarray, float]]:
        from scipy.ndimage import gaussian_filter1d

        prepared = []
        for tr in traces:
            n_out = n_frames_at(tr.dff.size, tr.fs, self.model_fs)
            if n_out < self.window:
                continue
            key = (float(self.model_fs), float(self.smoothing), self.loss_weighting)
            if key in tr.cache:
                prepared.append(tr.cache[key])
                continue
            xm = remove_baseline(resample_trace(tr.dff, tr.fs, self.model_fs, n_out), self.model_fs)
            ym = resample_counts(tr.spikes, tr.fs, self.model_fs, n_out)
            if self.smoothing > 0:
                ym = gaussian_filter1d(ym, self.smoothing * self.model_fs, mode="constant")
            # Plain MSE (weight 1) keeps the output the conditional mean, i.e. calibrated counts;
            # weighting traces by 1 / var(target) raised r slightly but under-counted dense firing.
            weight = 1.0 if self.loss_weighting == "none" else 1.0 / max(float(np.var(ym)), 1e-3)
            tr.cache[key] = (xm.astype(np.float32), ym.astype(np.float32), float(_noise_level(tr.dff, tr.fs)),
                             weight)
            prepared.append(tr.cache[key])
        if not prepared:
            raise NeuralscopeError("traces", f"recordings longer than {self.window} model frames", len(traces))
        return prepared

    def fit(self, traces: list[TrainingTrace], init: DeepSpikeInference | None = None,
            weights: list[float] | None = None, log: Any = None) -> DeepSpikeInference:
        """Train on ground-truth recordings (random windows, MSE on smoothed counts).

        Parameters
        ----------
        traces : list of TrainingTrace
        init : DeepSpikeInference, optional
            Start from this model's weights (fine-tuning).
        weights : list of float, optional
            Sampling weight of each trace (default: proportional to length).
        log : callable, optional
            Called with a progress line every 250 steps.
        """
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        self.model_fs_ = float(self.model_fs)
        data = self._prepare(traces)
        self.net_ = SpikeNet(self.channels)
        if init is not None:
            self.net_.load_state_dict(init.net_.state_dict())
        lengths = np.array([d[0].size for d in data], float)
        p = lengths if weights is None else np.asarray(weights, float)[: len(data)] * lengths
        p = p / p.sum()
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.learning_rate, total_steps=self.n_steps)
        edge = min(self.net_.receptive_field // 2, self.window // 4, 64)  # score the interior of each window
        self.history_ = []
        running = 0.0
        self.net_.train()
        for step in range(self.n_steps):
            idx = rng.choice(len(data), self.batch_size, p=p)
            xb = np.empty((self.batch_size, self.window), np.float32)
            yb = np.empty_like(xb)
            nb = np.empty(self.batch_size, np.float32)
            wb = np.empty(self.batch_size, np.float32)
            for j, k in enumerate(idx):
                xm, ym, nu, wt = data[k]
                s = rng.integers(0, xm.size - self.window + 1)
                xb[j], yb[j], nb[j], wb[j] = xm[s:s + self.window], ym[s:s + self.window], nu, wt
            xt = torch.from_numpy(xb)
            nt = torch.from_numpy(nb * _NOISE_SCALE)[:, None].expand_as(xt)
            pred = self.net_(torch.stack([xt, nt], dim=1))
            sq = ((pred - torch.from_numpy(yb))[:, edge:-edge] ** 2).mean(dim=1)
            loss = (sq * torch.from_numpy(wb)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item()
            if (step + 1) % 50 == 0:
                self.history_.append(running / 50)
                running = 0.0
            if log is not None and (step + 1) % 250 == 0:
                log(f"step {step + 1}/{self.n_steps} loss {self.history_[-1]:.5f}")
        self.net_.eval()
        self.name_ = "deep (custom)"
        return self

    # ---------------------------------------------------------------- storage
    def save(self, path: str | Path, name: str, notes: str = "") -> None:
        """Write ``PATH.npz`` (weights, float32) and ``PATH.json`` (config)."""
        path = Path(path)
        state = {k: v.detach().numpy().astype(np.float32) for k, v in self.net_.state_dict().items()}
        np.savez_compressed(path.with_suffix(".npz"), **state)
        config = {"name": name, "model_fs": self.model_fs_, "channels": self.channels, "notes": notes,
                  "n_parameters": int(sum(v.size for v in state.values()))}
        path.with_suffix(".json").write_text(json.dumps(config, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> DeepSpikeInference:
        """Load a model written by :meth:`save`."""
        path = Path(path)
        config = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        model = cls(model_fs=config["model_fs"], channels=config["channels"])
        model.model_fs_ = float(config["model_fs"])
        model.net_ = SpikeNet(config["channels"])
        with np.load(path.with_suffix(".npz")) as z:
            model.net_.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files})
        model.net_.eval()
        model.name_ = config["name"]
        return model

    _default: DeepSpikeInference | None = None

    @classmethod
    def load_default(cls) -> DeepSpikeInference:
        """The model shipped in ``neuralscope/imaging/spikes/data`` (cached)."""
        if cls._default is None:
            with resources.as_file(resources.files("neuralscope.imaging.spikes") / "data" / DEFAULT_MODEL) as p:
                if not p.with_suffix(".npz").exists():
                    raise FileNotFoundError(f"shipped spike model {p.with_suffix('.npz')} is missing")
                cls._default = cls.load(p)
        return cls._default
