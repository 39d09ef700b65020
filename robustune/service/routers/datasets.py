"""/v1/datasets: upload a CSV or an archive of an image folder (or model files), list, show, delete."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response

from plugins.errors import Conflict, NotFound, RobustuneError, Unreadable, Unsupported
from robustune.jobs.catalog import builtin_datasets, describe_dataset
from robustune.service.deps import read, store, write
from robustune.service.models import Dataset, Job, Token, new_id
from robustune.service.patterns import FILENAME, schema
from robustune.service.schemas import DatasetOut
from robustune.service.store import ACTIVE, Store
from robustune.service.uploads import Caps, extract, image_root, over_cap, save_stream

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])
ARCHIVES = (".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz")


def out(row: Dataset) -> DatasetOut:
    """The API form of a dataset row."""
    return DatasetOut(id=row.id, name=row.name, kind=row.kind, size_bytes=row.size_bytes, info=row.info,
                      created_at=row.created_at)


def _caps(s: Store) -> Caps:
    st = s.settings
    return Caps(st.max_upload_bytes, st.max_unpacked_bytes, st.max_files, st.max_ratio)


@router.post("", status_code=201, response_model=DatasetOut,
             openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {
                 "type": "string", "format": "binary"}}}, "required": True}})
async def upload(
    request: Request,
    s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(write)],
    filename: Annotated[
        str,
        Query(pattern=schema(FILENAME),
              description="the file's name, e.g. reviews.csv or images.zip (its type comes from it)"),
    ],
    name: Annotated[str | None, Query(max_length=200)] = None,
    purpose: Annotated[Literal["data", "files"], Query()] = "data",
    text_column: Annotated[str, Query(min_length=1, max_length=200)] = "text",
    label_column: Annotated[str, Query(min_length=1, max_length=200)] = "label",
) -> DatasetOut:
    """Upload the request body: a CSV (a text and a label column), a zip/tar of an image folder (one
    subfolder per class), or, with purpose=files, model weights or a Hugging Face folder (archived)."""
    caps = _caps(s)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > caps.upload_bytes:
        raise over_cap(caps.upload_bytes)
    ident = new_id("ds")
    with s.storage.made(s.storage.staging(ident)) as staging:  # removed again when anything fails
        raw = staging / "upload"
        size, digest = await save_stream(request.stream(), raw, caps.upload_bytes)
        kind, info = await _unpack(raw, staging, filename, purpose, caps, text_column, label_column)
        raw.unlink(missing_ok=True)
    row = Dataset(
        id=ident,
        name=name or PurePosixPath(filename).name,
        kind=kind,
        size_bytes=size,
        info={**info, "fingerprint": digest, "text_column": text_column, "label_column": label_column},
        created_by=token.id,
        project_id=token.project_id,
    )
    with s.storage.made(s.storage.dataset(ident)) as folder:  # the row and the folder land together
        folder.rmdir()
        staging.rename(folder)
        with s.db.begin() as ses:
            ses.add(row)
    return out(row)


async def _unpack(
    raw: Path, staging: Path, filename: str, purpose: str, caps: Caps, text_column: str, label_column: str
) -> tuple[str, dict[str, Any]]:
    import asyncio

    lower = filename.lower()
    if purpose == "files":
        if lower.endswith(ARCHIVES):
            skipped = await asyncio.to_thread(extract, raw, staging / "data", caps)
            return "files", {"single": None, **_notes(skipped)}
        (staging / "data").mkdir()  # FILENAME: a plain name already
        raw.rename(staging / "data" / filename)
        return "files", {"single": filename}
    try:
        if lower.endswith(".csv"):
            raw.rename(staging / "data.csv")
            info = await asyncio.to_thread(
                describe_dataset,
                "csv",
                staging / "data.csv",
                text_column=text_column,
                label_column=label_column,
            )
            return "csv", info
        if lower.endswith(ARCHIVES):
            skipped = await asyncio.to_thread(extract, raw, staging / "unpacked", caps)
            root = image_root(staging / "unpacked")
            root.rename(staging / "data")
            shutil.rmtree(staging / "unpacked", ignore_errors=True)
            info = await asyncio.to_thread(describe_dataset, "imagefolder", staging / "data")
            return "imagefolder", {**info, **_notes(skipped)}
    except RobustuneError as exc:
        if exc.field == "file":
            raise
        raise Unreadable(f"file: {exc.message}", field="file") from exc
    raise Unsupported("filename must end in .csv, or .zip / .tar(.gz) for an image folder (or upload with "
                      "purpose=files); nothing was kept", field="filename")


def _notes(skipped: list[str]) -> dict[str, Any]:
    """The dataset's notes on archive members left out (archives inside the archive are not opened)."""
    if not skipped:
        return {}
    shown = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
    return {"notes": [f"left out {len(skipped)} archive(s) inside the archive: {shown}"]}


@router.get("", response_model=list[DatasetOut])
def list_datasets(
    s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(read)]
) -> list[DatasetOut]:
    """The built-in datasets, then every upload (newest first)."""
    builtins = [
        DatasetOut(id=name, name=name, kind="builtin", size_bytes=0, info=info)
        for name, info in builtin_datasets().items()
    ]
    with s.db.begin() as ses:
        return builtins + [
            out(r) for r in ses.scalars(sa.select(Dataset).where(Dataset.project_id == token.project_id)
                                        .order_by(Dataset.created_at.desc()))
        ]


@router.get("/{dataset_id}", response_model=DatasetOut)
def get_dataset(
    dataset_id: str, s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(read)]
) -> DatasetOut:
    """One dataset: classes, counts per class, a few samples."""
    with s.db.begin() as ses:
        row = ses.get(Dataset, dataset_id)
        if row is None or row.project_id != token.project_id:
            raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id")
        return out(row)


@router.delete("/{dataset_id}", status_code=204)
def delete_dataset(
    dataset_id: str, s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(write)]
) -> Response:
    """Delete an upload (refused while a queued or running job uses it)."""
    with s.db.begin() as ses:
        row = ses.get(Dataset, dataset_id)
        if row is None or row.project_id != token.project_id:
            raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id")
        users = [
            j.id
            for j in ses.scalars(sa.select(Job).where(Job.state.in_(ACTIVE)))
            if dataset_id in str(j.spec)
        ]
        if users:
            raise Conflict(
                f"dataset {dataset_id} is used by job {users[0]}; delete it when that job ends",
                field="dataset_id",
            )
        ses.delete(row)
    s.storage.remove(s.storage.dataset(dataset_id))
    return Response(status_code=204)
