"""One job in its own process (``python -m robustune.service.runner JOB_ID --home H --db URL``).

The runner turns the job's events into rows of job_events and the job's progress, checks the
job's cancel flag through the same sink, and records the end: SUCCEEDED (the model registered),
FAILED (the reason kept) or CANCELLED. SIGTERM (a cancel from the worker) stops the work like
Ctrl-C: a training keeps its last epoch. A re-run of a training job resumes from that checkpoint.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from plugins.errors import Interrupted, RobustuneError, brief, render
from plugins.events import Event, Log, Metric, Progress
from robustune.jobs import job
from robustune.service.procs import die_with_parent
from robustune.service.settings import Settings
from robustune.service.store import Store

EXIT = {"SUCCEEDED": 0, "FAILED": 1, "CANCELLED": 130}


class DatabaseEvents:
    """An events sink writing to the job's rows (batched every half second); cancelled() reads its flag."""

    def __init__(self, store: Store, job_id: str, interval: float = 0.5) -> None:
        self.store, self.job_id, self.interval = store, job_id, interval
        self.pending: list[tuple[str, dict[str, Any]]] = []
        self.fraction, self.message = 0.0, ""
        self.stages_done: set[str] = set()
        self.flushed = 0.0
        self.cancel = False

    def emit(self, event: Event) -> None:
        """Keep the event; write the batch when it is due."""
        if isinstance(event, Progress):
            self._progress(event)
            self.pending.append(("progress", {"stage": event.stage, "step": event.step, "total": event.total,
                                              "message": event.message}))
        elif isinstance(event, Log):  # options named in it by their names
            self.pending.append(("log", {"message": render(event.message), "level": event.level}))
        elif isinstance(event, Metric):
            self.pending.append(("metric", {"name": event.name, "step": event.step, "values": event.values}))
        if time.monotonic() - self.flushed >= self.interval:
            self.flush()

    def _progress(self, event: Progress) -> None:
        """The work's own share done when its events carry one (a training: epochs done of all); else
        stages done, each new one closing part of the gap."""
        part = min(event.step / event.total, 1.0) if event.total else 0.0
        if event.overall is not None:
            fraction = event.overall
        else:
            if event.total is not None and event.step >= event.total:
                self.stages_done.add(event.stage)
            done = len(self.stages_done)
            fraction = (done + (0.0 if event.stage in self.stages_done else part)) / (done + 2)
        self.fraction = max(self.fraction, min(fraction, 0.99))
        self.message = f"{event.stage} {event.message}".strip()

    def flush(self) -> None:
        """Write the pending events and the progress; learn whether a cancel was asked for."""
        self.cancel = (
            self.store.progress(self.job_id, self.fraction, self.message, self.pending) or self.cancel
        )
        self.pending = []
        self.flushed = time.monotonic()

    def cancelled(self) -> bool:
        """Whether the job's cancel flag is set (read at most every half second)."""
        if time.monotonic() - self.flushed >= self.interval:
            self.flush()
        return self.cancel


def relative(value: Any, root: Path) -> Any:
    """Result data with paths under the artifact root made relative to it."""
    prefix = str(root.resolve()) + "/"
    if isinstance(value, str) and value.startswith(prefix):
        return value[len(prefix) :]
    if isinstance(value, dict):
        return {k: relative(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [relative(v, root) for v in value]
    return value


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(job_id: str, settings: Settings) -> str:
    """Run the job; return its final state."""
    store = Store(settings, create=False)
    row = store.job(job_id)
    declared = job(row.kind)
    spec = declared.spec.from_json(row.resolved)
    if declared.resumes:
        spec = spec.or_resume()  # an earlier attempt may have left a checkpoint
    sink = DatabaseEvents(store, job_id)
    try:
        result = declared.run(spec, sink)
        sink.pending.append(("log", {"message": "finished", "level": "info"}))
        sink.flush()
        store.finish(job_id, "SUCCEEDED", relative(result.to_json(), settings.artifacts))
        return "SUCCEEDED"
    except (KeyboardInterrupt, Interrupted):
        # the worker records CANCELLED once this process group is gone, so the row never says
        # CANCELLED while the job's processes still run
        sink.pending.append(("log", {"message": "stopped: cancelled", "level": "warning"}))
        sink.flush()
        return "CANCELLED"
    except RobustuneError as exc:
        sink.flush()
        store.finish(job_id, "FAILED", error=exc)
        return "FAILED"
    except Exception as exc:  # a bug: kept as the job's reason, the traceback in the job's log
        import traceback

        traceback.print_exc()
        sink.flush()
        store.finish(
            job_id, "FAILED", error=RuntimeError(f"internal error ({type(exc).__name__}: {brief(exc)})")
        )
        return "FAILED"


def main() -> None:
    """Entry point of the runner process."""
    parser = argparse.ArgumentParser()
    parser.add_argument("job_id")
    parser.add_argument("--home", required=True)
    parser.add_argument("--db")
    parser.add_argument("--parent", type=int)
    args = parser.parse_args()
    die_with_parent(args.parent)
    signal.signal(signal.SIGTERM, _interrupt)
    state = run(args.job_id, Settings(home=Path(args.home), db=args.db))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT[state])  # the end is recorded; skip the interpreter's slow teardown


if __name__ == "__main__":
    main()
