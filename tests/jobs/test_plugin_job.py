"""Adding a job kind is one module and one registry line: a test plugin's ``count`` job, installed as a
distribution, is driven through the CLI and the HTTP API (submit, events, result, cancel) with no edit
anywhere in robustune."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_subprocess
from tests.plugins.test_registry import readme_block
from tests.service.conftest import Server, wait_job


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The README's count plugin, exactly, pip-installed into a folder; PYTHONPATH with it first."""
    src = tmp_path_factory.mktemp("count-src")
    (src / "count_job.py").write_text(readme_block("count_job.py"))
    (src / "pyproject.toml").write_text(readme_block("count_job.toml"))
    target = tmp_path_factory.mktemp("count-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True, capture_output=True)
    yield os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH", "")) if p)


def test_the_cli_runs_a_plugin_job_kind(plugin_path: str, tmp_path: Path) -> None:
    env = {"PYTHONPATH": plugin_path}
    helped = run_subprocess("count", "--help", env=env)
    assert helped.code == 0 and "--tick" in helped.out and "Count to N" in helped.out, helped.out
    listed = run_subprocess("plugins", env=env)
    assert "count" in listed.out and "robustune-count-job" in listed.out
    out = tmp_path / "count.json"
    done = run_subprocess("count", "--n", "3", "--tick", "0", "--out", str(out), "--json", env=env)
    assert done.code == 0, done.err
    assert json.loads(done.out) == {"steps": 3, "data": "digits", "out": str(out)}
    assert json.loads(out.read_text()) == {"steps": 3, "data": "digits"}
    shown = run_subprocess("count", "--n", "2", "--tick", "0", env=env)
    assert shown.code == 0 and "steps: 2" in shown.out, shown.out
    bad = run_subprocess("count", "--n", "0", env=env)
    assert bad.code == 2 and bad.err.strip() == "error: --n must be at least 1, got 0", bad.err


def test_the_service_runs_and_cancels_a_plugin_job_kind(plugin_path: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", plugin_path)
    srv = Server(tmp_path / "home", None, 1).start()
    try:
        c = srv.client()
        assert "/v1/jobs/count" in c.get("/openapi.json").json()["paths"]
        job = c.post("/v1/jobs/count", json={"n": 4, "tick": 0.01}).json()
        done = wait_job(c, job["id"], timeout=60)
        assert done["state"] == "SUCCEEDED", done
        assert done["result"]["steps"] == 4 and done["progress"] == 1.0
        written = tmp_path / "home" / "artifacts" / done["result"]["out"]
        assert json.loads(written.read_text()) == {"steps": 4, "data": "digits"}  # the job's own folder
        events = c.get(f"/v1/jobs/{job['id']}/events").text
        assert "event: metric" in events and '"name": "count"' in events and "event: end" in events
        # the generic endpoint, and the refusals every kind gets from its declarations
        generic = c.post("/v1/jobs", json={"kind": "count", "spec": {"n": 2, "tick": 0}})
        assert generic.status_code == 201, generic.text
        assert wait_job(c, generic.json()["id"], timeout=60)["state"] == "SUCCEEDED"
        server_set = c.post("/v1/jobs/count", json={"n": 2, "out": "/tmp/x"})
        assert server_set.status_code == 400 and server_set.json()["field"] == "out", server_set.text
        no_path = c.post("/v1/jobs/count", json={"data": "/etc"})
        assert no_path.status_code == 400 and no_path.json()["field"] == "data", no_path.text
        # cancel: a long count stops at its next step
        long = c.post("/v1/jobs/count", json={"n": 600, "tick": 0.1}).json()["id"]
        wait_job(c, long, timeout=60, until=lambda j: j["state"] == "RUNNING" and j["progress"] > 0)
        assert c.post(f"/v1/jobs/{long}/cancel").status_code == 200
        stopped = wait_job(c, long, timeout=60)
        assert stopped["state"] == "CANCELLED" and stopped["progress"] < 0.5, stopped
    finally:
        srv.stop()
