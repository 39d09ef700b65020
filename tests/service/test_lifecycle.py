"""Jobs survive crashes and stop when asked: SIGKILL a worker mid-training (the job resumes from its
checkpoint with the metrics of an uninterrupted run), SIGKILL the server (every job accounted for
after a restart), cancel a running training and a running audit (CANCELLED within 5 s, processes
gone, the next queued job runs)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import Server, fresh_postgres, postgres_or_skip, wait_job

TRAIN = {"data": "digits", "model": "cnn", "seed": 3, "precision": "fp32"}  # runs compared exactly


def runner_pids(job_id: str) -> list[int]:
    """Processes running the job (``robustune.service.runner JOB_ID``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"robustune.service.runner" in cmd and job_id.encode() in cmd:
                try:
                    if (entry / "stat").read_text().split(")")[-1].split()[0] != "Z":
                        pids.append(int(entry.name))
                except OSError:
                    continue
    return pids


def gone_within(job_id: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not runner_pids(job_id):
            return True
        time.sleep(0.1)
    return False


def epochs_done(c: httpx.Client, job_id: str) -> int:
    return sum(1 for line in c.get(f"/v1/jobs/{job_id}/logs").text.splitlines() if " epoch " in f" {line}")


def _after_epoch(c: httpx.Client, job_id: str, epoch: int, timeout: float = 240) -> None:
    """Wait until the job's progress shows ``epoch`` finished (its checkpoint written)."""
    wait_job(c, job_id, timeout=timeout, until=lambda j: j["state"] == "RUNNING" and "epoch" in j["message"]
             and int(j["message"].split("epoch ")[1].split("/")[0]) > epoch)


def test_a_killed_worker_resumes_training_from_its_checkpoint(tmp_path: Path) -> None:
    from robustune.jobs import train

    srv = Server(tmp_path / "home", None, 1).start()
    try:
        c = srv.client()
        job = c.post("/v1/jobs/train", json={**TRAIN, "epochs": 6, "patience": 10}).json()
        _after_epoch(c, job["id"], 2)
        worker = int(c.get(f"/v1/jobs/{job['id']}").json()["worker"].rsplit(":", 1)[1])
        os.kill(worker, signal.SIGKILL)
        assert gone_within(job["id"], 5), "the job's runner outlived its worker"
        done = wait_job(c, job["id"], timeout=300)
        assert done["state"] == "SUCCEEDED" and done["attempts"] == 2, done
        log = c.get(f"/v1/jobs/{job['id']}/logs").text
        assert "resum" in log.lower(), log[-2000:]
    finally:
        srv.stop()
    straight = train.run(train.TrainSpec.from_options({**TRAIN, "epochs": 6, "patience": 10,
                                                       "out": str(tmp_path / "straight")}))
    served = done["result"]["metrics"]["test"]
    assert served["accuracy"] == pytest.approx(straight.metrics["test"]["accuracy"], abs=1e-9)
    assert served["confusion_matrix"] == straight.metrics["test"]["confusion_matrix"]


def test_a_killed_server_loses_no_job(tmp_path: Path) -> None:
    postgres_or_skip()
    db = fresh_postgres()
    srv = Server(tmp_path / "home", db, 1).start()
    c = srv.client()
    ids = [c.post("/v1/jobs/train", json={**TRAIN, "epochs": e}).json()["id"] for e in (4, 1, 1)]
    cancelled = c.post("/v1/jobs/train", json={**TRAIN, "epochs": 1}).json()["id"]
    c.post(f"/v1/jobs/{cancelled}/cancel")
    _after_epoch(c, ids[0], 1)
    srv.kill()
    assert gone_within(ids[0], 5), "the running job outlived the killed server"
    srv.start()
    try:
        for ident in ids:
            assert wait_job(c, ident, timeout=300)["state"] == "SUCCEEDED", c.get(f"/v1/jobs/{ident}").json()
        assert c.get(f"/v1/jobs/{ids[0]}").json()["attempts"] == 2
        assert c.get(f"/v1/jobs/{cancelled}").json()["state"] == "CANCELLED"
        listed = {j["id"] for j in c.get("/v1/jobs").json()}
        assert set(ids) | {cancelled} <= listed
        assert len(c.get("/v1/models").json()) == 1 and len(c.get("/v1/models").json()[0]["versions"]) == 3
    finally:
        srv.stop()


def _cancel_within(c: httpx.Client, job_id: str, seconds: float = 5.0) -> float:
    start = time.monotonic()
    assert c.post(f"/v1/jobs/{job_id}/cancel").json()["state"] in ("CANCELLING", "CANCELLED")
    done = wait_job(c, job_id, timeout=seconds + 5)
    took = time.monotonic() - start
    assert done["state"] == "CANCELLED" and took <= seconds, (done["state"], took)
    assert gone_within(job_id, 1.0), "the cancelled job's process is still there"
    return took


def test_cancel_stops_a_training_and_an_audit(tmp_path: Path) -> None:
    srv = Server(tmp_path / "home", None, 1).start()
    try:
        c = srv.client()
        long = c.post("/v1/jobs/train", json={**TRAIN, "epochs": 200, "patience": 500}).json()["id"]
        short = c.post("/v1/jobs/train", json={**TRAIN, "epochs": 2}, params={"model_name": "d"}).json()["id"]
        _after_epoch(c, long, 1)
        _cancel_within(c, long)
        assert c.get(f"/v1/jobs/{short}").json()["state"] in ("QUEUED", "RUNNING", "SUCCEEDED")
        assert wait_job(c, short)["state"] == "SUCCEEDED"  # the next queued job runs

        audit = c.post("/v1/jobs/audit", json={"bundle": "d", "data": "digits", "attacks": ["square"],
                                                "eps": [0.01, 0.03, 0.1], "n": 300}).json()["id"]
        wait_job(c, audit, until=lambda j: j["state"] == "RUNNING" and "square" in j["message"], timeout=120)
        _cancel_within(c, audit)
        assert not list((srv.home / "artifacts" / "jobs" / audit).glob("audit/audit.json"))
    finally:
        srv.stop()
