"""Candidate names ``MODEL[:ADAPTER]`` checked against the registry before any training."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from plugins.errors import InvalidInput, NotFound, Unsupported, opt
from plugins.registry import registry


@dataclass(frozen=True)
class Candidate:
    """A model (registered backbone, timm name or HF folder) and an adapter (``auto``: its default)."""

    model: str
    adapter: str = "auto"

    @property
    def label(self) -> str:
        """``model:adapter`` as the user wrote it (``model`` alone for the default adapter)."""
        return self.model if self.adapter == "auto" else f"{self.model}:{self.adapter}"


def check_model(name: str, field: str = "candidates") -> None:
    """Raise with the closest registered name when ``name`` is no backbone robustune can build."""
    from plugins.backbones import backbone_modality
    from plugins.backbones.bert import is_hf_dir

    if registry.has("backbone", name) or is_hf_dir(name) or backbone_modality(name) is not None:
        return
    names = [e.name for e in registry if e.kind == "backbone"]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise NotFound(f"unknown candidate model {name!r}{hint}; see `robustune plugins` for backbones, "
                   "or give a timm name or an HF folder", field=field)


def parse_candidates(text: str) -> list[Candidate]:
    """``"resnet18:full,efficientnet_lite0:linear-probe,cnn"`` -> candidates; unknown names raise."""
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        model, _, adapter = part.partition(":")
        check_model(model)
        if adapter:
            registry.entry("adapter", adapter)  # raises with the closest name
        out.append(Candidate(model, adapter or "auto"))
    if len(out) < 1:
        raise InvalidInput(f"{opt('candidates')} is empty; give e.g. cnn,lstm or "
                           "efficientnet_lite0:linear-probe", field='candidates')
    labels = [c.label for c in out]
    if len(set(labels)) != len(labels):
        raise Unsupported(f"{opt('candidates')} names {labels} twice; list each candidate once",
                           field='candidates')
    return out


def slug(label: str) -> str:
    """A folder name for a candidate label."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in label)
