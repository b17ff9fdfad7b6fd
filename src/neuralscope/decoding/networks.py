"""Small torch networks for decoding population activity.

Every network takes a batch of sequences shaped ``(batch, n_time, n_features)``
(time first, neurons as features) and returns ``(batch, n_outputs)``: class
logits or regression targets. Each also has :meth:`encode`, the latent
representation just before the linear read-out, which the estimators expose
through ``transform``.

The networks are deliberately small: decoding data sets have hundreds to tens
of thousands of samples, and the models must train in seconds on a laptop CPU.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from neuralscope.core.errors import NeuralscopeError

__all__ = ["ConvEncoder", "PositionalEncoding", "RecurrentEncoder", "TransformerEncoder"]

_POOLINGS = ("mean", "last")


def _check_pooling(pooling: str, allowed: tuple[str, ...] = _POOLINGS) -> str:
    if pooling not in allowed:
        raise NeuralscopeError("pooling", f"one of {allowed}", pooling)
    return pooling


def _pool(h: torch.Tensor, pooling: str) -> torch.Tensor:
    """Reduce (batch, time, channels) to (batch, channels)."""
    return h[:, -1] if pooling == "last" else h.mean(dim=1)


class ConvEncoder(nn.Module):
    """1-D convolution over time with neurons as input channels.

    ``n_layers`` blocks of Conv1d -> ReLU -> dropout (same-length padding),
    then a pooling over time and a linear head.

    Parameters
    ----------
    n_features : int
        Input channels (neurons).
    n_outputs : int
        Width of the head (classes or regression targets).
    hidden_size : int
        Channels of every convolution; also the latent size.
    n_layers : int
        Number of convolution blocks.
    kernel_size : int
        Temporal extent of each convolution (in bins).
    dropout : float
        Dropout after each block and before the head.
    pooling : {"mean", "last", "flatten"}
        ``"mean"`` averages over time (good when the information is spread over
        a trial window); ``"last"`` keeps the last bin, whose receptive field
        covers the most recent ``n_layers * (kernel_size - 1) + 1`` bins;
        ``"flatten"`` keeps every bin (latent size ``hidden_size * n_time``), so
        the head can weight recent and older history differently.
    n_time : int, optional
        Sequence length; required for ``"flatten"``, which fixes it.
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden_size: int = 32,
        n_layers: int = 1,
        kernel_size: int = 3,
        dropout: float = 0.0,
        pooling: str = "mean",
        n_time: int | None = None,
    ):
        super().__init__()
        self.pooling = _check_pooling(pooling, _POOLINGS + ("flatten",))
        if pooling == "flatten" and n_time is None:
            raise NeuralscopeError("n_time", "the sequence length for pooling='flatten'", None)
        blocks: list[nn.Module] = []
        in_ch = n_features
        for _ in range(n_layers):
            # Left-only padding keeps the convolution causal within the window,
            # so "last" pooling never sees bins after the current one.
            blocks += [
                nn.ConstantPad1d((kernel_size - 1, 0), 0.0),
                nn.Conv1d(in_ch, hidden_size, kernel_size),
                nn.ReLU(),
                nn.Dropout(dropout),
            ]
            in_ch = hidden_size
        self.body = nn.Sequential(*blocks)
        self.latent_dim = hidden_size * (n_time if pooling == "flatten" else 1)
        self.head = nn.Linear(self.latent_dim, n_outputs)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, features) -> latent (batch, latent_dim)."""
        h = self.body(x.transpose(1, 2))  # conv wants (batch, channels, time)
        if self.pooling == "flatten":
            return h.flatten(1)
        return _pool(h.transpose(1, 2), self.pooling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x))


class RecurrentEncoder(nn.Module):
    """LSTM or GRU over time, pooled, then a linear head.

    Parameters
    ----------
    n_features, n_outputs, hidden_size, n_layers
        As in :class:`ConvEncoder`.
    cell : {"lstm", "gru"}
    dropout : float
        Dropout between stacked recurrent layers and before the head.
    pooling : {"mean", "last"}
        ``"last"`` (the final hidden state) suits causal history windows;
        ``"mean"`` suits trial windows.
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden_size: int = 32,
        n_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        pooling: str = "last",
    ):
        super().__init__()
        if cell not in ("lstm", "gru"):
            raise NeuralscopeError("cell", "'lstm' or 'gru'", cell)
        self.pooling = _check_pooling(pooling)
        rnn_cls = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(
            n_features,
            hidden_size,
            num_layers=n_layers,
            batch_first=True,
            dropout=dropout if n_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, n_outputs)
        self.latent_dim = hidden_size

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return _pool(out, self.pooling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.encode(x)))


class PositionalEncoding(nn.Module):
    """Adds a position signal to (batch, time, d_model) inputs.

    Parameters
    ----------
    d_model : int
        Embedding width.
    max_len : int
        Longest sequence (only limits the ``"learned"`` kind).
    kind : {"sinusoidal", "learned"}
        Fixed sine/cosine table (works for any length up to ``max_len`` and has
        no parameters) or a trainable table.
    """

    def __init__(self, d_model: int, max_len: int = 512, kind: str = "sinusoidal"):
        super().__init__()
        if kind not in ("sinusoidal", "learned"):
            raise NeuralscopeError("positional", "'sinusoidal' or 'learned'", kind)
        self.kind = kind
        if kind == "learned":
            self.table = nn.Parameter(torch.zeros(max_len, d_model))
            nn.init.normal_(self.table, std=0.02)
        else:
            pos = torch.arange(max_len, dtype=torch.float32)[:, None]
            freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
            table = torch.zeros(max_len, d_model)
            table[:, 0::2] = torch.sin(pos * freq)
            table[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
            # A buffer moves with .to(device) and is saved in state_dict, but
            # is not trained.
            self.register_buffer("table", table)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_time = x.shape[1]
        if n_time > self.table.shape[0]:
            raise NeuralscopeError("X", f"at most {self.table.shape[0]} time bins", n_time)
        return x + self.table[:n_time]


class TransformerEncoder(nn.Module):
    """Linear embedding + positional encoding + Transformer encoder + pooling.

    Parameters
    ----------
    n_features, n_outputs, n_layers, dropout
        As in :class:`ConvEncoder`.
    hidden_size : int
        Model width ``d_model``; must be divisible by ``n_heads``.
    n_heads : int
        Attention heads.
    pooling : {"mean", "last"}
        ``"last"`` reads the current bin's token (history windows); ``"mean"``
        averages all tokens (trial windows).
    positional : {"sinusoidal", "learned"}
    max_len : int
        Longest sequence the positional table covers.
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden_size: int = 32,
        n_layers: int = 1,
        n_heads: int = 4,
        dropout: float = 0.0,
        pooling: str = "mean",
        positional: str = "sinusoidal",
        max_len: int = 512,
    ):
        super().__init__()
        if hidden_size % n_heads:
            raise NeuralscopeError("n_heads", f"a divisor of hidden_size={hidden_size}", n_heads)
        self.pooling = _check_pooling(pooling)
        self.embed = nn.Linear(n_features, hidden_size)
        self.position = PositionalEncoding(hidden_size, max_len=max_len, kind=positional)
        layer = nn.TransformerEncoderLayer(
            hidden_size,
            n_heads,
            dim_feedforward=2 * hidden_size,
            dropout=dropout,
            batch_first=True,
            norm_first=True,  # pre-norm trains stably without warm-up
        )
        # Nested tensors only help with padding masks, which we never use, and
        # warn with norm_first=True.
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(hidden_size)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, n_outputs)
        self.latent_dim = hidden_size

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.position(self.embed(x)))
        return self.norm(_pool(h, self.pooling))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.encode(x)))
