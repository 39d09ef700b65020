"""The run config: names from the registry plus their configs; flat options and YAML map onto it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from finetune.adapters.config import AdapterConfig
from finetune.config import TrainConfig
from finetune.data.config import DataOptions, SplitConfig
from plugins import jsonio, yamlio
from plugins.backbones.config import BackboneConfig
from plugins.errors import InvalidInput, opt
from plugins.schema import from_dict, option, require

DEFAULTS_SOURCES = ("model", "generic")  # where a run's training settings come from (model_defaults.py)
SECTIONS: dict[str, type] = {
    "backbone_config": BackboneConfig,
    "adapter_config": AdapterConfig,
    "train": TrainConfig,
    "split": SplitConfig,
    "data_options": DataOptions,
}


@dataclass(frozen=True)
class RunConfig:
    """One fine-tuning run."""

    data: str = option(ref="dataset",
                       help="digits, fashion-mnist[:FOLDER], rotten-tomatoes, imagefolder:PATH or csv:PATH "
                            "(a bare folder or .csv path works too)")
    backbone: str = option(ref="architecture",
                           help="a registered backbone or from-scratch model (cnn, rnn, lstm, dbn, gan), any "
                                "timm architecture name, or a Hugging Face model folder", flag="model",
                           alias=True)
    out: str = option(ref="output:model", help="the bundle folder to write")
    adapter: str = option("auto", min_length=1, help="linear-probe, full, partial, scratch, lora, gradual or "
                                       "discriminative (auto: linear-probe; scratch for from-scratch models)")
    recipe: str = option("auto", min_length=1,
                         help="supervised, dbn (RBM pretraining first), semi-gan or lbfgs (auto: "
                              "the model's own; lbfgs for a linear probe with a linear head)")
    head: str = option("linear", min_length=1,
                       help="head plugin: linear, mlp (one hidden layer of 256, GELU), lstm (a "
                            "bidirectional LSTM of 128 over a text backbone's token states) or "
                            "identity (the backbone's outputs are the logits)")
    dropout: float = option(0.0, ge=0, lt=1, help="dropout before the head")
    adapter_options: dict[str,
                          Any] = option(help="the adapter's own options, KEY=VALUE,... (a plugin adapter's, "
                                                  "or the built-ins' shared ones)", parse="kv",
                                             default_factory=dict)
    overwrite: bool = option(False, service=False, help="replace an existing out folder that robustune wrote")
    defaults: str = option("model", choices=DEFAULTS_SOURCES,
                           help="model: the model's recommended training settings for its adapter "
                                "and the data (printed; your flags override them); generic: the "
                                "same settings for every model")
    model_defaults: dict[str, Any] = option(help="the model's recommended settings this run took (filled in "
                                                 "from the model plugin)", cli=False, default_factory=dict)
    backbone_config: BackboneConfig = field(default_factory=BackboneConfig)
    adapter_config: AdapterConfig = field(default_factory=AdapterConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    data_options: DataOptions = field(default_factory=DataOptions)

    def __post_init__(self) -> None:
        require(self, [(name, bool(getattr(self, name).strip()), "must not be empty")
                       for name in ("data", "backbone", "out")])

    def to_json(self) -> dict[str, Any]:
        """Nested JSON form (stored in the work folder and the bundle)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "run config",
                  fix: str = f"start the run again without {opt('resume')}") -> RunConfig:
        """Inverse of ``to_json``; every field is type- and range-checked (one line naming it)."""
        return from_dict(cls, data, where, fix)


FRACTION_KEYS = {"adv_eps"}
INTERNAL = {"image_side"}  # set by the run itself, not an option
ALIASES = {"model": "backbone", "model_options": "options"}
TOP_NAMES = {f.name for f in fields(RunConfig)} - set(SECTIONS)


def parse_number(text: str) -> float:
    """``"8/255"`` or ``"0.03"`` -> float; anything else raises."""
    num, _, den = text.strip().partition("/")
    try:
        value = float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError) as exc:
        raise InvalidInput(f"cannot read the number {text!r}; write e.g. 8/255 or 0.03") from exc
    if not math.isfinite(value):
        raise InvalidInput(f"the number {text!r} is not finite; write e.g. 8/255 or 0.03")
    return value


def _owners(key: str) -> list[str]:
    """Every section with a field ``key`` (``seed`` sets both the split and the training seed)."""
    return [section for section, klass in SECTIONS.items() if key in {f.name for f in fields(klass)}]


def _route(raw_key: str, value: Any, top: dict[str, Any], sections: dict[str, dict[str, Any]]) -> str:
    """Put one flat option where it belongs; returns its canonical name."""
    key = str(raw_key).replace("-", "_")
    key = ALIASES.get(key, key)
    if key == "options" and isinstance(value, str):
        from plugins.backbones.scratch import parse_options

        value = parse_options(value)
    if key == "backbone" and "backbone" in top and top["backbone"] != value:
        raise InvalidInput(f"{opt('model')} {value} and {opt('backbone')} {top['backbone']} "
                           "disagree; pass one",
                           field="model")
    if key in FRACTION_KEYS and isinstance(value, str):
        value = parse_number(value)
    if key in TOP_NAMES:
        top[key] = value
    elif key not in INTERNAL and (owners := _owners(key)):
        for section in owners:
            sections[section][key] = value
    else:
        raise InvalidInput(f"unknown training option {raw_key!r}; see the training options",
                           field=str(raw_key))
    return key


def _take_model_defaults(top: dict[str, Any], sections: dict[str, dict[str, Any]],
                         given: set[str]) -> dict[str, Any]:
    """Route the model plugin's recommended settings the user did not set; returns those taken."""
    if top.get("defaults", "model") != "model" or not isinstance(top.get("backbone"), str):
        return {}
    from finetune.model_defaults import data_modality, model_defaults

    recommended = model_defaults(top["backbone"], str(top.get("adapter", "auto")),
                                 data_modality(str(top.get("data", ""))))
    if "epochs" in given:  # a patience picked for the model's epochs: scale with the user's instead
        recommended.pop("patience", None)
    taken = {k: v for k, v in recommended.items() if ALIASES.get(k, k) not in given}
    for key, value in taken.items():
        _route(key, value, top, sections)
    return taken


def from_options(options: dict[str, Any]) -> RunConfig:
    """Route flat options (CLI flags or YAML keys, dashes allowed) to their sections.

    The model plugin's recommended settings fill what the options leave out (``defaults: model``).
    """
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {k: {} for k in SECTIONS}
    given = {_route(key, value, top, sections) for key, value in options.items() if value is not None}
    for name in ("data", "backbone", "out"):
        if name not in top:
            what = f"{opt('model')} (or {opt('backbone')})" if name == "backbone" else opt(name)
            raise InvalidInput(f"missing {what}; it is required (as an option or in the config file)",
                               field=name)
    top["model_defaults"] = _take_model_defaults(top, sections, given)
    return from_dict(RunConfig, {**top, **sections}, "", "see the training options", lax=True)


def read_config_file(path: Path) -> dict[str, Any]:
    """Flat options from a YAML or JSON file."""
    data = yamlio.read_mapping(path)
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key.replace("-", "_") in SECTIONS:
            flat.update(value)
        else:
            flat[key] = value
    return flat


def dump(cfg: RunConfig) -> str:
    """JSON text of a run config."""
    return jsonio.dumps(cfg.to_json())
