"""The audit defaults per modality, defined once: which attacks, at which budgets."""

from __future__ import annotations

from plugins.errors import InvalidInput

IMAGE_EPS = (1 / 255, 2 / 255, 4 / 255, 8 / 255)  # Linf in pixel units
TEXT_EPS = (0.02, 0.05, 0.1, 0.2)  # relative embedding norm, or fraction of words changed
BATCH = 64  # examples per attack batch on the CPU (a GPU takes the largest batch that fits)
DEFAULTS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "image": (("fgsm", "pgd"), IMAGE_EPS),
    "text": (("embedding-pgd", "word-level"), TEXT_EPS),
}


def _modality(modality: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    if modality not in DEFAULTS:
        raise InvalidInput(f"no audit defaults for modality {modality!r}; the modalities are image and text")
    return DEFAULTS[modality]


def default_attacks(modality: str) -> tuple[str, ...]:
    """The attacks an audit of a ``modality`` model runs unless told otherwise."""
    return _modality(modality)[0]


def default_eps(modality: str) -> tuple[float, ...]:
    """The budgets an audit of a ``modality`` model uses unless told otherwise."""
    return _modality(modality)[1]
