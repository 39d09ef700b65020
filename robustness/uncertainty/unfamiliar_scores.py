"""The built-in unfamiliar-input scores (plugins of kind ``unfamiliar-score``): energy on the logits (the
default) and Mahalanobis on the penultimate features. Higher means less like the familiar inputs.

A score is fitted on familiar inputs (``fit`` returns the tensors to keep with the bundle, none for energy)
and then scores new inputs from their logits and, where ``needs_features``, their features.
"""

from __future__ import annotations

import torch
from torch import Tensor

from robustness.uncertainty.unfamiliar import energy as energy_of


class Energy:
    """-logsumexp(logits) (Liu et al. 2020): nothing to fit, works on any classifier."""

    name = "energy"
    needs_features = False

    def fit(self, logits: Tensor, features: Tensor | None, labels: Tensor) -> dict[str, Tensor]:
        return {}

    def score(self, logits: Tensor, features: Tensor | None, fitted: dict[str, Tensor]) -> Tensor:
        """Shape: (N, K) -> (N,)."""
        return energy_of(logits)


class Mahalanobis:
    """The smallest Mahalanobis distance (squared) from the input's penultimate features to a class
    mean, under one covariance shared by the classes (Lee et al. 2018), shrunk toward a multiple of the
    identity (Ledoit-Wolf) because a validation split holds fewer examples than features. Kept as a
    whitening matrix and the whitened class means."""

    name = "mahalanobis"
    needs_features = True

    def fit(self, logits: Tensor, features: Tensor | None, labels: Tensor) -> dict[str, Tensor]:
        """Shape: features (N, F), labels (N,) -> whiten (F, F), means (K', F) of the K' classes seen."""
        from sklearn.covariance import ledoit_wolf

        x = _features(features).double()
        classes = int(logits.shape[1])
        means = torch.zeros(classes, x.shape[1], dtype=torch.float64)
        centered = []
        for k in range(classes):
            rows = x[labels == k]
            if len(rows):
                means[k] = rows.mean(0)
                centered.append(rows - means[k])
        cov, _ = ledoit_wolf(torch.cat(centered).numpy(), assume_centered=True)
        values, vectors = torch.linalg.eigh(torch.as_tensor(cov))
        whiten = (vectors * values.clamp_min(1e-12).rsqrt()) @ vectors.T  # cov ** -1/2
        present = torch.tensor([bool((labels == k).any()) for k in range(classes)])
        return {"whiten": whiten.float(), "means": (means @ whiten.T)[present].float()}  # classes seen

    def score(self, logits: Tensor, features: Tensor | None, fitted: dict[str, Tensor]) -> Tensor:
        """Shape: features (N, F) -> (N,)."""
        z = _features(features).double() @ fitted["whiten"].double().T
        return torch.cdist(z, fitted["means"].double()).pow(2).min(1).values


def _features(features: Tensor | None) -> Tensor:
    if features is None or features.dim() != 2:
        from plugins.errors import InvalidInput, opt

        raise InvalidInput("the mahalanobis score needs one feature vector per input, which this model's "
                           f"head does not take (it reads token states); use {opt('unfamiliar')} energy")
    return features.cpu()


energy, mahalanobis = Energy, Mahalanobis
