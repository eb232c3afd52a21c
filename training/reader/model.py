"""The reader network: CNN -> BiGRU -> CTC over 37 classes (blank + 0-9A-Z).

Input 3x64x128 RGB/255 (plain resize), eight conv3x3+BN+ReLU layers, a depthwise 4x1
conv collapsing the height to 1 (32 time steps), a BiGRU and a linear layer; softmax is
in the graph so onnxruntime returns probabilities. ~0.6 M parameters (RECOGNITION.md).
"""

from __future__ import annotations

import torch
from torch import nn

NUM_CLASSES = 37


def conv_bn(cin: int, cout: int, stride: int | tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Reader(nn.Module):
    """Plate crop (N,3,64,128) -> per-frame class probabilities (N,32,37)."""

    def __init__(self) -> None:
        super().__init__()
        w = (32, 32, 64, 64, 96, 96, 128, 128)
        s = (2, 1, 2, 1, (2, 1), 1, (2, 1), 1)
        layers, cin = [], 3
        for cout, stride in zip(w, s):
            layers.append(conv_bn(cin, cout, stride))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.collapse = nn.Sequential(nn.Conv2d(128, 128, (4, 1), groups=128, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True))
        self.rnn = nn.GRU(128, 96, batch_first=True, bidirectional=True)
        self.head = nn.Linear(192, NUM_CLASSES)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        f = self.collapse(self.features(x)).squeeze(2).transpose(1, 2)  # N,T,C
        f, _ = self.rnn(f)
        return self.head(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x).softmax(-1)
