"""The stand-in's git reads from memory (`standins/github/git.py`): what it remembers by
object sha never changes, and what it remembers of refs is forgotten by any command that can
move one, so a branch moved by an update or a fetch is seen at once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from standins.github.git import GitRepo, Signature, TreeChange

WHO = Signature("A", "a@example.com", datetime(2026, 1, 1, tzinfo=UTC))


def commit(git: GitRepo, files: dict[str, bytes], parents: list[str]) -> str:
    changes = [TreeChange(p, "100644", "blob", content=data) for p, data in files.items()]
    tree = git.build_tree(None, changes)
    return git.commit_tree(tree, parents, "c", WHO, WHO)


def test_refs_moved_by_any_command_are_seen_and_objects_stay_right(tmp_path: Path) -> None:
    git = GitRepo(tmp_path / "a.git")
    git.init("main")
    first = commit(git, {"book.yml": b"one"}, [])
    assert git.update_ref("refs/heads/main", first)
    assert git.resolve("main") == first
    assert git.read_blob(git.entry_at(first, "book.yml").sha) == b"one"  # type: ignore[union-attr]

    second = commit(git, {"book.yml": b"two"}, [first])
    assert git.update_ref("refs/heads/main", second, first)
    assert git.resolve("main") == second
    assert git.ref_sha("refs/heads/main") == second
    entry = git.entry_at(second, "book.yml")
    assert entry is not None and git.read_blob(entry.sha) == b"two"
    assert git.read_blob(git.entry_at(first, "book.yml").sha) == b"one"  # type: ignore[union-attr]

    # a fetch from another repository moves refs too
    other = GitRepo(tmp_path / "b.git")
    other.init("main")
    third = commit(other, {"book.yml": b"three"}, [])
    other.update_ref("refs/heads/side", third)
    assert git.resolve("side") is None
    git.run("fetch", "--quiet", str(other.path), "+refs/heads/side:refs/heads/side")
    assert git.resolve("side") == third
    assert ("refs/heads/side", third) in git.refs()

    git.delete_ref("refs/heads/side")
    assert git.resolve("side") is None
    assert git.refs("refs/heads/side") == []
