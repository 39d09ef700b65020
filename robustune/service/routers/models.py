"""/v1/models: the registry (versions, aliases with history, tags, metrics, report, bundle download,
delete) and predictions over warm models."""

from __future__ import annotations

import asyncio
import base64
import io
import pathlib
import time
import zipfile
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, StreamingResponse

from plugins.errors import Conflict, InvalidInput, NotFound
from robustune.service.deps import read, store, write
from robustune.service.limits import check_count, check_images, check_texts
from robustune.service.models import Alias, AliasMove, ModelVersion, Tag, Token
from robustune.service.patterns import ALIAS, LABEL, MODEL_NAME, VERSION_OR_ALIAS, says, schema
from robustune.service.schemas import CERTIFY_MAX, AliasIn, ModelOut, PredictIn, PredictOut, TagIn, VersionOut
from robustune.service.store import Store

router = APIRouter(prefix="/v1/models", tags=["models"])
VERSION = Annotated[int, Path(ge=1, le=2**31 - 1, description="the version number")]
LABEL_PATH = Annotated[str, Path(pattern=schema(LABEL), description=says(LABEL))]
ALIAS_PATH = Annotated[str, Path(pattern=schema(ALIAS), description=says(ALIAS))]
MODEL_PATH = Annotated[str, Path(pattern=schema(MODEL_NAME), description=f"the name: {says(MODEL_NAME)}")]


def _versions(ses: Any, project: str, name: str) -> list[ModelVersion]:
    rows = list(ses.scalars(sa.select(ModelVersion).where(ModelVersion.project_id == project,
                                                          ModelVersion.name == name)
                            .order_by(ModelVersion.version)))
    if not rows:
        raise NotFound(f"no model {name!r}; see GET /v1/models", field="name")
    return rows


def _version_out(ses: Any, row: ModelVersion) -> VersionOut:
    aliases = [a.alias for a in ses.scalars(sa.select(Alias).where(Alias.version_id == row.id))]
    tags = {t.key: t.value for t in ses.scalars(sa.select(Tag).where(Tag.version_id == row.id))}
    return VersionOut(
        id=row.id,
        name=row.name,
        version=row.version,
        modality=row.modality,
        job_id=row.job_id,
        metrics=row.metrics,
        data_fingerprint=row.data_fingerprint,
        aliases=sorted(aliases),
        tags=tags,
        has_report=row.report is not None,
        created_at=row.created_at,
    )


def _model_out(ses: Any, project: str, name: str) -> ModelOut:
    rows = _versions(ses, project, name)
    by_id = {r.id: r.version for r in rows}
    aliases = {a.alias: by_id[a.version_id]
               for a in ses.scalars(sa.select(Alias).where(Alias.project_id == project, Alias.name == name))}
    history = [
        {
            "alias": m.alias,
            "version": by_id.get(m.version_id) if m.version_id else None,
            "moved_at": m.moved_at.isoformat(),
            "by": m.moved_by,
        }
        for m in ses.scalars(sa.select(AliasMove)
                             .where(AliasMove.project_id == project, AliasMove.name == name)
                             .order_by(AliasMove.id))
    ]
    return ModelOut(
        name=name, versions=[_version_out(ses, r) for r in rows], aliases=aliases, alias_history=history
    )


@router.get("", response_model=list[ModelOut])
def list_models(s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(read)]
                ) -> list[ModelOut]:
    """Every model with its versions and aliases."""
    with s.db.begin() as ses:
        names = list(ses.scalars(sa.select(ModelVersion.name)
                                 .where(ModelVersion.project_id == token.project_id)
                                 .distinct().order_by(ModelVersion.name)))
        return [_model_out(ses, token.project_id, n) for n in names]


@router.get("/{name}", response_model=ModelOut)
def get_model(name: str, s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(read)]
              ) -> ModelOut:
    """A model: versions, aliases and their history, tags, metrics."""
    with s.db.begin() as ses:
        return _model_out(ses, token.project_id, name)


def _one(ses: Any, project: str, name: str, version: int) -> ModelVersion:
    row = ses.scalar(
        sa.select(ModelVersion).where(ModelVersion.project_id == project, ModelVersion.name == name,
                                      ModelVersion.version == version)
    )
    if row is None:
        raise NotFound(f"model {name!r} has no version {version}", field="version")
    return row


@router.get("/{name}/versions/{version}", response_model=VersionOut)
def get_version(
    name: MODEL_PATH, version: VERSION, s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(read)],
) -> VersionOut:
    """One version with its metrics."""
    with s.db.begin() as ses:
        return _version_out(ses, _one(ses, token.project_id, name, version))


@router.put("/{name}/aliases/{alias}", response_model=ModelOut)
def set_alias(
    name: MODEL_PATH,
    alias: ALIAS_PATH,
    body: AliasIn,
    s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(write)],
) -> ModelOut:
    """Point an alias (``production``) at a version; the move is kept in the history."""
    with s.db.begin() as ses:
        target = _one(ses, token.project_id, name, body.version).id
    s.move_alias(name, alias, target, token.id, token.project_id)
    with s.db.begin() as ses:
        return _model_out(ses, token.project_id, name)


@router.delete("/{name}/aliases/{alias}", response_model=ModelOut)
def remove_alias(
    name: MODEL_PATH, alias: ALIAS_PATH, s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(write)],
) -> ModelOut:
    """Remove an alias (kept in the history)."""
    s.move_alias(name, alias, None, token.id, token.project_id)
    with s.db.begin() as ses:
        return _model_out(ses, token.project_id, name)


@router.put("/{name}/versions/{version}/tags/{key}", response_model=VersionOut)
def set_tag(
    name: MODEL_PATH,
    version: VERSION,
    key: LABEL_PATH,
    body: TagIn,
    s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(write)],
) -> VersionOut:
    """Set a tag on a version."""
    with s.db.begin() as ses:
        ident = _one(ses, token.project_id, name, version).id
    s.tag(ident, key, body.value)
    with s.db.begin() as ses:
        return _version_out(ses, _one(ses, token.project_id, name, version))


@router.delete("/{name}/versions/{version}/tags/{key}", response_model=VersionOut)
def remove_tag(
    name: MODEL_PATH,
    version: VERSION,
    key: LABEL_PATH,
    s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(write)],
) -> VersionOut:
    """Remove a tag."""
    with s.db.begin() as ses:
        ident = _one(ses, token.project_id, name, version).id
    s.tag(ident, key, None)
    with s.db.begin() as ses:
        return _version_out(ses, _one(ses, token.project_id, name, version))


class ZipResponse(StreamingResponse):
    """A zip file (so the schema says so)."""

    media_type = "application/zip"


class HtmlFile(FileResponse):
    """An HTML file (so the schema says so)."""

    media_type = "text/html"


@router.get("/{name}/versions/{version}/bundle", response_class=ZipResponse,
            responses={200: {"description": "the bundle as a zip", "content": {"application/zip": {
                "schema": {"type": "string", "format": "binary"}}}}})
def download(
    name: MODEL_PATH, version: VERSION, s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(read)],
) -> StreamingResponse:
    """The bundle as a zip (model.safetensors, robustune.json, tokenizer/)."""
    with s.db.begin() as ses:
        folder = _on_disk(s.storage.absolute(_one(ses, token.project_id, name, version).path),
                          f"the bundle of {name}@{version}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                zf.write(path, f"{name}-{version}/{path.relative_to(folder).as_posix()}")
    buf.seek(0)
    headers = {"Content-Disposition": f'attachment; filename="{name}-{version}.zip"'}
    return ZipResponse(buf, media_type="application/zip", headers=headers)


@router.get("/{name}/versions/{version}/report", response_class=HtmlFile,
            responses={200: {"description": "the report", "content": {"text/html": {"schema": {
                "type": "string"}}}}})
def version_report(
    name: MODEL_PATH, version: VERSION, s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(read)],
) -> FileResponse:
    """The version's HTML report (models made by a run job have one)."""
    with s.db.begin() as ses:
        row = _one(ses, token.project_id, name, version)
        if row.report is None:
            raise NotFound(f"model {name}@{version} has no report; submit a report job", field="version")
        path = _on_disk(s.storage.absolute(row.report), f"the report of {name}@{version}")
    return HtmlFile(path, media_type="text/html")


def _on_disk(path: pathlib.Path, what: str) -> pathlib.Path:
    """``path`` if it is still there; a 404 naming ``what`` if the service's storage lost it."""
    if not path.exists():
        raise NotFound(f"{what} is missing from the service's storage; run its job again", field="version")
    return path


@router.delete("/{name}/versions/{version}", status_code=204)
def delete_version(
    name: MODEL_PATH, version: VERSION, s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(write)],
) -> Response:
    """Delete a version and its bundle (refused while a job uses it)."""
    with s.db.begin() as ses:
        row = _one(ses, token.project_id, name, version)
        ident, path = row.id, row.path
    users = s.uses(ident)
    if users:
        raise Conflict(
            f"model {name}@{version} is used by job {users[0]}; delete it when that job ends", field="version"
        )
    with s.db.begin() as ses:
        ses.execute(sa.delete(Alias).where(Alias.version_id == ident))
        ses.execute(sa.delete(Tag).where(Tag.version_id == ident))
        ses.execute(sa.delete(ModelVersion).where(ModelVersion.id == ident))
        ses.add(AliasMove(name=name, alias="(version deleted)", version_id=None, moved_by=token.id,
                          project_id=token.project_id))
        shared = ses.scalar(sa.select(sa.func.count()).where(ModelVersion.path == path))
    if not shared:  # no other version reads these files
        s.storage.remove(s.storage.absolute(path))
    return Response(status_code=204)


@router.post("/{name}/predict", response_model=PredictOut)
async def predict(
    name: MODEL_PATH,
    body: PredictIn,
    request: Request,
    s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(read)],
    version: Annotated[str | None, Query(pattern=schema(VERSION_OR_ALIAS), description=says(VERSION_OR_ALIAS))
                       ] = None,
) -> PredictOut:
    """Top-k labels for texts or base64 images; ``version`` is a number or an alias (default: newest).
    Concurrent requests are batched over a warm model. Limits: see GET /v1/limits (413 above them)."""
    if bool(body.texts) == bool(body.images):
        raise InvalidInput("send either texts or images (base64), at least one", field="texts")
    raw: list[Any] = list(body.texts or [])
    if body.texts:
        check_texts(s.settings, raw)
    else:
        check_count(s.settings, len(body.images or []), "images")
        raw += [base64.b64decode(item, validate=True) for item in body.images or []]  # BASE64 already
        await asyncio.to_thread(check_images, s.settings, raw)
    if body.certify and len(raw) > CERTIFY_MAX:
        raise InvalidInput(f"certify takes at most {CERTIFY_MAX} images per request (each needs a thousand "
                           "noisy copies); send fewer", field="images")
    return await _predict(request, s, token, name, version, raw, body.top_k, body.certify, body.sigma)


@router.post("/{name}/predict/files", response_model=PredictOut)
async def predict_files(
    name: MODEL_PATH,
    request: Request,
    s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(read)],
    files: Annotated[list[UploadFile], File(min_length=1, description="image files (multipart)")],
    top_k: Annotated[int, Form(ge=1, le=1000)] = 3,
    version: Annotated[str | None, Query(pattern=schema(VERSION_OR_ALIAS), description=says(VERSION_OR_ALIAS))
                       ] = None,
) -> PredictOut:
    """Top-k labels for image files sent as multipart/form-data (``files``, repeated)."""
    check_count(s.settings, len(files), "files")
    raw: list[Any] = [await f.read() for f in files]  # the request body is capped already
    await asyncio.to_thread(check_images, s.settings, raw, "files")
    return await _predict(request, s, token, name, version, raw, top_k)


async def _predict(
    request: Request, s: Store, token: Token, name: str, version: str | None, raw: list[Any], top_k: int,
    certify: bool = False, sigma: float | None = None,
) -> PredictOut:
    """The predictions of one model version (and with ``certify`` its certified labels, from the same
    version)."""
    row = await asyncio.to_thread(_resolve, s, _ref(name, version), token.project_id)
    path = str(s.storage.absolute(row.path))
    async with request.app.state.slots.hold(token.id):
        start = time.perf_counter()
        preds = await request.app.state.engine.predict(row.id, path, raw, top_k)
    unfamiliar = [bool(p["unfamiliar"]) for p in preds if "unfamiliar" in p]
    request.app.state.metrics.observe_predict(time.perf_counter() - start, len(raw), row.name,
                                              sum(unfamiliar))
    certified = None
    if certify:  # its own slot, after the prediction's latency is counted
        async with request.app.state.slots.hold(token.id):
            certified = await request.app.state.engine.certify(row.id, path, raw, sigma)
    calibrated = all(p.get("calibrated") for p in preds)
    sets = [p["set"] for p in preds] if all("set" in p for p in preds) else None
    note = next((p.get("trust_note") or p.get("set_note") for p in preds
                 if p.get("trust_note") or p.get("set_note")), None)
    return PredictOut(model=row.name, version=row.version, predictions=[p["top"] for p in preds],
                      calibrated=calibrated, coverage=preds[0].get("coverage") if sets else None, sets=sets,
                      unfamiliar=unfamiliar if calibrated else None,
                      scores=[p["score"] for p in preds] if calibrated else None, note=note,
                      certified=certified)


def _ref(name: str, version: str | None) -> str:
    """``name``, ``name@3`` or ``name:alias``."""
    return name if version is None else (f"{name}@{version}" if version.isdigit() else f"{name}:{version}")


def _resolve(s: Store, ref: str, project: str) -> ModelVersion:
    with s.db.begin() as ses:
        return s.version(ses, ref, "name", project)
