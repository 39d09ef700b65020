"""A real ``robustune serve`` on 127.0.0.1 (a subprocess, its own process group), on SQLite and on
PostgreSQL. Without a PostgreSQL server the PostgreSQL cases skip with the reason, except when
``ROBUSTUNE_REQUIRE_SERVICES=1`` (set by ``.ci/run``), where they fail instead."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

REQUIRED = os.environ.get("ROBUSTUNE_REQUIRE_SERVICES") == "1"
PG = os.environ.get("ROBUSTUNE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(PG, connect_timeout=3, autocommit=True)


def postgres_or_skip() -> None:
    """Skip (fail under CI) when no PostgreSQL server answers."""
    try:
        _pg_admin().close()
    except Exception as exc:  # psycopg.OperationalError and missing drivers alike
        reason = (f"PostgreSQL at {PG} is not reachable ({type(exc).__name__}); start one or set "
                  "ROBUSTUNE_TEST_POSTGRES")
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[str]:
    """A fresh PostgreSQL database for the session (dropped at the end)."""
    postgres_or_skip()
    name = f"robustune_t_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG.rsplit("/", 1)[0] + f"/{name}"
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_postgres() -> str:
    """One more fresh database (for a test that needs its own); dropped at the end of the session."""
    name = f"robustune_t_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _CREATED.append(name)
    return PG.rsplit("/", 1)[0] + f"/{name}"


_CREATED: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _drop_created() -> Iterator[None]:
    yield
    if _CREATED:
        with _pg_admin() as conn:
            for name in _CREATED:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Server:
    """``robustune serve`` in a subprocess: start, stop, SIGKILL, and clients with tokens."""

    def __init__(self, home: Path, db: str | None = None, workers: int = 1, *flags: str) -> None:
        self.home, self.db, self.workers, self.flags = home, db, workers, flags
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.tokens: dict[str, str] = {}

    def start(self, timeout: float = 90.0) -> Server:
        cmd = [
            sys.executable,
            "-m",
            "robustune",
            "serve",
            "--port",
            str(self.port),
            "--home",
            str(self.home),
            "--workers",
            str(self.workers),
            *self.flags,
        ]
        if self.db:
            cmd += ["--db", self.db]
        self.home.mkdir(parents=True, exist_ok=True)
        log = open(self.home / "server.log", "ab")  # noqa: SIM115 - the server writes it
        self.proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited ({self.proc.returncode}): {self.log()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the server did not answer within {timeout}s: {self.log()[-3000:]}")

    def log(self) -> str:
        path = self.home / "server.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    def stop(self) -> None:
        """SIGTERM the server's process group; SIGKILL what is left after 15 s."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the server process alone (its workers and their jobs must die with it)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def token(self, scope: str = "write", name: str | None = None, project: str = "default",
              server_admin: bool = False) -> str:
        """A new token of ``scope`` in ``project`` (made the way ``robustune token create`` makes it)."""
        from robustune.service.auth import create_token
        from robustune.service.auth import project as project_id
        from robustune.service.settings import Settings
        from robustune.service.store import Store

        db = Store(Settings(home=self.home, db=self.db)).db
        _, token = create_token(db, name or f"test-{scope}", scope, project_id(db, project, create=True),
                                server_admin=server_admin)
        return token

    def client(self, scope: str = "write") -> httpx.Client:
        """An HTTP client carrying a token of ``scope`` (one per scope, made on first use)."""
        if scope not in self.tokens:
            self.tokens[scope] = self.token(scope)
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[scope]}"}, timeout=60
        )

    def group_alive(self, pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False


def client_of(server: Server, token: str) -> httpx.Client:
    """An HTTP client carrying ``token``."""
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def register(server: Server, bundle: Path, name: str, project: str = "default") -> str:
    """A copy of ``bundle`` registered as a new version of ``name`` in ``project`` (as a finished job
    would); its folder."""
    import shutil

    import sqlalchemy as sa

    from robustune.jobs.catalog import bundle_summary
    from robustune.service.auth import project as project_id
    from robustune.service.models import ModelVersion, new_id
    from robustune.service.settings import Settings
    from robustune.service.store import Store

    store = Store(Settings(home=server.home, db=server.db), create=False)
    owner = project_id(store.db, project, create=True)
    folder = store.storage.root / "jobs" / new_id("job") / "bundle"
    shutil.copytree(bundle, folder)
    meta = bundle_summary(folder)
    with store.db.begin() as s:
        latest = s.scalar(sa.select(sa.func.max(ModelVersion.version)).where(
            ModelVersion.project_id == owner, ModelVersion.name == name)) or 0
        s.add(ModelVersion(id=new_id("mv"), name=name, version=latest + 1, job_id=None,
                           path=store.storage.relative(folder), modality=meta.modality, spec={},
                           metrics={}, data_fingerprint="", project_id=owner))
    return str(folder)


def wait_job(
    client: httpx.Client,
    job_id: str,
    states: tuple[str, ...] = ("SUCCEEDED", "FAILED", "CANCELLED"),
    timeout: float = 300.0,
    until: Any = None,
) -> dict[str, Any]:
    """Poll a job until it reaches one of ``states`` (or ``until(job)`` holds)."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in states or (until is not None and until(job)):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} still {job.get('state')} after {timeout}s: {job}")


def digits_zip(per_class: int = 30, classes: int = 3) -> bytes:
    """A zip of an image folder (one subfolder per class) of scikit-learn's 8x8 digits, as PNGs."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c in range(classes):
            idx = np.flatnonzero(digits.target == c)[:per_class]
            for i in idx:
                png = io.BytesIO()
                Image.fromarray(np.rint(digits.images[i] * 255 / 16).astype(np.uint8)).save(png, "PNG")
                zf.writestr(f"digits/{c}/{i}.png", png.getvalue())
    return buf.getvalue()


def digit_png(index: int = 0) -> bytes:
    from sklearn.datasets import load_digits

    png = io.BytesIO()
    Image.fromarray(np.rint(load_digits().images[index] * 255 / 16).astype(np.uint8)).save(png, "PNG")
    return png.getvalue()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per database for a test module (API only: jobs queue, no worker runs them)."""
    db = request.getfixturevalue("postgres_db") if request.param == "postgresql" else None
    srv = Server(tmp_path_factory.mktemp(f"home-{request.param}"), db, 1).start()
    yield srv
    srv.stop()
