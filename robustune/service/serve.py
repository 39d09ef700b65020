"""``robustune serve``: the API (uvicorn) and N worker processes that live and die with it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from robustune.service.settings import Settings
from robustune.service.store import Store


class Workers:
    """N worker processes; one that dies is replaced and its job queued again."""

    prefix: str | None = None  # worker name of the jobs it recovers itself (None: reconcile does)

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stopping = threading.Event()

    def _spawn(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "robustune.service.worker", "--home", str(self.settings.home),
               "--parent", str(os.getpid())]
        if self.settings.db:
            cmd += ["--db", self.settings.db]
        return subprocess.Popen(cmd, env={**os.environ})

    def start(self) -> list[str]:
        """Start the workers and a thread that replaces any that die (nothing to recover: ``serve``
        queued their jobs again)."""
        self.procs = [self._spawn() for _ in range(self.settings.workers)]
        threading.Thread(target=self._watch, daemon=True).start()
        return []

    def _watch(self) -> None:
        while not self.stopping.wait(1.0):
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self.stopping.is_set():
                    self.store.reconcile(stale_after=3600)  # its job is queued again at once
                    self.procs[i] = self._spawn()

    def stop(self) -> None:
        """Stop every worker (their jobs stop with them and are queued again on the next start)."""
        self.stopping.set()
        for proc in self.procs:
            proc.terminate()
        deadline = time.monotonic() + 5
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()


def serve(settings: Settings, host: str, port: int) -> None:
    """Migrate, recover jobs a previous run left RUNNING, start the workers, serve until stopped."""
    import uvicorn

    from robustune.service.app import create_app
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings)
    swept = store.storage.sweep()
    if swept:
        print(f"removed {len(swept)} unfinished upload(s) left by an earlier run", file=sys.stderr)
    executor = EXECUTORS[settings.executor](settings, store)
    # jobs of a Ray executor are Ray's to account for; local ones (and stale Ray ones under local workers)
    # whose worker is gone are queued again
    recovered = store.reconcile(skip=executor.prefix)
    recovered += executor.start()  # a Ray executor adopts its jobs that still run on the cluster
    if recovered:
        print(f"recovered {len(recovered)} job(s) left running: {', '.join(recovered)}", file=sys.stderr)
    try:
        uvicorn.run(create_app(settings, store), host=host, port=port, log_level="warning", access_log=False)
    finally:
        executor.stop()


def _ray_jobs(settings: Settings, store: Store) -> Any:
    from robustune.service.ray_executor import RayJobs

    return RayJobs(settings, store)


EXECUTORS: dict[str, Callable[[Settings, Store], Any]] = {"local": Workers, "ray": _ray_jobs}
