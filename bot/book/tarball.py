"""Unpacking a repository tarball from GitHub into a working directory, safely.

GitHub's tarballs hold one top-level folder `{owner}-{repo}-{sha}/`, which is stripped. The
archive is untrusted input (anyone who can push shapes it), so members that could reach
outside the destination are skipped and recorded: absolute paths, `..`, links pointing
outside, device files. Size and member count are capped against archive bombs, and a last
pass removes any link that ended up pointing outside (links can be chained).
"""

from __future__ import annotations

import io
import logging
import os
import tarfile
from pathlib import Path, PurePosixPath
from typing import IO

log = logging.getLogger(__name__)

MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_MEMBERS = 50_000
_CHUNK = 1024 * 1024


class TarballError(Exception):
    """The archive cannot be used at all (corrupt, or over the size limits)."""


def _below_top(name: str) -> PurePosixPath | None:
    """The member's path below the top-level folder, or None when it is unsafe."""
    if "\x00" in name or name.startswith("/") or "\\" in name:
        return None
    parts = [part for part in name.split("/") if part not in {"", "."}]
    if ".." in parts or len(parts) < 2:
        return None
    return PurePosixPath(*parts[1:])


class _Extraction:
    def __init__(self, dest: Path, max_total_bytes: int, notes: list[str]) -> None:
        self.root = Path(os.path.realpath(dest))
        self.left = max_total_bytes
        self.limit = max_total_bytes
        self.notes = notes
        self.top: str | None = None

    def inside(self, path: Path | str) -> bool:
        """True when `path`, every link resolved, stays within the destination."""
        real = os.path.realpath(path)
        return real == str(self.root) or real.startswith(f"{self.root}{os.sep}")

    def skip(self, name: str, why: str) -> None:
        self.notes.append(f"skipped `{name}`: {why}")
        log.warning("tarball member %r skipped: %s", name, why)

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise TarballError(f"the archive unpacks to more than {self.limit // 2**20} MB")

    def member(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        first = member.name.split("/", 1)[0]
        self.top = self.top or first
        if member.isdir() and member.name.strip("/") == self.top:
            return
        relative = _below_top(member.name)
        if relative is None or first != self.top:
            self.skip(member.name, "its path is absolute, uses `..` or lies outside the top folder")
            return
        target = self.root / relative
        if not self.inside(target.parent):
            self.skip(member.name, "its folder is a link that points outside the repository")
            return
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
        elif member.isfile():
            self.spend(member.size)
            source = archive.extractfile(member)
            if source is None:
                self.skip(member.name, "its content cannot be read")
                return
            self.write(source, target, 0o755 if member.mode & 0o100 else 0o644)
        elif member.issym():
            self.symlink(member, target)
        elif member.islnk():
            self.hardlink(member, target)
        else:
            self.skip(member.name, "device files, pipes and other special files are not extracted")

    def write(self, source: IO[bytes], target: Path, mode: int) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.is_file():
            target.unlink()
        with open(target, "xb") as out:  # "x": never write through a link planted at this name
            while chunk := source.read(_CHUNK):
                out.write(chunk)
        os.chmod(target, mode)

    def symlink(self, member: tarfile.TarInfo, target: Path) -> None:
        if member.linkname.startswith("/") or not self.inside(target.parent / member.linkname):
            self.skip(member.name, "it is a link that points outside the repository")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.is_file():
            target.unlink()
        os.symlink(member.linkname, target)

    def hardlink(self, member: tarfile.TarInfo, target: Path) -> None:
        """A hard link becomes a copy of an already extracted file, when that is inside."""
        linked = _below_top(member.linkname)
        source = self.root / linked if linked is not None else None
        if source is None or not self.inside(source) or not source.is_file():
            self.skip(member.name, "it is a hard link to a file outside the repository")
            return
        self.spend(source.stat().st_size)
        with open(source, "rb") as stream:
            self.write(stream, target, 0o644)

    def remove_escaping_links(self) -> None:
        """Links are checked when made, but a later link can redirect an earlier one."""
        for folder, dirs, files in os.walk(self.root):
            for name in dirs + files:
                path = Path(folder) / name
                if path.is_symlink() and not self.inside(path):
                    path.unlink()
                    self.skip(str(path.relative_to(self.root)), "it is a link that points outside")


def extract_tarball(
    data: bytes,
    dest: Path,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    warnings: list[str] | None = None,
) -> Path:
    """Unpack `data` (a `.tar` or `.tar.gz`) into `dest`, without its top-level folder.

    Returns `dest`. Skipped members are described in `warnings` (when given) and logged;
    raises `TarballError` for an unreadable archive or one over `max_total_bytes`.
    """
    dest.mkdir(parents=True, exist_ok=True)
    extraction = _Extraction(dest, max_total_bytes, warnings if warnings is not None else [])
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as archive:
            for count, member in enumerate(archive, start=1):
                if count > MAX_MEMBERS:
                    raise TarballError(f"the archive has more than {MAX_MEMBERS} entries")
                try:
                    extraction.member(archive, member)
                except OSError as error:  # e.g. a file where the archive already put a folder
                    extraction.skip(member.name, f"it cannot be written ({error.strerror})")
    except tarfile.TarError as error:
        raise TarballError(f"the archive cannot be read: {error}") from None
    finally:
        extraction.remove_escaping_links()
    return dest
