"""``robustune serve --executor ray`` on a local Ray head (2 CPUs): jobs run in Ray actors, a cancel
stops one and its actor, a restarted service adopts the jobs still running on Ray and queues again
the one whose actor is gone, and a ``--nproc 2`` training runs as a 2-worker Ray Train job."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import REQUIRED, Server, free_port, wait_job
from tests.service.test_lifecycle import _after_epoch

pytestmark = pytest.mark.slow
TRAIN = {"data": "digits", "model": "cnn", "seed": 3}


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        reason = "Ray is not installed (pip install 'robustune[ray]'; make test installs it)"
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    return ray


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """A Ray head with 2 CPUs on a free port of 127.0.0.1 (stopped at the end); this process connects
    as a driver. Every Ray address stays on loopback, whatever other interfaces the machine has."""
    ray = _ray()
    from finetune.ray_init import LOOPBACK_ENV, init_ray

    binary = str(Path(sys.executable).parent / "ray")
    port = free_port()
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1", LOOPBACK_ENV: "0"}
    started = subprocess.run([binary, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                              "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false",
                              "--disable-usage-stats", f"--temp-dir={temp}"],
                             capture_output=True, text=True, env=env, timeout=180)
    assert started.returncode == 0, started.stderr[-3000:]
    address = f"127.0.0.1:{port}"
    init_ray(address, namespace="robustune", log_to_driver=False)
    assert [n["NodeManagerAddress"] for n in ray.nodes()] == ["127.0.0.1"], ray.nodes()
    try:
        yield address
    finally:
        ray.shutdown()
        subprocess.run([binary, "stop", "--force"], capture_output=True, env=env, timeout=120)


def test_what_a_job_asks_ray_for() -> None:
    from robustune.service.ray_executor import needs
    from robustune.service.settings import Settings

    settings = Settings(home=Path("/nonexistent"), ray_cpus=2, ray_gpus=0.5)
    train = {"run": {"train": {"nproc": 1, "nnodes": 1, "device": "cpu"}}}
    assert needs(train, settings) == ({"num_cpus": 2, "num_gpus": 0.0}, {"CPU": 2, "GPU": 0.0})
    train["run"]["train"]["device"] = "cuda"
    assert needs(train, settings) == ({"num_cpus": 2, "num_gpus": 0.5}, {"CPU": 2, "GPU": 0.5})
    train["run"]["train"]["nproc"] = 4  # Ray Train's workers ask for one GPU each; the actor for nothing
    assert needs(train, settings) == ({"num_cpus": 0.0, "num_gpus": 0.0}, {"CPU": 0.0, "GPU": 4.0})
    assert needs({"bundle": "/b"}, settings) == ({"num_cpus": 2, "num_gpus": 0.0}, {"CPU": 2, "GPU": 0.0})


def _server(home: Path, address: str) -> Server:
    return Server(home, None, 1, "--executor", "ray", "--ray-address", address)


def _actor_alive(job_id: str, attempt: int = 1) -> bool:
    import ray

    from robustune.service.ray_executor import actor_name

    try:
        ray.get_actor(actor_name(job_id, attempt), namespace="robustune")
        return True
    except ValueError:
        return False


def _until(check: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_two_jobs_one_cancelled(ray_head: str, tmp_path: Path) -> None:
    srv = _server(tmp_path / "home", ray_head).start()
    try:
        c = srv.client()
        long = c.post("/v1/jobs/train", json={**TRAIN, "epochs": 40, "patience": 40}).json()["id"]
        short = c.post("/v1/jobs/train", params={"model_name": "digits-ray"},
                       json={**TRAIN, "epochs": 2}).json()["id"]
        _after_epoch(c, long, 1)
        assert c.get(f"/v1/jobs/{long}").json()["worker"] == "ray"
        assert _actor_alive(long)
        assert c.post(f"/v1/jobs/{long}/cancel").json()["state"] in ("CANCELLING", "CANCELLED")
        assert wait_job(c, long, timeout=30)["state"] == "CANCELLED"
        assert _until(lambda: not _actor_alive(long), 15), "the cancelled job's Ray actor is still there"

        done = wait_job(c, short, timeout=300)
        assert done["state"] == "SUCCEEDED", done
        model = done["result"]["model"]
        assert model["name"] == "digits-ray" and model["version"] == 1
        row = c.get("/v1/models/digits-ray").json()["versions"][0]
        assert row["id"] == model["id"] and row["job_id"] == short
        assert row["metrics"]["test"]["accuracy"] > 0.8
        bundle = tmp_path / "home" / "artifacts" / done["result"]["bundle"]
        assert (bundle / "model.safetensors").is_file() and (bundle / "robustune.json").is_file()
        assert _until(lambda: not _actor_alive(short), 15), "a finished job's actor is left behind"
    finally:
        srv.stop()


def test_a_restarted_service_adopts_its_ray_jobs(ray_head: str, tmp_path: Path) -> None:
    import ray

    from robustune.service.ray_executor import actor_name

    home = tmp_path / "home"
    srv = _server(home, ray_head).start()
    c = srv.client()
    # long enough to still run once both are under way (an epoch of digits takes about a second)
    kept = c.post("/v1/jobs/train", json={**TRAIN, "epochs": 40, "patience": 40}).json()["id"]
    lost = c.post("/v1/jobs/train", json={**TRAIN, "epochs": 20, "patience": 20}).json()["id"]
    _after_epoch(c, kept, 1)
    _after_epoch(c, lost, 1)
    srv.kill()  # the service dies; its jobs run on in their Ray actors
    assert _actor_alive(kept) and _actor_alive(lost)
    ray.kill(ray.get_actor(actor_name(lost, 1), namespace="robustune"))  # this one dies while nobody watches
    srv = _server(home, ray_head).start()
    try:
        c = srv.client()
        assert f"recovered 1 job(s) left running: {lost}" in srv.log()
        done = wait_job(c, kept, timeout=300)
        assert done["state"] == "SUCCEEDED" and done["attempts"] == 1, done  # adopted, not run again
        again = wait_job(c, lost, timeout=300)
        assert again["state"] == "SUCCEEDED" and again["attempts"] == 2, again
        assert "resum" in c.get(f"/v1/jobs/{lost}/logs").text.lower()  # from its last checkpoint
    finally:
        srv.stop()


def test_nproc_training_runs_as_ray_train(ray_head: str, tmp_path: Path) -> None:
    """A ``nproc: 2`` training under the Ray executor: a TorchTrainer with 2 workers (gloo)."""
    import ray

    from plugins.jsonio import read_json

    # actors of jobs that ended while their service was down leave by themselves
    assert _until(lambda: ray.available_resources().get("CPU", 0) >= 2, 90), ray.available_resources()
    srv = _server(tmp_path / "home", ray_head).start()
    try:
        c = srv.client()
        job = c.post("/v1/jobs/train", json={**TRAIN, "epochs": 2, "nproc": 2}).json()["id"]
        done = wait_job(c, job, timeout=400)
        assert done["state"] == "SUCCEEDED", (done, (tmp_path / "home" / "artifacts" / "jobs" / job /
                                                     "job.log").read_text()[-3000:])
        meta = read_json(tmp_path / "home" / "artifacts" / done["result"]["bundle"] / "robustune.json", "")
        assert meta["training"]["nproc"] == 2 and meta["training"]["launcher"] == "auto"
        assert meta["metrics"]["test"]["accuracy"] > 0.8
        assert [e["epoch"] for e in meta["training"]["history"]] == [1, 2]
        # more workers than the cluster has CPUs: one line, not a job waiting for ever
        big = c.post("/v1/jobs/train", json={**TRAIN, "epochs": 1, "nproc": 4}).json()["id"]
        failed = wait_job(c, big, timeout=60)
        assert failed["state"] == "FAILED", failed
        assert "needs 4 CPUs and the Ray cluster has 2" in failed["error"], failed
    finally:
        srv.stop()


def test_a_one_machine_ray_stays_on_loopback() -> None:
    """Ray started here or reached at a loopback address keeps every address on 127.0.0.1; a cluster
    elsewhere (or ``auto``) keeps Ray's own choice."""
    from finetune.ray_init import on_loopback

    assert all(on_loopback(a) for a in ("127.0.0.1:6379", "localhost:1", "ray://127.0.0.1:10001", "[::1]:80",
                                        "local"))
    assert not any(on_loopback(a) for a in ("10.0.0.1:6379", "ray://head:10001", "auto"))
