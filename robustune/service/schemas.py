"""The API's pydantic schemas: job specs derived from the jobs' own spec dataclasses, and the rest."""

from __future__ import annotations

import typing
from datetime import datetime
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from robustune.jobs.fields import SpecField, job_fields
from robustune.service.resolve import service_kinds

REQUEST_REFS = {  # what a field that refers to something takes in a request
    "dataset": "a dataset id from POST /v1/datasets, or digits, fashion-mnist, rotten-tomatoes",
    "model": "a registered model: name, name@VERSION, name:ALIAS or a version id",
    "upload": "the id of uploaded files (POST /v1/datasets)",
    "weights": "auto, hub, packaged, none, or the id of uploaded weights",
    "architecture": "registered model or timm names, or the id of an uploaded Hugging Face folder",
    "job-output": "the id of a finished job that wrote it",
    "inline": "the value itself (paths on the server are refused)",
    "options": "options of that job kind, by name",
}


def _annotation(f: SpecField) -> Any:
    base = (f.ref or "").partition(":")[0]
    tp = f.type
    if base == "options" or f.parse == "kv" or typing.get_origin(tp) is dict:
        tp = dict[str, Any]
    elif base in REQUEST_REFS:
        tp = str
    elif f.parse in ("numbers", "names") or typing.get_origin(tp) in (tuple, list):
        inner = typing.get_args(tp)[0] if typing.get_args(tp) else Any
        tp = list[inner] | str  # type: ignore[valid-type]
    elif f.parse == "number":
        tp = float | str
    return tp | None if f.optional or not f.required else tp


def _description(f: SpecField) -> str:
    base, _, arg = (f.ref or "").partition(":")
    if base not in REQUEST_REFS:
        return f.help
    what = f"{REQUEST_REFS[base]}" + (f" ({arg})" if arg else "")
    return f"{f.help}; in a request: {what}"


@cache
def spec_model(kind: str) -> type[BaseModel]:
    """The request schema of a job kind's spec, from its declared fields (server-set ones left out)."""
    fields: dict[str, Any] = {}
    for f in job_fields(kind, "service"):
        if f.request_name not in fields:
            fields[f.request_name] = (_annotation(f), Field(... if f.required else None,
                                                            description=_description(f)))
    return create_model(f"{kind.capitalize()}Spec", __config__=ConfigDict(extra="forbid"), **fields)


def job_submit() -> type[BaseModel]:
    """A job of any kind the service offers: its kind and spec, and the name to register a model under."""
    kinds = tuple(service_kinds())
    return create_model(
        "JobSubmit", __config__=ConfigDict(extra="forbid"), __doc__=JOB_SUBMIT_DOC,
        kind=(Literal[kinds], ...),  # type: ignore[valid-type,arg-type]
        spec=(dict[str, Any], ...),
        model_name=(str | None, Field(None, description="register the trained model under this name")),
        time_limit=(str | float | None, Field(None, description=TIME_LIMIT)))


TIME_LIMIT = ("how long the job may run (90s, 20m, 6h; default: the service's limit for its kind, at most "
              "its cap: GET /v1/limits); then it is stopped and FAILED")
JOB_SUBMIT_DOC = "A job: its kind and spec (see the per-kind schemas), and a name to register a model under."


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
    version: int = Field(ge=1, le=2**31 - 1)


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
    project: str | None = Field(None, max_length=100, description="a server admin: the project's name")


class ProjectIn(BaseModel):
    """A new project."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$", description="lowercase letters, digits, . _ -")


class ErrorOut(BaseModel):
    """Every error: its kind, the field at fault and one line saying what to do."""

    error: str
    kind: str
    field: str | None = None
    pointer: str | None = Field(None, description="the field as a JSON pointer into the request")
