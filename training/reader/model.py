"""The reader network: CNN -> BiGRU -> CTC over 37 classes (blank + 0-9A-Z).

Input 3x64x128 RGB/255 (plain resize), eight conv3x3+BN+ReLU layers, a depthwise 4x1
conv collapsing the height to 1 (32 time steps), a BiGRU and a linear layer; softmax is
in the graph so onnxruntime returns probabilities. ~0.6 M parameters at full width (RECOGNITION.md).
"""

from __future__ import annotations

import torch
from torch import nn

NUM_CLASSES = 37


def conv_bn(cin: int, cout: int, stride: int | tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


WIDTHS = (32, 32, 64, 64, 96, 96, 128, 128)
STRIDES = (2, 1, 2, 1, (2, 1), 1, (2, 1), 1)


class Reader(nn.Module):
    """Plate crop (N,3,64,128) -> per-frame class probabilities (N,32,37).

    `widths` are the eight conv layers' channels; a pruned reader (training/reader/prune.py)
    has fewer in the first seven. The last stays 128 wide: the collapse and the GRU read it.
    """

    def __init__(self, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__()
        if len(widths) != len(WIDTHS) or widths[-1] != WIDTHS[-1]:
            raise ValueError(f"reader widths {widths}: eight layers, the last {WIDTHS[-1]} wide")
        layers, cin = [], 3
        for cout, stride in zip(widths, STRIDES):
            layers.append(conv_bn(cin, cout, stride))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.collapse = nn.Sequential(nn.Conv2d(128, 128, (4, 1), groups=128, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True))
        self.rnn = nn.GRU(128, 96, batch_first=True, bidirectional=True)
        self.head = nn.Linear(192, NUM_CLASSES)

    @classmethod
    def with_weights(cls, state: dict[str, torch.Tensor]) -> "Reader":
        """A reader shaped for these weights (full or pruned widths, read from the conv shapes), loaded."""
        model = cls(tuple(int(state[f"features.{i}.0.weight"].shape[0]) for i in range(len(WIDTHS))))
        model.load_state_dict(state)
        return model

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        f = self.collapse(self.features(x)).squeeze(2).transpose(1, 2)  # N,T,C
        f, _ = self.rnn(f)
        return self.head(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x).softmax(-1)
