"""From a submitted spec to the job's own spec: references become server paths, and nothing else does.

Generic over the job kinds' declarations: every field says what it refers to (``plugins.schema.REFS``)
and one resolver per reference turns a request's value into what the job reads. Data is a built-in
name or an uploaded dataset id, models a registry name (``name``, ``name@3``, ``name:production``) or
version id, uploaded files an id, another job's output that job's id; outputs go to the job's own
folder. A path, a hub file or anything the server would read on the user's behalf is refused,
naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plugins.errors import OPTION, InvalidInput, NotFound, RobustuneError, Unsupported, opt
from robustune.jobs import Job, job
from robustune.jobs.catalog import known_model
from robustune.jobs.fields import SpecField, job_fields
from robustune.service.patterns import (
    ARCHITECTURE_REF,
    ARCHITECTURES,
    BUILTIN_DATA,
    DATASET_ID,
    DATASET_REF,
    INLINE,
    JOB_ID,
    LABEL,
    MODEL_NAME,
    MODEL_REF,
    WEIGHT_SOURCES,
    WEIGHTS_REF,
    full,
    says,
)

MODEL_PARTS = re.compile(rf"(?P<name>{MODEL_NAME})(?:@(?P<version>[0-9]{{1,9}})|:(?P<alias>{LABEL}))?\Z")


class Context:
    """What resolving needs from the service: datasets, uploads, models and earlier jobs."""

    def __init__(
        self,
        dataset: Callable[[str, str], tuple[str, Path]],
        model: Callable[[str, str], Path],
        job_output: Callable[[str, str], Path],
        job_dir: Path,
    ) -> None:
        self.dataset = dataset  # (id, field) -> (kind, path)
        self.model = model  # (reference, field) -> bundle path
        self.job_output = job_output  # (job id, output kind) -> path
        self.job_dir = job_dir


def service_kinds() -> list[str]:
    """The job kinds the service offers."""
    from robustune.jobs import jobs

    return [j.kind for j in jobs() if j.service]


def dataset_ref(ctx: Context, value: Any, field: str, arg: str) -> str:
    """A built-in dataset name, or an uploaded dataset id -> the data spec the jobs read."""
    if not isinstance(value, str) or not full(DATASET_REF).match(value):
        raise InvalidInput(f"{field} must be {says(DATASET_REF)}; paths on the server are not accepted",
                           field=field)
    if value in BUILTIN_DATA:
        return value
    kind, path = ctx.dataset(value, field)
    if kind not in ("csv", "imagefolder"):
        raise Unsupported(f"{field} {value} holds model files, not labeled data", field=field)
    return f"{kind}:{path}"


def upload_ref(ctx: Context, value: Any, field: str, arg: str = "") -> Any:
    """An uploaded file set (``ds_...``) -> its path; for a list field, the files in it."""
    if not isinstance(value, str) or not full(DATASET_ID).match(value):
        raise InvalidInput(f"{field} must be {says(DATASET_ID)}", field=field)
    _, path = ctx.dataset(value, field)
    if arg == "files":
        return [str(p) for p in sorted(path.rglob("*")) if p.is_file()] if path.is_dir() else [str(path)]
    return str(path)


def model_ref(ctx: Context, value: Any, field: str, arg: str = "") -> str:
    """A registered model (``name``, ``name@3``, ``name:alias`` or a version id) -> its bundle path."""
    if not isinstance(value, str) or not full(MODEL_REF).match(value):
        raise InvalidInput(f"{field} must name {says(MODEL_REF)}", field=field)
    return str(ctx.model(value, field))


def weights_ref(ctx: Context, value: Any, field: str, arg: str) -> Any:
    """A weight source word, or the id of uploaded weights."""
    if not isinstance(value, str) or not full(WEIGHTS_REF).match(value):
        raise InvalidInput(f"{field} must be {says(WEIGHTS_REF)}", field=field)
    return value if value in WEIGHT_SOURCES else upload_ref(ctx, value, field)


def architecture_ref(ctx: Context, value: Any, field: str, arg: str) -> Any:
    """A registered or timm model name, or the id of an uploaded Hugging Face folder (``arg`` ``list``: a
    comma list of NAME[:ADAPTER]). A name that is neither is not found (404)."""
    pattern = ARCHITECTURES if arg == "list" else ARCHITECTURE_REF
    if not isinstance(value, str) or not full(pattern).match(value):
        raise InvalidInput(f"{field} must be {says(pattern)}", field=field)
    if full(DATASET_ID).match(value):
        return upload_ref(ctx, value, field)
    for name in (part.partition(":")[0] for part in value.split(",")):
        if not known_model(name):
            raise NotFound(f"{field} {name!r} is neither a registered model nor a timm architecture; see "
                           "GET /v1/plugins (kind backbone)", field=field)
    return value


def job_output_ref(ctx: Context, value: Any, field: str, arg: str) -> str:
    """Another job's id -> the path of its output of kind ``arg``."""
    if not isinstance(value, str) or not full(JOB_ID).match(value):
        raise InvalidInput(f"{field} must be the id of a finished job with {arg or 'an output'}", field=field)
    return str(ctx.job_output(value, arg))


def output_ref(ctx: Context, value: Any, field: str, arg: str) -> str:
    """Where the job writes: its folder, then ``arg``."""
    return str(ctx.job_dir / arg) if arg else str(ctx.job_dir)


def inline_ref(ctx: Context, value: Any, field: str, arg: str) -> Any:
    """The value itself; a path on the server is refused."""
    if isinstance(value, str) and not full(INLINE).match(value):
        raise InvalidInput(f"{field} must be {says(INLINE)}; upload files and pass their id", field=field)
    if isinstance(value, str) and Path(value).exists():  # fits the pattern, names a file here all the same
        raise Unsupported(f"{field} names a path on the server; upload files and pass their id", field=field)
    return value


RESOLVERS: dict[str, Callable[[Context, Any, str, str], Any]] = {
    "dataset": dataset_ref, "model": model_ref, "upload": upload_ref, "weights": weights_ref,
    "architecture": architecture_ref, "job-output": job_output_ref, "output": output_ref,
    "inline": inline_ref,
}


def resolve(kind: str, spec: Any, ctx: Context) -> dict[str, Any]:
    """The job's spec JSON (checked by the job's own spec type) for a submitted ``spec``; an error names
    the field as the request does (``lr``, not the spec's inner ``train.lr``)."""
    if kind not in service_kinds():
        raise InvalidInput(f"kind must be one of {', '.join(service_kinds())}, got {kind!r}", field="kind")
    declared = job(kind)
    try:
        options = resolve_options(declared, spec, ctx)
        return declared.spec.from_options(options).to_json()  # type: ignore[no-any-return]
    except RobustuneError as exc:
        if exc.field:
            exc.field = request_field(kind, exc.field)
        exc.raw = OPTION.sub(lambda m: opt(request_field(kind, m.group(1))), exc.raw)  # names as sent
        raise


def resolve_options(declared: Job, spec: Any, ctx: Context, prefix: str = "", outputs: bool = True
                    ) -> dict[str, Any]:
    """A request's flat options with every reference resolved and (``outputs``: the job's own, not a
    nested kind's) every output set by the server. Every key must name an option (its field name, its
    request name or its flag, ``-`` or ``_``); for a kind with an ``options:KIND`` field, an option of
    that kind given at the top is resolved as one of it."""
    if not isinstance(spec, dict):
        raise InvalidInput(f"{prefix or 'spec'} must be an object", field=prefix.rstrip(".") or "spec")
    every = job_fields(declared.kind, "all")
    fields = {name: f for f in every for name in (f.name, f.request_name, f.flag.replace("-", "_"))}
    offered = {f.name for f in job_fields(declared.kind, "service")}
    nested = next((f.options_of for f in every if f.options_of), None)
    out: dict[str, Any] = {}
    for key, value in spec.items():
        name = str(key).replace("-", "_")
        f = fields.get(name)
        if f is None and nested is not None:  # one of the nested kind's options, given at the top
            out.update(resolve_options(job(nested), {key: value}, ctx, prefix, outputs=False))
            continue
        if f is None:
            raise InvalidInput(f"{prefix}{key} is not an option of {declared.kind}; see its schema "
                               f"(POST /v1/jobs/{declared.kind})", field=f"{prefix}{key}")
        if f.name not in offered and (f.ref or "").startswith("output"):
            raise InvalidInput(f"{prefix}{key} is set by the server; leave it out", field=f"{prefix}{key}")
        if f.name not in offered:
            raise InvalidInput(f"{prefix}{key} cannot be used here: the service runs each job on its own "
                               "workers (no multi-machine launch, no files of its own); leave it out",
                               field=f"{prefix}{key}")
        out[name] = _resolve_value(ctx, f, value, f"{prefix}{key}") if value is not None else value
    for f in every if outputs else ():  # outputs: the job's own folder, whatever the request said
        if (f.ref or "").startswith("output") and f.name not in out:
            out[f.name] = output_ref(ctx, None, f.name, (f.ref or "").partition(":")[2])
    return out


def _resolve_value(ctx: Context, f: SpecField, value: Any, field: str) -> Any:
    base, _, arg = (f.ref or "").partition(":")
    if base == "options":
        return resolve_options(job(arg), value, ctx, f"{field}.", outputs=False)
    if base in RESOLVERS:
        files = "files" if base == "upload" and f.type is not str and isinstance(value, str) else arg
        return RESOLVERS[base](ctx, value, field, files)
    return value


def request_field(kind: str, field: str) -> str:
    """The request's name for a spec field path: its leaf under the request's name for it (``backbone``
    is ``model``); an ``options:KIND`` field's options are ``options.NAME``."""
    leaf = field.split(".")[-1]
    own = {f.name: f.request_name for f in job_fields(kind)}
    if leaf in own:
        return own[leaf]
    for f in job_fields(kind):
        if f.options_of:
            inner = {g.name: g.request_name for g in job_fields(f.options_of)}
            if leaf in inner:
                return f"{f.request_name}.{inner[leaf]}"
    return field
