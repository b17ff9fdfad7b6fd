"""A small U-Net for 3-D (isotropic or anisotropic) EM volumes.

Kept deliberately narrow (8-32 channels) so that inference on a CPU runs at
hundreds of thousands of voxels per second. ``pool`` per level makes it
anisotropic: ``(1, 2, 2)`` never pools along z, which suits ssTEM data with
thick sections; ``(2, 2, 2)`` suits isotropic FIB-SEM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of :class:`UNet3d` (stored next to shipped weights).

    Parameters
    ----------
    in_channels : int
        Input channels (1 for grey-scale EM).
    out_channels : int
        Output channels (e.g. 3 nearest-neighbour affinities + auxiliary ones).
    widths : tuple of int
        Channels at each resolution level, finest first.
    pool : tuple of tuple of int
        Down-sampling factor (z, y, x) between consecutive levels; ``len(widths) - 1`` entries.
    kernel : tuple of int
        Convolution kernel (z, y, x); use ``(1, 3, 3)`` for 2-D-per-slice processing.
    """

    in_channels: int = 1
    out_channels: int = 3
    widths: tuple[int, ...] = (8, 16, 32)
    pool: tuple[tuple[int, int, int], ...] = ((2, 2, 2), (2, 2, 2))
    kernel: tuple[int, int, int] = (3, 3, 3)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain-JSON form (lists instead of tuples)."""
        d = asdict(self)
        d["widths"] = list(self.widths)
        d["pool"] = [list(p) for p in self.pool]
        d["kernel"] = list(self.kernel)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(
            in_channels=int(d["in_channels"]), out_channels=int(d["out_channels"]),
            widths=tuple(int(w) for w in d["widths"]),
            pool=tuple(tuple(int(v) for v in p) for p in d["pool"]),
            kernel=tuple(int(k) for k in d["kernel"]), extra=dict(d.get("extra", {})),
        )

    @property
    def total_pool(self) -> tuple[int, int, int]:
        """Product of the pooling factors: tile offsets must be multiples of it."""
        out = [1, 1, 1]
        for p in self.pool:
            out = [a * b for a, b in zip(out, p)]
        return tuple(out)  # type: ignore[return-value]


def _block(cin: int, cout: int, kernel: Sequence[int]) -> nn.Sequential:
    pad = tuple(k // 2 for k in kernel)
    return nn.Sequential(
        nn.Conv3d(cin, cout, kernel, padding=pad), nn.ReLU(inplace=True),
        nn.Conv3d(cout, cout, kernel, padding=pad), nn.ReLU(inplace=True),
    )


class UNet3d(nn.Module):
    """U-Net with max-pooling down, transposed-convolution up and skip concatenation.

    Outputs logits; apply a sigmoid for affinities / probabilities. Spatial
    size of the input must be divisible by :attr:`UNetConfig.total_pool`.

    Parameters
    ----------
    config : UNetConfig
        The architecture.
    """

    def __init__(self, config: UNetConfig):
        super().__init__()
        if len(config.pool) != len(config.widths) - 1:
            raise ValueError("pool needs one entry per level transition (len(widths) - 1)")
        self.config = config
        w = config.widths
        self.down = nn.ModuleList()
        cin = config.in_channels
        for width in w:
            self.down.append(_block(cin, width, config.kernel))
            cin = width
        self.pools = nn.ModuleList(nn.MaxPool3d(p, p) for p in config.pool)
        self.ups = nn.ModuleList(
            nn.ConvTranspose3d(w[i + 1], w[i], config.pool[i], stride=config.pool[i]) for i in range(len(w) - 1)
        )
        self.up_blocks = nn.ModuleList(_block(2 * w[i], w[i], config.kernel) for i in range(len(w) - 1))
        self.head = nn.Conv3d(w[0], config.out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, in_channels, z, y, x)`` to logits ``(batch, out_channels, z, y, x)``."""
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < len(self.pools):
                skips.append(x)
                x = self.pools[i](x)
        for i in reversed(range(len(self.ups))):
            x = self.ups[i](x)
            x = self.up_blocks[i](torch.cat([skips[i], x], dim=1))
        return self.head(x)


def receptive_radius(config: UNetConfig) -> tuple[int, int, int]:
    """Half-width (voxels) of the receptive field along z, y, x (an upper bound).

    Tiled prediction with a margin at least this large equals untiled prediction.
    """
    out = []
    for axis in range(3):
        k = config.kernel[axis] // 2
        scale, radius = 1, 0
        for level in range(len(config.widths)):
            radius += 2 * k * scale  # two convolutions on the way down
            if level < len(config.pool):
                radius += 2 * k * scale  # and two on the way up at this level
                scale *= config.pool[level][axis]
        out.append(radius + scale)  # pooling / up-sampling alignment slack
    return tuple(out)  # type: ignore[return-value]


class UNetEnsemble(nn.Module):
    """Several :class:`UNet3d` of one architecture whose probabilities are averaged.

    Returns the logit of the mean sigmoid, so it drops in wherever a single U-Net's logits
    are expected (tiled prediction, mirroring). Members trained from different seeds make
    different mistakes; averaging their probabilities removes part of each one's noise.

    Parameters
    ----------
    members : sequence of UNet3d
        At least one network; all share ``config`` (the first one's is used).
    """

    def __init__(self, members: Sequence[UNet3d]):
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("an ensemble needs at least one member")
        if any(m.config != members[0].config for m in members[1:]):
            raise ValueError("all ensemble members must share one architecture")
        self.config = members[0].config
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logit of the members' mean probability, ``(batch, out_channels, z, y, x)``."""
        # float32 here even under bfloat16 autocast: the logit of a rounded mean loses the tails.
        prob = torch.sigmoid(self.members[0](x).float())
        for member in self.members[1:]:  # a running sum: one member's output in memory at a time
            prob += torch.sigmoid(member(x).float())
        return torch.logit(prob / len(self.members), eps=1e-6)
