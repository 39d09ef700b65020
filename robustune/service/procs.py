"""Process helpers: a child that dies with its parent, process groups, liveness."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable


def die_with_parent(parent: int | None = None) -> None:
    """Linux: be killed (SIGKILL) when the parent process dies, so no job outlives its worker. A parent
    that died before this call (the signal would never come) ends this process at once."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            return
        if parent is not None and os.getppid() != parent:
            os._exit(1)


def stop_group(pgid: int, grace: float = 3.0, reap: Callable[[], object] | None = None) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``grace`` seconds; return once it
    is gone. ``reap`` collects the group leader when it is our child (a zombie still counts as alive)."""
    import time

    def alive() -> bool:
        if reap is not None:
            reap()
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False

    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not alive():
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while time.monotonic() < deadline + 2 and alive():  # SIGKILL cannot be refused; give the kernel a moment
        time.sleep(0.05)
