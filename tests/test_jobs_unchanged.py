"""No empty work: what counts as the same files (issue 13, point 4)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jobs.unchanged import blob_sha, fingerprint, same_as_checkout


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=200))
def test_blob_sha_is_gits(text: str) -> None:
    expected = (
        subprocess.run(
            ["git", "hash-object", "--stdin"], input=text.encode(), capture_output=True, check=True
        )
        .stdout.decode()
        .strip()
    )
    assert blob_sha(text) == expected


def test_same_as_checkout(tmp_path: Path) -> None:
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters/01.md").write_text("Text.\n")
    (tmp_path / "link.md").symlink_to(tmp_path / "chapters/01.md")
    assert same_as_checkout(tmp_path, {"chapters/01.md": "Text.\n", "gone.md": None})
    assert not same_as_checkout(tmp_path, {"chapters/01.md": "Text!\n"})
    assert not same_as_checkout(tmp_path, {"chapters/01.md": None})  # a deletion changes it
    assert not same_as_checkout(tmp_path, {"new.md": ""})  # so does a new empty file
    assert not same_as_checkout(tmp_path, {"link.md": "Text.\n"})  # a link becomes a file


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.one_of(st.none(), st.text())))
def test_a_fingerprint_tells_deletions_and_empty_files_apart(files: dict[str, str | None]) -> None:
    printed = fingerprint(files)
    assert set(printed) == set(files)
    assert all((printed[p] == "") == (t is None) for p, t in files.items())
