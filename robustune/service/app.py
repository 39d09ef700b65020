"""The FastAPI application: routers and schemas over the jobs; errors as JSON naming the field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException

from plugins.errors import RobustuneError
from robustune import __version__
from robustune.service.engine import Engine
from robustune.service.errors import ApiError, api_error, http_error, robustune_error, validation_error
from robustune.service.guard import Guard
from robustune.service.limits import TokenSlots
from robustune.service.metrics import Metrics
from robustune.service.routers import datasets, jobs, models, page, system
from robustune.service.schemas import ErrorOut
from robustune.service.settings import Settings
from robustune.service.store import Store


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The service over ``settings`` (the database is migrated to the newest schema)."""
    app = FastAPI(title="robustune", version=__version__, openapi_url="/openapi.json",
                  description="Fine-tune, audit and explain classifiers as a shared service. Every endpoint "
                              "except /healthz needs Authorization: Bearer TOKEN.")
    app.state.store = store or Store(settings)
    app.state.engine = Engine(settings.predict_batch, settings.predict_wait_ms, settings.model_cache_bytes,
                              settings.predict_lanes, settings.runtime, settings.predict_device)
    app.state.metrics = Metrics()
    app.state.slots = TokenSlots(settings.predict_per_token)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RobustuneError, robustune_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for router in (system.router, datasets.router, jobs.submit_router(), jobs.router, models.router,
                   page.router):
        app.include_router(router)

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        app.state.metrics.request(request.method, getattr(route, "path", "unmatched"), response.status_code)
        return response

    app.add_middleware(Guard, max_body=settings.max_body_bytes)  # type: ignore[arg-type]
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


ERRORS = {
    "400": "bad input: the field named in the body is at fault",
    "401": "no token, or an unknown or revoked one",
    "403": "the token's scope does not allow this",
    "404": "no such job, dataset or model",
    "409": "refused in the current state (a job uses it, a job has ended, ...)",
    "413": "the request is over one of the service's limits (GET /v1/limits), named in the body",
}
UNPROCESSABLE = ("the request fits its schema but cannot be done: options that conflict, a file whose "
                 "content cannot be used, a model of the other modality, more than this service allows (its "
                 "time-limit cap, its GPUs), an Idempotency-Key reused with another request")
NO_NUL = "^[^\\x00]*$"  # the guard refuses a NUL byte anywhere in a request (no database stores one)


def _no_nul(node: Any) -> None:
    """State the guard's rule in the schema: every free string (no pattern, format or choices of its own)
    and every object key holds no NUL byte."""
    if isinstance(node, list):
        for item in node:
            _no_nul(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & node.keys():
        node["pattern"] = NO_NUL
    if node.get("type") == "object" and node.get("additionalProperties") not in (None, False):
        node.setdefault("propertyNames", {"pattern": NO_NUL})
    for value in node.values():
        _no_nul(value)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema with robustune's error answers: 400 for a request that breaks the schema (FastAPI's
    422 is not used for it), 401/403 for auth, 404/409, 413, and 422 for a request that fits the schema but
    cannot be done, each with the ``ErrorOut`` body; free strings say they hold no NUL byte."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema.setdefault("components", {}).setdefault("schemas", {})["ErrorOut"] = ErrorOut.model_json_schema()
    for schemas in (schema["components"]["schemas"],):
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    for path, ops in schema["paths"].items():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            if path == "/healthz":
                continue
            for code, text in ERRORS.items():
                responses.setdefault(code, {"description": text, **ref})
        for method, op in ops.items():
            if method != "get" and path != "/healthz":
                op["responses"].setdefault("422", {"description": UNPROCESSABLE, **ref})
    _no_nul(schema["paths"])
    _no_nul(schema["components"]["schemas"])
    app.openapi_schema = schema
    return schema
