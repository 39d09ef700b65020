"""The API's pydantic schemas: job specs derived from the jobs' own spec dataclasses, and the rest."""

from __future__ import annotations

import typing
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, StrictBool, create_model

from robustune.jobs import job
from robustune.jobs.fields import SpecField, job_fields
from robustune.service.patterns import (
    ARCHITECTURE_REF,
    ARCHITECTURES,
    BASE64,
    DATASET_ID,
    DATASET_REF,
    DURATION,
    INLINE,
    JOB_ID,
    MODEL_NAME,
    MODEL_REF,
    PROJECT_NAME,
    TEXT_LINE,
    WEIGHTS_REF,
    says,
    schema,
)
from robustune.service.resolve import service_kinds


def _json_number(value: Any) -> Any:
    """A number as JSON has it: not a string, not true/false (pydantic's lax mode would take "5" and
    true for 5 and 1, which the schema does not allow)."""
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON number")
    return value


JSON_TYPES = (bool, int, float)  # their request forms are JSON's own (_json)


REF_PATTERNS = {"dataset": DATASET_REF, "model": MODEL_REF, "upload": DATASET_ID, "weights": WEIGHTS_REF,
                "architecture": ARCHITECTURE_REF, "architecture:list": ARCHITECTURES, "job-output": JOB_ID,
                "inline": INLINE}


def _constraints(f: SpecField) -> dict[str, Any]:
    """JSON Schema's words for what the field takes alone (its declared bounds, what it refers to)."""
    b = f.bounds
    out: dict[str, Any] = {k: getattr(b, k) for k in ("ge", "gt", "le", "lt", "min_length")
                           if b is not None and getattr(b, k) is not None}
    base = (f.ref or "").partition(":")[0]
    if base in REF_PATTERNS:
        out["pattern"] = schema(REF_PATTERNS.get(f.ref or "", REF_PATTERNS[base]))  # "architecture:list"
    elif b is not None and b.pattern is not None:
        out["pattern"] = schema(b.pattern)
    return out


def _annotation(f: SpecField, needed: bool = False) -> Any:
    """The field's type in a request: references are strings (ids, names), numbers are numbers, lists
    are lists (the CLI's ``8/255`` and comma lists are the command line's)."""
    base = (f.ref or "").partition(":")[0]
    tp = f.type
    c = _constraints(f)
    listed = typing.get_origin(tp) in (tuple, list)
    items: dict[str, Any] = {k: c.pop(k) for k in ("ge", "gt", "le", "lt") if k in c} if listed else {}
    if f.options_of:
        tp = options_model(f.options_of)
    elif f.parse == "kv" or typing.get_origin(tp) is dict:
        tp = dict[str, str | StrictBool | int | float]  # KEY=VALUE options: plain values
    elif f.bounds is not None and f.bounds.choices is not None:
        tp = Literal[f.bounds.choices]  # type: ignore[valid-type]
    elif base in REF_PATTERNS:
        tp = str
    elif typing.get_origin(tp) in (tuple, list):
        inner = typing.get_args(tp)[0] if typing.get_args(tp) else Any
        tp = list[_json(inner, items)]  # type: ignore[valid-type,misc]
    elif f.parse == "number":
        tp = float
    if tp in JSON_TYPES:
        tp, c = _json(tp, c), {}
    if not needed and (f.optional or not f.required):
        tp = tp | None
    return Annotated[tp, Field(**c)] if c else tp


def _json(tp: Any, constraints: dict[str, Any]) -> Any:
    """``tp`` as JSON has it (no "5" for 5, no true for 1) with its constraints, which come before the
    check (after it, pydantic leaves them out of the schema)."""
    if tp is bool:
        return StrictBool
    number = tp in (int, float)
    if constraints:
        tp = Annotated[tp, Field(**constraints)]
    return Annotated[tp, BeforeValidator(_json_number)] if number else tp


def _description(f: SpecField) -> str:
    """The field's help, and for a reference what a request gives: its pattern in words."""
    base, _, arg = (f.ref or "").partition(":")
    if base == "options":
        return f"{f.help}; in a request: options of {arg}, by name"
    if base not in REF_PATTERNS:
        return f.help
    what = says(REF_PATTERNS.get(f.ref or "", REF_PATTERNS[base]))
    return f"{f.help}; in a request: {what}" + (f" that wrote its {arg}" if base == "job-output" else "")


@cache
def spec_model(kind: str) -> type[BaseModel]:
    """The request schema of a job kind's spec, from its declared fields (server-set ones left out)."""
    declared = job(kind)
    return _model(f"{kind.capitalize()}Spec", job_fields(kind, "service"), lambda f: f.required,
                  getattr(declared.spec, "ONE_OF", ()), declared.example)


@cache
def options_model(kind: str) -> type[BaseModel]:
    """The options of ``kind`` nested in another job (tune's, compare's, recommend's train options): its
    fields but the model, which the outer job picks (``selection.check_options`` refuses it there)."""
    fields = [f for f in job_fields(kind, "service") if (f.ref or "").partition(":")[0] != "architecture"]
    return _model(f"{kind.capitalize()}Options", fields, lambda f: f.required)


def _model(name: str, fields: list[SpecField], required: Callable[[SpecField], bool],
           one_of: tuple[tuple[str, ...], ...] = (), example: Any = None) -> type[BaseModel]:
    """A request model of ``fields`` (extra keys refused), with the spec's alternatives and an example."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.request_name not in out:
            needed = required(f) or (f.options_of is not None and _needs(f.options_of))
            out[f.request_name] = (_annotation(f, needed), Field(... if needed else None,
                                                         description=_description(f)))
    extra: dict[str, Any] = {"oneOf": _one_of(fields, one_of)} if one_of else {}
    if example is not None:
        extra["examples"] = [dict(example)]
    return create_model(name, __config__=ConfigDict(extra="forbid", json_schema_extra=extra or None), **out)


def _one_of(fields: list[SpecField], groups: tuple[tuple[str, ...], ...]) -> list[dict[str, Any]]:
    """``Spec.ONE_OF`` as JSON Schema, as ``plugins.schema.require`` reads it: one branch per group, its
    fields given (a list: not empty), the other groups' first fields not (absent, null, a list empty)."""
    lists = {f.request_name for f in fields if typing.get_origin(f.type) in (list, tuple)
             and (f.ref or "").partition(":")[0] not in REF_PATTERNS}

    def given(n: str) -> dict[str, Any]:
        return {"type": "array", "minItems": 1} if n in lists else {"not": {"type": "null"}}

    def absent(n: str) -> dict[str, Any]:
        empty = {"anyOf": [{"type": "null"}, {"type": "array", "maxItems": 0}]}
        return empty if n in lists else {"type": "null"}

    return [{"required": list(group),
             "properties": {**{other[0]: absent(other[0]) for other in groups if other is not group},
                            **{n: given(n) for n in group}}} for group in groups]


def _needs(kind: str) -> bool:
    """Whether the options of ``kind`` must be given (some are required: train's data)."""
    return bool(options_model(kind).model_json_schema().get("required"))


def job_submit() -> type[BaseModel]:
    """A job of any kind the service offers: its kind and its spec (as ``POST /v1/jobs/KIND`` takes it),
    and the name to register a model under; one schema per kind, told apart by ``kind``."""
    variants = [create_model(
        f"{kind.capitalize()}Job", __config__=ConfigDict(extra="forbid"), __doc__=f"A {kind} job.",
        kind=(Literal[kind], ...),  # type: ignore[valid-type,arg-type]
        spec=(spec_model(kind), ...),
        model_name=(str | None, Field(None, pattern=schema(MODEL_NAME), description="register the trained "
                                                                                 "model under this name")),
        time_limit=(TimeLimit | None, Field(None, description=TIME_LIMIT))) for kind in service_kinds()]
    union = Union[tuple(variants)]  # type: ignore[valid-type]  # noqa: UP007 - built from a tuple
    return RootModel[Annotated[union, Field(discriminator="kind")]]  # type: ignore[return-value,valid-type]


TimeLimit = Annotated[str, Field(max_length=20, pattern=schema(DURATION))] | _json(float, {"gt": 0})
TIME_LIMIT = ("how long the job may run (90s, 20m, 6h; default: the service's limit for its kind, at most "
              "its cap: GET /v1/limits); then it is stopped and FAILED")


class JobOut(BaseModel):
    """A job's state, progress and outcome."""

    id: str
    kind: str
    state: str
    progress: float
    message: str
    attempts: int
    worker: str | None = Field(None, description="host:pid of the worker running it")
    spec: dict[str, Any]
    model_name: str | None
    result: dict[str, Any]
    error: str | None
    error_kind: str | None
    error_field: str | None
    time_limit: float | None = Field(None, description="seconds the job may run")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class DatasetOut(BaseModel):
    """An uploaded dataset or file set, or a built-in dataset."""

    id: str
    name: str
    kind: str
    size_bytes: int
    info: dict[str, Any]
    created_at: datetime | None = None


class VersionOut(BaseModel):
    """A registered model version."""

    id: str
    name: str
    version: int
    modality: str
    job_id: str | None
    metrics: dict[str, Any]
    data_fingerprint: str
    aliases: list[str]
    tags: dict[str, str]
    has_report: bool
    created_at: datetime


class ModelOut(BaseModel):
    """A model: its versions, aliases and the history of alias moves."""

    name: str
    versions: list[VersionOut]
    aliases: dict[str, int]
    alias_history: list[dict[str, Any]]


class AliasIn(BaseModel):
    """Point an alias at a version number."""

    model_config = ConfigDict(extra="forbid")
    version: _json(int, {"ge": 1, "le": 2**31 - 1})  # type: ignore[valid-type]


class TagIn(BaseModel):
    """Set a tag's value."""

    model_config = ConfigDict(extra="forbid")
    value: str = Field(max_length=500)


def _either(given: str, empty: str) -> dict[str, Any]:
    """Predict's ``given`` inputs, and none of the other kind."""
    return {"required": [given], "properties": {given: {"type": "array", "minItems": 1},
                                                empty: {"anyOf": [{"type": "null"}, {"maxItems": 0}]}}}


CERTIFY_MAX = 16  # images one certify request may hold


class PredictIn(BaseModel):
    """Texts for a text model, or base64 images for an image model; the top-k labels come back."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [_either("texts", "images"),
                                                                           _either("images", "texts")]})
    texts: list[Annotated[str, Field(min_length=1)]] | None = Field(None, max_length=256)
    images: list[Annotated[str, Field(pattern=schema(BASE64))]] | None = Field(
        None,
        max_length=256,
        description="base64-encoded image files (or send files as multipart to /predict/files)",
    )
    top_k: _json(int, {"ge": 1, "le": 1000}) = 3  # type: ignore[valid-type]
    certify: bool = Field(False, description=f"images: also each one's randomized-smoothing label and "
                                             f"certified L2 radius (at most {CERTIFY_MAX} images; n = 1000 "
                                             "noisy copies each)")
    sigma: float | None = Field(None, gt=0, le=4,
                                description="certify: the noise's standard deviation (default: the model's "
                                            "--noise-train sigma, else 0.25)")


class PredictOut(BaseModel):
    """Per input, the top labels with (calibrated) probabilities, the prediction set, the unfamiliar-input
    score and flag; which model version answered. A model without a trust record (an older or imported
    bundle) answers raw probabilities and no sets, flags or scores."""

    model: str
    version: int
    predictions: list[list[dict[str, Any]]]
    calibrated: bool = Field(description="the probabilities are temperature-calibrated")
    coverage: float | None = Field(None, description="the chance each set holds the true label")
    sets: list[list[str]] | None = Field(None, description="per input, the labels of its prediction set")
    unfamiliar: list[bool] | None = Field(None, description="per input, unlike the model's training data")
    scores: list[float] | None = Field(None, description="per input, the unfamiliar-input score (energy, "
                                                         "or Mahalanobis where calibrated so; higher: "
                                                         "unfamiliar)")
    note: str | None = Field(None, description="why sets or flags are missing")
    certified: list[dict[str, Any]] | None = Field(
        None, description="certify: per input, the smoothed label (null: abstained), its certified L2 radius "
                          "and the sigma")


class TokenIn(BaseModel):
    """A new token."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=schema(TEXT_LINE), description=says(TEXT_LINE))
    scope: Literal["read", "write", "admin"]
    project: str | None = Field(None, pattern=schema(PROJECT_NAME),
                                description="a server admin: the project's name")


class ProjectIn(BaseModel):
    """A new project."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=schema(PROJECT_NAME), description=says(PROJECT_NAME))


class ErrorOut(BaseModel):
    """Every error: its kind, the field at fault and one line saying what to do."""

    error: str
    kind: str
    field: str | None = None
    pointer: str | None = Field(None, description="the field as a JSON pointer into the request")
