"""Errors as HTTP: every error kind to a status, one JSON body naming the field."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from plugins.errors import RobustuneError
from plugins.schema import Bounds
from robustune.service.patterns import says

STATUS = {"invalid": 400, "not_found": 404, "conflict": 409, "interrupted": 409,
          "unsupported": 422, "unreadable": 422, "key_reused": 422}  # 422: fits the schema, cannot be done


class ApiError(Exception):
    """An HTTP error with robustune's error body."""

    def __init__(self, status: int, message: str, kind: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.field, self.headers = status, message, kind, field, headers


def body(message: str, kind: str, field: str | None) -> dict[str, Any]:
    """The error body: ``{"error", "kind", "field", "pointer"}``; ``pointer`` is the field as a JSON
    pointer into the request (``options.lr`` -> ``/options/lr``)."""
    pointer = "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in field.split(".")) \
        if field else None
    return {"error": message, "kind": kind, "field": field, "pointer": pointer}


def _scrub(request: Request, message: str) -> str:
    """No server path or object address in what a client reads."""
    store = getattr(request.app.state, "store", None)
    return store.storage.scrub(message) if store is not None else message


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(body(_scrub(request, exc.message), exc.kind, exc.field), status_code=exc.status,
                        headers=exc.headers)


async def robustune_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RobustuneError)
    return JSONResponse(body(_scrub(request, exc.message), exc.kind, exc.field),
                        status_code=STATUS.get(exc.kind, 400))


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "form", "header")
           and not UNION_TAG.match(str(p))]  # which member of a union (str | number) failed: not a field
    if len(loc) > 1 and loc[0] in _kinds() and loc[1] in JOB_FIELDS:  # POST /v1/jobs: its kind's schema
        loc = loc[2:] if loc[1] == "spec" else loc[1:]  # the field as sent (a spec's audit is no kind)
    if first.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        loc = ["kind"]
    field = ".".join(loc) or None
    message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
    if first.get("type") == "string_pattern_mismatch":
        ctx: Any = first.get("ctx") or {}
        pattern = str(ctx.get("pattern", ""))
        message = f"{field} must be {says(pattern.removeprefix('^(?:').removesuffix(')$'))}"
    if first.get("type") in RANGES:  # ctx is {"ge": 1}: worded as the specs word their bounds
        limits: Any = first.get("ctx") or {}
        bound = Bounds(**limits)
        message = f"{field} must be {bound.words()}, got {first.get('input')!r}"
    if first.get("type") == "extra_forbidden":
        message = f"{field} is not accepted here (see this endpoint's schema in /openapi.json); leave it out"
    return JSONResponse(body(message, "invalid", field), status_code=400)


UNION_TAG = re.compile(r"^(constrained-)?(str|int|float|bool)$|^function-|\[")  # pydantic's member names
JOB_FIELDS = ("spec", "model_name", "time_limit")  # POST /v1/jobs's own fields beside kind
RANGES = ("greater_than_equal", "greater_than", "less_than_equal", "less_than")  # pydantic's range errors


def _kinds() -> list[str]:
    from robustune.service.resolve import service_kinds

    return service_kinds()


HTTP_KINDS = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many",
    503: "unavailable",
}


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (a body that does not parse, an unknown route, a method the route does not
    take: its Allow header lists every method of the path) in robustune's body."""
    assert isinstance(exc, StarletteHTTPException)
    field = "body" if exc.status_code == 400 else None
    message = str(exc.detail)
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 400 and "pars" in message.lower():
        message = "the request body cannot be parsed: send JSON (or the documented upload form)"
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        message = f"{request.method} is not allowed here; use {', '.join(allowed)}"
    return JSONResponse(
        body(message, HTTP_KINDS.get(exc.status_code, "error"), field),
        status_code=exc.status_code,
        headers=headers or None,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method the path's own routes take (Starlette names only the first route's). A path matched by
    a literal route (``/v1/jobs/audit``) is that route's, not also a template's (``/v1/jobs/{job_id}``)."""
    from starlette.routing import Match

    found: list[tuple[int, str]] = []  # (path parameters of the matching route, method)
    for method in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"):
        scope = {**request.scope, "method": method}
        for route in _leaves(request.app.router.routes):
            match, child = route.matches(scope)
            if match == Match.FULL:
                found.append((len(child.get("path_params", {})), method))
                break
    fewest = min((n for n, _ in found), default=0)
    return [method for n, method in found if n == fewest]


def _leaves(routes: list[Any]) -> list[Any]:
    """The routes themselves, inside the routers FastAPI includes (in the order they are matched)."""
    out: list[Any] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        out += _leaves(list(inner.routes)) if inner is not None else [route]
    return out
