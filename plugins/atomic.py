"""Safe outputs: atomic writes, a lock per output, and ``--overwrite`` that only replaces our own.

Every folder robustune writes carries a marker file listing the files it wrote. An existing
output is replaced only with ``overwrite``, only when it is a folder robustune wrote (its marker
lists every file in it, or the file is in a nested folder of ours), and never when it is or holds
an input of the job. A lock file beside the output makes a second writer fail with "in use"
instead of racing; temporary folders left by a killed writer are removed by the next one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from plugins.errors import Conflict, InvalidInput, opt

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process lock
    fcntl = None  # type: ignore[assignment]

MARKER = ".robustune-output"
TRANSIENT = re.compile(r"^\..+\.(tmp-.*|old-.*|lock)$")  # our own temporaries beside an output
_held: dict[str, list[int]] = {}  # lock file -> [fd, depth] (re-entrant within a process)
HELD_LOCKS = "ROBUSTUNE_HELD_LOCKS"  # os.pathsep-separated lock files a parent process holds for this one


def real_target(target: Path) -> Path:
    """The path an output really lands on (a symlinked ``--out`` writes where the link points)."""
    return Path(target).resolve()


def _contains(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents


def _inputs(inputs: Iterable[Path | str | None]) -> list[Path]:
    return [Path(p).resolve() for p in inputs if p is not None and str(p) and Path(p).exists()]


def _foreign(folder: Path) -> str | None:
    """The first file in ``folder`` that robustune did not write (None when it is all ours).

    A sub-folder with a marker of its own (an audit inside a bundle) is checked the same way.
    """
    try:
        listed = set(json.loads((folder / MARKER).read_text()).get("files", []))
    except (OSError, ValueError, AttributeError):
        return MARKER
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        for name in list(dirnames):
            sub = here / name
            if sub.is_symlink():
                filenames.append(name)
                dirnames.remove(name)
            elif (sub / MARKER).is_file():
                dirnames.remove(name)
                inner = _foreign(sub)
                if inner is not None:
                    return f"{sub.relative_to(folder).as_posix()}/{inner}"
        for name in filenames:
            rel = (here / name).relative_to(folder).as_posix()
            if rel != MARKER and rel not in listed and not TRANSIENT.match(name):
                return rel
    return None


def check_replaceable(target: Path, inputs: Iterable[Path | str | None] = ()) -> None:
    """Raise unless ``target`` (existing) may be replaced: ours, and holding no input of the job."""
    target = real_target(target)
    for inp in _inputs(inputs):
        if _contains(target, inp):
            what = "is" if inp == target else f"holds {inp}, which is"
            raise InvalidInput(f"{opt('overwrite')} refused: {target} {what} an input of this command; "
                               f"choose another {opt('out')} (nothing was deleted)", field='overwrite')
    if not target.is_dir():
        return
    foreign = _foreign(target)
    if foreign == MARKER:
        raise Conflict(f"{opt('overwrite')} refused: {target} was not written by robustune (no {MARKER} "
                       f"marker); choose another {opt('out')} or delete it yourself (nothing was deleted)",
                       field="out")
    if foreign is not None:
        raise Conflict(f"{opt('overwrite')} refused: {target} holds {foreign}, which robustune did not "
                       f"write; move it out or choose another {opt('out')} (nothing was deleted)",
                       field="out")


def _probe_writable(target: Path) -> None:
    """Raise when ``target`` cannot be created: a file in its path, or no write permission."""
    anc = target.parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise InvalidInput(f"cannot write {target}: {anc} is a file, not a folder; choose another "
                           f"{opt('out')}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".robustune-probe-", dir=anc)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InvalidInput(f"cannot write {target}: {anc} is not writable ({exc.strerror or exc}); "
                           f"choose another {opt('out')}") from exc


def check_writable_target(target: Path, overwrite: bool, inputs: Iterable[Path | str | None] = ()) -> None:
    """Refuse an existing output unless ``overwrite`` and replaceable; refuse an unwritable one."""
    target = real_target(target)
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise Conflict(f"output {target} already exists; choose another {opt('out')} or pass "
                           f"{opt('overwrite')}", field="out")
        check_replaceable(target, inputs)
    else:
        _probe_writable(target)


def lock_path(target: Path) -> str:
    """The lock file ``output_lock`` holds for ``target``."""
    target = real_target(target)
    return str(target.parent / f".{target.name}.lock")


def inherited_locks() -> list[str]:
    """Locks a launching process holds for this one (a training rank writes under its launcher's lock)."""
    return [p for p in os.environ.get(HELD_LOCKS, "").split(os.pathsep) if p]


@contextmanager
def output_lock(target: Path) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside ``target``; another process holding it makes this raise "in use".

    Folders created to hold the lock are removed again when ``target`` was not written. A lock named
    in ``$ROBUSTUNE_HELD_LOCKS`` is held by the process that started this one.
    """
    target = real_target(target)
    lock = target.parent / f".{target.name}.lock"
    key = str(lock)
    if key in _held or fcntl is None or key in inherited_locks():
        if key in _held:
            _held[key][1] += 1
        try:
            yield
        finally:
            if key in _held:
                _held[key][1] -= 1
        return
    _probe_writable(target)  # one clear line for a path below a file or in a read-only place
    created = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create {target.parent} ({exc.strerror or exc}); choose another "
                           f"{opt('out')}") \
            from exc
    fd = _acquire(lock, target)
    _held[key] = [fd, 1]
    try:
        yield
    finally:
        del _held[key]
        with contextlib.suppress(OSError):
            os.unlink(lock)  # before unlocking: a waiter re-checks that its file is still the lock
        os.close(fd)
        if not target.exists():
            for folder in created:  # deepest first; stops at the first that is not empty
                try:
                    folder.rmdir()
                except OSError:
                    break


def _acquire(lock: Path, target: Path) -> int:
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InvalidInput(f"cannot write {target} ({exc.strerror or exc}); choose another "
                               f"{opt('out')}") \
                from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Conflict(f"output {target} is in use by another robustune process; wait for it to "
                           f"finish or choose another {opt('out')}", field="out") from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)  # the previous holder removed that file: lock the new one


def _recover(target: Path) -> None:
    """Under the lock: undo a replace cut short by a kill, and remove a dead writer's temporaries."""
    olds = sorted(target.parent.glob(f".{glob_escape(target.name)}.old-*"))
    if olds and not target.exists():
        os.replace(olds.pop(), target)  # the kill came between the two renames: restore the old one
    for left in olds + list(target.parent.glob(f".{glob_escape(target.name)}.tmp-*")):
        if left.is_dir() and not left.is_symlink():
            shutil.rmtree(left, ignore_errors=True)
        else:
            left.unlink(missing_ok=True)


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def write_marker(folder: Path, kind: str) -> None:
    """Mark ``folder`` as robustune's and list the files in it."""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and p.name != MARKER)
    (folder / MARKER).write_text(json.dumps({"written_by": "robustune", "kind": kind, "files": files},
                                            indent=1))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@contextmanager
def atomic_dir(target: Path, overwrite: bool = False, inputs: Iterable[Path | str | None] = (),
               kind: str = "output") -> Iterator[Path]:
    """Yield a temporary folder that replaces ``target`` only if the block succeeds."""
    target = real_target(target)
    with output_lock(target):
        _recover(target)
        check_writable_target(target, overwrite, inputs)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        except OSError as exc:
            raise InvalidInput(f"cannot write {target} ({exc.strerror or exc}); choose another "
                               f"{opt('out')}") \
                from exc
        try:
            yield tmp
            write_marker(tmp, kind)
            if target.exists() or target.is_symlink():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                os.replace(target, old)
                os.replace(tmp, target)
                _remove(old)
            else:
                os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def remove_output(target: Path, inputs: Iterable[Path | str | None] = ()) -> None:
    """Delete a folder robustune wrote (the same checks as ``--overwrite``)."""
    target = real_target(target)
    with output_lock(target):
        if target.exists():
            check_replaceable(target, inputs)
            _remove(target)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    path = real_target(path)
    with output_lock(path):
        _recover(path)
        if path.is_dir():
            raise InvalidInput(f"cannot write the file {path}: a folder of that name exists; choose "
                               f"another {opt('out')}")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
        except OSError as exc:
            raise InvalidInput(f"cannot write {path} ({exc.strerror or exc}); choose another {opt('out')}") \
                from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
