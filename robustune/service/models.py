"""The service's tables: projects, tokens, datasets, jobs and their events, model versions, aliases and
tags. Every dataset, job, model version and token belongs to one project; a token sees its own."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STATES = ("QUEUED", "RUNNING", "CANCELLING", "CANCELLED", "SUCCEEDED", "FAILED")
FINAL = ("CANCELLED", "SUCCEEDED", "FAILED")


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp that reads back timezone-aware UTC on every database (SQLite stores it naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None


def now() -> datetime:
    """The current time (UTC, timezone-aware)."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A server-made id (``job_3f9a...``): the only names artifacts are stored under."""
    return f"{prefix}_{secrets.token_hex(8)}"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: sa.JSON, list[Any]: sa.JSON}


DEFAULT_PROJECT = "prj_default"  # what a single-project install's things moved into


def project_id() -> Mapped[str]:
    """The project column every owned table has."""
    return mapped_column(sa.String(40), index=True, default=DEFAULT_PROJECT, server_default=DEFAULT_PROJECT)


class Project(Base):
    """A team's own space: its datasets, jobs, models and tokens."""

    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    created_by: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)


class Token(Base):
    """An API token: only its SHA-256 hash is stored."""

    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scope: Mapped[str] = mapped_column(sa.String(10))  # read | write | admin, in its project
    project_id: Mapped[str] = project_id()
    server_admin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())  # all projects
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    created_by: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)  # the token that made it
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Dataset(Base):
    """An uploaded dataset (a CSV or an image folder) or uploaded model files."""

    __tablename__ = "datasets"
    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))  # the user's label, shown only
    kind: Mapped[str] = mapped_column(sa.String(20))  # csv | imagefolder | files
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)  # classes, counts, samples
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    created_by: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    project_id: Mapped[str] = project_id()


class Job(Base):
    """A submitted job: QUEUED -> RUNNING -> SUCCEEDED | FAILED; QUEUED/RUNNING -> CANCELLING -> CANCELLED."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    state: Mapped[str] = mapped_column(sa.String(12), index=True, default="QUEUED")
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)  # as submitted
    resolved: Mapped[dict[str, Any]] = mapped_column(default=dict)  # with server paths
    model_name: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    progress: Mapped[float] = mapped_column(default=0.0)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    error_kind: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)
    error_field: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)  # the keyed request
    time_limit: Mapped[float | None] = mapped_column(nullable=True)  # seconds a run may take
    created_by: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    worker: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)  # host:pid of the worker
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    project_id: Mapped[str] = project_id()
    __table_args__ = (sa.UniqueConstraint("created_by", "idempotency_key", name="uq_jobs_idempotency"),)


class JobEvent(Base):
    """One event of a job (progress, log, metric, state), in order."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    type: Mapped[str] = mapped_column(sa.String(10))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ModelVersion(Base):
    """A registered model: a name, a version number, the bundle and what made it."""

    __tablename__ = "model_versions"
    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    version: Mapped[int] = mapped_column()
    job_id: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    path: Mapped[str] = mapped_column(sa.Text)  # relative to the artifact root
    modality: Mapped[str] = mapped_column(sa.String(10))
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data_fingerprint: Mapped[str] = mapped_column(sa.String(64), default="")
    report: Mapped[str | None] = mapped_column(sa.Text, nullable=True)  # relative path of its report
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    project_id: Mapped[str] = project_id()
    __table_args__ = (sa.UniqueConstraint("project_id", "name", "version", name="uq_model_versions"),)


class Alias(Base):
    """A movable name for a version of a model (``production``)."""

    __tablename__ = "aliases"
    project_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, default=DEFAULT_PROJECT)
    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    alias: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    version_id: Mapped[str] = mapped_column(sa.ForeignKey("model_versions.id", ondelete="CASCADE"))


class AliasMove(Base):
    """The history of an alias: where it pointed and when (None: removed)."""

    __tablename__ = "alias_history"
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    alias: Mapped[str] = mapped_column(sa.String(100))
    version_id: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    moved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    moved_by: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    project_id: Mapped[str] = project_id()


class Tag(Base):
    """A key=value tag on a model version."""

    __tablename__ = "tags"
    version_id: Mapped[str] = mapped_column(sa.ForeignKey("model_versions.id", ondelete="CASCADE"),
                                            primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(500))
