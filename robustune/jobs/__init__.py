"""Floor 4a: the application API. One module per use case (a job kind), each declaring a ``Job``.

A job module is light: its spec (a frozen dataclass whose fields say what they refer to), its result
type and its ``JOB`` declaration import no torch, numpy-heavy or plotting library. ``JOB.run(spec,
events)`` imports the heavy code when the job runs. Job kinds are plugins of kind ``job`` (built-ins
in ``robustune/jobs/builtins.py``, third parties through the same entry point), so the CLI, the
service's schemas, its resolution and runner, and the registry of outputs are generic loops over these
declarations: adding a job kind is one module and one registry line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from plugins.errors import InvalidInput, NotFound
from plugins.registry import load_target, registry

OUTPUTS = {  # what a job can produce (a result field holds its path); other kinds may name their own
    "bundle": "a model bundle folder (the service registers it as a model version)",
    "audit": "an audit folder (audit.json, the robustness curve, adversarial examples)",
    "report": "a self-contained HTML report",
    "explanations": "a folder of attributions (overlays or highlighted texts, explanations.json)",
    "folder": "a folder of the job's files",
}


@dataclass(frozen=True)
class Job:
    """A job kind, declared.

    ``spec``: its frozen spec dataclass; ``run(spec, events) -> result``: the work (heavy imports inside);
    ``produces``: output kind -> the result field that holds its path (``{"bundle": "bundle"}``);
    ``resumes``: a rerun of the same spec continues from the last attempt (``spec.or_resume()``);
    ``service``: offered by the service; ``tracked``: ``--track mlflow`` can log it; ``example``: a
    request the service takes (its schema shows it; schemathesis sends it).
    """

    kind: str
    spec: type[Any]
    run: Callable[..., Any]
    help: str
    produces: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    resumes: bool = False
    service: bool = True
    tracked: bool = False
    example: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not callable(getattr(self.spec, "from_options", None)):
            raise InvalidInput(f"job {self.kind!r}: its spec {self.spec.__name__} must be a Spec "
                               "(plugins.records.Spec) dataclass")
        object.__setattr__(self, "produces", MappingProxyType(dict(self.produces)))

    def load(self) -> tuple[type[Any], Callable[..., Any]]:
        """(the spec type, the job function)."""
        return self.spec, self.run


def job(kind: str) -> Job:
    """The job called ``kind`` (a built-in or a plugin's). A built-in is loaded from the same target its
    registration names, without reading every installed distribution's entry points first."""
    from robustune.jobs.builtins import JOB_KINDS, target

    if kind in JOB_KINDS:
        declared = load_target(target(kind))
    elif registry.has("job", kind):
        declared = registry.get("job", kind)
    else:
        raise NotFound(f"unknown job kind {kind!r}; the kinds are {', '.join(registry.names('job'))}",
                       field="kind")
    if not isinstance(declared, Job) or declared.kind != kind:
        raise InvalidInput(f"job plugin {kind!r} is not a robustune.jobs.Job named {kind!r}; fix its "
                           "registration")
    return declared


def jobs() -> list[Job]:
    """Every job kind: the built-ins in their usual order (train first), then plugins' by name."""
    from robustune.jobs.builtins import JOB_KINDS

    order = list(JOB_KINDS)
    kinds = sorted(registry.names("job"), key=lambda k: (order.index(k) if k in order else len(order), k))
    return [job(kind) for kind in kinds]


class _Jobs(Mapping[str, Job]):
    """``JOBS[kind]``: every job kind by name, read from the registry on use."""

    def __getitem__(self, kind: str) -> Job:
        return job(kind)

    def __iter__(self) -> Any:
        return iter(registry.names("job"))

    def __len__(self) -> int:
        return len(registry.names("job"))


JOBS: Mapping[str, Job] = _Jobs()
