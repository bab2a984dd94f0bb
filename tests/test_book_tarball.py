"""Repository tarballs are untrusted: hand-made malicious archives must not escape `dest`."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from bot.book.tarball import TarballError, extract_tarball

TOP = "octo-book-0123abc"


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = 0o644
    return info, data


def tarball(*members: tuple, compress: bool = True) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    raw = buffer.getvalue()
    return gzip.compress(raw) if compress else raw


def files_under(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()
    }


def test_github_layout_is_unpacked_without_the_top_folder(tmp_path: Path) -> None:
    data = tarball(
        member(f"{TOP}/", tarfile.DIRTYPE),
        member(f"{TOP}/myst.yml", data=b"version: 1\n"),
        member(f"{TOP}/chapters/", tarfile.DIRTYPE),
        member(f"{TOP}/chapters/01-a.md", data=b"# A\n"),
        member(f"{TOP}/.github/liquidbook.yml", data=b"type: book\n"),
    )
    dest = tmp_path / "book"
    warnings: list[str] = []
    assert extract_tarball(data, dest, warnings=warnings) == dest
    assert files_under(dest) == {"myst.yml", "chapters/01-a.md", ".github/liquidbook.yml"}
    assert (dest / "chapters/01-a.md").read_text() == "# A\n"
    assert warnings == []


def test_uncompressed_tar_works_too(tmp_path: Path) -> None:
    data = tarball(member(f"{TOP}/a.md", data=b"x"), compress=False)
    extract_tarball(data, tmp_path)
    assert (tmp_path / "a.md").read_bytes() == b"x"


@pytest.mark.parametrize(
    "name",
    [
        "/etc/evil",
        f"/{TOP}/evil",
        f"{TOP}/../evil",
        f"{TOP}/chapters/../../evil",
        "../evil",
        f"{TOP}/a\\..\\..\\evil",
        "other-top/evil",
        "evil",
    ],
)
def test_paths_that_escape_are_skipped_and_recorded(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "out" / "book"
    data = tarball(member(f"{TOP}/ok.md", data=b"ok"), member(name, data=b"pwned"))
    warnings: list[str] = []
    extract_tarball(data, dest, warnings=warnings)
    assert files_under(dest) == {"ok.md"}
    assert not (tmp_path / "out" / "evil").exists()
    assert not (tmp_path / "evil").exists()
    assert len(warnings) == 1 and name in warnings[0]


def test_symlinks_pointing_outside_are_skipped(tmp_path: Path) -> None:
    dest = tmp_path / "book"
    (tmp_path / "secret.txt").write_text("secret")
    warnings: list[str] = []
    data = tarball(
        member(f"{TOP}/abs", tarfile.SYMTYPE, link="/etc/passwd"),
        member(f"{TOP}/up", tarfile.SYMTYPE, link="../secret.txt"),
        member(f"{TOP}/dir", tarfile.SYMTYPE, link=".."),
        member(f"{TOP}/dir/planted.md", data=b"through the link"),
        member(f"{TOP}/inside.md", data=b"fine"),
        member(f"{TOP}/ok-link.md", tarfile.SYMTYPE, link="inside.md"),
    )
    extract_tarball(data, dest, warnings=warnings)
    # The `dir` link was refused, so `dir/planted.md` lands in a real folder inside.
    assert files_under(dest) == {"inside.md", "ok-link.md", "dir/planted.md"}
    assert not (dest / "dir").is_symlink()
    assert (dest / "ok-link.md").read_text() == "fine"
    assert not (tmp_path / "planted.md").exists()
    assert len(warnings) == 3


def test_a_file_is_not_written_through_a_planted_link(tmp_path: Path) -> None:
    dest = tmp_path / "book"
    outside = tmp_path / "outside"
    outside.mkdir()
    data = tarball(
        member(f"{TOP}/sub", tarfile.DIRTYPE),
        member(f"{TOP}/link", tarfile.SYMTYPE, link="sub"),
        member(f"{TOP}/link/file.md", data=b"inside through an inside link"),
    )
    extract_tarball(data, dest)
    assert (dest / "sub" / "file.md").read_text() == "inside through an inside link"


def test_chained_links_that_end_outside_are_removed(tmp_path: Path) -> None:
    # `a -> b/..` is inside while `b` does not exist; `b -> .` then makes `a` the parent.
    dest = tmp_path / "book"
    warnings: list[str] = []
    data = tarball(
        member(f"{TOP}/a", tarfile.SYMTYPE, link="b/.."),
        member(f"{TOP}/b", tarfile.SYMTYPE, link="."),
        member(f"{TOP}/a/escaped.md", data=b"pwned"),
    )
    extract_tarball(data, dest, warnings=warnings)
    assert not (tmp_path / "escaped.md").exists()
    assert not (dest / "a").is_symlink()
    for path in dest.rglob("*"):
        assert os.path.realpath(path).startswith(str(dest.resolve()))
    assert len(warnings) == 2


def test_hard_links_become_copies_only_inside(tmp_path: Path) -> None:
    dest = tmp_path / "book"
    warnings: list[str] = []
    data = tarball(
        member(f"{TOP}/a.md", data=b"original"),
        member(f"{TOP}/b.md", tarfile.LNKTYPE, link=f"{TOP}/a.md"),
        member(f"{TOP}/c.md", tarfile.LNKTYPE, link="/etc/passwd"),
        member(f"{TOP}/d.md", tarfile.LNKTYPE, link=f"{TOP}/../../etc/passwd"),
    )
    extract_tarball(data, dest, warnings=warnings)
    assert (dest / "b.md").read_text() == "original"
    assert not (dest / "b.md").is_symlink()
    assert os.stat(dest / "a.md").st_ino != os.stat(dest / "b.md").st_ino
    assert files_under(dest) == {"a.md", "b.md"}
    assert len(warnings) == 2


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_device_files_and_pipes_are_skipped(tmp_path: Path, kind: bytes) -> None:
    warnings: list[str] = []
    extract_tarball(tarball(member(f"{TOP}/dev", kind)), tmp_path, warnings=warnings)
    assert files_under(tmp_path) == set()
    assert "special files" in warnings[0]


def test_modes_are_not_trusted(tmp_path: Path) -> None:
    info, data = member(f"{TOP}/run.sh", data=b"#!/bin/sh\n")
    info.mode = 0o4777  # setuid, world-writable
    extract_tarball(tarball((info, data)), tmp_path)
    assert (tmp_path / "run.sh").stat().st_mode & 0o7777 == 0o755


def test_total_size_is_capped(tmp_path: Path) -> None:
    data = tarball(
        member(f"{TOP}/a.bin", data=b"0" * 4096), member(f"{TOP}/b.bin", data=b"0" * 4096)
    )
    with pytest.raises(TarballError, match="more than"):
        extract_tarball(data, tmp_path, max_total_bytes=6000)


def test_a_compression_bomb_stops_at_the_cap(tmp_path: Path) -> None:
    data = tarball(member(f"{TOP}/zeros.bin", data=b"\0" * (8 * 1024 * 1024)))
    assert len(data) < 64 * 1024
    with pytest.raises(TarballError):
        extract_tarball(data, tmp_path, max_total_bytes=1024 * 1024)


def test_garbage_is_a_tarball_error(tmp_path: Path) -> None:
    with pytest.raises(TarballError):
        extract_tarball(b"this is not a tarball at all" * 100, tmp_path)
