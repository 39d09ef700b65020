"""LoRA through PEFT: low-rank updates on chosen layers, merged into plain weights before saving.

The bundle never holds PEFT modules or key names: ``finalize`` merges each update into its base
layer and puts the base layer back, so a LoRA bundle loads like any other.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from finetune.adapters.base import TrainPlan, freeze
from finetune.adapters.config import AdapterConfig
from plugins.classifier import Classifier
from plugins.errors import InvalidInput, Unsupported, brief, opt

TEXT_TARGETS = ("query", "value")  # BERT-family attention projections (Hu et al. 2021)


def _matches(name: str, target: str) -> bool:
    return name == target or name.endswith("." + target)


def default_targets(inner: nn.Module, modality: str) -> list[str]:
    """Attention query/value for BERT-family encoders; else every Linear and ungrouped Conv2d."""
    names = [n for n, _ in inner.named_modules()]
    if modality == "text" and all(any(_matches(n, t) for n in names) for t in TEXT_TARGETS):
        return list(TEXT_TARGETS)
    return [n for n, m in inner.named_modules()
            if isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.groups == 1)]


def _check_grouped(inner: nn.Module, targets: list[str]) -> None:
    for name, module in inner.named_modules():
        if isinstance(module, nn.Conv2d) and module.groups > 1 and any(_matches(name, t) for t in targets):
            raise Unsupported(
                f"LoRA on {name} (a convolution with groups={module.groups}) cannot be merged into the "
                f"bundle's weights; leave grouped and depthwise convolutions out of {opt('lora_targets')}"
            )


def merge_lora(inner: nn.Module) -> int:
    """Merge every LoRA layer into its base layer and put the base layer back; returns how many."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    found = [(n, m) for n, m in inner.named_modules() if isinstance(m, BaseTunerLayer)]
    for name, layer in found:
        layer.merge()
        parent_name, _, child = name.rpartition(".")
        parent = inner.get_submodule(parent_name) if parent_name else inner
        base = layer.get_base_layer()
        base.requires_grad_(True)
        setattr(parent, child, base)
    return len(found)


class Lora:
    """Low-rank adapters (rank ``lora_r``, scale ``lora_alpha / lora_r``) and the head train."""

    name = "lora"

    options = AdapterConfig  # the built-in adapters share their options

    def plan(self, model: Classifier, lr: float, cfg: AdapterConfig) -> TrainPlan:
        from peft import LoraConfig, inject_adapter_in_model

        inner: Any = getattr(model.backbone, "model", model.backbone)
        given = [t.strip() for t in cfg.lora_targets.split(",") if t.strip()]
        targets = given or default_targets(inner, model.modality)
        if not targets:
            raise InvalidInput(f"{model.backbone.name} has no Linear or Conv2d layer for LoRA; "
                               "use another adapter")
        _check_grouped(inner, targets)
        freeze(model.backbone)
        alpha: Any = cfg.lora_alpha
        config = LoraConfig(r=cfg.lora_r, lora_alpha=alpha, lora_dropout=cfg.lora_dropout,
                            target_modules=targets)
        try:
            inject_adapter_in_model(config, inner)
        except ValueError as exc:  # PEFT names the unsupported or missing layer
            raise InvalidInput(f"LoRA cannot target {', '.join(given) or 'the default layers'}: "
                               f"{brief(exc)} (fix {opt('lora_targets')})") from exc
        lora_params = [p for n, p in inner.named_parameters() if "lora_" in n]
        for p in lora_params:
            p.requires_grad_(True)
        for p in model.head.parameters():
            p.requires_grad_(True)
        def finalize() -> None:
            merge_lora(inner)

        return TrainPlan(
            module=model,
            param_groups=[{"params": lora_params, "lr": lr, "name": "lora"},
                          {"params": list(model.head.parameters()), "lr": lr, "name": "head"}],
            finalize=finalize,
        )


adapter = Lora()
