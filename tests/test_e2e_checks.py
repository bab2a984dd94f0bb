"""The "Liquid Book" check run, over HTTP only (the app, the GitHub stand-in, the real build).

A push to the default branch that breaks the book gets one check run, `failure`, with
annotations at the file and line of each problem; the fix gets `success`; a book with 120
warnings gets `neutral` and all 120 annotations, sent in three requests; ten pushes in a row
cost at most two builds; an invalid settings file is annotated at its key, a `myst.yml`
problem at the line it names; a PR from a branch
is checked at its head; "Re-run" builds again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.world import REPO, World

CHAPTER = "chapters/02-tides.md"
BROKEN = (
    "---\ntitle: Tides\n---\n\n# Tides\n\nSee [the moon](#no-such-label).\n\n"
    ":::{nosuchdirective}\nx\n:::\n"
)
FIXED = "---\ntitle: Tides\n---\n\n# Tides\n\nThe moon pulls the sea.\n"


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    # Checks keep nothing in the database: SQLite is enough.
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'liquidbook.db'}")
    try:
        world.start_app(LIQUIDBOOK_CHECK_DELAY_SECONDS="2", LIQUIDBOOK_OWN_CHECK_GRACE_SECONDS="1")
        world.install()
        yield world
    finally:
        world.close()


def push(world: World, files: dict[str, str | bytes | None], branch: str = "main") -> str:
    myst = world.github.read_file(REPO, "main", "myst.yml")
    assert myst is not None
    text = myst.decode()
    last = "    - file: chapters/01-getting-started.md\n"
    if f"file: {CHAPTER}" not in text:
        files = {"myst.yml": text.replace(last, f"{last}    - file: {CHAPTER}\n"), **files}
    return world.github.push(REPO, branch, files, user="alice", message="Edit the book")


def runs_on(world: World, sha: str) -> list[dict[str, Any]]:
    return [r for r in world.github.check_runs(REPO) if r["head_sha"] == sha]


def wait_run(world: World, sha: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        runs = runs_on(world, sha)
        return runs[-1] if runs and runs[-1]["status"] == "completed" else None

    return world.wait_for(done, timeout=120, what=f"the check run on {sha[:8]}")


def calls(world: World, method: str, route: str) -> int:
    return sum(1 for r in world.github.requests if (r.method, r.route) == (method, route))


def tarballs(world: World) -> int:
    return calls(world, "GET", "/repos/{owner}/{repo}/tarball/{ref}")


def creates(world: World) -> int:
    return calls(world, "POST", "/repos/{owner}/{repo}/check-runs")


def test_check_runs_on_pushes_and_pull_requests(world: World) -> None:
    gh = world.github
    # A push that breaks the book: one failing check run, annotated at the file and line.
    broken = push(world, {CHAPTER: BROKEN})
    run = wait_run(world, broken)
    assert run["name"] == "Liquid Book" and run["conclusion"] == "failure"
    notes = gh.check_run_annotations(run["id"])
    where = {(n["path"], n["start_line"], n["annotation_level"]) for n in notes}
    assert (CHAPTER, 9, "failure") in where  # the unknown directive
    assert (CHAPTER, 7, "warning") in where  # the broken cross-reference
    assert "1 error" in run["output"]["title"]

    # The fix: a new check run, success.
    fixed = push(world, {CHAPTER: FIXED})
    assert wait_run(world, fixed)["conclusion"] == "success"
    assert len(runs_on(world, broken)) == 1

    # 120 warnings: neutral, every one annotated, in three requests (50 + 50 + 20).
    patches = calls(world, "PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
    links = "".join(f"See [item {i}](#missing-{i}).\n\n" for i in range(120))
    warned = push(world, {CHAPTER: FIXED + "\n" + links})
    run = wait_run(world, warned)
    assert run["conclusion"] == "neutral"
    notes = gh.check_run_annotations(run["id"])
    assert len(notes) == 120 and all(n["annotation_level"] == "warning" for n in notes)
    assert {n["start_line"] for n in notes} == {9 + 2 * i for i in range(120)}
    assert run["output"]["annotations_count"] == 120
    assert calls(world, "PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}") == patches + 2

    # Ten pushes in a row: superseded commits get no check run; at most two builds.
    before, built = creates(world), tarballs(world)
    shas = [push(world, {CHAPTER: FIXED + f"\nPush {i}.\n"}) for i in range(10)]
    assert wait_run(world, shas[-1])["conclusion"] == "success"
    gh.settle()
    assert creates(world) - before <= 2
    assert tarballs(world) - built <= 2  # each build reads its commit's tarball once
    assert not any(runs_on(world, sha) for sha in shas[:-2])

    # Invalid settings: the commands' per-key messages, as annotations on the settings file.
    bad = push(world, {".github/liquidbook.yml": "title: Tides\nlanguage: [en]\n"})
    run = wait_run(world, bad)
    assert run["conclusion"] == "failure"
    [note] = gh.check_run_annotations(run["id"])
    assert note["path"] == ".github/liquidbook.yml" and note["start_line"] == 2
    assert "language" in note["message"] and note["annotation_level"] == "failure"

    # A `myst.yml` problem (MyST names no line for it) is annotated at the line it names in
    # the author's file; the settings are fixed in the same push.
    myst = gh.read_file(REPO, "main", "myst.yml")
    assert myst is not None
    original = myst.decode()
    toc = "  toc:\n"
    broken_toc = original.replace(toc, f"{toc}    - file: chapters/99-missing.md\n", 1)
    bad_myst = push(world, {".github/liquidbook.yml": "title: Tides\n", "myst.yml": broken_toc})
    run = wait_run(world, bad_myst)
    assert run["conclusion"] == "failure"
    [missing] = [n for n in gh.check_run_annotations(run["id"]) if "99-missing.md" in n["message"]]
    line = broken_toc.splitlines().index("    - file: chapters/99-missing.md") + 1
    assert missing["path"] == "myst.yml" and missing["start_line"] == line
    push(world, {"myst.yml": original})

    # A PR from a branch of the repository: checked at its head.
    gh.push(REPO, "tides", {CHAPTER: BROKEN}, user="alice", message="Break it on a branch")
    gh.open_pull(REPO, "alice", "tides", "Tides")
    head = gh.branches(REPO)["tides"]
    run = wait_run(world, head)
    assert run["conclusion"] == "failure"

    # "Re-run": the same commit is built again, a new run on it.
    gh.deliver(
        "check_run",
        {
            "action": "rerequested",
            "check_run": {"id": run["id"], "name": "Liquid Book", "head_sha": head},
            "repository": {"full_name": REPO, "default_branch": "main"},
            "installation": {"id": world_installation(world)},
            "sender": {"login": "alice", "type": "User"},
        },
    )
    world.wait_for(lambda: len(runs_on(world, head)) == 2, what="the rebuilt check run")


def world_installation(world: World) -> int:
    with world.github.hub.state.lock:
        return next(iter(world.github.hub.state.installations))


def test_the_apps_own_pr_gets_its_check_from_the_build_it_already_ran(world: World) -> None:
    """`/generate chapter` builds the book before it opens the PR and reports that build as
    the PR's check run: the check job of that head commit (queued by `pull_request.opened`)
    finds it recorded and builds nothing."""
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Write chapter 1")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    [status] = world.wait_final(issue)
    assert "✅" in status["body"], status["body"]
    [pr] = gh.pulls(REPO)
    head = pr["head"]["sha"]
    [run] = runs_on(world, head)
    assert run["status"] == "completed" and run["conclusion"] == "success", run
    # The check job of the head ran (delay 2 s + grace 1 s) and found the check recorded.
    assert world.app_process is not None
    world.wait_for(
        lambda: re.search(
            rf"check:{re.escape(REPO)}:{head}:check_commit ● '?already reported",
            world.app_process.log(),  # type: ignore[union-attr]
        ),
        what="the check job of the app's own commit",
    )
    assert len(runs_on(world, head)) == 1
    # Its only build was the job's own: no tarball of the head commit was read.
    assert not any(
        r.route == "/repos/{owner}/{repo}/tarball/{ref}" and head in r.path for r in gh.requests
    )
