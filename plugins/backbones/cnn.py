"""``cnn``: a configurable convolutional classifier for images, Kim's CNN for texts."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from plugins.backbones.scratch import ScratchBackbone, masked_max, scratch_factory


class ImageCNN(ScratchBackbone):
    """``depth`` blocks of two 3x3 convolutions (+ batch norm), max pooling between blocks.

    Width doubles per block; global average pooling gives the features.
    Shape: (N, 3, H, W) normalized -> (N, width * 2 ** (depth - 1)).
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {"depth": 3, "width": 32, "bn": True, "dropout": 0.2}
    TRAINING: ClassVar[dict[str, dict[str, Any]]] = {
        "*": {"epochs": 40, "lr": 3e-3, "patience": 15, "label_smoothing": 0.1}}
    plugin = "cnn"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        o = self.opts
        layers: list[nn.Module] = []
        channels, size = 3, self.image_size
        self.stages = nn.ModuleList()
        for i in range(max(1, int(o["depth"]))):
            width = int(o["width"]) * 2 ** i
            for _ in range(2):
                layers += [nn.Conv2d(channels, width, 3, padding=1, bias=not o["bn"])]
                layers += [nn.BatchNorm2d(width)] if o["bn"] else []
                layers += [nn.ReLU(inplace=True)]
                channels = width
            if size >= 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            self.stages.append(nn.Sequential(*layers))
            layers = []
        self.drop = nn.Dropout(float(o["dropout"]))
        self.num_features = channels

    def forward_image(self, x: Tensor) -> Tensor:
        for stage in self.stages:
            x = stage(x)
        return self.drop(x.mean((2, 3)))  # type: ignore[no-any-return]

    def blocks(self) -> list[list[nn.Module]]:
        return [[s] for s in self.stages]


class KimCNN(ScratchBackbone):
    """Kim (2014): parallel 1-D convolutions of several widths over learned token embeddings,
    max-pooled over time. Shape: (N, L) ids -> (N, filters * len(kernels))."""

    DEFAULTS: ClassVar[dict[str, Any]] = {"embed_dim": 128, "filters": 100, "kernels": "3-4-5",
                                          "dropout": 0.5}
    TRAINING: ClassVar[dict[str, dict[str, Any]]] = {"*": {"epochs": 12, "lr": 1e-3, "patience": 4}}
    plugin = "cnn"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        o = self.opts
        self.kernels = [int(k) for k in str(o["kernels"]).split("-") if k]
        self.embed = self.embedding(int(o["embed_dim"]))
        self.convs = nn.ModuleList(nn.Conv1d(int(o["embed_dim"]), int(o["filters"]), k) for k in self.kernels)
        self.drop = nn.Dropout(float(o["dropout"]))
        self.num_features = int(o["filters"]) * len(self.kernels)

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        width = max(self.kernels)
        if embeds.shape[1] < width:  # too short for the widest filter: pad with masked zeros
            extra = width - embeds.shape[1]
            embeds = F.pad(embeds, (0, 0, 0, extra))
            attention_mask = F.pad(attention_mask, (0, extra))
        x = embeds.transpose(1, 2)
        pooled = []
        for conv in self.convs:
            out = torch.relu(conv(x)).transpose(1, 2)  # (N, L - k + 1, filters)
            valid = attention_mask[:, : out.shape[1]].clone()
            valid[:, 0] = 1  # every text keeps at least one window
            pooled.append(masked_max(out, valid))
        return self.drop(torch.cat(pooled, 1))  # type: ignore[no-any-return]

    def blocks(self) -> list[list[nn.Module]]:
        return [[self.embed], [self.convs]]


cnn = scratch_factory({"image": ImageCNN, "text": KimCNN}, "cnn",
                      "from scratch: image CNN (depth, width, bn, dropout) or Kim's text CNN")
