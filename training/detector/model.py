"""The detector network: CenterNet-style, one class, on a YuNet-like backbone.

Block = 1x1 conv + 3x3 depthwise + BN + ReLU; widths 16/32/64/96/128 at strides
2/4/8/16/32; a nearest-upsample FPN back to stride 4 with 32 channels; one head giving
13 maps per cell: plate-centre probability (sigmoid, in the graph), 4 log box-edge
distances, 8 corner offsets normalised by box size. Input BGR/255, any size divisible
by 32 (640x384 at inference). Peak picking is done in numpy, outside the graph.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

STRIDE = 4
OUT_CHANNELS = 13


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.pw = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        self.dw = nn.Sequential(nn.Conv2d(cout, cout, 3, stride, 1, groups=cout, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dw(self.pw(x))


class Detector(nn.Module):
    """Frame (N,3,H,W) BGR/255 -> (N,13,H/4,W/4)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        self.s4 = nn.Sequential(Block(16, 32, 2), Block(32, 32))
        self.s8 = nn.Sequential(Block(32, 64, 2), Block(64, 64))
        self.s16 = nn.Sequential(Block(64, 96, 2), Block(96, 96))
        self.s32 = nn.Sequential(Block(96, 128, 2), Block(128, 128))
        self.lat = nn.ModuleList(nn.Conv2d(c, 32, 1) for c in (32, 64, 96, 128))
        self.smooth = Block(32, 32)
        self.head = nn.Sequential(Block(32, 32), nn.Conv2d(32, OUT_CHANNELS, 1))
        nn.init.constant_(self.head[1].bias[:1], -4.0)  # start with few false centres

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        f4 = self.s4(self.stem(x))
        f8 = self.s8(f4)
        f16 = self.s16(f8)
        f32 = self.s32(f16)
        p = self.lat[3](f32)
        for lat, f in ((self.lat[2], f16), (self.lat[1], f8), (self.lat[0], f4)):
            p = lat(f) + F.interpolate(p, size=f.shape[-2:], mode="nearest")
        return self.head(self.smooth(p))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.raw(x)
        return torch.cat([out[:, :1].sigmoid(), out[:, 1:]], dim=1)
