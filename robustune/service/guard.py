"""What every request passes before a route sees it, and every answer on its way out.

A body is read under ``max_body_bytes`` (counted as it arrives, not taken from its header) and only
then handed on; a dataset upload streams to disk under its own cap instead. A NUL byte in the path,
a query parameter, a form field or a JSON string is refused naming where it is: no database stores it
and no file name may hold it. Every answer carries the security headers: the page sets its own policy,
reports may style themselves inline and show their images, anything else may load nothing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from robustune.service.errors import body as error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin", "x-frame-options": "DENY"}
NOTHING = "default-src 'none'; frame-ancestors 'none'"
REPORT = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


def streamed(method: str, path: str) -> bool:
    """Requests whose body a route streams to disk under its own cap (a dataset upload)."""
    return method == "POST" and path.rstrip("/") == "/v1/datasets"


def nul_in(value: Any, at: str = "") -> str | None:
    """The dotted path of the first string (or key) in a JSON value holding a NUL byte (None: none)."""
    if isinstance(value, str):
        return (at or "body") if "\x00" in value else None
    items: Iterator[tuple[str, Any]]
    if isinstance(value, dict):
        for key in value:
            if "\x00" in str(key):
                return f"{at}.{key}".lstrip(".").replace("\x00", "\\0")
        items = ((f"{at}.{k}".lstrip("."), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{at}.{i}".lstrip("."), v) for i, v in enumerate(value))
    else:
        return None
    for where, item in items:
        found = nul_in(item, where)
        if found:
            return found
    return None


class Guard:
    """An ASGI middleware: body cap, no NUL bytes, security headers (see the module)."""

    def __init__(self, app: App, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._headers(send)
        refused = self._nul_in_url(scope)
        if refused:
            await _answer(send, 400, f"{refused} holds a NUL byte; send text without it", "invalid", refused)
            return
        if streamed(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        data = b"".join(chunks)
        where = _nul_in_body(data, _header(scope, b"content-type"))
        if where:
            await _answer(send, 400, f"{where} holds a NUL byte; send text without it", "invalid", where)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        limit = f"{self.max_body / (1 << 20):g} MB" if self.max_body >= 1 << 20 else f"{self.max_body} bytes"
        await _answer(send, 413, f"the request body is larger than this service's {limit} (serve "
                                 "--max-body-mb); send fewer or smaller inputs", "too_large", "body",
                      close=True)

    @staticmethod
    def _nul_in_url(scope: Scope) -> str | None:
        if "\x00" in scope["path"]:
            return "path"
        query = scope.get("query_string", b"").decode("latin-1")
        if "%00" not in query and "\x00" not in query:
            return None
        for key, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                return key.replace("\x00", "\\0") or "query"
        return "query"

    @staticmethod
    def _headers(send: Send) -> Send:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.decode("latin-1").lower() for k, _ in headers}
                for key, value in HEADERS.items():
                    if key not in have:
                        headers.append((key.encode(), value.encode()))
                if "content-security-policy" not in have:
                    kind = next((v for k, v in headers if k.lower() == b"content-type"), b"").decode()
                    policy = REPORT if kind.startswith("text/html") else NOTHING
                    headers.append((b"content-security-policy", policy.encode()))
                message["headers"] = headers
            await send(message)

        return with_headers


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


def _nul_in_body(data: bytes, content_type: str) -> str | None:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" and (b"\\u0000" in data or b"\x00" in data):
        try:
            return nul_in(json.loads(data))
        except (ValueError, RecursionError):
            return None  # the route's parser says what is wrong with it
    if kind == "application/x-www-form-urlencoded" and (b"%00" in data or b"\x00" in data):
        for key, value in parse_qsl(data.decode("latin-1"), keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                return key.replace("\x00", "\\0") or "body"
    return None


async def _answer(send: Send, status: int, message: str, kind: str, field: str, close: bool = False) -> None:
    payload = json.dumps(error_body(message, kind, field)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
