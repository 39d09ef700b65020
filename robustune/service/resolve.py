"""From a submitted spec to the job's own spec: names become server paths, and nothing else does.

A request names data by a built-in name or an uploaded dataset id, models by registry name
(``name``, ``name@3``, ``name:production``) or version id, and uploaded files by id. Outputs go to
the job's own folder. A path, a hub file or anything the server would read on the user's behalf
is refused, naming the field.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plugins.errors import InvalidInput, NotFound, RobustuneError
from robustune.jobs import job as job_kind
from robustune.jobs.catalog import WEIGHT_SOURCES, known_model
from robustune.jobs.fields import job_fields

BUILTIN_DATA = ("digits", "fashion-mnist", "rotten-tomatoes")
SERVER_SET = ("out", "overwrite", "resume", "config")
SERVICE_KINDS = ("train", "run", "audit", "explain", "report", "compare", "tune", "import", "evaluate",
                 "recommend")
MODEL_REF = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,199})(?:@(?P<version>\d+)|:(?P<alias>[A-Za-z0-9._-]+))?$"
)


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
        self.job_output = job_output  # (job id, what) -> path
        self.job_dir = job_dir


def _path_like(value: str) -> bool:
    return "/" in value or "\\" in value or value.startswith(".") or value.startswith("~")


def _no_server_paths(field: str, value: Any) -> None:
    if isinstance(value, str) and (value.startswith("/") or Path(value).expanduser().exists()):
        raise InvalidInput(f"{field} names a path on the server; upload files and pass their id", field=field)


def data_ref(ctx: Context, value: Any, field: str = "data") -> str:
    """A built-in dataset name, or an uploaded dataset id -> the data spec the jobs read."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field} must be a dataset id or one of {', '.join(BUILTIN_DATA)}", field=field)
    if value in BUILTIN_DATA:
        return value
    if value.startswith("ds_"):
        kind, path = ctx.dataset(value, field)
        if kind not in ("csv", "imagefolder"):
            raise InvalidInput(f"{field} {value} holds model files, not labeled data", field=field)
        return f"{kind}:{path}"
    if _path_like(value) or ":" in value:
        raise InvalidInput(
            f"{field} must be an uploaded dataset id or one of {', '.join(BUILTIN_DATA)}; paths on "
            "the server are not accepted (upload with POST /v1/datasets)",
            field=field,
        )
    raise NotFound(
        f"{field} {value!r} is neither an uploaded dataset id nor one of {', '.join(BUILTIN_DATA)}",
        field=field,
    )


def upload_ref(ctx: Context, value: Any, field: str) -> str:
    """An uploaded file set (``ds_...`` of kind files) -> its path."""
    if not isinstance(value, str) or not value.startswith("ds_"):
        raise InvalidInput(f"{field} must be the id of uploaded files (POST /v1/datasets)", field=field)
    _, path = ctx.dataset(value, field)
    return str(path)


def model_ref(ctx: Context, value: Any, field: str = "bundle") -> str:
    """A registered model (``name``, ``name@3``, ``name:alias`` or a version id) -> its bundle path."""
    if not isinstance(value, str) or not (value.startswith("mv_") or MODEL_REF.match(value)):
        raise InvalidInput(
            f"{field} must name a registered model: name, name@VERSION, name:ALIAS or a version id",
            field=field,
        )
    return str(ctx.model(value, field))


def _server_set(spec: dict[str, Any]) -> None:
    for key in SERVER_SET:
        if key in spec:
            raise InvalidInput(f"{key} is set by the server; leave it out", field=key)


def train_options(ctx: Context, spec: dict[str, Any]) -> dict[str, Any]:
    """Flat train options with data, weights, groups and model resolved; nothing path-like kept."""
    out = dict(spec)
    _server_set(out)
    out["data"] = data_ref(ctx, out.get("data"))
    weights = out.get("weights")
    if weights is not None and weights not in WEIGHT_SOURCES:
        out["weights"] = upload_ref(ctx, weights, "weights")
    for name in ("model", "backbone"):
        value = out.get(name)
        if isinstance(value, str) and value.startswith("ds_"):
            out[name] = upload_ref(ctx, value, name)  # an uploaded Hugging Face folder
        elif isinstance(value, str) and _path_like(value):
            raise InvalidInput(
                f"{name} must be a registered model or timm name, or the id of an uploaded "
                "Hugging Face folder",
                field=name,
            )
        elif isinstance(value, str) and not known_model(value):
            raise InvalidInput(
                f"{name} {value!r} is neither a registered model nor a timm architecture; see GET "
                "/v1/plugins (kind backbone)",
                field="model",
            )
    if "groups_file" in out:
        out["groups_file"] = upload_ref(ctx, out["groups_file"], "groups_file")
    if "model_id" in out:
        _no_server_paths("model_id", out["model_id"])
    return out


def _images(ctx: Context, items: Any) -> list[str]:
    """Base64 images of an explain request, written into the job's folder."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidInput("images must be a list of {name, data} with base64 data", field="images")
    folder = ctx.job_dir / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, item in enumerate(items):
        try:
            data = base64.b64decode(str(item.get("data", "")), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"images[{i}].data is not base64", field="images") from None
        suffix = Path(str(item.get("name", "image.png"))).suffix.lower() or ".png"
        if suffix not in (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"):
            raise InvalidInput(f"images[{i}] has the unknown type {suffix!r}", field="images")
        path = folder / f"{i:03d}{suffix}"
        path.write_bytes(data)
        paths.append(str(path))
    return paths


def resolve(kind: str, spec: Any, ctx: Context) -> dict[str, Any]:
    """The job's spec JSON (checked by the job's own spec type) for a submitted ``spec``; an error names
    the field as the request does (``lr``, not the spec's inner ``train.lr``)."""
    try:
        return _resolve(kind, spec, ctx)
    except RobustuneError as exc:
        if exc.field and kind in SERVICE_KINDS:
            exc.field = request_field(kind, exc.field)
        raise


def request_field(kind: str, field: str) -> str:
    """The request's name for a spec field path: its leaf under the request's name for it (``backbone``
    is ``model``); compare, tune and recommend take train options under ``options``."""
    leaf = field.split(".")[-1]
    own = {f.name: f.flag.replace("-", "_") for f in job_fields(kind)}
    if leaf in own:
        return own[leaf]
    if kind in ("compare", "tune", "recommend"):
        train = {f.name: f.flag.replace("-", "_") for f in job_fields("train")}
        if leaf in train:
            return f"options.{train[leaf]}"
    return field


def _resolve(kind: str, spec: Any, ctx: Context) -> dict[str, Any]:
    if kind not in SERVICE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(SERVICE_KINDS)}, got {kind!r}", field="kind")
    if not isinstance(spec, dict):
        raise InvalidInput("spec must be an object", field="spec")
    spec_type, _ = job_kind(kind).load()
    out = ctx.job_dir
    if kind == "train":
        return spec_type.from_options({**train_options(ctx, spec), "out": str(out / "model")}).to_json()
    if kind == "run":
        return spec_type.from_options({**train_options(ctx, spec), "out": str(out)}).to_json()
    if kind in ("compare", "tune", "recommend"):
        own = {k: v for k, v in spec.items() if k != "options"}
        _server_set(own)
        options = train_options(ctx, dict(spec.get("options") or {}))
        if kind == "compare" and any(_path_like(c) for c in str(own.get("candidates", "")).split(",")):
            raise InvalidInput("candidates must be registered model or timm names", field="candidates")
        if kind == "tune" and _path_like(str(own.get("model", ""))):
            raise InvalidInput("model must be a registered model or timm name", field="model")
        extra = {} if kind == "recommend" else {"out": str(out)}
        return spec_type.from_json({**own, "options": options, **extra}, lax=True).to_json()
    spec = dict(spec)
    _server_set(spec)
    if kind == "import":
        if spec.get("hf") is not None:
            spec["hf"] = upload_ref(ctx, spec["hf"], "hf")
        if spec.get("weights") is not None:
            spec["weights"] = upload_ref(ctx, spec["weights"], "weights")
        _no_server_paths("labels", spec.get("labels"))
        return spec_type.from_json({**spec, "out": str(out / "model")}, lax=True).to_json()
    spec["bundle"] = model_ref(ctx, spec.get("bundle"))
    if kind == "explain":
        if "files" in spec:
            raise InvalidInput("files are not accepted here; send images as base64", field="files")
        files = _images(ctx, spec.pop("images")) if "images" in spec else []
        return spec_type.from_json(
            {**spec, "files": files, "out": str(out / "explanations")}, lax=True
        ).to_json()
    spec["data"] = data_ref(ctx, spec.get("data"))
    if kind == "audit":
        return spec_type.from_json({**spec, "out": str(out / "audit")}, lax=True).to_json()
    if kind == "report":
        if spec.get("audit") is not None:
            spec["audit"] = str(ctx.job_output(str(spec["audit"]), "audit"))
        if spec.get("groups") is not None:
            spec["groups"] = upload_ref(ctx, spec["groups"], "groups")
        return spec_type.from_json({**spec, "out": str(out / "report.html")}, lax=True).to_json()
    return spec_type.from_json(spec, lax=True).to_json()  # evaluate
