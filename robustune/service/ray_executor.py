"""``robustune serve --executor ray``: every job runs in its own Ray actor on a Ray cluster.

Ray is only the executor; the service's database stays the record of every job (Ray forgets
its history when its head restarts). A job is claimed when the cluster has a free CPU (or GPU)
for it, then started in a detached actor named ``robustune-JOB_ID`` asking for what its spec
needs: one CPU (``--ray-cpus``), a GPU share (``--ray-gpus``) when it trains on ``--device cuda``,
nothing for a ``--nproc`` training, whose Ray Train workers ask for theirs. Inside, the job's
runner writes progress, events and the end to the database as under local workers. A cancel sets
the job's flag (the job stops at its next check and keeps its last epoch); an actor still
running after ``CANCEL_GRACE`` seconds is killed (Ray's forced stop). The actors are detached, so
jobs outlive a restart of the service, which finds them again by name: alive, it watches them;
gone, the job is queued again (or failed after its last attempt). Artifacts are written under
``--home``, which every Ray node must see at the same path (a shared file system), and the
database must be one every node reaches (PostgreSQL by ``--db``) when the cluster has several
machines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from plugins.errors import InvalidInput, Unsupported, brief
from robustune.jobs.cluster import EXECUTOR_ENV, init_ray
from robustune.service.deployment import training_options
from robustune.service.models import FINAL, Job
from robustune.service.settings import Settings
from robustune.service.store import Store

NAMESPACE = "robustune"
WORKER = "ray"  # the jobs' worker column: this executor owns them
POLL = 0.5
LINGER = 30.0  # seconds an actor whose job ended waits for the service to kill it, then exits
CANCEL_GRACE = 10.0  # seconds a cancelled job gets to stop by itself before its actor is killed
PASS_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM", "ROBUSTUNE_CACHE_DIR")


def actor_name(job_id: str, attempt: int) -> str:
    """The Ray actor of a job's attempt (found again by this name after a restart)."""
    return f"robustune-{job_id}-{attempt}"


class JobActor:
    """A Ray actor running one job (its own process; killed once the job ended)."""

    def __init__(self) -> None:
        self.state: str | None = None
        self.lock = threading.Lock()
        self.started = threading.Event()
        self.done = threading.Event()

    def run(self, job_id: str, home: str, db: str | None) -> str:
        """Run the job as the local runner does (its output in the job's ``job.log``); a second call
        (a restarted service that could not know whether the first arrived) waits for the first."""
        with self.lock:
            first = not self.started.is_set()
            self.started.set()
        if not first:
            self.done.wait()
            return str(self.state)
        try:
            from robustune.service.runner import run
            from robustune.service.storage import Storage

            os.environ[EXECUTOR_ENV] = "ray"  # its trainings with nproc > 1 launch as Ray Train jobs
            settings = Settings(home=Path(home), db=db)
            log = Storage(settings.artifacts).job(job_id) / "job.log"
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            self.state = run(job_id, settings)
        except BaseException as exc:  # the runner records every end it can; this one it could not
            self.state = f"error ({type(exc).__name__}: {brief(exc)})"
        finally:
            self.done.set()
            # the service kills this actor once it sees the end; if the service is down then, the
            # actor leaves by itself after a while instead of holding its CPUs for ever
            threading.Timer(LINGER, os._exit, (0,)).start()
        return self.state

    def begun(self) -> bool:
        """Whether ``run`` was called (a restarted service calls it when not)."""
        return self.started.is_set()

    def finished(self) -> str | None:
        """The job's end state once ``run`` returned, else None (asked after a service restart)."""
        return self.state if self.done.is_set() else None


def needs(resolved: dict[str, Any], settings: Settings) -> tuple[dict[str, float], dict[str, float]]:
    """(what a job's actor asks Ray for, what the job needs of the cluster in all), from its spec's
    training options when it has them."""
    train = (training_options(resolved) or ({}, ""))[0]
    cuda = train.get("device") == "cuda"
    workers = int(train.get("nproc", 1)) * int(train.get("nnodes", 1))
    if workers > 1:  # Ray Train's workers ask for theirs: one CPU, or one GPU, each
        cluster = {"CPU": 0.0, "GPU": float(workers)} if cuda else {"CPU": float(workers), "GPU": 0.0}
        return {"num_cpus": 0.0, "num_gpus": 0.0}, cluster
    gpus = settings.ray_gpus if cuda else 0.0
    return {"num_cpus": settings.ray_cpus, "num_gpus": gpus}, {"CPU": settings.ray_cpus, "GPU": gpus}


@dataclass
class Running:
    """A job this service watches: its actor, the ``run`` call (None when adopted after a restart)."""

    actor: Any
    ref: Any = None
    ready: Any = None  # answers once Ray has placed the actor
    cancel_at: float | None = None
    deadline: float | None = None  # time.time() at which its time limit ends


class RayJobs:
    """Claims queued jobs into Ray actors and watches them until they end."""

    prefix = WORKER

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self.running: dict[str, Running] = {}
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def connect(self) -> None:
        """Connect to the Ray cluster (``--ray-address``, else ``RAY_ADDRESS``, else a Ray started here)."""
        try:
            import ray
        except ImportError as exc:
            raise Unsupported("--executor ray needs Ray: pip install 'robustune[ray]'",
                              field="executor") from exc
        if ray.is_initialized():
            return
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        try:
            init_ray(self.settings.ray_address, namespace=NAMESPACE, log_to_driver=False,
                     logging_level=logging.WARNING, runtime_env={"env_vars": env} if env else None)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.settings.ray_address or "RAY_ADDRESS"
            raise InvalidInput(f"cannot reach the Ray cluster at {where} ({brief(exc)}); start one "
                               "(`ray start --head`; README, Scaling out: addresses) or fix --ray-address",
                               field="ray_address") from exc

    def start(self) -> list[str]:
        """Connect, adopt the jobs a previous service left running on Ray, start watching; return the
        jobs that were queued again because their actor is gone."""
        self.connect()
        lost = self.adopt()
        self.thread = threading.Thread(target=self._loop, name="ray-jobs", daemon=True)
        self.thread.start()
        return lost

    def stop(self) -> None:
        """Stop watching; the jobs keep running on Ray (a restarted service adopts them)."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(5)

    # recovery ------------------------------------------------------------------------------------------
    def adopt(self) -> list[str]:
        """RUNNING jobs of this executor: watch those whose actor lives; queue the others again."""
        import ray
        import sqlalchemy as sa

        lost = []
        with self.store.db.begin() as s:
            rows = list(s.scalars(sa.select(Job).where(Job.state.in_(("RUNNING", "CANCELLING")),
                                                       Job.worker == WORKER)))
            for row in rows:
                try:
                    actor = ray.get_actor(actor_name(row.id, row.attempts), namespace=NAMESPACE)
                except ValueError:
                    self.store.requeue_or_fail(s, row, "its Ray actor is gone")
                    lost.append(row.id)
                    continue
                self.running[row.id] = Running(actor, deadline=self.store.deadline(row))
        return lost

    # the loop ------------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self.stopping.wait(POLL):
            try:
                for job_id in list(self.running):
                    self._watch(job_id)
                self._dispatch()
            except Exception:  # the database or Ray hiccuped: try again on the next turn
                logging.getLogger(__name__).exception("ray executor")

    def _free(self, resource: str) -> float:
        import ray

        return float(ray.available_resources().get(resource, 0.0))

    def _dispatch(self) -> None:
        """Claim one queued job when the cluster has room and no job waits for a placement."""
        import ray

        if any(r.ready is not None and not ray.wait([r.ready], timeout=0)[0] for r in self.running.values()):
            return  # Ray has not placed the last one yet: its resources are not counted as used
        if self._free("CPU") < min(1.0, self.settings.ray_cpus):
            return
        job = self.store.claim(WORKER)
        if job is None:
            return
        try:
            ask, total = needs(job.resolved, self.settings)
            have = ray.cluster_resources()
            for name, amount in total.items():
                if amount > float(have.get(name, 0.0)):
                    self.store.finish(job.id, "FAILED", error=Unsupported(
                        f"the job needs {amount:g} {name}s and the Ray cluster has {have.get(name, 0):g}; "
                        f"add nodes, or lower --ray-{name.lower()}s or the job's nproc"))
                    return
            actor_cls = cast(Any, ray.remote)(max_restarts=0, max_concurrency=4)(JobActor)
            actor = actor_cls.options(name=actor_name(job.id, job.attempts), namespace=NAMESPACE,
                                      lifetime="detached", **ask).remote()
            ready = actor.begun.remote()
            ref = actor.run.remote(job.id, str(self.settings.home), self.settings.db)
        except Exception as exc:  # Ray refused the actor: the job goes back to the queue (or fails)
            with self.store.db.begin() as s:
                row = s.get(Job, job.id)
                if row is not None and row.state not in FINAL:
                    self.store.requeue_or_fail(s, row, f"Ray could not start it ({brief(exc)})")
            return
        self.running[job.id] = Running(actor, ref, ready, deadline=self.store.deadline(job))

    def _watch(self, job_id: str) -> None:
        """Beat the job's heartbeat; once its actor ended, record what the runner did not."""
        import ray
        from ray.exceptions import GetTimeoutError, RayError

        r = self.running[job_id]
        cancel = self.store.heartbeat(job_id)
        state, died = None, None
        try:
            if r.ref is not None:
                if ray.wait([r.ref], timeout=0)[0]:
                    state = ray.get(r.ref)
            else:  # adopted after a restart: the first service's call may never have reached the actor
                if not ray.get(r.actor.begun.remote(), timeout=10):
                    r.ref = r.actor.run.remote(job_id, str(self.settings.home), self.settings.db)
                    return
                state = ray.get(r.actor.finished.remote(), timeout=10)
        except GetTimeoutError:
            return
        except RayError as exc:
            died = brief(exc)
        late = r.deadline is not None and time.time() > r.deadline
        if late and state is None and died is None and not cancel:
            _kill(r.actor)
            del self.running[job_id]
            self.store.time_out(job_id)
            return
        if cancel and state is None and died is None:
            if r.cancel_at is None:
                r.cancel_at = time.monotonic()  # the job reads its flag and stops by itself
                return
            if time.monotonic() - r.cancel_at < CANCEL_GRACE:
                return
            died = "cancelled"
        if state is None and died is None:
            return
        _kill(r.actor)  # and wait until it is gone: the row never says CANCELLED while the job still runs
        del self.running[job_id]
        if cancel or state == "CANCELLED":
            self.store.finish(job_id, "CANCELLED")
            return
        with self.store.db.begin() as s:
            row = s.get(Job, job_id)
            if row is not None and row.state not in FINAL:
                self.store.requeue_or_fail(s, row, f"its Ray actor ended ({died or state})")


def _kill(actor: Any, wait: float = 10.0) -> None:
    """Kill the actor (Ray's forced stop) and wait until Ray says it is dead."""
    import ray
    from ray.exceptions import RayActorError

    with contextlib.suppress(Exception):  # already gone
        ray.kill(actor, no_restart=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            ray.get(actor.begun.remote(), timeout=1)
        except RayActorError:
            return
        except Exception:  # a timeout or a lost connection: look again
            pass
        time.sleep(0.1)
