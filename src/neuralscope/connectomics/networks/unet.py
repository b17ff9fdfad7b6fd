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
        if not torch.is_grad_enabled() and x.device.type == "cpu":
            return self._forward_inference(x)
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

    def _forward_inference(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on a CPU without gradients: the same function, computed faster.

        Every convolution goes to oneDNN (:func:`_conv3d`), the decoder's concatenation is
        replaced by a split first convolution, conv(cat(a, b), W) = conv(a, W_a) + conv(b, W_b), and
        the transposed convolutions by :func:`_upsample`. Equal to the training-time graph up to
        float rounding (tested).
        """
        skips = []
        for i, block in enumerate(self.down):
            x = _run_block(block, x)
            if i < len(self.pools):
                skips.append(x)
                x = self.pools[i](x)
        for i in reversed(range(len(self.ups))):
            up = _upsample(self.ups[i], x)
            conv, *rest = self.up_blocks[i]
            c = skips[i].shape[1]
            w = conv.weight
            fmt = _memory_format(up)
            x = _conv3d(skips[i], w[:, :c].contiguous(memory_format=fmt), conv.bias, conv.padding)
            x.add_(_conv3d(up, w[:, c:].contiguous(memory_format=fmt), None, conv.padding))
            x = _run_block(rest, x)
        return _conv3d(x, self.head.weight, self.head.bias, self.head.padding)


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    return torch.channels_last_3d if x.is_contiguous(memory_format=torch.channels_last_3d) else torch.contiguous_format


def _conv3d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding) -> torch.Tensor:
    """A stride-1 3-D convolution, in oneDNN whenever it can be.

    torch picks oneDNN by a size rule written for 2-D images (batch * channels * depth * height
    > 20480), so the small deep levels of a 3-D U-Net and the one-channel first layer of a small
    tile fall back to an unblocked kernel that is up to ten times slower on a CPU and drops the
    channels-last layout. Under autocast (bfloat16) torch's own dispatch is kept.
    """
    if (x.dtype == torch.float32 and x.device.type == "cpu" and torch.backends.mkldnn.is_available()
            and not torch.is_autocast_enabled("cpu")):
        return torch.ops.aten.mkldnn_convolution(x, weight, bias, list(padding), [1, 1, 1], [1, 1, 1], 1)
    return nn.functional.conv3d(x, weight, bias, padding=padding)


def _run_block(layers: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Apply ``layers`` in order, their plain convolutions through :func:`_conv3d`."""
    for layer in layers:
        if isinstance(layer, nn.Conv3d) and tuple(layer.stride) == (1, 1, 1) and tuple(layer.dilation) == (1, 1, 1) \
                and layer.groups == 1 and isinstance(layer.padding, tuple):
            x = _conv3d(x, layer.weight, layer.bias, layer.padding)
        else:
            x = layer(x)
    return x


def _upsample(up: nn.ConvTranspose3d, x: torch.Tensor) -> torch.Tensor:
    """A transposed convolution whose stride equals its kernel, as a 1x1x1 convolution + depth-to-space.

    Each output voxel gets exactly one kernel tap, so the transposed convolution is a per-voxel
    linear map to ``c_out * kz * ky * kx`` channels, rearranged into space. On a CPU that
    convolution runs in oneDNN, where torch's transposed 3-D convolution takes a slow path; the
    result is laid out channels-last, as the next convolution wants it.
    """
    kz, ky, kx = up.kernel_size
    if tuple(up.stride) != (kz, ky, kx) or any(up.padding) or any(up.output_padding) or up.groups != 1:
        return up(x)
    c_in, c_out = up.weight.shape[:2]
    weight = up.weight.permute(1, 2, 3, 4, 0).reshape(c_out * kz * ky * kx, c_in, 1, 1, 1)
    y = _conv3d(x.contiguous(memory_format=torch.channels_last_3d),
                weight.contiguous(memory_format=torch.channels_last_3d), None, (0, 0, 0))
    n, _, d, h, w = y.shape
    # Channels-last (n, d, h, w, c_out, kz, ky, kx) -> (n, d, kz, h, ky, w, kx, c_out): one copy.
    y = y.permute(0, 2, 3, 4, 1).reshape(n, d, h, w, c_out, kz, ky, kx)
    y = y.permute(0, 1, 5, 2, 6, 3, 7, 4).contiguous().view(n, d * kz, h * ky, w * kx, c_out)
    y = y.permute(0, 4, 1, 2, 3)
    if up.bias is not None:
        y.add_(up.bias.view(1, -1, 1, 1, 1).to(y.dtype))
    return y


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
