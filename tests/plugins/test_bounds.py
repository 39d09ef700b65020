"""What an option takes alone is declared once (``option(ge=..., choices=...)``): the spec refuses a value
outside it, naming the field, and the service's request schema states it (schemathesis then checks the
server against that schema in tests/service/test_openapi.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from finetune.adapters.config import AdapterConfig
from finetune.config import TrainConfig
from finetune.data.config import DataOptions, SplitConfig
from plugins.backbones.config import BackboneConfig
from plugins.errors import InvalidInput, Unsupported
from plugins.schema import Bounds, bounds_of

CONFIGS = [TrainConfig, SplitConfig, DataOptions, AdapterConfig, BackboneConfig]


def outside(b: Bounds, default: object) -> list[object]:
    """Values just outside the bounds (and a non-finite number for a ranged float)."""
    bad: list[object] = []
    if b.choices is not None:
        bad.append("no-such-" + b.choices[0])
    if b.min_length is not None:
        bad.append("" if isinstance(default, str) or default is None else ())
    integer = isinstance(default, int) and not isinstance(default, bool)
    step = 1 if integer else 1e-9
    for low in (b.ge,):
        if low is not None:
            bad.append(int(low) - 1 if integer else low - step)
    for low in (b.gt,):
        if low is not None:
            bad.append(low)
    for high in (b.le,):
        if high is not None:
            bad.append(int(high) + 1 if integer else high + step)
    for high in (b.lt,):
        if high is not None:
            bad.append(high)
    if b.ranged and not integer:
        bad.append(math.nan)
    return bad


CASES = [(cls, f.name, value) for cls in CONFIGS for f in dataclasses.fields(cls) if bounds_of(f)
         for value in outside(bounds_of(f), getattr(cls(), f.name))]  # type: ignore[arg-type]


def test_every_config_declares_bounds() -> None:
    assert len(CASES) > 60
    assert {cls.__name__ for cls, _, _ in CASES} == {cls.__name__ for cls in CONFIGS}


@pytest.mark.parametrize(("cls", "name", "value"), CASES, ids=lambda v: getattr(v, "__name__", repr(v)))
def test_a_value_outside_its_declared_bounds_is_refused_naming_the_field(cls: type, name: str,
                                                                          value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        cls(**{name: value})
    assert info.value.field == name, info.value
    assert name.replace("_", "-") in str(info.value.cli_message()) or name in str(info.value)


def test_the_bounds_themselves_are_accepted() -> None:
    TrainConfig(epochs=1, lr=1e6, warmup_fraction=0.0, label_smoothing=0.0, seed=2**32 - 1, adv_eps=1.0)
    SplitConfig(val_fraction=1e-9, per_class=2)
    AdapterConfig(lr_decay=1.0, lora_r=4096)


def test_fields_that_conflict_are_unsupported_not_invalid() -> None:
    """Each value fits its bounds; together they cannot run (the service answers 422, not 400)."""
    with pytest.raises(Unsupported) as info:
        TrainConfig(nproc=4, batch_size=2)
    assert info.value.field == "batch_size"
    with pytest.raises(Unsupported):
        TrainConfig(nproc=2, adversarial="pgd")


def test_bounds_in_words() -> None:
    assert Bounds(ge=1).words() == "at least 1"
    assert Bounds(gt=0, le=1).words() == "in (0, 1]"
    assert Bounds(ge=1, le=4096).words() == "between 1 and 4096"
    assert Bounds(ge=0, lt=1).words() == "in [0, 1)"
    assert Bounds(gt=0).problem(0) == "must be more than 0"
    assert Bounds(gt=0, le=1).problem((0.5, 2.0)) == "must all be in (0, 1]"
    assert Bounds(choices=("a", "b")).problem("c") == "must be one of a, b"
    assert Bounds(ge=1).problem(None) is None


def test_the_request_schema_states_every_declared_bound() -> None:
    from robustune.jobs.fields import job_fields
    from robustune.service.resolve import service_kinds
    from robustune.service.schemas import spec_model

    keywords = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
    checked = 0
    for kind in service_kinds():
        props = spec_model(kind).model_json_schema()["properties"]
        for f in job_fields(kind, "service"):
            b = f.bounds
            if b is None or f.request_name not in props:
                continue
            text = str(props[f.request_name])
            for name, word in keywords.items():
                if getattr(b, name) is not None:
                    assert f"'{word}': {getattr(b, name)!r}" in text.replace(".0,", ",").replace(".0}", "}") \
                        or f"'{word}': {float(getattr(b, name))!r}" in text, (kind, f.name, word, text)
                    checked += 1
            for choice in b.choices or ():
                assert repr(choice) in text, (kind, f.name, choice)
                checked += 1
    assert checked > 100
