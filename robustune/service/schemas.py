"""The API's pydantic schemas: job specs derived from the jobs' own spec dataclasses, and the rest."""

from __future__ import annotations

import typing
from datetime import datetime
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from robustune.jobs.fields import SpecField, job_fields
from robustune.service.resolve import SERVER_SET, SERVICE_KINDS

REFERENCES = {  # what a field names in a request (the server resolves it)
    "data": "a dataset id from POST /v1/datasets, or digits, fashion-mnist, rotten-tomatoes",
    "bundle": "a registered model: name, name@VERSION, name:ALIAS or a version id",
    "audit": "the id of a finished audit or run job",
    "weights": "auto, hub, packaged, none, or the id of uploaded weights",
    "groups": "the id of an uploaded CSV of path,group",
    "hf": "the id of an uploaded Hugging Face folder",
}


def _annotation(f: SpecField) -> Any:
    tp = f.type
    if f.parse == "kv" or typing.get_origin(tp) is dict:
        tp = dict[str, Any]
    elif f.parse in ("numbers", "names") or typing.get_origin(tp) in (tuple, list):
        inner = typing.get_args(tp)[0] if typing.get_args(tp) else Any
        tp = list[inner] | str  # type: ignore[valid-type]
    elif f.parse == "number":
        tp = float | str
    return tp | None if f.optional or not f.required else tp


@cache
def spec_model(kind: str) -> type[BaseModel]:
    """The request schema of a job kind's spec, from its spec dataclass (server-set fields left out)."""
    fields: dict[str, Any] = {}
    for f in job_fields(kind):
        name = f.flag.replace("-", "_") if f.alias else f.name
        if name in SERVER_SET or name in fields:
            continue
        help_text = REFERENCES.get(f.name, f.help)
        default = ... if f.required else None
        fields[name] = (_annotation(f), Field(default, description=help_text))
    if kind in ("compare", "tune", "recommend"):
        fields["options"] = (
            dict[str, Any] | None,
            Field(None, description="train options (data, epochs, ...)"),
        )
    if kind == "explain":
        fields.pop("files", None)
        fields["images"] = (
            list[dict[str, str]] | None,
            Field(None, description="images to explain: [{name, data (base64)}]"),
        )
    model = create_model(f"{kind.capitalize()}Spec", __config__=ConfigDict(extra="forbid"), **fields)
    return model


class JobSubmit(BaseModel):
    """A job: its kind and spec (see the per-kind schemas), and the name to register a model under."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal[SERVICE_KINDS]  # type: ignore[valid-type]
    spec: dict[str, Any]
    model_name: str | None = Field(None, description="register the trained model under this name")


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
    version: int = Field(ge=1)


class TagIn(BaseModel):
    """Set a tag's value."""

    model_config = ConfigDict(extra="forbid")
    value: str = Field(max_length=500)


class PredictIn(BaseModel):
    """Texts for a text model, or base64 images for an image model; the top-k labels come back."""

    model_config = ConfigDict(extra="forbid")
    texts: list[str] | None = Field(None, max_length=256)
    images: list[str] | None = Field(
        None,
        max_length=256,
        description="base64-encoded image files (or send files as multipart to /predict/files)",
    )
    top_k: int = Field(3, ge=1, le=1000)


class PredictOut(BaseModel):
    """Per input, the top labels with probabilities; which model version answered."""

    model: str
    version: int
    predictions: list[list[dict[str, Any]]]


class TokenIn(BaseModel):
    """A new token."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    scope: Literal["read", "write", "admin"]


class ErrorOut(BaseModel):
    """Every error: its kind, the field at fault and one line saying what to do."""

    error: str
    kind: str
    field: str | None = None
