"""Health, readiness, metrics, plugins, tokens and the reports of jobs."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, PlainTextResponse

from plugins.errors import NotFound
from robustune.jobs.catalog import plugins
from robustune.service.auth import create_token, list_projects, list_tokens, project, project_name, revoke
from robustune.service.deps import admin, read, server, store
from robustune.service.errors import ApiError
from robustune.service.limits import summary
from robustune.service.models import STATES, Job, Token
from robustune.service.schemas import ProjectIn, TokenIn
from robustune.service.store import Store

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Alive (no token needed)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(s: Annotated[Store, Depends(store)], _: Annotated[Token, Depends(read)]) -> dict[str, Any]:
    """Ready: the database answers (503 when it does not)."""
    try:
        with s.db.begin() as ses:
            ses.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        raise ApiError(503, f"the database does not answer ({type(exc).__name__})", "unavailable") from None
    return {"status": "ready", "database": "postgresql" if s.db.postgres else "sqlite"}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, s: Annotated[Store, Depends(store)], _: Annotated[Token, Depends(read)]) -> str:
    """Counters in the Prometheus text format."""
    with s.db.begin() as ses:
        counts = dict(ses.execute(sa.select(Job.state, sa.func.count()).group_by(Job.state)).all())
    jobs = {state: int(counts.get(state, 0)) for state in STATES}
    return str(request.app.state.metrics.text(jobs, request.app.state.engine.stats["batches"]))


@router.get("/v1/plugins")
def list_plugins(_: Annotated[Token, Depends(read)]) -> list[dict[str, str]]:
    """Every plugin by kind, with its description and distribution."""
    return plugins()


@router.get("/v1/limits")
def limits(s: Annotated[Store, Depends(store)], _: Annotated[Token, Depends(read)]) -> dict[str, Any]:
    """What one request and one job may be: body bytes, inputs, characters, pixels, time (serve's flags)."""
    return summary(s.settings)


@router.get("/v1/me")
def me(s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(read)]) -> dict[str, Any]:
    """The token asking: its id, name, scope and project."""
    return {"id": token.id, "name": token.name, "scope": token.scope, "server_admin": token.server_admin,
            "project": project_name(s.db, token.project_id)}


@router.get("/v1/tokens")
def tokens(s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(admin)]
           ) -> list[dict[str, Any]]:
    """The project's tokens (a server admin: every token), with who made each and when; never a token."""
    return list_tokens(s.db, None if token.server_admin else token.project_id)


@router.post("/v1/tokens", status_code=201)
def new_token(body: TokenIn, s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(admin)]
              ) -> dict[str, str]:
    """A new token of the asking admin's project (a server admin may name another project); it is shown
    this once. At most ``--max-tokens`` live tokens a project."""
    project_id = token.project_id
    if body.project is not None:
        if not token.server_admin:
            raise ApiError(403, "only a server admin makes tokens for another project; leave project out",
                           "forbidden", "project")
        project_id = project(s.db, body.project)
    ident, made = create_token(s.db, body.name, body.scope, project_id, by=token.id,
                               most=s.settings.max_tokens)
    return {"id": ident, "token": made, "scope": body.scope}


@router.delete("/v1/tokens/{token_id}", status_code=204)
def revoke_token(token_id: str, s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(admin)]
                 ) -> Response:
    """Revoke a token of the project (a server admin: any token)."""
    revoke(s.db, token_id, None if token.server_admin else token.project_id)
    return Response(status_code=204)


@router.get("/v1/projects")
def projects(s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(read)]
             ) -> list[dict[str, Any]]:
    """Every project (a server admin), or the token's own."""
    every = list_projects(s.db)
    return every if token.server_admin else [p for p in every if p["id"] == token.project_id]


@router.post("/v1/projects", status_code=201)
def new_project(body: ProjectIn, s: Annotated[Store, Depends(store)], token: Annotated[Token, Depends(server)]
                ) -> dict[str, str]:
    """A new project (server admins only); then make its first admin token with POST /v1/tokens."""
    if any(p["name"] == body.name for p in list_projects(s.db)):
        raise ApiError(409, f"project {body.name!r} exists", "conflict", "name")
    return {"id": project(s.db, body.name, create=True, by=token.id), "name": body.name}


@router.get("/v1/reports/{job_id}/{name}", response_class=FileResponse,
            responses={200: {"description": "the report", "content": {
                "text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
def job_report(job_id: str, name: str, s: Annotated[Store, Depends(store)],
               token: Annotated[Token, Depends(read)]) -> FileResponse:
    """The HTML (report.html) or PDF (report.pdf) a report or run job wrote."""
    if name not in ("report.html", "report.pdf"):
        raise NotFound(f"no report {name!r}; ask for report.html or report.pdf", field="name")
    row = s.job(job_id, token.project_id)
    path = s.storage.job(row.id) / name
    if row.state != "SUCCEEDED" or not path.is_file():
        raise NotFound(f"job {job_id} has no {name}", field="job_id")
    return FileResponse(path, media_type="text/html" if name.endswith(".html") else "application/pdf")
