"""The web page: sign in with a token (kept in an HttpOnly, SameSite=Strict cookie), then one page
to upload datasets, submit runs, watch and cancel jobs, browse models and open reports.

Server-rendered Jinja2 (autoescaped) and one small script, no build step. The script calls the same
JSON API as any client; writes made with the cookie must carry ``X-Robustune-Page`` (see deps).
"""

from __future__ import annotations

import hmac
import secrets
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from robustune.jobs.catalog import DEFAULT_MODELS, plugins
from robustune.service.auth import allows, list_tokens, project_name, verify
from robustune.service.deps import COOKIE, presented, store
from robustune.service.routers.datasets import list_datasets
from robustune.service.routers.models import list_models
from robustune.service.store import Store

router = APIRouter(include_in_schema=False)
CSRF = "robustune_signin"
HERE = Path(__file__).resolve().parents[1]
STATIC = {"page.js": "text/javascript", "page.css": "text/css"}
SECURITY = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                       "script-src 'self'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


@cache
def _templates() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(HERE / "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["pct"] = lambda v: f"{v:.1%}" if isinstance(v, float) else "-"
    env.filters["num"] = lambda v: f"{v:.3f}" if isinstance(v, float) else "-"
    return env


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates().get_template(name).render(**{"who": None, "error": None, **context})
    return HTMLResponse(html, status_code=status, headers=SECURITY)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, s: Annotated[Store, Depends(store)]) -> HTMLResponse:
    """The page (the sign-in form without a live token)."""
    token = presented(request)
    row = verify(s.db, token) if token else None
    if row is None:
        return _signin()
    catalog = plugins()
    by_kind = {k: sorted((p for p in catalog if p["kind"] == k), key=lambda p: p["name"])
               for k in ("backbone", "adapter", "attack")}
    tokens = list_tokens(s.db, row.project_id) if allows(row, "admin") else None
    return _page("home.html.j2", who=row, project=project_name(s.db, row.project_id), tokens=tokens,
                 can_write=allows(row, "write"), datasets=list_datasets(s, row),
                 models=list_models(s, row), backbones=[p for p in by_kind["backbone"]
                                                        if p["name"] != "hf-sequence-classifier"],
                 adapters=by_kind["adapter"], attacks=by_kind["attack"], default_models=DEFAULT_MODELS)


def _signin(error: str | None = None, status: int = 200) -> HTMLResponse:
    """The sign-in form with a fresh CSRF value, also kept in a cookie: a form posted from another site
    cannot know it, so it cannot sign the visitor in as someone else (login CSRF)."""
    csrf = secrets.token_urlsafe(24)
    response = _page("signin.html.j2", status, error=error, csrf=csrf)
    response.set_cookie(CSRF, csrf, httponly=True, samesite="strict", path="/signin", max_age=3600)
    return response


@router.post("/signin", response_class=HTMLResponse)
def signin(request: Request, s: Annotated[Store, Depends(store)],
           token: Annotated[str, Form(max_length=500)] = "", csrf: Annotated[str, Form(max_length=100)] = ""
           ) -> Response:
    """Check the form's CSRF value and the token; keep the token in the page's cookie."""
    kept = request.cookies.get(CSRF, "")
    if not csrf or not kept or not hmac.compare_digest(csrf, kept):
        return _signin("The sign-in form expired or came from another site; sign in again here.", 403)
    if not token.strip() or verify(s.db, token.strip()) is None:
        return _signin("That token is unknown or revoked.")  # a form, not an API: 200
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", max_age=7 * 24 * 3600)
    response.delete_cookie(CSRF, path="/signin")
    return response


@router.post("/signout")
def signout() -> Response:
    """Forget the cookie."""
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The page's script and style sheet."""
    if name not in STATIC:
        return Response("not found", status_code=404)
    return FileResponse(
        HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "no-cache"}
    )
