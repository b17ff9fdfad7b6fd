"""Encoders for :class:`~neuralscope.manifold.ContrastiveEmbedding`.

Every encoder maps a window of ``window`` time bins of one session's neurons
to a point of the shared embedding space:

``(batch, window, n_neurons_s) -> input layer of session s -> (batch, window, hidden)
-> shared body -> (batch, n_components)``

The per-session input layer is a linear map applied to each time bin; the
body is shared by all sessions, which is what puts sessions with different
neurons into one space. The first layer dominates the cost (neurons x hidden
per bin), so it is a plain matrix product; the body works on ``hidden``
channels only.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ContrastiveNetwork", "body_length"]

# The convolutional body shortens the window by 2 bins per layer until at most
# this many remain, then reads the rest out with one linear layer.
_MIN_LENGTH = 4


def body_length(window: int) -> tuple[int, int]:
    """(number of convolution layers, remaining length) for a window."""
    n_layers, length = 0, int(window)
    while length > _MIN_LENGTH:
        n_layers += 1
        length -= 2
    return n_layers, length


class _ConvBody(nn.Module):
    """Residual temporal convolutions (kernel 3, no padding) and a linear read-out.

    The receptive field is the whole window: each layer sees 3 neighbouring
    bins, and the read-out sees every remaining bin.
    """

    def __init__(self, window: int, hidden: int, n_out: int):
        super().__init__()
        n_layers, length = body_length(window)
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, 3) for _ in range(n_layers))
        self.readout = nn.Linear(hidden * length, n_out)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (batch, window, hidden)
        h = h.transpose(1, 2)
        for conv in self.convs:
            # Residual: the cropped input plus the convolution, so depth does
            # not slow the start of training.
            h = h[:, :, 1:-1] + F.gelu(conv(h))
        return self.readout(h.flatten(1))


class _MLPBody(nn.Module):
    """Two hidden layers on the concatenated bins of the window."""

    def __init__(self, window: int, hidden: int, n_out: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(hidden * window, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, n_out),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h.flatten(1))


class ContrastiveNetwork(nn.Module):
    """Per-session input layers and a shared body.

    Parameters
    ----------
    n_neurons : list of int
        Neurons of each session.
    window : int
        Time bins seen per sample (1 for a memoryless encoder).
    hidden : int
        Width of the network.
    n_out : int
        Embedding dimension.
    encoder : {"conv", "mlp"}
        Body type.
    normalize : bool
        Project outputs onto the unit sphere (for cosine similarity).
    """

    def __init__(self, n_neurons: list[int], window: int, hidden: int, n_out: int, encoder: str, normalize: bool):
        super().__init__()
        self.inputs = nn.ModuleList(nn.Linear(n, hidden) for n in n_neurons)
        body = _ConvBody if encoder == "conv" else _MLPBody
        self.body = body(window, hidden, n_out)
        self.normalize = normalize

    def features(self, x: torch.Tensor, session: int) -> torch.Tensor:
        """(batch, window, n_neurons) -> (batch, window, hidden) through the session's input layer."""
        return F.gelu(self.inputs[session](x))

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """Shared body on input-layer features, then the optional projection."""
        z = self.body(h)
        return F.normalize(z, dim=1) if self.normalize else z

    def forward(self, x: torch.Tensor, session: int = 0) -> torch.Tensor:
        return self.head(self.features(x, session))
