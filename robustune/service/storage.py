"""The artifact tree under HOME/artifacts: one folder per dataset, job and model, named by its id."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from plugins.errors import InvalidInput

ID = re.compile(r"^(ds|job|mv|tok)_[0-9a-f]{16}$")


OBJECT = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


class Storage:
    """Paths of artifacts; user text never names a folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for part in ("datasets", "jobs", "uploads"):
            (self.root / part).mkdir(parents=True, exist_ok=True)

    def _check(self, ident: str) -> str:
        if not ID.match(ident):
            raise InvalidInput(f"{ident!r} is not an id of this service", field="id")
        return ident

    def dataset(self, ident: str) -> Path:
        """The folder of dataset ``ident``."""
        return self.root / "datasets" / self._check(ident)

    def job(self, ident: str) -> Path:
        """The folder of job ``ident`` (its outputs)."""
        return self.root / "jobs" / self._check(ident)

    def staging(self, name: str) -> Path:
        """A scratch folder for an upload in progress (removed when it is refused)."""
        return self.root / "uploads" / name

    @contextmanager
    def made(self, path: Path) -> Iterator[Path]:
        """Make the folder ``path``, and remove it again when the block fails: the one cleanup path of every
        write, so a refused request leaves nothing on disk."""
        path.mkdir(parents=True)
        try:
            yield path
        except BaseException:
            self.remove(path)
            raise

    def sweep(self) -> list[str]:
        """Remove the staging folders of uploads that never finished (the server stopped during them); run
        at start, before any upload begins."""
        left = sorted(p.name for p in (self.root / "uploads").iterdir())
        for name in left:
            shutil.rmtree(self.root / "uploads" / name, ignore_errors=True)
        return left

    def scrub(self, text: str) -> str:
        """``text`` for a client: paths under the service's home relative to it, no object addresses."""
        for root in sorted({str(self.root.resolve()), str(self.root), str(self.root.parent.resolve()),
                            str(self.root.parent)}, key=len, reverse=True):
            text = text.replace(root + "/", "").replace(root, ".")
        return OBJECT.sub("the uploaded data", text)

    def relative(self, path: Path) -> str:
        """``path`` relative to the artifact root (what the database stores)."""
        return Path(path).resolve().relative_to(self.root.resolve()).as_posix()

    def absolute(self, relative: str) -> Path:
        """The path the database's ``relative`` names (never outside the root)."""
        path = (self.root / relative).resolve()
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise InvalidInput(f"{relative!r} is outside the artifact root", field="path")
        return path

    def remove(self, path: Path) -> None:
        """Delete an artifact folder or file (inside the root only)."""
        path = self.absolute(self.relative(path))
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()
