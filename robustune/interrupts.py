"""Ctrl-C during an import waits until the import has finished.

A KeyboardInterrupt raised in the middle of importing a compiled library leaves it broken: numpy's
``__getattr__`` then recurses on a half-imported ``numpy.linalg`` (a RecursionError later, far from the
Ctrl-C), and one raised inside a pybind11 callback while torch initialises aborts the process
(``terminate called after throwing an instance of 'pybind11::error_already_set'``). Both were seen on a
loaded machine. So the command line's SIGINT handler looks at what it interrupted: inside an import it
only notes the Ctrl-C and checks again every 50 ms (SIGALRM), raising KeyboardInterrupt at the first
moment no import is running; anywhere else it raises at once, as Python's own handler does.

Standard library only: installed before anything else is imported.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

RECHECK_S = 0.05
_pending = False


def in_import(frame: FrameType | None) -> bool:
    """Whether ``frame`` or a caller of it is running the import machinery."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib._bootstrap"):
            return True
        frame = frame.f_back
    return False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _pending
    if in_import(frame):
        _pending = True
        signal.setitimer(signal.ITIMER_REAL, RECHECK_S)
        return
    _pending = False
    raise KeyboardInterrupt


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    if _pending:
        _on_sigint(signal.SIGINT, frame)


def defer_during_imports() -> None:
    """Install the handlers: in the main thread only (Python allows no handler elsewhere), and only in
    place of Python's own (a background job started with SIGINT ignored keeps ignoring it)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGINT, _on_sigint)
