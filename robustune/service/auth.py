"""API tokens: made once, stored as a SHA-256 hash, compared in constant time, scoped read < write < admin."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import sqlalchemy as sa

from plugins.errors import InvalidInput, NotFound
from robustune.service.db import Database
from robustune.service.models import Token, new_id, now

SCOPES = {"read": 0, "write": 1, "admin": 2}


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, name: str, scope: str) -> tuple[str, str]:
    """(id, the token itself): the token is shown once and never stored."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be read, write or admin, got {scope!r}", field="scope")
    if not name.strip():
        raise InvalidInput("name must not be empty", field="name")
    token = "rt_" + secrets.token_urlsafe(32)
    with db.begin() as s:
        row = Token(id=new_id("tok"), name=name.strip(), hash=digest(token), scope=scope)
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
    """Whether a token of ``row.scope`` may do what needs ``needed``."""
    return SCOPES[row.scope] >= SCOPES[needed]


def revoke(db: Database, token_id: str) -> None:
    """Revoke a token by id."""
    with db.begin() as s:
        row = s.get(Token, token_id)
        if row is None:
            raise NotFound(f"no token {token_id!r}", field="token_id")
        row.revoked_at = row.revoked_at or now()


def list_tokens(db: Database) -> list[dict[str, object]]:
    """Every token's id, name, scope and dates (never the token)."""
    with db.begin() as s:
        return [
            {
                "id": t.id,
                "name": t.name,
                "scope": t.scope,
                "created_at": t.created_at.isoformat(),
                "revoked": t.revoked_at is not None,
            }
            for t in s.scalars(sa.select(Token).order_by(Token.created_at))
        ]
