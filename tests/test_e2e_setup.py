"""The setup PR on install and on /init; ranges of chapters; writes that must be refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.book.bundled import WORKFLOW_PATH
from bot.book.check import check_book
from tests.world import REPO, World


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        world.start_app()
        yield world
    finally:
        world.close()


async def test_install_on_a_repository_without_a_book_opens_the_setup_pr(
    world: World, tmp_path: Path
) -> None:
    gh = world.github
    gh.create_repo("octo-org", "notes", files={"README.md": "# Notes\n"})
    # A book whose toc names a missing file, without the workflow: the setup PR adds the
    # workflow, and its build check says the book does not build.
    gh.create_repo(
        "octo-org",
        "draft",
        files={
            "myst.yml": "version: 1\nproject:\n  title: Draft\n  toc:\n    - file: intro.md\n"
            "    - file: missing.md\n",
            "intro.md": "# Draft\n",
        },
    )
    gh.install(world.app.id, "octo-org", ["book", "notes", "draft"])
    pr = world.wait_for(lambda: gh.pulls("octo-org/notes"), what="the setup PR")[0]
    assert pr["head"]["ref"] == "liquidbook/setup" and pr["title"] == "Set up Liquid Book"
    # The job ran the same build check as every other job and says so in the PR.
    assert "### Build check\n\n✅ The book builds cleanly" in pr["body"], pr["body"]
    draft = world.wait_for(lambda: gh.pulls("octo-org/draft"), what="the draft's setup PR")[0]
    assert "❌ The book build failed" in draft["body"] and "missing.md" in draft["body"]
    # A book set up elsewhere (or before the quiz widget existed) also gets the book files
    # it lacks: the setup PR is the one PR that adds them.
    assert world.git_in(
        "octo-org/draft", "diff", "--name-only", "main...liquidbook/setup"
    ).split() == [WORKFLOW_PATH, "_static/liquidbook-quiz.mjs"]
    assert "the widget that makes the book's quizzes interactive" in draft["body"]
    files = world.git_in("octo-org/notes", "diff", "--name-only", "main...liquidbook/setup").split()
    assert "myst.yml" in files and WORKFLOW_PATH in files and ".github/liquidbook.yml" in files
    myst = gh.read_file("octo-org/notes", "liquidbook/setup", "myst.yml").decode()
    assert "title: Notes" in myst
    # The repository with a book and a workflow got nothing.
    assert gh.pulls(REPO) == []
    clone = world.clone("liquidbook/setup", tmp_path / "notes", "octo-org/notes")
    report = await check_book(clone)
    assert report.errors == [] and report.warnings == [], report.markdown()

    # /init on the set-up repository says so; on the other it points at the same PR.
    issue = gh.open_issue("octo-org/notes", "alice", "init")
    gh.set_permission("octo-org/notes", "alice", "admin")
    gh.comment("octo-org/notes", issue, "alice", "/init")
    [status] = world.wait_final_in("octo-org/notes", issue)
    assert pr["html_url"] in status["body"]
    assert len(gh.pulls("octo-org/notes")) == 1
    issue = gh.open_issue(REPO, "alice", "init")
    gh.comment(REPO, issue, "alice", "/init")
    [status] = world.wait_final(issue)
    assert "nothing to set up" in status["body"]


def test_range_opens_one_pr_per_chapter(world: World) -> None:
    gh = world.github
    world.install()
    issue = gh.open_issue(REPO, "alice", "Plan and write")
    gh.comment(REPO, issue, "alice", "/outline Tide pools, 3 chapters")
    world.wait_final(issue)
    [outline] = gh.pulls(REPO)
    gh.comment(REPO, issue, "alice", "/generate chapter 3")  # before merging the outline
    statuses = world.wait_final(issue, count=2)
    assert (
        "merge that pull request first" in statuses[1]["body"]
        and f"#{outline['number']}" in statuses[1]["body"]
    )
    gh.merge_pull(REPO, outline["number"], "alice")
    gh.comment(REPO, issue, "alice", "/generate chapter 2-3")
    statuses = world.wait_final(issue, count=3)
    assert "2 of 2 pull requests" in statuses[2]["body"], statuses[2]["body"]
    # One branch per chapter file, named after it.
    branches = sorted(p["head"]["ref"] for p in gh.pulls(REPO, state="open"))
    assert branches == [
        "liquidbook/chapter-02-part-2-of-the-shore",
        "liquidbook/chapter-03-part-3-of-the-shore",
    ]


def test_a_toc_entry_cannot_lead_a_job_into_workflows(world: World) -> None:
    gh = world.github
    world.install()
    myst = gh.read_file(REPO, "main", "myst.yml").decode()
    evil = myst.replace(
        "    - file: chapters/01-getting-started.md", "    - file: .github/workflows/evil.md"
    )
    assert evil != myst
    gh.push(
        REPO,
        "main",
        {"myst.yml": evil, ".github/workflows/evil.md": "# evil\n"},
        user="alice",
        message="toc",
    )
    issue = gh.open_issue(REPO, "alice", "evil")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    [status] = world.wait_final(issue)
    assert "❌" in status["body"] and ".github" in status["body"], status["body"]
    assert gh.pulls(REPO) == []
    assert not [b for b in gh.branches(REPO) if b.startswith("liquidbook/")]
