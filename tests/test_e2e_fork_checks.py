"""The "Liquid Book" check run on a PR from a fork, over HTTP only (the app, the GitHub
stand-in, the real sandboxed build).

With `LIQUIDBOOK_CHECK_FORKS=false` a fork's PR gets no build (a PR from a branch of the
repository still does). With forks checked, a fork's PR that adds a chapter is built at its
head, read through the base repository's tarball (GitHub serves a fork PR's head there, as
`refs/pull/N/head`), behind the path guard: a reference to a file outside the book is
removed before the build and annotated as a failure at its line; the build's own warnings are
annotated too. A push to the fork's branch is checked at its new head.

The per-installation limit on fork builds (`LIQUIDBOOK_FORK_BUILDS=1` here): of three fork
PRs opened together one is built; the others look again once for a slot
(`LIQUIDBOOK_FORK_WAITS=1`) and then end `neutral`, "not built", saying why and how to
rebuild; "Rebuild" then builds one, still behind the guard.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.world import REPO, World

FORK = "alice/book"
CHAPTER = "chapters/02-tides.md"
CLEAN = "---\ntitle: Tides\n---\n\n# Tides\n\nThe moon pulls the sea.\n"
HOSTILE = (
    "---\ntitle: Tides\n---\n\n# Tides\n\nSee [the moon](#no-such-label).\n\n"
    "```{literalinclude} /proc/self/environ\n```\n\n"
    "```{include} ../../../../etc/hostname\n```\n\n"
    "See [the sun](#no-sun-label).\n"
)


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    # Checks keep nothing in the database: SQLite is enough.
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'liquidbook.db'}")
    try:
        world.start_app(LIQUIDBOOK_CHECK_DELAY_SECONDS="2", LIQUIDBOOK_CHECK_FORKS="false")
        world.install()
        yield world
    finally:
        world.close()


def with_chapter(world: World, repo: str, files: dict[str, str]) -> dict[str, str | bytes | None]:
    myst = world.github.read_file(repo, "main", "myst.yml")
    assert myst is not None
    last = "    - file: chapters/01-getting-started.md\n"
    toc = myst.decode().replace(last, f"{last}    - file: {CHAPTER}\n")
    return {"myst.yml": toc, **files}


def runs_on(world: World, sha: str) -> list[dict[str, Any]]:
    return [r for r in world.github.check_runs(REPO) if r["head_sha"] == sha]


def wait_run(world: World, sha: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        runs = runs_on(world, sha)
        return runs[-1] if runs and runs[-1]["status"] == "completed" else None

    return world.wait_for(done, timeout=120, what=f"the check run on {sha[:8]}")


def test_fork_pull_requests_are_checked_only_when_allowed_and_behind_the_guard(
    world: World,
) -> None:
    gh = world.github
    gh.fork_repo(REPO, "alice")

    # Forks not checked: the fork's PR gets no check run; a branch's PR opened after it does.
    gh.push(FORK, "quiet", with_chapter(world, FORK, {CHAPTER: CLEAN}), "alice", "Tides")
    gh.open_pull(REPO, "alice", "alice:quiet", "Tides from a fork")
    [quiet] = [p["head"]["sha"] for p in gh.pulls(REPO) if p["head"]["ref"] == "quiet"]
    assert quiet == gh.branches(FORK)["quiet"]
    # (Another text: the same commit on both would have the same sha.)
    files = with_chapter(world, REPO, {CHAPTER: CLEAN + "\nThe sea answers.\n"})
    gh.push(REPO, "tides", files, "alice", "Tides on a branch")
    gh.open_pull(REPO, "alice", "tides", "Tides")
    assert wait_run(world, gh.branches(REPO)["tides"])["conclusion"] == "success"
    gh.settle()
    assert runs_on(world, quiet) == []

    # Forks checked: the fork's PR is built at its head, read from the base repository.
    assert world.app_process is not None
    world.app_process.stop()
    world.start_app(
        LIQUIDBOOK_CHECK_DELAY_SECONDS="2",
        LIQUIDBOOK_FORK_BUILDS="1",
        LIQUIDBOOK_FORK_WAIT_SECONDS="0.3",
        LIQUIDBOOK_FORK_WAITS="1",
    )
    files = with_chapter(world, FORK, {CHAPTER: HOSTILE})
    head = gh.push(FORK, "hostile", files, "alice", "Tides, with includes")
    assert head not in gh.branches(REPO).values()
    gh.open_pull(REPO, "alice", "alice:hostile", "Tides, hostile")
    run = wait_run(world, head)
    assert run["name"] == "Liquid Book" and run["conclusion"] == "failure"
    tarballs = [r.path for r in gh.requests if r.method == "GET" and "/tarball/" in r.path]
    assert any(p.endswith(f"/repos/{REPO}/tarball/{head}") for p in tarballs), tarballs
    notes = gh.check_run_annotations(run["id"])
    where = {(n["path"], n["start_line"], n["annotation_level"]) for n in notes}
    assert (CHAPTER, 9, "failure") in where  # the literalinclude of /proc/self/environ
    assert (CHAPTER, 12, "failure") in where  # the include climbing out of the book
    assert (CHAPTER, 7, "warning") in where  # the build's own warning: a broken reference
    # A warning after the removed directives still names the author's line (the removals
    # left blank lines in the text that was built).
    assert (CHAPTER, 15, "warning") in where, where
    guarded = [n["message"] for n in notes if n["annotation_level"] == "failure"]
    assert any("/proc/self/environ" in m and "outside the book" in m for m in guarded), guarded
    assert any("etc/hostname" in m and "outside the book" in m for m in guarded), guarded
    # Nothing from outside the book reached the report.
    text = repr(run["output"]) + repr(notes)
    assert "GITHUB_PRIVATE_KEY" not in text and "PRIVATE KEY" not in text
    assert runs_on(world, quiet) == []

    # A push to the fork's branch (`synchronize`): its new head is checked too.
    fixed = gh.push(FORK, "hostile", {CHAPTER: CLEAN}, "alice", "Tides, fixed")
    assert wait_run(world, fixed)["conclusion"] == "success"
    [pr] = [p for p in gh.pulls(REPO) if p["head"]["ref"] == "hostile"]
    assert pr["head"]["sha"] == fixed

    # Three fork PRs at once, one build slot: one is built, the others wait one look for the
    # slot (0.3 s, while the first build runs for seconds) and end not built.
    heads = {}
    for n in range(3):
        files = {CHAPTER: HOSTILE + f"\nTide {n}.\n"}
        heads[n] = gh.push(FORK, f"tide-{n}", files, "alice", f"Tide {n}")
    for n in range(3):
        gh.open_pull(REPO, "alice", f"alice:tide-{n}", f"Tide {n}")
    runs = {n: wait_run(world, sha) for n, sha in heads.items()}
    built = [n for n, run in runs.items() if run["conclusion"] == "failure"]
    skipped = [n for n, run in runs.items() if run["conclusion"] == "neutral"]
    assert len(built) == 1 and len(skipped) == 2, {n: r["conclusion"] for n, r in runs.items()}
    gh.settle()
    tarballs = [r.path for r in gh.requests if r.method == "GET" and "/tarball/" in r.path]
    for n, sha in heads.items():
        fetched = sum(p.endswith(f"/tarball/{sha}") for p in tarballs)
        assert fetched == (1 if n in built else 0), (n, fetched)
    for n in skipped:
        output = runs[n]["output"]
        assert output["title"] == "Not built: too many fork builds at once"
        assert "1 build of pull requests from forks may run at once" in output["summary"]
        assert "no slot came free in 0.3 s (1 look)" in output["summary"]
        assert "Rebuild" in output["summary"]
        assert len(runs_on(world, heads[n])) == 1

    # "Rebuild" on one not built: the slot is free now, it is built, behind the guard (its
    # text is still a fork's), and gets a second check run.
    again = skipped[0]
    gh.deliver(
        "check_run",
        {
            "action": "requested_action",
            "requested_action": {"identifier": "rebuild"},
            "check_run": {"id": runs[again]["id"], "name": "Liquid Book", "head_sha": heads[again]},
            "repository": {"full_name": REPO, "default_branch": "main"},
            "installation": {"id": installation(world)},
            "sender": {"login": "alice", "type": "User"},
        },
    )
    [rebuilt] = world.wait_for(
        lambda: [r for r in runs_on(world, heads[again]) if r["conclusion"] == "failure"],
        timeout=120,
        what="the rebuilt check run",
    )
    notes = gh.check_run_annotations(rebuilt["id"])
    assert any("/proc/self/environ" in n["message"] for n in notes), notes


def installation(world: World) -> int:
    with world.github.hub.state.lock:
        return next(iter(world.github.hub.state.installations))
