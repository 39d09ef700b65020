"""A worker process: claims queued jobs one at a time and runs each in its own process group.

While a job runs the worker beats its heartbeat and watches its cancel flag and its time limit; on a
cancel, or at the limit, it stops the whole process group (SIGTERM, then SIGKILL); a job stopped at its
limit is FAILED with that reason. A runner that dies without recording an
end is queued again (or failed after its last attempt). The worker dies with the server.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from robustune.service.models import FINAL
from robustune.service.procs import die_with_parent, stop_group
from robustune.service.settings import Settings
from robustune.service.store import Store, worker_name


def run_one(store: Store, settings: Settings, poll: float = 0.25) -> bool:
    """Claim and run one job; False when the queue was empty."""
    job = store.claim(worker_name())
    if job is None:
        return False
    folder = store.storage.job(job.id)
    cmd = [sys.executable, "-m", "robustune.service.runner", job.id, "--home", str(settings.home),
           "--parent", str(os.getpid())]
    if settings.db:
        cmd += ["--db", settings.db]
    with open(folder / "job.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=dict(os.environ))
        stopping = timed_out = False
        deadline = store.deadline(job)
        while proc.poll() is None:
            cancel = store.heartbeat(job.id)
            late = deadline is not None and time.time() > deadline
            if (cancel or late) and not stopping:
                stopping, timed_out = True, late and not cancel
                stop_group(proc.pid, reap=proc.poll)
            time.sleep(poll)
    if timed_out:
        store.time_out(job.id)
        return True
    row = store.job(job.id)
    if row.state not in FINAL:
        with store.db.begin() as s:
            from robustune.service.models import Job

            current = s.get(Job, job.id)
            if current is not None and current.state not in FINAL:
                store.requeue_or_fail(s, current, f"its process ended with code {proc.returncode}")
    return True


def main() -> None:
    """Entry point: loop until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--db")
    parser.add_argument("--parent", type=int)
    args = parser.parse_args()
    die_with_parent(args.parent)
    settings = Settings(home=Path(args.home), db=args.db)
    store = Store(settings, create=False)
    while True:
        if not run_one(store, settings):
            time.sleep(0.3)


if __name__ == "__main__":
    main()
