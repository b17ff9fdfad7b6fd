"""Sequential variational auto-encoder for single-trial latent dynamics (LFADS-class).

:class:`SequentialVAE` infers, from one trial's binned spikes, an initial
condition (and optionally inputs) of a generator RNN whose low-dimensional
factors give every neuron's firing rate. It is trained on many trials with the
evidence lower bound (Poisson likelihood plus KL terms, the KL weight warmed
up from 0), with coordinated dropout, and early stopping on validation trials.
The network is in :mod:`neuralscope.manifold.seqvae_model`; it follows the
description of LFADS in Pandarinath et al. (2018, Nature Methods 15:805) and of
coordinated dropout in Keshtkaran & Pandarinath (2019, NeurIPS).

Co-smoothing (Neural Latents Benchmark): pass ``heldout_neurons`` to
:meth:`SequentialVAE.fit`. Those neurons are read out (their training spikes
enter the likelihood) but never fed to the encoders, so at test time their
rates are predicted from the held-in neurons alone.

Reproducibility: a fit draws one seed from ``random_state``; it seeds a numpy
Generator (validation split, batch order) and torch (weights, dropout, masks,
posterior samples). Torch's global generator is forked during the fit, and
torch's thread settings are never touched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import TrialActivity
from neuralscope.core.validation import check_array
from neuralscope._torch import resolve_device
from neuralscope.manifold.nlb import bits_per_spike
from neuralscope.manifold.seqvae_model import SeqVAENetwork

__all__ = ["SequentialVAE"]

# Gradient-norm clip (on the per-bin-normalised loss): RNN training on spikes
# occasionally produces a huge gradient that would wreck the weights.
_CLIP_NORM = 5.0
# Validation improvements smaller than this (nats per bin) do not reset patience.
_MIN_DELTA = 1e-5
# Learning-rate schedule: halve the rate when the validation loss has not
# improved for a third of ``patience`` epochs (down to 1/16 of ``lr``). The
# ELBO's mini-batch noise otherwise keeps the weights rattling around the
# optimum; a smaller step lets them settle.
_LR_FACTOR = 0.5
_MIN_LR_RATIO = 1.0 / 16.0
# Trials per inference chunk: bounds memory on large data sets.
_CHUNK = 512
_INT_PARAMS = ("n_factors", "encoder_size", "generator_size", "controller_size", "batch_size", "max_epochs",
               "patience")


def _as_float(value: Any) -> float:
    """``float(value)``, or NaN (which fails every range check) when impossible."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


class SequentialVAE(TransformerMixin, BaseEstimator):
    """LFADS-class sequential VAE: smoothed single-trial rates and latent factors.

    Parameters
    ----------
    n_factors : int
        Dimension of the latent factors returned by :meth:`transform`.
    encoder_size : int
        Hidden units per direction of the initial-condition encoder GRU.
    generator_size : int
        Hidden units of the generator GRU (and dimension of its initial state).
    n_inputs : int
        Dimension of the inferred inputs (0: autonomous dynamics, faster; > 0
        adds the controller path for input-driven systems).
    controller_size : int
        Hidden units of the controller GRU and of its encoder (per direction).
    dropout : float
        Dropout on encoder outputs and generator states, in [0, 1).
    coordinated_dropout : float
        Share of held-in input entries (neuron x bin) hidden from the encoders
        at each training step; the likelihood of held-in neurons is scored only
        on the hidden entries, so the network cannot learn to copy its input
        (Keshtkaran & Pandarinath 2019). In [0, 1); 0 disables it.
    kl_warmup : int
        Epochs over which the KL weight ramps linearly from 0 to
        ``kl_weight``; early stopping starts counting after it.
    kl_weight : float
        Final weight of the KL terms (1 is the ELBO).
    link : {"exp", "softplus"}
        Rate non-linearity applied to the read-out.
    lr, weight_decay : float
        AdamW learning rate and decoupled weight decay.
    batch_size : int
        Trials per mini-batch.
    max_epochs, patience : int
        At most ``max_epochs`` passes; stop after ``patience`` epochs (past the
        warm-up) without a better validation loss, then restore the best
        weights. The learning rate is halved after ``patience // 3`` epochs
        without improvement (down to ``lr / 16``).
    validation_fraction : float
        Share of the fit trials used for early stopping, in [0, 1) (0 trains for
        ``max_epochs`` and keeps the last weights).
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:i]"``.
    random_state : int, RandomState or None
        Seed; the same int gives identical results on the CPU.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained network (evaluation mode).
    n_features_in_ : int
        Neurons in the fit data (held-in plus held-out).
    heldin_, heldout_ : ndarray of int
        Indices of the neurons fed to the encoders and of those only read out.
    history_ : dict
        ``"train_loss"`` (negative ELBO per bin, warm-up weighted) and
        ``"val_loss"`` (negative ELBO per bin, full KL, posterior means).
    best_epoch_, n_epochs_ : int
        Epoch of the kept weights (0-based) and epochs run.
    device_ : torch.device

    Examples
    --------
    >>> from neuralscope.datasets.lorenz import simulate_lorenz_population
    >>> act = simulate_lorenz_population(n_neurons=10, n_trials=20, n_time=20, n_conditions=4)
    >>> vae = SequentialVAE(n_factors=3, encoder_size=8, generator_size=8, max_epochs=2,
    ...                     device="cpu", random_state=0).fit(act.data)
    >>> vae.transform(act.data).shape, vae.predict_rates(act.data).shape
    ((20, 3, 20), (20, 10, 20))
    """

    def __init__(
        self,
        n_factors: int = 8,
        *,
        encoder_size: int = 64,
        generator_size: int = 64,
        n_inputs: int = 0,
        controller_size: int = 32,
        dropout: float = 0.1,
        coordinated_dropout: float = 0.3,
        kl_warmup: int = 30,
        kl_weight: float = 1.0,
        link: str = "exp",
        lr: float = 5e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 32,
        max_epochs: int = 300,
        patience: int = 30,
        validation_fraction: float = 0.2,
        device: str = "auto",
        random_state: Any = None,
    ):
        self.n_factors = n_factors
        self.encoder_size = encoder_size
        self.generator_size = generator_size
        self.n_inputs = n_inputs
        self.controller_size = controller_size
        self.dropout = dropout
        self.coordinated_dropout = coordinated_dropout
        self.kl_warmup = kl_warmup
        self.kl_weight = kl_weight
        self.link = link
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------- checking
    def _check_params(self) -> None:
        for name in _INT_PARAMS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise NeuralscopeError(name, "an integer >= 1", value)
        for name in ("n_inputs", "kl_warmup"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise NeuralscopeError(name, "an integer >= 0", value)
        for name in ("dropout", "coordinated_dropout", "validation_fraction"):
            if not 0.0 <= _as_float(getattr(self, name)) < 1.0:
                raise NeuralscopeError(name, "a fraction in [0, 1)", getattr(self, name))
        if not _as_float(self.lr) > 0:
            raise NeuralscopeError("lr", "a positive learning rate", self.lr)
        for name in ("weight_decay", "kl_weight"):
            if not _as_float(getattr(self, name)) >= 0:
                raise NeuralscopeError(name, "a non-negative number", getattr(self, name))
        if self.link not in ("exp", "softplus"):
            raise NeuralscopeError("link", "'exp' or 'softplus'", self.link)

    @staticmethod
    def _as_trials(X: Any, name: str = "X") -> np.ndarray:
        if isinstance(X, TrialActivity):
            X = X.data
        arr = check_array(X, name, ndim=3, finite=False)
        if arr.shape[1] < 1 or arr.shape[2] < 1:
            raise NeuralscopeError(name, "at least one neuron and one time bin", f"shape {arr.shape}")
        return arr

    @staticmethod
    def _check_counts(arr: np.ndarray, name: str) -> None:
        if not np.all(np.isfinite(arr)):
            n_bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
            raise NeuralscopeError(name, "finite spike counts (no NaN or inf)", f"{n_bad} non-finite values")
        if arr.size and arr.min() < 0:
            raise NeuralscopeError(name, "non-negative spike counts", f"minimum {arr.min()!r}")

    def _neuron_split(self, n_neurons: int, heldout: Any) -> tuple[np.ndarray, np.ndarray]:
        all_idx = np.arange(n_neurons)
        if heldout is None:
            return all_idx, all_idx[:0]
        idx = np.asarray(heldout)
        if idx.dtype == bool:
            if idx.shape != (n_neurons,):
                raise NeuralscopeError("heldout_neurons", f"a boolean mask of {n_neurons} neurons", idx.shape)
            idx = np.flatnonzero(idx)
        if idx.ndim != 1 or idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= n_neurons)):
            raise NeuralscopeError("heldout_neurons", f"neuron indices in [0, {n_neurons})", heldout)
        idx = np.unique(idx)
        if idx.size >= n_neurons:
            raise NeuralscopeError("heldout_neurons", "at least one held-in neuron", f"{idx.size} held out")
        return np.setdiff1d(all_idx, idx), idx

    # --------------------------------------------------------------- helpers
    def _rates(self, activation: torch.Tensor) -> torch.Tensor:
        if self.link == "exp":
            return torch.exp(activation.clamp(max=15.0))
        return F.softplus(activation) + 1e-6

    def _nll(self, activation: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Poisson NLL per entry (without the log k! constant)."""
        if self.link == "exp":
            act = activation.clamp(max=15.0)
            return torch.exp(act) - counts * act
        rates = self._rates(activation)
        return rates - counts * torch.log(rates)

    @staticmethod
    def _encoder_input(counts: torch.Tensor) -> torch.Tensor:
        # log1p compresses bursts (tens of spikes per bin) that would otherwise
        # saturate the GRU gates.
        return torch.log1p(counts)

    # --------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any = None, heldout_neurons: Any = None) -> SequentialVAE:
        """Train on trials of binned spike counts.

        Parameters
        ----------
        X : array-like of shape (n_trials, n_neurons, n_time) or TrialActivity
            Non-negative spike counts (all neurons, held-out ones included).
        y : None
            Ignored (present for scikit-learn pipelines).
        heldout_neurons : array-like of int or bool, optional
            Neurons read out but not given to the encoders (co-smoothing).

        Returns
        -------
        self
        """
        self._check_params()
        data = self._as_trials(X)
        self._check_counts(data, "X")
        n_trials, n_neurons, _ = data.shape
        if n_trials < 2:
            raise NeuralscopeError("X", "at least 2 trials", f"{n_trials} trial")
        self.heldin_, self.heldout_ = self._neuron_split(n_neurons, heldout_neurons)
        self.n_features_in_ = int(n_neurons)
        device = resolve_device(self.device)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        rng = np.random.default_rng(seed)

        n_val = round(float(self.validation_fraction) * n_trials)
        n_val = n_val if 1 <= n_val <= n_trials - 1 else 0
        perm = rng.permutation(n_trials)
        val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])

        # Time-major layout (trials, time, neurons) is what the GRUs consume.
        counts = torch.as_tensor(data.transpose(0, 2, 1), dtype=torch.float32, device=device)
        fork = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork):
            torch.manual_seed(seed)
            gen = torch.Generator(device=device).manual_seed(seed)
            net = self._build(n_neurons).to(device)
            self._init_readout(net, data[train_idx])
            self._train(net, counts, train_idx, val_idx, rng, gen, device)
        net.eval()
        self.model_ = net
        self.device_ = device
        return self

    def _build(self, n_neurons: int) -> SeqVAENetwork:
        return SeqVAENetwork(
            n_in=int(self.heldin_.size),
            n_out=n_neurons,
            n_factors=int(self.n_factors),
            encoder_size=int(self.encoder_size),
            generator_size=int(self.generator_size),
            n_inputs=int(self.n_inputs),
            controller_size=int(self.controller_size),
            dropout=float(self.dropout),
        )

    def _init_readout(self, net: SeqVAENetwork, train: np.ndarray) -> None:
        """Start every neuron at its mean training rate: the first epochs then
        learn structure instead of spending steps on the baseline."""
        mean = np.maximum(train.mean(axis=(0, 2)), 1e-3)
        bias = np.log(mean) if self.link == "exp" else np.log(np.expm1(mean))
        with torch.no_grad():
            net.readout.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))

    def _loss(self, net: SeqVAENetwork, batch: torch.Tensor, beta: float, gen: torch.Generator,
              train: bool) -> torch.Tensor:
        """Negative ELBO per bin (KL weighted by ``beta``).

        Training: posterior samples and coordinated dropout. Evaluation:
        posterior means, every entry scored.
        """
        hin = torch.as_tensor(self.heldin_, device=batch.device)
        x_in = self._encoder_input(batch[:, :, hin])
        cd = float(self.coordinated_dropout) if train else 0.0
        if cd > 0:
            keep = (torch.rand(x_in.shape, generator=gen, device=batch.device) >= cd).to(x_in.dtype)
            x_in = x_in * keep / (1.0 - cd)
        out = net(x_in, sample=train, generator=gen)
        nll = self._nll(out["activation"], batch)
        if cd > 0:
            # Held-in neurons are scored only where their input was hidden
            # (re-weighted to the full count); held-out neurons everywhere.
            weight = torch.ones_like(nll)
            weight[:, :, hin] = (1.0 - keep) / cd
            nll = nll * weight
        n_bins = batch.shape[1] * batch.shape[2]
        kl = out["kl_ic"] + out["kl_inputs"]
        return (nll.sum(dim=(1, 2)) + beta * kl).mean() / n_bins

    def _train(self, net: SeqVAENetwork, counts: torch.Tensor, train_idx: np.ndarray, val_idx: np.ndarray,
               rng: np.random.Generator, gen: torch.Generator, device: torch.device) -> None:
        opt = torch.optim.AdamW(net.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        warmup = int(self.kl_warmup)
        history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
        best, best_epoch, best_state = np.inf, 0, None
        last_change = 0  # epoch of the last improvement or learning-rate cut
        plateau = max(1, int(self.patience) // 3)
        batch_size = int(self.batch_size)
        for epoch in range(int(self.max_epochs)):
            beta = float(self.kl_weight) * min(1.0, (epoch + 1) / warmup) if warmup else float(self.kl_weight)
            net.train()
            order = rng.permutation(train_idx)
            total = 0.0
            for start in range(0, order.size, batch_size):
                rows = torch.as_tensor(order[start : start + batch_size], device=device)
                opt.zero_grad(set_to_none=True)
                loss = self._loss(net, counts[rows], beta, gen, train=True)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), _CLIP_NORM)
                opt.step()
                total += float(loss.detach()) * rows.numel()
            history["train_loss"].append(total / order.size)
            if val_idx.size:
                net.eval()
                with torch.inference_mode():
                    rows = torch.as_tensor(val_idx, device=device)
                    monitor = float(self._loss(net, counts[rows], float(self.kl_weight), gen, train=False))
                history["val_loss"].append(monitor)
            else:
                monitor = history["train_loss"][-1]
            if epoch + 1 < warmup and val_idx.size:
                continue  # the objective is still changing: nothing to compare yet
            if monitor < best - _MIN_DELTA or best_state is None:
                best, best_epoch, last_change = monitor, epoch, epoch
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            elif epoch - best_epoch >= int(self.patience):
                break
            elif epoch - last_change >= plateau:
                last_change = epoch
                for group in opt.param_groups:
                    group["lr"] = max(group["lr"] * _LR_FACTOR, float(self.lr) * _MIN_LR_RATIO)
        if best_state is not None and val_idx.size:
            net.load_state_dict(best_state)
        else:
            best_epoch = len(history["train_loss"]) - 1
        self.history_ = history
        self.best_epoch_ = int(best_epoch)
        self.n_epochs_ = len(history["train_loss"])

    # -------------------------------------------------------------- inference
    def _infer(self, X: Any) -> dict[str, np.ndarray]:
        check_is_fitted(self, "model_")
        data = self._as_trials(X)
        n_in = self.heldin_.size
        if data.shape[1] == self.n_features_in_:
            data = data[:, self.heldin_, :]  # held-out columns are ignored (may be NaN)
        elif data.shape[1] != n_in:
            raise NeuralscopeError("X", f"{self.n_features_in_} neurons (or the {n_in} held-in ones)",
                                   f"{data.shape[1]} neurons")
        self._check_counts(data, "X")
        x = torch.as_tensor(data.transpose(0, 2, 1), dtype=torch.float32, device=self.device_)
        rates, factors = [], []
        self.model_.eval()
        with torch.inference_mode():
            for i in range(0, x.shape[0], _CHUNK):
                out = self.model_(self._encoder_input(x[i : i + _CHUNK]), sample=False)
                rates.append(self._rates(out["activation"]).cpu().numpy())
                factors.append(out["factors"].cpu().numpy())
        return {
            "rates": np.concatenate(rates).transpose(0, 2, 1).astype(np.float64),
            "factors": np.concatenate(factors).transpose(0, 2, 1).astype(np.float64),
        }

    def transform(self, X: Any) -> np.ndarray:
        """Latent factors of each trial (posterior-mean initial condition and inputs).

        Parameters
        ----------
        X : array-like of shape (n_trials, n_neurons, n_time) or TrialActivity
            Spike counts with all fit neurons (held-out columns are ignored and
            may hold NaN) or only the held-in neurons, in fit order.

        Returns
        -------
        ndarray of shape (n_trials, n_factors, n_time)
        """
        return self._infer(X)["factors"]

    def predict_rates(self, X: Any) -> np.ndarray:
        """Inferred rates of every fit neuron (held-out ones included).

        Parameters
        ----------
        X : array-like or TrialActivity
            As in :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_trials, n_features_in_, n_time)
            Expected spike counts per bin (multiply by ``fs`` for Hz).
        """
        return self._infer(X)["rates"]

    def score(self, X: Any, y: Any = None) -> float:
        """Bits per spike of the predicted rates: on the held-out neurons when
        there are any (co-smoothing), else on all neurons.

        Parameters
        ----------
        X : array-like of shape (n_trials, n_neurons, n_time) or TrialActivity
            Spike counts of all fit neurons.
        y : None
            Ignored.

        Returns
        -------
        float
        """
        data = self._as_trials(X)
        if data.shape[1] != getattr(self, "n_features_in_", data.shape[1]):
            raise NeuralscopeError("X", f"{self.n_features_in_} neurons", f"{data.shape[1]} neurons")
        rates = self.predict_rates(data)
        cols = self.heldout_ if self.heldout_.size else np.arange(data.shape[1])
        return bits_per_spike(rates[:, cols], data[:, cols])
