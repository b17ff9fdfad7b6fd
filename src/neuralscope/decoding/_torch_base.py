"""Shared training machinery for the torch decoders in :mod:`neuralscope.decoding.deep`.

The concrete estimators only say how to turn validated input into sequences
``(n_samples, n_time, n_features)`` and which network to build; everything else
lives here: input standardisation (statistics from the training split only),
the validation split for early stopping, seeded and reproducible mini-batch
training, restoring the best weights, and batched inference.

Reproducibility: a fit draws one integer seed from ``random_state``; it seeds a
numpy Generator (validation split, batch order) and torch's generator for
weight initialisation and dropout. Torch's global generator is forked for the
duration of the fit, so fitting does not change the caller's random stream.
Torch's thread settings are left alone (set them with ``torch.set_num_threads``).
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from torch import nn

from neuralscope._torch import resolve_device
from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.validation import check_consistent_length

__all__ = ["COMMON_PARAMS_DOC", "TorchEstimator", "check_kernel_size"]

# Improvements smaller than this (in loss units) do not reset the patience
# counter: it stops training from creeping along a plateau.
_MIN_DELTA = 1e-4
# Gradient-norm clip: recurrent nets occasionally produce exploding gradients
# on long histories; clipping is harmless for the others.
_CLIP_NORM = 1.0
# Inference batch: bounds memory on long recordings without per-sample loops.
_PREDICT_CHUNK = 4096


def _ndim(X: Any) -> int | None:
    """Number of dimensions of array-like ``X`` (no copy for arrays), None if unknown."""
    if hasattr(X, "ndim"):
        return int(X.ndim)
    try:
        return int(np.asarray(X).ndim)
    except (TypeError, ValueError):
        return None  # ragged or exotic: let sklearn's validation report it


def _n_rows(X: Any) -> int | None:
    try:
        return int(X.shape[0]) if hasattr(X, "shape") else len(X)
    except TypeError:
        return None


def check_input_ndim(X: Any, allowed: tuple[int, ...], what: str) -> None:
    """Raise :class:`NeuralscopeError` when ``X`` has a dimensionality not in ``allowed``."""
    nd = _ndim(X)
    if nd is not None and nd not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        got = f"a {nd}-D array"
        if nd == 1:
            # sklearn's wording, which its estimator checks look for.
            got += "; Reshape your data with X.reshape(-1, 1) (one feature) or X.reshape(1, -1) (one sample)"
        raise NeuralscopeError("X", f"a {want} array {what}", got)


def check_same_length(X: Any, y: Any) -> None:
    """Raise :class:`NeuralscopeError` when X and y have different numbers of rows."""
    nx, ny = _n_rows(X), _n_rows(y)
    if nx is not None and ny is not None:
        check_consistent_length(nx, ny, "y")


def check_finite(X: np.ndarray, name: str = "X") -> None:
    """NaN / inf check on an already validated float array."""
    if not np.isfinite(X).all():
        n_bad = int(X.size - np.count_nonzero(np.isfinite(X)))
        raise NeuralscopeError(name, "finite values (no NaN or inf)", f"{n_bad} non-finite values")


def check_kernel_size(kernel_size: Any) -> int:
    """Check a convolution kernel size (an integer >= 1)."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, (int, np.integer)) or kernel_size < 1:
        raise NeuralscopeError("kernel_size", "an integer >= 1", kernel_size)
    return int(kernel_size)


#: Numpydoc text for the shared hyper-parameters and learned attributes, reused
#: by every estimator docstring in :mod:`neuralscope.decoding.deep`.
COMMON_PARAMS_DOC = """
    hidden_size : int
        Width of the network (channels, hidden units or model dimension).
    n_layers : int
        Depth of the network.
    dropout : float
        Dropout probability.
    lr, weight_decay : float
        AdamW learning rate and decoupled weight decay.
    batch_size : int
        Mini-batch size.
    max_epochs, patience : int
        At most ``max_epochs`` passes; stop after ``patience`` epochs without a
        better validation loss, then restore the best weights.
    validation_fraction : float
        Share of the fit data held out for early stopping (0 disables it).
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:i]"``.
    random_state : int, RandomState or None
        Seed; the same int gives identical predictions.
    standardize : bool
        Z-score each neuron with statistics of the training split.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained network (evaluation mode, best validation weights).
    n_features_in_ : int
        Number of neurons (features).
    n_times_in_ : int
        Time bins per sample seen by the network.
    history_ : dict
        ``"train_loss"`` and ``"val_loss"`` per epoch.
    best_epoch_ : int
        0-based epoch whose weights were kept.
    n_epochs_ : int
        Epochs actually run.
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Standardisation statistics (zeros and ones when ``standardize=False``).
"""


class TorchEstimator(BaseEstimator, metaclass=ABCMeta):
    """Base class: hyper-parameters and the training loop shared by the deep decoders.

    Subclasses implement :meth:`_build_network` and :meth:`_sequences` and call
    :meth:`_fit_network`, :meth:`_forward` and :meth:`_encode`.

    Parameters
    ----------
    hidden_size : int
        Width of the network (channels, hidden units or model dimension).
    n_layers : int
        Depth (convolution blocks, stacked recurrent layers, encoder layers).
    dropout : float
        Dropout probability in [0, 1).
    lr : float
        AdamW learning rate.
    weight_decay : float
        AdamW decoupled weight decay.
    batch_size : int
        Mini-batch size.
    max_epochs : int
        Upper bound on passes over the training split.
    patience : int
        Epochs without improvement of the validation loss before stopping.
    validation_fraction : float
        Fraction of the fit data held out for early stopping, in [0, 1). 0
        trains for ``max_epochs`` (monitoring the training loss).
    device : str or torch.device
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ...
    random_state : int, RandomState instance or None
        Seed of everything random in a fit; an int gives identical predictions
        across fits (on CPU; some CUDA kernels are not bit-reproducible).
    standardize : bool
        Z-score each neuron with mean and std of the training split.
    """

    _task: str = "regression"  # or "classification"; set by subclasses

    def __init__(
        self,
        *,
        hidden_size: int = 32,
        n_layers: int = 1,
        dropout: float = 0.1,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 64,
        max_epochs: int = 80,
        patience: int = 10,
        validation_fraction: float = 0.15,
        device: str = "auto",
        random_state: Any = None,
        standardize: bool = True,
    ):
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state
        self.standardize = standardize

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _build_network(self, n_features: int, n_time: int, n_outputs: int) -> nn.Module:
        """The torch module for this input and output size."""

    @abstractmethod
    def _sequences(self, X: np.ndarray) -> np.ndarray:
        """Standardised input -> float32 (n_samples, n_time, n_features)."""

    # ------------------------------------------------------------- checking
    def _check_params(self) -> None:
        for name in ("hidden_size", "n_layers", "batch_size", "max_epochs", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise NeuralscopeError(name, "an integer >= 1", value)
        if not 0.0 <= float(self.dropout) < 1.0:
            raise NeuralscopeError("dropout", "a probability in [0, 1)", self.dropout)
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise NeuralscopeError("validation_fraction", "a fraction in [0, 1)", self.validation_fraction)
        if not float(self.lr) > 0:
            raise NeuralscopeError("lr", "a positive learning rate", self.lr)
        if not float(self.weight_decay) >= 0:
            raise NeuralscopeError("weight_decay", "a non-negative number", self.weight_decay)

    # ---------------------------------------------------------- preprocessing
    def _fit_scaler(self, X: np.ndarray, rows: np.ndarray) -> None:
        """Per-feature mean and std from the training rows only.

        ``X`` is (n, n_features) or (n, n_features, n_time); statistics pool
        samples and time bins, so each neuron gets one mean and one scale.
        """
        n_features = X.shape[1]
        if not self.standardize:
            self.mean_ = np.zeros(n_features)
            self.scale_ = np.ones(n_features)
            return
        sub = np.moveaxis(X[rows], 1, -1).reshape(-1, n_features)
        self.mean_ = sub.mean(axis=0)
        std = sub.std(axis=0)
        # A silent neuron (std 0) is left unscaled rather than divided by 0.
        self.scale_ = np.where(std > 10 * np.finfo(float).eps, std, 1.0)

    def _scale(self, X: np.ndarray) -> np.ndarray:
        shape = (1, -1) + (1,) * (X.ndim - 2)
        return ((X - self.mean_.reshape(shape)) / self.scale_.reshape(shape)).astype(np.float32)

    # -------------------------------------------------------------- splitting
    def _split(self, n: int, y_codes: np.ndarray | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation indices.

        Classification: stratified random split (every class keeps at least one
        training sample). Regression: the last contiguous ``validation_fraction``
        of the time series, because neighbouring time bins are correlated and a
        random split would leak the validation targets into training.
        """
        frac = float(self.validation_fraction)
        all_rows = np.arange(n)
        if frac == 0.0:
            return all_rows, all_rows[:0]
        if y_codes is None:
            n_val = round(frac * n)
            if n_val < 1 or n - n_val < 2:
                return all_rows, all_rows[:0]
            return all_rows[: n - n_val], all_rows[n - n_val :]
        val_parts = []
        for code in np.unique(y_codes):
            members = rng.permutation(np.flatnonzero(y_codes == code))
            n_val = min(round(frac * members.size), members.size - 1)
            val_parts.append(members[:n_val])
        val = np.sort(np.concatenate(val_parts))
        if val.size < 1 or n - val.size < 2:
            return all_rows, all_rows[:0]
        return np.setdiff1d(all_rows, val), val

    # --------------------------------------------------------------- training
    def _seed(self) -> int:
        return check_random_state(self.random_state).randint(np.iinfo(np.int32).max)

    def _fit_network(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        n_outputs: int,
        y_codes: np.ndarray | None = None,
    ) -> None:
        """Split, standardise, build and train; sets the learned attributes.

        Parameters
        ----------
        X : ndarray
            Validated raw input (2-D or 3-D, features on axis 1).
        targets : ndarray
            Class codes (int64, classification) or float targets of shape
            (n, n_outputs) (regression; z-scored here with the training split's
            statistics, kept in ``target_mean_`` / ``target_scale_``).
        n_outputs : int
            Network output width.
        y_codes : ndarray, optional
            Class codes for the stratified split (classification only).
        """
        self._check_params()
        device = resolve_device(self.device)
        seed = self._seed()
        rng = np.random.default_rng(seed)
        n = X.shape[0]
        train_idx, val_idx = self._split(n, y_codes, rng)
        self._fit_scaler(X, train_idx)
        if self._task == "regression":
            # MSE on z-scored targets weighs every output equally and keeps the
            # learning rate meaningful whatever the units (m/s, degrees, ...).
            self.target_mean_ = targets[train_idx].mean(axis=0)
            std = targets[train_idx].std(axis=0)
            self.target_scale_ = np.where(std > 10 * np.finfo(float).eps, std, 1.0)
            targets = ((targets - self.target_mean_) / self.target_scale_).astype(np.float32)
        seq = self._sequences(X)
        self.n_times_in_ = int(seq.shape[1])
        xt = torch.as_tensor(seq, device=device)
        yt = torch.as_tensor(targets, device=device)
        loss_fn: nn.Module = nn.CrossEntropyLoss() if self._task == "classification" else nn.MSELoss()
        # Fork the global generators so a fit neither depends on nor changes
        # the caller's torch random state.
        fork_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            net = self._build_network(seq.shape[2], seq.shape[1], n_outputs).to(device)
            self._train_loop(net, xt, yt, train_idx, val_idx, loss_fn, rng, device)
        net.eval()
        self.model_ = net
        self.device_ = device

    def _train_loop(
        self,
        net: nn.Module,
        xt: torch.Tensor,
        yt: torch.Tensor,
        train_idx: np.ndarray,
        val_idx: np.ndarray,
        loss_fn: nn.Module,
        rng: np.random.Generator,
        device: torch.device,
    ) -> None:
        opt = torch.optim.AdamW(net.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        x_val, y_val = xt[val_idx], yt[val_idx]
        has_val = val_idx.size > 0
        history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
        best_loss, best_epoch, best_state = np.inf, 0, None
        batch = int(self.batch_size)
        for epoch in range(int(self.max_epochs)):
            net.train()
            order = torch.as_tensor(rng.permutation(train_idx), device=device)
            total = torch.zeros((), device=device)  # summed on device: one sync per epoch
            for start in range(0, order.numel(), batch):
                rows = order[start : start + batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(xt[rows]), yt[rows])
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), _CLIP_NORM)
                opt.step()
                total += loss.detach() * rows.numel()
            history["train_loss"].append(float(total) / max(order.numel(), 1))
            if has_val:
                monitor = float(loss_fn(self._batched(net, x_val, encode=False), y_val))
                history["val_loss"].append(monitor)
            else:
                monitor = history["train_loss"][-1]
            if monitor < best_loss - _MIN_DELTA:
                best_loss, best_epoch = monitor, epoch
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            elif epoch - best_epoch >= int(self.patience):
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.history_ = history
        self.best_epoch_ = int(best_epoch)
        self.n_epochs_ = len(history["train_loss"])

    # -------------------------------------------------------------- inference
    @staticmethod
    def _batched(net: nn.Module, x: torch.Tensor, *, encode: bool) -> torch.Tensor:
        """Evaluation-mode forward (or encode) pass in chunks."""
        was_training = net.training
        net.eval()
        try:
            with torch.inference_mode():
                fn = net.encode if encode else net
                parts = [fn(x[i : i + _PREDICT_CHUNK]) for i in range(0, max(x.shape[0], 1), _PREDICT_CHUNK)]
        finally:
            net.train(was_training)
        return torch.cat(parts) if parts else x.new_zeros((0,))

    def _run(self, X: np.ndarray, *, encode: bool) -> np.ndarray:
        """Validated raw input -> network output (or latent) as float64."""
        check_is_fitted(self, "model_")
        seq = self._sequences(X)
        if seq.shape[1] != self.n_times_in_:
            raise NeuralscopeError("X", f"{self.n_times_in_} time bins as in fit", f"{seq.shape[1]} time bins")
        xt = torch.as_tensor(seq, device=self.device_)
        out = self._batched(self.model_, xt, encode=encode)
        return out.detach().cpu().numpy().astype(np.float64)
