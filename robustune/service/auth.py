"""API tokens and projects: a token is made once, stored as a SHA-256 hash, compared in constant time,
and belongs to one project with a scope there (read < write < admin); a server admin also manages
projects and every project's tokens. Every token records which token made it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import sqlalchemy as sa

from plugins.errors import Conflict, InvalidInput, NotFound
from robustune.service.db import Database
from robustune.service.models import DEFAULT_PROJECT, Project, Token, new_id, now
from robustune.service.patterns import PROJECT_NAME, TEXT_LINE, check

SCOPES = {"read": 0, "write": 1, "admin": 2}


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def project(db: Database, name: str, create: bool = False, by: str | None = None) -> str:
    """The id of project ``name`` (``create``: made when missing)."""
    check(name, PROJECT_NAME, "project")
    with db.begin() as s:
        row = s.scalar(sa.select(Project).where(Project.name == name))
        if row is not None:
            return row.id
        if not create:
            raise NotFound(f"no project {name!r}; a server admin makes it (POST /v1/projects)",
                           field="project")
        row = Project(id=DEFAULT_PROJECT if name == "default" else new_id("prj"), name=name, created_by=by)
        s.add(row)
        return row.id


def project_name(db: Database, project_id: str) -> str:
    """The name of a project (its id when it has none)."""
    with db.begin() as s:
        row = s.get(Project, project_id)
        return row.name if row is not None else project_id


def list_projects(db: Database) -> list[dict[str, Any]]:
    """Every project with its live token count."""
    with db.begin() as s:
        live = dict(s.execute(sa.select(Token.project_id, sa.func.count()).where(Token.revoked_at.is_(None))
                              .group_by(Token.project_id)).all())
        return [{"id": p.id, "name": p.name, "created_at": p.created_at.isoformat(),
                 "created_by": p.created_by, "tokens": int(live.get(p.id, 0))}
                for p in s.scalars(sa.select(Project).order_by(Project.name))]


def create_token(db: Database, name: str, scope: str, project_id: str = DEFAULT_PROJECT,
                 server_admin: bool = False, by: str | None = None, most: int | None = None
                 ) -> tuple[str, str]:
    """(id, the token itself): the token is shown once and never stored. ``most``: live tokens a project
    may have (a refusal past it)."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be read, write or admin, got {scope!r}", field="scope")
    clean = check(name, TEXT_LINE, "name")
    token = "rt_" + secrets.token_urlsafe(32)
    with db.begin() as s:
        if s.get(Project, project_id) is None:
            raise NotFound(f"no project {project_id!r}", field="project")
        if most is not None:
            live = s.scalar(sa.select(sa.func.count()).select_from(Token).where(
                Token.project_id == project_id, Token.revoked_at.is_(None))) or 0
            if live >= most:
                raise Conflict(f"this project has {live} live tokens, the most this service allows (serve "
                               "--max-tokens); revoke unused ones first", field="name")
        row = Token(id=new_id("tok"), name=clean, hash=digest(token), scope=scope, project_id=project_id,
                    server_admin=server_admin, created_by=by)
        s.add(row)
    return row.id, token


def verify(db: Database, token: str) -> Token | None:
    """The live token row for ``token`` (None: unknown or revoked)."""
    presented = digest(token)
    with db.begin() as s:
        row = s.scalar(sa.select(Token).where(Token.hash == presented))
        if row is None or not hmac.compare_digest(row.hash, presented) or row.revoked_at is not None:
            return None
        return row


def allows(row: Token, needed: str) -> bool:
    """Whether a token of ``row.scope`` may do what needs ``needed`` in its project."""
    return SCOPES[row.scope] >= SCOPES[needed]


def revoke(db: Database, token_id: str, project_id: str | None = None) -> None:
    """Revoke a token by id (``project_id``: only one of that project's)."""
    with db.begin() as s:
        row = s.get(Token, token_id)
        if row is None or (project_id is not None and row.project_id != project_id):
            raise NotFound(f"no token {token_id!r}", field="token_id")
        row.revoked_at = row.revoked_at or now()


def list_tokens(db: Database, project_id: str | None = None) -> list[dict[str, object]]:
    """Every token's id, name, scope, project, maker and dates (never the token); ``project_id``: one
    project's."""
    with db.begin() as s:
        names = {p.id: p.name for p in s.scalars(sa.select(Project))}
        q = sa.select(Token).order_by(Token.created_at)
        if project_id is not None:
            q = q.where(Token.project_id == project_id)
        return [
            {
                "id": t.id,
                "name": t.name,
                "scope": t.scope,
                "project": names.get(t.project_id, t.project_id),
                "server_admin": t.server_admin,
                "created_by": t.created_by,
                "created_at": t.created_at.isoformat(),
                "revoked": t.revoked_at is not None,
            }
            for t in s.scalars(q)
        ]
