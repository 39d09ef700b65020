"""A small client of the service's API (httpx), for scripts, CI pipelines and ``robustune remote``."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from plugins.errors import RobustuneError


class ServiceError(RobustuneError):
    """An error answer of the server (its message and field), or no answer at all."""


class Client:
    """Calls to one server with one token."""

    def __init__(self, url: str, token: str | None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceError(f"cannot reach the server at {self.http.base_url} ({type(exc).__name__}); is "
                               "robustune serve running?") from exc
        if r.status_code >= 400:
            try:
                err = r.json()
                raise ServiceError(f"server: {err.get('error')} ({r.status_code})", field=err.get("field"))
            except ValueError:
                raise ServiceError(f"server answered {r.status_code}: {r.text[:200]}") from None
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text

    def submit(self, kind: str, spec: dict[str, Any], model_name: str | None = None,
               key: str | None = None) -> dict[str, Any]:
        """Queue a job."""
        headers = {"Idempotency-Key": key} if key else {}
        return self._call("POST", "/v1/jobs", json={"kind": kind, "spec": spec, "model_name": model_name},
                          headers=headers)  # type: ignore[no-any-return]

    def job(self, job_id: str) -> dict[str, Any]:
        """A job."""
        return self._call("GET", f"/v1/jobs/{job_id}")  # type: ignore[no-any-return]

    def jobs(self) -> list[dict[str, Any]]:
        """The newest jobs."""
        return self._call("GET", "/v1/jobs")  # type: ignore[no-any-return]

    def wait(self, job_id: str, show: Callable[[dict[str, Any]], None] | None = None,
             timeout: float = 3600.0) -> dict[str, Any]:
        """Poll until the job ends."""
        deadline = time.monotonic() + timeout
        shown = None
        while True:
            job = self.job(job_id)
            now = (job["state"], round(job["progress"], 2), job["message"])
            if show and now != shown:
                show(job)
                shown = now
            if job["state"] in ("SUCCEEDED", "FAILED", "CANCELLED") or time.monotonic() > deadline:
                return job
            time.sleep(1.0)

    def logs(self, job_id: str) -> str:
        """A job's log."""
        return str(self._call("GET", f"/v1/jobs/{job_id}/logs"))

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job."""
        return self._call("POST", f"/v1/jobs/{job_id}/cancel")  # type: ignore[no-any-return]

    def models(self) -> list[dict[str, Any]]:
        """Registered models."""
        return self._call("GET", "/v1/models")  # type: ignore[no-any-return]

    def upload(self, path: Path, purpose: str = "data", name: str | None = None) -> dict[str, Any]:
        """Upload a CSV, an archive of an image folder, or model files."""
        params = {"filename": Path(path).name, "purpose": purpose, **({"name": name} if name else {})}
        with open(path, "rb") as fh:  # streamed, never read whole into memory
            return self._call("POST", "/v1/datasets", params=params, content=fh,  # type: ignore[no-any-return]
                              headers={"Content-Type": "application/octet-stream"})

    def predict(self, model: str, texts: list[str] | None = None, files: list[Path] | None = None,
                version: str | None = None, top_k: int = 3) -> dict[str, Any]:
        """Top-k labels for texts or image files."""
        body: dict[str, Any] = {"top_k": top_k}
        if texts:
            body["texts"] = texts
        else:
            body["images"] = [base64.b64encode(Path(f).read_bytes()).decode() for f in files or []]
        params = {"version": version} if version else {}
        return self._call("POST", f"/v1/models/{model}/predict", json=body, params=params)  # type: ignore[no-any-return]
