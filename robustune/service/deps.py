"""What every router needs: the store, the current token and its scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request

from robustune.service.auth import allows, verify
from robustune.service.errors import ApiError
from robustune.service.models import Token
from robustune.service.store import Store

COOKIE = "robustune_token"


def store(request: Request) -> Store:
    """The service's store."""
    return request.app.state.store  # type: ignore[no-any-return]


def presented(request: Request) -> str | None:
    """The token of a request: ``Authorization: Bearer TOKEN`` (or the page's cookie)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE)


SAFE = ("GET", "HEAD", "OPTIONS")


def require(scope: str) -> Callable[[Request], Any]:
    """A dependency: a live token whose scope is at least ``scope`` (401 without one, 403 below it).

    A write authenticated by the page's cookie must carry ``X-Robustune-Page``: a cross-site form
    cannot set that header, so another site cannot act with the cookie (CSRF)."""
    def check(request: Request) -> Token:
        token = presented(request)
        by_cookie = token is not None and not request.headers.get("authorization")
        if by_cookie and request.method not in SAFE and not request.headers.get("x-robustune-page"):
            raise ApiError(
                403,
                "a write signed in by cookie must come from robustune's page (X-Robustune-Page)",
                "forbidden",
                "authorization",
            )
        if not token:
            raise ApiError(
                401,
                "this endpoint needs a token: send Authorization: Bearer TOKEN",
                "unauthorized",
                "authorization",
                {"WWW-Authenticate": "Bearer"},
            )
        row = verify(store(request).db, token)
        if row is None:
            raise ApiError(
                401,
                "the token is unknown or revoked",
                "unauthorized",
                "authorization",
                {"WWW-Authenticate": "Bearer"},
            )
        if scope == "server":
            if not row.server_admin:
                raise ApiError(403, "this needs a server admin token", "forbidden", "authorization")
            return row
        if not allows(row, scope):
            raise ApiError(
                403, f"this token's scope is {row.scope}; this needs {scope}", "forbidden", "authorization"
            )
        return row

    return check


read = require("read")
write = require("write")
admin = require("admin")
server = require("server")  # admin of the whole server: projects
