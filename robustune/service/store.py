"""The service's state operations: jobs through their state machine, events, the model registry.

Every transition is one short transaction. Claiming a queued job locks its row with ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL and is one conditional update on SQLite, so two workers never run one
job.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from plugins.duration import parse_duration
from plugins.errors import Conflict, InvalidInput, NotFound, RobustuneError
from robustune.jobs import job as job_kind
from robustune.jobs.catalog import bundle_summary
from robustune.service import deployment
from robustune.service.db import Database, migrate
from robustune.service.models import (
    DEFAULT_PROJECT,
    FINAL,
    Alias,
    AliasMove,
    Dataset,
    Job,
    JobEvent,
    ModelVersion,
    Tag,
    new_id,
    now,
)
from robustune.service.patterns import MODEL_NAME, check
from robustune.service.resolve import MODEL_PARTS, Context, resolve
from robustune.service.settings import Settings
from robustune.service.storage import Storage

if TYPE_CHECKING:
    from robustune.jobs.catalog import BundleMeta

ACTIVE = ("QUEUED", "RUNNING", "CANCELLING")


class KeyReused(RobustuneError):
    """An Idempotency-Key sent again with a different request (HTTP 422)."""

    kind = "key_reused"


class TimeLimitReached(RobustuneError):
    """A job stopped at its time limit."""

    kind = "time_limit"


def worker_name() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Store:
    """The database and the artifact tree, with the operations the API and the workers share."""

    def __init__(self, settings: Settings, create: bool = True) -> None:
        self.settings = settings
        if create:
            settings.home.mkdir(parents=True, exist_ok=True)
            migrate(settings.url)
        self.db = Database(settings.url)
        self.storage = Storage(settings.artifacts)

    # datasets ---------------------------------------------------------------------------------------
    def dataset(self, ident: str, field: str = "data", project: str = DEFAULT_PROJECT) -> tuple[str, Path]:
        """(kind, path) of an uploaded dataset or file set of ``project`` (``field``: the request's name for
        it)."""
        with self.db.begin() as s:
            row = s.get(Dataset, ident)
            if row is None or row.project_id != project:
                raise NotFound(f"{field}: no uploaded dataset {ident!r}; see GET /v1/datasets", field=field)
            path = self.storage.dataset(row.id)
            if row.kind == "csv":
                return row.kind, path / "data.csv"
            if row.kind == "files" and row.info.get("single"):
                return row.kind, path / "data" / str(row.info["single"])
            return row.kind, path / "data"

    # models ---------------------------------------------------------------------------------------------
    def version(self, s: Session, ref: str, field: str = "model", project: str = DEFAULT_PROJECT
                ) -> ModelVersion:
        """The model version of ``project`` that ``ref`` names: an id, ``name``, ``name@N`` or ``name:alias``
        (``field``: the request's name for it)."""
        if ref.startswith("mv_"):
            row = s.get(ModelVersion, ref)
            row = row if row is not None and row.project_id == project else None
        else:
            m = MODEL_PARTS.match(ref)
            if m is None:
                raise InvalidInput(
                    f"{ref!r} is not a model reference (name, name@N, name:alias)", field=field
                )
            q = sa.select(ModelVersion).where(ModelVersion.project_id == project,
                                              ModelVersion.name == m["name"])
            if m["version"]:
                q = q.where(ModelVersion.version == int(m["version"]))
            elif m["alias"]:
                alias = s.get(Alias, (project, m["name"], m["alias"]))
                if alias is None:
                    raise NotFound(f"model {m['name']!r} has no alias {m['alias']!r}", field=field)
                q = q.where(ModelVersion.id == alias.version_id)
            row = s.scalar(q.order_by(ModelVersion.version.desc()).limit(1))
        if row is None:
            raise NotFound(f"no model {ref!r}; see GET /v1/models", field=field)
        return row

    def model_path(self, ref: str, field: str = "model", project: str = DEFAULT_PROJECT) -> Path:
        """The bundle folder of model ``ref`` of ``project``."""
        with self.db.begin() as s:
            return self.storage.absolute(self.version(s, ref, field, project).path)

    def register(self, s: Session, job: Job, bundle: Path, report: Path | None) -> ModelVersion:
        """A new version of the job's model (its name, or one made from the spec)."""
        meta = bundle_summary(bundle)
        name = job.model_name or _default_name(job, meta)
        latest = s.scalar(sa.select(sa.func.max(ModelVersion.version)).where(
            ModelVersion.project_id == job.project_id, ModelVersion.name == name)) or 0
        row = ModelVersion(
            id=new_id("mv"),
            name=name,
            version=latest + 1,
            job_id=job.id,
            path=self.storage.relative(bundle),
            modality=meta.modality,
            spec=job.spec,
            metrics=meta.metrics,
            data_fingerprint=self._fingerprint(s, job, meta),
            report=self.storage.relative(report) if report and report.is_file() else None,
            project_id=job.project_id,
        )
        s.add(row)
        return row

    def _fingerprint(self, s: Session, job: Job, meta: BundleMeta) -> str:
        data = str(job.spec.get("data") or job.spec.get("options", {}).get("data") or "")
        if data.startswith("ds_"):
            row = s.get(Dataset, data)
            if row is not None:
                return str(row.info.get("fingerprint", ""))
        source = meta.data.source if meta.data is not None else data
        return hashlib.sha256(source.encode()).hexdigest()

    def job_output(self, ident: str, what: str, project: str = DEFAULT_PROJECT) -> Path:
        """An earlier job's output of kind ``what`` (``audit``: its folder) for a later job of ``project``
        to read: the result field its job kind declares it in."""
        with self.db.begin() as s:
            row = s.get(Job, ident)
            if row is None or row.state != "SUCCEEDED" or row.project_id != project:
                raise NotFound(f"no finished job {ident!r} with {what}", field=what)
            key = job_kind(row.kind).produces.get(what)
            value = row.result.get(key) if key else None
        if not isinstance(value, str):
            raise InvalidInput(f"job {ident} ({row.kind}) produces no {what}", field=what)
        path = self.storage.absolute(value)
        if not path.exists():
            raise NotFound(f"job {ident} wrote no {what}", field=what)
        return path

    # jobs -----------------------------------------------------------------------------------------------
    def submit(self, kind: str, spec: Any, model_name: str | None, key: str | None, token: str | None,
               time_limit: float | None = None, project: str = DEFAULT_PROJECT) -> Job:
        """Check and queue a job. A repeated ``key`` from the same token within the key's lifetime returns the
        first job when the request is the same, and is refused when it is not."""
        digest = request_hash(kind, spec, model_name, time_limit)
        if key is not None:
            key = key.strip()
            if not key:
                raise InvalidInput("Idempotency-Key is empty; send a unique key per request, or none",
                                   field="idempotency-key")
            earlier = self._keyed(token, key, digest)
            if earlier is not None:
                return earlier
        if model_name is not None:
            check(model_name, MODEL_NAME, "model_name")
        limit = self.settings.time_limit_of(kind, time_limit)
        ident = new_id("job")
        folder = self.storage.job(ident)
        try:
            with self.storage.made(folder):  # any failure from here on removes the folder
                ctx = Context(partial(self.dataset, project=project),
                              partial(self.model_path, project=project),
                              partial(self.job_output, project=project), folder)
                resolved = resolve(kind, spec, ctx)
                deployment.check(resolved, self.settings.executor)
                with self.db.begin() as s:
                    row = Job(
                        id=ident,
                        kind=kind,
                        spec=dict(spec),
                        resolved=resolved,
                        model_name=model_name,
                        idempotency_key=key,
                        request_hash=digest if key is not None else None,
                        created_by=token,
                        max_attempts=self.settings.max_attempts,
                        time_limit=limit,
                        project_id=project,
                    )
                    s.add(row)
                    s.add(JobEvent(job_id=ident, type="state", data={"state": "QUEUED"}))
        except sa.exc.IntegrityError:  # the same key submitted twice at once
            earlier = self._keyed(token, key, digest) if key is not None else None
            if earlier is None:
                raise
            return earlier
        return row

    def _keyed(self, token: str | None, key: str, digest: str) -> Job | None:
        """The job first submitted with ``key`` (None: none, or its key expired and is now free)."""
        ttl = parse_duration(self.settings.idempotency_ttl.strip().lower(), "idempotency_ttl")
        with self.db.begin() as s:
            earlier = s.scalar(sa.select(Job).where(Job.created_by == token, Job.idempotency_key == key))
            if earlier is None:
                return None
            if now() - _aware(earlier.created_at) > timedelta(seconds=ttl):
                earlier.idempotency_key = None  # expired: the key may name a new request
                return None
            if earlier.request_hash not in (None, digest):
                raise KeyReused("Idempotency-Key was used before with a different request; use a new key "
                                "for a new request", field="idempotency-key")
            return earlier

    def claim(self, worker: str) -> Job | None:
        """The oldest queued job, now RUNNING under ``worker`` (None when the queue is empty)."""
        with self.db.begin() as s:
            q = sa.select(Job).where(Job.state == "QUEUED").order_by(Job.created_at).limit(1)
            if self.db.postgres:
                q = q.with_for_update(skip_locked=True)
            row = s.scalar(q)
            if row is None:
                return None
            done = s.execute(
                sa.update(Job)
                .where(Job.id == row.id, Job.state == "QUEUED")
                .values(
                    state="RUNNING",
                    worker=worker,
                    started_at=now(),
                    heartbeat_at=now(),
                    attempts=Job.attempts + 1,
                    message="starting",
                )
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return None
            s.add(JobEvent(job_id=row.id, type="state", data={"state": "RUNNING", "worker": worker}))
        return self.job(row.id)

    def job(self, ident: str, project: str | None = None) -> Job:
        """The job row (``project``: only one of that project's)."""
        with self.db.begin() as s:
            row = s.get(Job, ident)
            if row is None or (project is not None and row.project_id != project):
                raise NotFound(f"no job {ident!r}", field="job_id")
            return row

    def deadline(self, row: Job) -> float | None:
        """When (``time.time()``) a running job's time limit ends (None: it has none)."""
        if row.time_limit is None or row.started_at is None:
            return None
        return float(_aware(row.started_at).timestamp() + row.time_limit)

    def time_out(self, ident: str) -> None:
        """FAILED at its time limit (its processes are gone already)."""
        row = self.job(ident)
        limit = row.time_limit or 0.0
        self.finish(ident, "FAILED", error=TimeLimitReached(
            f"stopped at its time limit of {_duration(limit)}; submit it with a longer time_limit (at most "
            f"{self.settings.max_time_limit}) or with less work", field="time_limit"))

    def heartbeat(self, ident: str) -> bool:
        """Mark the job alive; True when a cancel was asked for."""
        with self.db.begin() as s:
            row = s.get(Job, ident)
            if row is None:
                return True
            row.heartbeat_at = now()
            return bool(row.cancel_requested)

    def progress(
        self, ident: str, fraction: float, message: str, events: list[tuple[str, dict[str, Any]]]
    ) -> bool:
        """Store events and the progress; True when a cancel was asked for."""
        with self.db.begin() as s:
            row = s.get(Job, ident)
            if row is None:
                return True
            row.progress = max(0.0, min(1.0, fraction))
            row.message = message[:500]
            row.heartbeat_at = now()
            for kind, data in events:
                s.add(JobEvent(job_id=ident, type=kind, data=data))
            return bool(row.cancel_requested)

    def finish(
        self,
        ident: str,
        state: str,
        result: dict[str, Any] | None = None,
        error: RobustuneError | BaseException | None = None,
    ) -> None:
        """SUCCEEDED (registering the model), FAILED (the reason kept) or CANCELLED."""
        with self.db.begin() as s:
            row = s.get(Job, ident)
            if row is None or row.state in FINAL:
                return
            row.state, row.finished_at = state, now()
            if state == "SUCCEEDED":
                row.progress, row.message = 1.0, "done"
                row.result = result or {}
                produces = job_kind(row.kind).produces
                bundle_key, report_key = produces.get("bundle"), produces.get("report")
                if bundle_key and row.result.get(bundle_key):
                    report = row.result.get(report_key) if report_key else None
                    version = self.register(
                        s,
                        row,
                        self.storage.absolute(row.result[bundle_key]),
                        self.storage.absolute(report) if report else None,
                    )
                    row.result = {
                        **row.result,
                        "model": {"id": version.id, "name": version.name, "version": version.version},
                    }
            elif error is not None:
                row.error = self.storage.scrub(str(error))[:4000]
                row.error_kind = getattr(error, "kind", "internal")
                row.error_field = getattr(error, "field", None)
                row.message = row.error[:500]
            s.add(JobEvent(job_id=ident, type="state", data={"state": state, "error": row.error}))

    def cancel(self, ident: str, project: str | None = None) -> Job:
        """QUEUED -> CANCELLED now; RUNNING -> CANCELLING (its worker stops the process group)."""
        with self.db.begin() as s:
            row = s.get(Job, ident)
            if row is None or (project is not None and row.project_id != project):
                raise NotFound(f"no job {ident!r}", field="job_id")
            if row.state == "QUEUED":
                row.state, row.finished_at, row.cancel_requested = "CANCELLED", now(), True
                s.add(JobEvent(job_id=ident, type="state", data={"state": "CANCELLED"}))
            elif row.state == "RUNNING":
                row.state, row.cancel_requested = "CANCELLING", True
                s.add(JobEvent(job_id=ident, type="state", data={"state": "CANCELLING"}))
            elif row.state in FINAL:
                raise Conflict(f"job {ident} is already {row.state}", field="job_id")
        return self.job(ident)

    def requeue_or_fail(self, s: Session, row: Job, why: str) -> None:
        """A job whose runner died: back to the queue, or FAILED after its last attempt."""
        if row.state == "CANCELLING" or row.cancel_requested:
            row.state, row.finished_at, row.message = "CANCELLED", now(), "cancelled"
        elif row.attempts >= row.max_attempts:
            row.state, row.finished_at = "FAILED", now()
            row.error, row.error_kind = f"{why}; gave up after {row.attempts} attempts", "internal"
        else:
            row.state, row.worker, row.message = "QUEUED", None, f"{why}; queued again"
        s.add(JobEvent(job_id=row.id, type="state", data={"state": row.state, "reason": why}))

    def reconcile(self, stale_after: float = 60.0, skip: str | None = None) -> list[str]:
        """At start: jobs left RUNNING by a worker that is gone are queued again (or failed/cancelled);
        ``skip``: a worker name whose jobs an executor recovers itself (``ray``)."""
        host = socket.gethostname()
        recovered = []
        with self.db.begin() as s:
            for row in s.scalars(sa.select(Job).where(Job.state.in_(("RUNNING", "CANCELLING")))):
                if skip is not None and row.worker == skip:
                    continue
                where, _, pid = (row.worker or "").rpartition(":")
                gone = where == host and pid.isdigit() and not _alive(int(pid))
                stale = row.heartbeat_at is None or now() - _aware(row.heartbeat_at) > timedelta(
                    seconds=stale_after
                )
                if gone or stale:
                    self.requeue_or_fail(s, row, "its worker stopped")
                    recovered.append(row.id)
        return recovered

    def uses(self, version_id: str) -> list[str]:
        """Active jobs that read a model version (it cannot be deleted meanwhile)."""
        with self.db.begin() as s:
            version = s.get(ModelVersion, version_id)
            if version is None:
                return []
            path = str(self.storage.absolute(version.path))
            return [
                j.id
                for j in s.scalars(sa.select(Job).where(Job.state.in_(ACTIVE)))
                if j.resolved.get("bundle") == path
            ]

    def move_alias(self, name: str, alias: str, version_id: str | None, by: str | None,
                   project: str = DEFAULT_PROJECT) -> None:
        """Point ``alias`` of model ``name`` of ``project`` at a version (None: remove it), keeping the
        history."""
        with self.db.begin() as s:
            current = s.get(Alias, (project, name, alias))
            if version_id is None:
                if current is None:
                    raise NotFound(f"model {name!r} has no alias {alias!r}", field="alias")
                s.delete(current)
            else:
                version = s.get(ModelVersion, version_id)
                if version is None or version.name != name or version.project_id != project:
                    raise NotFound(f"model {name!r} has no version {version_id!r}", field="version")
                if current is None:
                    s.add(Alias(project_id=project, name=name, alias=alias, version_id=version_id))
                else:
                    current.version_id = version_id
            s.add(AliasMove(name=name, alias=alias, version_id=version_id, moved_by=by, project_id=project))

    def tag(self, version_id: str, key: str, value: str | None) -> None:
        """Set (or with None remove) a tag on a version."""
        with self.db.begin() as s:
            if s.get(ModelVersion, version_id) is None:
                raise NotFound(f"no model version {version_id!r}", field="version")
            row = s.get(Tag, (version_id, key))
            if value is None:
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(Tag(version_id=version_id, key=key, value=value))
            else:
                row.value = value


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def request_hash(kind: str, spec: Any, model_name: str | None, time_limit: float | None) -> str:
    """What identifies a submitted request (the same key must come with the same one)."""
    canonical = json.dumps([kind, spec, model_name, time_limit], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _default_name(job: Job, meta: BundleMeta) -> str:
    backbone = meta.model.backbone
    data = str(job.spec.get("data") or job.spec.get("options", {}).get("data") or "model")
    raw = f"{backbone}-{data}" if job.kind != "import" else f"imported-{backbone}"
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in raw)[:200]


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): the signal check is all there is
    return state not in ("Z", "X")


def _aware(value: Any) -> Any:
    """SQLite returns naive datetimes for timezone-aware columns: they are UTC."""
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
