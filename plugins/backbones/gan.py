"""``gan``: the discriminator of a semi-supervised GAN (Salimans et al. 2016), as a K-class model.

The K+1-class training with a feature-matching generator lives in the ``semi-gan`` recipe
(finetune/recipes/semi_gan.py); the bundle keeps only this discriminator.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from plugins.backbones.dbn import sizes
from plugins.backbones.scratch import ScratchBackbone, gray, scratch_factory


class GaussianNoise(nn.Module):
    """Additive Gaussian noise while training, identity in eval. Shape: any -> same."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return x + self.std * torch.randn_like(x) if self.training and self.std > 0 else x


class Discriminator(ScratchBackbone):
    """Grayscale pixels through noisy ReLU layers; the last hidden layer is the matched feature.

    Shape: (N, 3, H, W) in [0, 1] -> (N, H * W) -> (N, last hidden size).
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {"hidden": "500-250-250", "noise_in": 0.3, "noise": 0.5,
                                          "z_dim": 100, "gen_hidden": "500-500"}
    TRAINING: ClassVar[dict[str, dict[str, Any]]] = {"*": {"epochs": 100, "lr": 3e-3, "batch_size": 100}}
    MEAN = 0.0
    STD = 1.0  # the generator writes pixels in [0, 1]
    plugin = "gan"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widths = [self.image_size * self.image_size, *sizes(self.opts["hidden"])]
        layers: list[nn.Module] = [GaussianNoise(float(self.opts["noise_in"]))]
        for a, b in zip(widths, widths[1:], strict=False):
            layers += [nn.Linear(a, b), nn.ReLU(), GaussianNoise(float(self.opts["noise"]))]
        self.net = nn.Sequential(*layers[:-1])  # no noise on the matched features
        self.num_features = widths[-1]

    def forward_image(self, x: Tensor) -> Tensor:
        return self.net(gray(x).flatten(1))  # type: ignore[no-any-return]

    def blocks(self) -> list[list[nn.Module]]:
        return [[self.net]]


class Generator(nn.Module):
    """Noise to grayscale images in [0, 1], repeated to 3 channels.

    Shape: (N, z_dim) -> (N, 3, size, size).
    """

    def __init__(self, z_dim: int, hidden: list[int], size: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.Softplus()]
            width = h
        layers += [nn.Linear(width, size * size), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.size = size

    def forward(self, z: Tensor) -> Tensor:
        img = self.net(z).view(-1, 1, self.size, self.size)
        return img.expand(-1, 3, -1, -1)


gan = scratch_factory({"image": Discriminator}, "gan",
                      "from scratch: semi-supervised GAN discriminator (K+1, feature matching); images")
gan.recipe = "semi-gan"  # type: ignore[attr-defined]
