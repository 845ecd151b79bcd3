"""A small U-Net: the fully-convolutional model shared by `shapes` and `denoise`.

Both tasks map an image to an image of the same size (class logits per pixel, or
pixel values), which is what a U-Net is for: an encoder that sees context, a
decoder that puts it back at full resolution, and skip connections that keep
the fine detail. `ModelSpec` maps onto it as follows — `width` is the stages'
"hidden units" knob, shared with the MLP of `digits`, so it is scaled down into
channels:

    base channels = max(4, width // 8)   (generalize's 128 -> 16, scale's 256 -> 32)
    levels        = depth                (each halves the resolution, doubles the channels)

At the defaults (`ModelSpec()`: 16 channels, 2 levels) it has ~120k parameters.
Dropout (`Dropout2d`) and batchnorm follow the spec, off unless asked for.
"""

from __future__ import annotations

import torch
from torch import nn

from runners.tasks.base import ModelSpec


def channels(spec: ModelSpec) -> int:
    return max(4, spec.width // 8)


def _block(c_in: int, c_out: int, spec: ModelSpec) -> nn.Sequential:
    """Two 3x3 convolutions, each followed by (batchnorm) and a ReLU of its own, then (dropout)."""
    layers: list[nn.Module] = []
    for c in (c_in, c_out):
        layers.append(nn.Conv2d(c, c_out, 3, padding=1, bias=not spec.batchnorm))
        if spec.batchnorm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.ReLU())
    if spec.dropout > 0:
        layers.append(nn.Dropout2d(spec.dropout))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """Input (N, in_channels, H, W) -> (N, out_channels, H, W); H and W divisible by 2**depth."""

    def __init__(self, spec: ModelSpec, in_channels: int = 1, out_channels: int = 1) -> None:
        super().__init__()
        if spec.depth < 1:
            raise ValueError(f"depth={spec.depth} is out of range for a U-Net; allowed: >= 1")
        c = channels(spec)
        widths = [c * 2**i for i in range(spec.depth + 1)]  # one per resolution, finest first
        self.down = nn.ModuleList([_block(in_channels, widths[0], spec)])
        self.down.extend(_block(widths[i], widths[i + 1], spec) for i in range(spec.depth))
        self.pool = nn.MaxPool2d(2)
        self.upsample = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(spec.depth))
        )
        self.up = nn.ModuleList(_block(2 * widths[i], widths[i], spec) for i in reversed(range(spec.depth)))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        skips.pop()  # the bottleneck is x itself
        for upsample, block in zip(self.upsample, self.up, strict=True):
            x = block(torch.cat([upsample(x), skips.pop()], dim=1))
        return self.head(x)
