"""/v1/jobs: submit any job kind, watch it (progress, events as Server-Sent Events, logs), cancel it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from plugins.duration import parse_duration
from plugins.errors import InvalidInput
from robustune.service.deps import read, store, write
from robustune.service.models import FINAL, Job, JobEvent, Token
from robustune.service.patterns import DURATION, MODEL_NAME, schema
from robustune.service.resolve import service_kinds
from robustune.service.schemas import TIME_LIMIT, JobOut, job_submit, spec_model
from robustune.service.store import Store

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
MAX_EVENT_ID = 2**62  # every database stores it
EVENTS = {"description": "Server-Sent Events: id, event (progress, log, state, end) and data (JSON)",
          "content": {"text/event-stream": {"schema": {  # one event
              "type": "object", "required": ["event", "data"],
              "properties": {"id": {"type": "string", "description": "resume after it (Last-Event-ID)"},
                             "event": {"type": "string"},
                             "data": {"type": "string", "contentMediaType": "application/json"}}}}}}


def out(row: Job) -> JobOut:
    """The API form of a job row."""
    return JobOut(
        id=row.id,
        kind=row.kind,
        state=row.state,
        progress=row.progress,
        message=row.message,
        attempts=row.attempts,
        worker=row.worker,
        spec=row.spec,
        model_name=row.model_name,
        result=row.result,
        error=row.error,
        error_kind=row.error_kind,
        error_field=row.error_field,
        time_limit=row.time_limit,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _submit(s: Store, kind: str, spec: dict[str, Any], model_name: str | None, key: str | None, token: Token,
            time_limit: str | float | None) -> JobOut:
    limit = parse_duration(time_limit, "time_limit") if time_limit is not None else None
    return out(s.submit(kind, spec, model_name, key, token.id, limit, token.project_id))


def submit_router() -> APIRouter:
    """``POST /v1/jobs`` (any kind) and ``POST /v1/jobs/KIND`` (its spec typed), for the job kinds the
    service offers now (built-ins and plugins'), built with the app."""
    submits = APIRouter(prefix="/v1/jobs", tags=["jobs"])
    body_type = job_submit()

    def submit(
        body: body_type,  # type: ignore[valid-type]
        s: Annotated[Store, Depends(store)],
        token: Annotated[Token, Depends(write)],
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
    ) -> JobOut:
        """Queue a job of any kind; a retried request with the same Idempotency-Key returns the first job."""
        job = body.root  # type: ignore[attr-defined]
        return _submit(s, job.kind, job.spec.model_dump(exclude_none=True), job.model_name, idempotency_key,
                       token, job.time_limit)

    submit.__annotations__["body"] = body_type  # the class itself (annotations are strings here)
    submits.post("", status_code=201, response_model=JobOut)(submit)
    for kind in service_kinds():
        _typed_route(submits, kind)
    return submits


def _typed_route(submits: APIRouter, kind: str) -> None:
    model = spec_model(kind)

    def submit_kind(
        body: model,  # type: ignore[valid-type]
        s: Annotated[Store, Depends(store)],
        token: Annotated[Token, Depends(write)],
        model_name: Annotated[str | None, Query(pattern=schema(MODEL_NAME))] = None,
        time_limit: Annotated[str | None, Query(max_length=20, pattern=schema(DURATION),
                                                description=TIME_LIMIT)] = None,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
    ) -> JobOut:
        spec = body.model_dump(exclude_none=True)  # type: ignore[attr-defined]
        return _submit(s, kind, spec, model_name, idempotency_key, token, time_limit)

    submit_kind.__annotations__["body"] = model  # the class itself (annotations are strings here)
    submit_kind.__name__ = f"submit_{kind}"
    submit_kind.__doc__ = f"Queue a {kind} job (its spec typed)."
    submits.post(f"/{kind}", status_code=201, response_model=JobOut)(submit_kind)


@router.get("", response_model=list[JobOut])
def list_jobs(
    s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(read)],
    state: Annotated[str | None, Query(max_length=12)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobOut]:
    """The newest jobs first (optionally in one state)."""
    with s.db.begin() as ses:
        q = (sa.select(Job).where(Job.project_id == token.project_id).order_by(Job.created_at.desc())
             .limit(limit))
        if state:
            q = q.where(Job.state == state.upper())
        return [out(r) for r in ses.scalars(q)]


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(read)]
            ) -> JobOut:
    """One job."""
    return out(s.job(job_id, token.project_id))


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel(job_id: str, s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(write)]
           ) -> JobOut:
    """Stop a job: a queued one at once, a running one through its process group."""
    return out(s.cancel(job_id, token.project_id))


@router.get("/{job_id}/logs", response_class=PlainTextResponse)
def logs(
    job_id: str,
    s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(read)],
    tail: Annotated[int, Query(ge=1, le=100_000)] = 2000,
) -> str:
    """The job's log lines (its events of kind log, then its process output)."""
    s.job(job_id, token.project_id)
    with s.db.begin() as ses:
        lines = [
            f"{e.at.isoformat()} {e.data.get('message', '')}"
            for e in ses.scalars(
                sa.select(JobEvent)
                .where(JobEvent.job_id == job_id, JobEvent.type == "log")
                .order_by(JobEvent.id)
            )
        ]
    path = s.storage.job(job_id) / "job.log"
    if path.is_file():
        lines += path.read_text(errors="replace").splitlines()
    return "\n".join(lines[-tail:]) + "\n"


@router.get("/{job_id}/events", response_class=StreamingResponse, responses={200: EVENTS})
async def events(
    job_id: str,
    request: Request,
    s: Annotated[Store, Depends(store)],
    token: Annotated[Token, Depends(read)],
    after: Annotated[int, Query(ge=0, le=MAX_EVENT_ID)] = 0,
) -> StreamingResponse:
    """The job's events as Server-Sent Events, until it ends (``after``: the last event id seen)."""
    s.job(job_id, token.project_id)
    resumed = request.headers.get("last-event-id", "").strip()
    if resumed and not (resumed.isdigit() and int(resumed) <= MAX_EVENT_ID):
        raise InvalidInput("Last-Event-ID must be the id of an event this stream sent", field="last-event-id")
    last = max(after, int(resumed) if resumed else 0)

    async def stream() -> AsyncIterator[bytes]:
        nonlocal last
        while True:
            rows, state = await asyncio.to_thread(_since, s, job_id, last)
            for row in rows:
                last = row.id
                yield f"id: {row.id}\nevent: {row.type}\ndata: {json.dumps(row.data)}\n\n".encode()
            if state in FINAL and not rows:
                yield b"event: end\ndata: {}\n\n"
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.5)

    return StreamingResponse(stream(), media_type="text/event-stream")


def _since(s: Store, job_id: str, last: int) -> tuple[list[JobEvent], str]:
    with s.db.begin() as ses:
        rows = list(
            ses.scalars(
                sa.select(JobEvent)
                .where(JobEvent.job_id == job_id, JobEvent.id > last)
                .order_by(JobEvent.id)
                .limit(500)
            )
        )
        job = ses.get(Job, job_id)
        return rows, job.state if job else "FAILED"
