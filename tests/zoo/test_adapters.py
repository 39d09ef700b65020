"""LoRA (merged into plain bundles), gradual unfreezing, discriminative learning rates, the lstm head."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from finetune.adapters.config import AdapterConfig
from plugins import RobustuneError
from plugins.backbones import BackboneConfig
from plugins.bundle import load_bundle, save_bundle
from plugins.model import ModelSpec, build_classifier
from plugins.registry import registry


def _lora_round_trip(spec: ModelSpec, x: tuple[torch.Tensor, ...], tmp_path: Path, tokenizer: bool) -> float:
    torch.manual_seed(0)
    model = build_classifier(spec)
    plan = registry.get("adapter", "lora").plan(model, 1e-3, AdapterConfig(lora_r=4))
    lora = [p for n, p in model.named_parameters() if "lora_" in n]
    assert lora and all(p.requires_grad for p in lora)
    assert not any(p.requires_grad for n, p in model.backbone.named_parameters() if "lora_" not in n)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)  # B starts at zero; make the update real before merging
    model.eval()
    with torch.no_grad():
        adapted = model(*x)
    assert plan.finalize is not None
    plan.finalize()
    assert not any("lora" in k for k in model.state_dict())
    with torch.no_grad():
        merged = model(*x)
    assert torch.allclose(adapted, merged, atol=1e-4), float((adapted - merged).abs().max())
    meta = {"model": spec.to_json(), "arch": model.backbone.arch(), "labels": ["a", "b"],
            "preprocessing": model.backbone.preprocessing()}
    tok = getattr(model.backbone, "tokenizer", None) if tokenizer else None
    save_bundle(tmp_path / "b", model, meta, tok)
    with safe_open(str(tmp_path / "b" / "model.safetensors"), "pt") as f:
        assert not any("lora" in k or "base_layer" in k for k in f.keys())  # noqa: SIM118
    with torch.no_grad():
        assert torch.equal(load_bundle(tmp_path / "b").model(*x), merged)
    return plan.trainable_count() / sum(p.numel() for p in model.parameters())


def test_lora_on_bert_merges_into_a_plain_bundle(tmp_path: Path) -> None:
    spec = ModelSpec("bert", 2, BackboneConfig(max_length=16))
    tok = build_classifier(spec).backbone.tokenizer
    enc = tok(["a fine film", "not good at all"], padding=True, return_tensors="pt")
    share = _lora_round_trip(spec, (enc["input_ids"], enc["attention_mask"]), tmp_path, tokenizer=True)
    assert share < 0.05


def test_lora_on_timm_convolutions(tmp_path: Path) -> None:
    spec = ModelSpec("resnet18", 2, BackboneConfig(weights="none", image_size=32))
    share = _lora_round_trip(spec, (torch.rand(2, 3, 32, 32),), tmp_path, tokenizer=False)
    assert share < 0.1


@pytest.mark.parametrize(("model", "targets", "fragment"), [
    ("efficientnet_lite0", "blocks.0.0.conv_dw", "groups=32"),
    ("resnet18", "bn1", "not supported"),
    ("resnet18", "nothere", "not found"),
])
def test_lora_refuses_unsupported_layers(model: str, targets: str, fragment: str) -> None:
    m = build_classifier(ModelSpec(model, 2, BackboneConfig(weights="none", image_size=32)))
    with pytest.raises(RobustuneError, match=fragment):
        registry.get("adapter", "lora").plan(m, 1e-3, AdapterConfig(lora_targets=targets))


def test_gradual_unfreezes_one_block_per_epoch_at_discriminative_rates() -> None:
    model = build_classifier(ModelSpec("resnet18", 2, BackboneConfig(weights="none", image_size=32)))
    cfg = AdapterConfig(lr_decay=0.5, backbone_lr_mult=0.1)
    plan = registry.get("adapter", "gradual").plan(model, 1e-2, cfg)
    blocks = model.backbone.blocks()
    rates = [g["lr"] for g in plan.param_groups]
    assert rates[-1] == 1e-2 and rates[-2] == pytest.approx(1e-3)
    assert all(a == pytest.approx(0.5 * b) for a, b in zip(rates[:-2], rates[1:-1], strict=True))
    assert plan.epoch_hook is not None

    def trainable() -> list[bool]:
        return [all(p.requires_grad for m in block for p in m.parameters()) for block in blocks]

    plan.epoch_hook(0)
    assert trainable() == [False] * len(blocks) and all(p.requires_grad for p in model.head.parameters())
    plan.epoch_hook(1)
    assert trainable() == [False] * (len(blocks) - 1) + [True]
    assert len(plan.frozen) == sum(len(b) for b in blocks[:-1])
    plan.epoch_hook(len(blocks))
    assert all(trainable()) and plan.frozen == []


def test_gradual_training_leaves_frozen_blocks_untouched(tmp_path: Path) -> None:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    opts = {"data": "digits", "model": "resnet18", "weights": "none", "adapter": "gradual", "image_size": 16,
            "per_class": 20, "epochs": 2, "unfreeze_every": 1, "out": str(tmp_path / "g")}
    torch.manual_seed(0)
    start = build_classifier(ModelSpec("resnet18", 10, BackboneConfig(weights="none", image_size=16)))
    run_training(from_options(opts))  # the run seeds torch with 0 before building too
    trained = load_bundle(tmp_path / "g").model
    stem = "backbone.model.conv1.weight"
    top = "backbone.model.layer4.1.conv2.weight"
    assert torch.equal(trained.state_dict()[stem], start.state_dict()[stem])  # never unfrozen in 2 epochs
    assert not torch.equal(trained.state_dict()[top], start.state_dict()[top])


def test_discriminative_rates_decay_downwards() -> None:
    model = build_classifier(ModelSpec("bert", 2, BackboneConfig()))
    plan = registry.get("adapter", "discriminative").plan(model, 1e-3, AdapterConfig(lr_decay=0.8))
    rates = [g["lr"] for g in plan.param_groups]
    assert len(rates) == len(model.backbone.blocks()) + 1 and rates[-1] == 1e-3
    assert rates[0] == pytest.approx(1e-4 * 0.8 ** (len(rates) - 2))
    assert all(p.requires_grad for p in model.parameters())


def test_lstm_head_over_token_states(tmp_path: Path, text_csv: Path) -> None:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    opts = {"data": f"csv:{text_csv}", "model": "bert", "head": "lstm", "epochs": 3, "lr": 3e-3,
            "out": str(tmp_path / "l")}
    result = run_training(from_options(opts))
    assert result.config.adapter == "linear-probe"  # token states cached once, the LSTM trains on them
    bundle = load_bundle(tmp_path / "l")
    texts = ["a wonderful film", "a dull mess that never ends"]
    enc = bundle.tokenizer(texts, padding=True, return_tensors="pt")
    model = bundle.model
    with torch.no_grad():
        logits = model(enc["input_ids"], enc["attention_mask"])
        embeds = model.get_input_embeddings()(enc["input_ids"])
        assert torch.allclose(model.forward_embeddings(embeds, enc["attention_mask"]), logits, atol=1e-5)
    with pytest.raises(RobustuneError, match="token states"):
        build_classifier(ModelSpec("cnn", 2, BackboneConfig(options={"modality": "text"}), head="lstm"))
