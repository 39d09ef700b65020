"""Uploads are hostile until checked: streamed under a size cap, archives extracted member by member.

An archive member is refused when its name is absolute or climbs out (``..``), when it is a
link (symbolic or hard), a device or a FIFO, and when the archive unpacks to too many files, too
many bytes, or too much for its packed size (a zip bomb). Bytes are counted as they are written,
not taken from headers. Nothing is written outside the dataset's own folder, and a refused
upload leaves nothing behind.
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import stat
import tarfile
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from plugins.errors import Unreadable
from robustune.service.errors import ApiError

CHUNK = 1 << 20


@dataclass(frozen=True)
class Caps:
    """How much an upload may be."""

    upload_bytes: int
    unpacked_bytes: int
    files: int
    ratio: float


def over_cap(cap: int) -> ApiError:
    """The 413 for an upload over ``serve --max-upload-mb``."""
    return over_limit(f"the upload is larger than the {cap // (1 << 20)} MB limit (serve --max-upload-mb)")


def over_limit(problem: str) -> ApiError:
    """The 413 for an upload over one of the service's limits (named in ``problem``)."""
    return ApiError(413, f"file: {problem}; nothing was kept", "too_large", "file")


def refuse(problem: str) -> Unreadable:
    """The error for an upload whose content cannot be used (the field is the uploaded ``file``; 422)."""
    return Unreadable(f"file: {problem}; nothing was kept", field="file")


async def save_stream(chunks: AsyncIterator[bytes], target: Path, cap: int) -> tuple[int, str]:
    """Write an upload to ``target`` as it arrives; (bytes, sha256). Over ``cap`` it is refused."""
    digest = hashlib.sha256()
    size = 0
    with open(target, "wb") as fh:
        async for chunk in chunks:
            size += len(chunk)
            if size > cap:
                raise over_cap(cap)
            digest.update(chunk)
            fh.write(chunk)
    if size == 0:
        raise refuse("the upload is empty")
    return size, digest.hexdigest()


def _safe_name(name: str) -> PurePosixPath:
    if "\\" in name or "\x00" in name:
        raise refuse(f"the archive member {name!r} has a backslash or NUL in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise refuse(f"the archive member {name!r} has an absolute path")
    if ".." in path.parts:
        raise refuse(f"the archive member {name!r} climbs out of the archive (..)")
    return path


class _Budget:
    def __init__(self, caps: Caps, packed: int) -> None:
        self.caps, self.packed = caps, max(packed, 1)
        self.files = 0
        self.bytes = 0

    def file(self) -> None:
        self.files += 1
        if self.files > self.caps.files:
            raise over_limit(f"the archive holds more than {self.caps.files} files (serve --max-files)")

    def add(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.caps.unpacked_bytes:
            raise over_limit(f"the archive unpacks to more than {self.caps.unpacked_bytes // (1 << 20)} MB "
                             "(serve --max-unpacked-mb)")
        if self.bytes > self.caps.ratio * self.packed and self.bytes > 1 << 20:
            raise over_limit(f"the archive unpacks to more than {self.caps.ratio:g} times its size (a zip "
                             "bomb? serve --max-ratio)")


def _copy(src: IO[bytes], dest: Path, budget: _Budget) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "xb") as out:
        while chunk := src.read(CHUNK):
            budget.add(len(chunk))
            out.write(chunk)


def _zip_members(zf: zipfile.ZipFile) -> Iterator[tuple[zipfile.ZipInfo, PurePosixPath]]:
    for info in zf.infolist():
        path = _safe_name(info.filename)
        mode = info.external_attr >> 16 if info.create_system == 3 else 0  # Unix modes only
        if stat.S_ISLNK(mode):
            raise refuse(f"the archive member {info.filename!r} is a symbolic link")
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise refuse(f"the archive member {info.filename!r} is not a regular file")
        yield info, path


NESTED = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar", ".zst")


def archive_type(path: Path) -> str | None:
    """``zip`` or ``tar`` by the file's leading bytes (a tar holding a small zip is a tar), None: neither.
    A compressed file counts as a tar: opening it says whether it is one."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head[257:262] == b"ustar" or head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")):
        return "tar"
    return "tar" if tarfile.is_tarfile(path) and not zipfile.is_zipfile(path) else None


def extract(archive: Path, dest: Path, caps: Caps) -> list[str]:
    """Unpack a zip or tar archive into ``dest`` (which must not exist), checking every member; members
    that are archives themselves are left out, and their names returned."""
    budget = _Budget(caps, archive.stat().st_size)
    dest.mkdir(parents=True)
    root = dest.resolve()
    skipped: list[str] = []
    kind = archive_type(archive)
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                for info, path in _zip_members(zf):
                    target = _inside(root, path)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    if path.name.lower().endswith(NESTED):
                        skipped.append(str(path))
                        continue
                    budget.file()
                    with zf.open(info) as src:
                        _copy(src, target, budget)
        elif kind == "tar":
            with tarfile.open(archive) as tf:
                for member in tf:
                    path = _safe_name(member.name)
                    if member.issym() or member.islnk():
                        raise refuse(f"the archive member {member.name!r} is a link")
                    if not (member.isfile() or member.isdir()):
                        raise refuse(
                            f"the archive member {member.name!r} is a device, FIFO or other special file"
                        )
                    target = _inside(root, path)
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    if path.name.lower().endswith(NESTED):
                        skipped.append(str(path))
                        continue
                    budget.file()
                    member_file = tf.extractfile(member)
                    if member_file is None:
                        raise refuse(f"the archive member {member.name!r} cannot be read")
                    with member_file:
                        _copy(member_file, target, budget)
        else:
            raise refuse("this is neither a CSV nor a zip or tar archive of an image folder")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        if isinstance(exc, FileExistsError):
            raise refuse("the archive names one file twice") from None
        if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
            raise refuse("an archive member's name is too long for a file name (at most 255 bytes a "
                         "part)") from None
        raise refuse(f"the archive is damaged ({type(exc).__name__})") from None
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return skipped


def _inside(root: Path, path: PurePosixPath) -> Path:
    target = (root / Path(*path.parts)).resolve() if path.parts else root
    if target != root and root not in target.parents:
        raise refuse(f"the archive member {str(path)!r} would land outside its folder")
    return target


def image_root(folder: Path) -> Path:
    """The folder whose subfolders are the classes (an archive may wrap it in one top folder)."""
    entries = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and entries[0].is_dir():
        inner = [p for p in entries[0].iterdir() if p.is_dir() and not p.name.startswith(".")]
        if inner and all(not any(q.is_dir() for q in p.iterdir()) for p in inner):
            return entries[0]
    return folder
