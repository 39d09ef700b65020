"""schemathesis over /openapi.json, every phase (examples, coverage, fuzzing, stateful), with a fixed seed,
against a live server on SQLite and on PostgreSQL: no 5xx, no response off its documented schema, no
request the schema allows rejected as malformed (400) and none it forbids accepted.

The server answers 400 when a request breaks the schema and 422 when it fits the schema but cannot be done
(options that conflict, a file whose content is unreadable, more than the deployment allows), so
``schemathesis.toml`` counts 422 among the answers a schema-valid request may get.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service.conftest import Server, fresh_postgres, postgres_or_skip

HERE = Path(__file__).parent
EXAMPLES = os.environ.get("ROBUSTUNE_SCHEMATHESIS_EXAMPLES", "15")
SEED = os.environ.get("ROBUSTUNE_SCHEMATHESIS_SEED", "7")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_every_phase_finds_no_failure(database: str, tmp_path: Path) -> None:
    if database == "postgresql":
        postgres_or_skip()
    db = fresh_postgres() if database == "postgresql" else None  # its own: the same run on every machine
    srv = Server(tmp_path / "home", db, 0).start()  # API only: fuzzed jobs stay queued
    try:
        token = srv.token("admin", "fuzzer", server_admin=True)  # every operation, projects and tokens too
        st = Path(sys.executable).with_name("st")
        cmd = [str(st), "--config-file", str(HERE / "schemathesis.toml"), "run", f"{srv.url}/openapi.json",
               "--phases", "examples,coverage,fuzzing,stateful", "--checks", "all",
               "--max-examples", EXAMPLES, "--seed", SEED, "--workers", "1",
               # revoking tokens would revoke the fuzzer's own: tests/service/test_projects.py covers it
               "--exclude-path", "/v1/tokens/{token_id}",
               "-H", f"Authorization: Bearer {token}"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        report = run.stdout + run.stderr
        print(report[-1500:])
        summary = re.search(r"(\d+) generated, (.+)", report)
        assert run.returncode == 0 and summary is not None, report[-6000:]
        assert int(summary.group(1)) > 3000, summary.group(0)  # every operation was reached
        assert "Traceback" not in srv.log()
    finally:
        srv.stop()
