"""Hugging Face layouts: a text bundle as a ``transformers`` folder, a timm bundle as a timm folder.

- BERT-family bundles (encoder, pooling, linear or mlp head): ``config.json`` whose ``auto_map`` names
  ``modeling_robustune.py`` (copied in; torch and transformers only), ``model.safetensors`` and the
  tokenizer. ``AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)``
  and ``AutoTokenizer.from_pretrained(folder, trust_remote_code=True)`` load it offline (the config
  names its own model type, so no built-in class can load it silently with a missing head). An
  imported HF classifier is written back with its own ``save_pretrained`` (no extra code).
- timm bundles with a linear head: timm's own ``save_for_hf`` layout (``config.json`` with the
  architecture, num_classes, label names, mean, std and input size; ``model.safetensors``), which
  ``timm.create_model("local-dir:FOLDER", pretrained=True)`` or ``timm.create_model(ARCH,
  pretrained=True, num_classes=K, pretrained_cfg_overlay={"file": FOLDER/model.safetensors,
  "num_classes": K})`` loads.
  timm models take normalized pixels: normalize with the config's mean and std first.
Each layout reloads what it wrote and compares logits with the bundle on 32 inputs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from finetune.export import compare, reference_logits, sample_inputs
from plugins.backbones.bert import HFTextBackbone
from plugins.backbones.hf_classifier import HFSequenceClassifier
from plugins.backbones.timm_image import TimmBackbone
from plugins.bundle import Bundle
from plugins.errors import Unsupported, opt
from plugins.meta import ImagePreprocessing

MODELING = Path(__file__).with_name("modeling_robustune.py")


def _linear_or_mlp(head: nn.Module, where: str) -> tuple[str, int]:
    """("linear" | "mlp", hidden width) of one of robustune's plain heads; other heads raise."""
    layers = list(head.children()) if isinstance(head, nn.Sequential) else []
    kinds = [type(m) for m in layers]
    if kinds == [nn.Dropout, nn.Linear]:
        return "linear", 0
    if kinds == [nn.Dropout, nn.Linear, nn.GELU, nn.Dropout, nn.Linear]:
        hidden: Any = layers[1]
        return "mlp", int(hidden.out_features)
    raise Unsupported(f"{where}'s head ({type(head).__name__}) has no Hugging Face equivalent; export "
                      f"it with {opt('format')} onnx")


def _text(bundle: Bundle, folder: Path) -> dict[str, Any]:
    """An encoder + pooling + head bundle as a remote-code transformers model."""
    from safetensors.torch import save_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model: Any = bundle.model
    backbone: HFTextBackbone = model.backbone
    head, hidden = _linear_or_mlp(model.head, f"bundle {bundle.path}")
    labels = bundle.labels
    config = {"model_type": "robustune-text", "architectures": ["RobustuneForSequenceClassification"],
              "auto_map": {"AutoConfig": "modeling_robustune.RobustuneTextConfig",
                           "AutoModelForSequenceClassification":
                               "modeling_robustune.RobustuneForSequenceClassification"},
              "encoder": backbone.model.config.to_dict(), "pooling": backbone.pooling, "head": head,
              "head_hidden": hidden, "num_labels": len(labels),
              "id2label": dict(enumerate(labels)), "label2id": {n: i for i, n in enumerate(labels)}}
    from plugins import jsonio

    (folder / "config.json").write_text(jsonio.dumps(config))
    shutil.copyfile(MODELING, folder / MODELING.name)
    state = {**{f"encoder.{k}": v for k, v in backbone.model.state_dict().items()},
             **{f"head.{k}": v for k, v in model.head.state_dict().items()}}
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    bundle.tokenizer.save_pretrained(str(folder))
    loaded = AutoModelForSequenceClassification.from_pretrained(str(folder), trust_remote_code=True,
                                                                local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=True, local_files_only=True)
    return _check_text(bundle, loaded, tokenizer, "AutoModelForSequenceClassification (trust_remote_code)")


def _hf_classifier(bundle: Bundle, folder: Path) -> dict[str, Any]:
    """An imported HF sequence classifier, written back as it came (its own head and config)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    hf_model: Any = bundle.model.backbone.model
    labels = bundle.labels
    hf_model.config.id2label = dict(enumerate(labels))
    hf_model.config.label2id = {n: i for i, n in enumerate(labels)}
    hf_model.save_pretrained(str(folder), safe_serialization=True)
    bundle.tokenizer.save_pretrained(str(folder))
    loaded = AutoModelForSequenceClassification.from_pretrained(str(folder), local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return _check_text(bundle, loaded, tokenizer, "AutoModelForSequenceClassification")


def _check_text(bundle: Bundle, loaded: Any, tokenizer: Any, how: str) -> dict[str, Any]:
    inputs = sample_inputs(bundle)
    if tokenizer.get_vocab() != bundle.tokenizer.get_vocab():
        raise Unsupported(f"the tokenizer written for bundle {bundle.path} reloads with another vocabulary; "
                          "report this")
    with torch.inference_mode():
        got = loaded(**inputs).logits
    diff = compare(reference_logits(bundle, inputs), got, f"exported model reloaded with {how}")
    import transformers

    return {"runtime": f"transformers {transformers.__version__}: {how}", "inputs": len(got),
            "max_abs_diff": diff}


def _timm(bundle: Bundle, folder: Path) -> dict[str, Any]:
    """A timm bundle in timm's own Hugging Face layout (``save_for_hf``)."""
    import timm
    from timm.models import save_for_hf

    model: Any = bundle.model
    backbone: TimmBackbone = model.backbone
    if _linear_or_mlp(model.head, f"bundle {bundle.path}")[0] != "linear":
        raise Unsupported(f"bundle {bundle.path} has an mlp head, which a timm model has no place for; "
                          f"export it with {opt('format')} onnx")
    labels, pre = bundle.labels, bundle.meta.preprocessing
    full: Any = timm.create_model(backbone.name, pretrained=False, num_classes=len(labels))
    classifier = full.pretrained_cfg.get("classifier", "fc")
    state = dict(backbone.model.state_dict())
    state.update({f"{classifier}.{k}": v for k, v in model.head[1].state_dict().items()})
    full.load_state_dict(state, strict=True)
    assert isinstance(pre, ImagePreprocessing)  # a timm backbone is an image model
    data = {"input_size": pre.input_size, "mean": pre.mean, "std": pre.std,
            "crop_pct": 1.0, "interpolation": "bilinear"}
    save_for_hf(full, str(folder), model_config={"label_names": labels}, safe_serialization=True,
                data_config=data)
    loaded: Any = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    cfg = loaded.pretrained_cfg
    inputs = sample_inputs(bundle)
    mean, std = (torch.tensor(cfg[k]).view(1, -1, 1, 1) for k in ("mean", "std"))
    with torch.inference_mode():
        got = loaded((inputs["pixels"] - mean) / std)
    diff = compare(reference_logits(bundle, inputs), got, "exported model reloaded with timm")
    return {"runtime": f"timm {timm.__version__}: create_model('local-dir:...'), pixels normalized with "
                       "the config's mean and std", "inputs": len(got), "max_abs_diff": diff}


LAYOUTS: dict[type[nn.Module], Callable[[Bundle, Path], dict[str, Any]]] = {
    HFTextBackbone: _text, HFSequenceClassifier: _hf_classifier, TimmBackbone: _timm,
}


def exporter(bundle: Bundle, folder: Path) -> dict[str, Any]:
    """The layout for the bundle's backbone; a model neither library has raises one line."""
    backbone = bundle.model.backbone
    for kind, layout in LAYOUTS.items():
        if isinstance(backbone, kind):
            return layout(bundle, folder)
    raise Unsupported(f"bundle {bundle.path} is a {bundle.meta.model.backbone} model, which neither "
                      f"transformers nor timm can load; export it with {opt('format')} onnx "
                      "(every image model and the BERT family)")
