"""The artifact tree under HOME/artifacts: one folder per dataset, job and model, named by its id."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from plugins.errors import InvalidInput

ID = re.compile(r"^(ds|job|mv|tok)_[0-9a-f]{16}$")


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
