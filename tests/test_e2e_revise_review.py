"""A submitted review whose body holds `/revise`, over HTTP only (the app, the stand-ins, git).

GitHub delivers a `pull_request_review_comment` for each line comment of the review and then
`pull_request_review` submitted. The review is revised by one job keyed by its id, whichever
event comes first (here a line comment that is itself a `/revise` command arrives first and
hands over): one commit touching the three commented places, one answer in the PR's
conversation with what became of each comment, no reply in the threads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.book.check import check_book
from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, scripted_answer

CHAPTER = "chapters/01-getting-started.md"
TEXT_MARK = "The chapter's current text (its body, after the front matter):\n\n"
ASK_MARK = "\n\nThe reviewer's instructions:"


def revising_quoted_lines(request: dict[str, Any]) -> str:
    """The test model: a revision rewrites exactly the lines the instructions quote (as a
    careful model would), anything else as the world's model."""
    prompt = "\n".join(str(m.get("content")) for m in request.get("messages", []))
    if ASK_MARK not in prompt:
        return scripted_answer(request)
    body = prompt.split(TEXT_MARK, 1)[1].split(ASK_MARK, 1)[0]
    asked = prompt.split(ASK_MARK, 1)[1]
    quoted = {m.group(1) for m in re.finditer(r"^   > (.+)$", asked, re.MULTILINE)}
    return "\n".join(f"{t} Now revised." if t in quoted else t for t in body.split("\n"))


@pytest.fixture
def world(tmp_path: Path, redis_url: str, database_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, database_url)
    world.model.default = Behaviour(text=revising_quoted_lines)
    try:
        world.start_app()
        world.install()
        yield world
    finally:
        world.close()


# The database only records usage here: one backend is enough (the others test both).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_revise_review_applies_its_line_comments_as_one_commit(
    world: World, tmp_path: Path
) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Write chapter 1")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_final(issue)
    [pr] = gh.pulls(REPO)
    number, branch = pr["number"], pr["head"]["ref"]
    before_sha = world.git("rev-parse", branch).strip()
    lines = gh.read_file(REPO, branch, CHAPTER).decode().split("\n")
    body_starts = lines.index("---", 1) + 1
    prose = [
        n
        for n, t in enumerate(lines, 1)
        if n > body_starts and t.strip() and t[0].isalpha() and len(t) > 20
    ]
    chosen = [prose[0], prose[len(prose) // 2], prose[-1]]
    assert len(set(chosen)) == 3, prose
    asks = ["/revise use the active voice", "Shorter, please.", "Clearer here."]
    delivery = gh.review(
        REPO,
        number,
        "alice",
        "/revise Tighten the places I marked.",
        [{"path": CHAPTER, "line": n, "body": b} for n, b in zip(chosen, asks, strict=True)],
    )
    assert delivery.status_code == 200

    def final() -> list[dict[str, Any]] | None:
        found = [
            c
            for c in world.status_comments(number)
            if re.search(r"^(✅|⚠️|❌|ℹ️)", c["body"], re.MULTILINE)
        ]
        return found or None

    [status] = world.wait_for(final, what="the review's answer")
    world.github.settle()
    body = status["body"]
    assert "✅ Revised in" in body and "`/revise` review by @\u2060alice" in body, body
    for n, ask in zip(chosen, asks, strict=True):
        assert f"line {n} of `{CHAPTER}`" in body and ask.split()[0] in body
    assert body.count(": changed.") == 3, body

    # One commit on top, touching exactly the three commented lines.
    head = world.git("rev-parse", branch).strip()
    assert world.git("rev-parse", f"{head}^").strip() == before_sha
    after = gh.read_file(REPO, branch, CHAPTER).decode().split("\n")
    differ = [n for n, (a, b) in enumerate(zip(lines, after, strict=True), 1) if a != b]
    assert differ == chosen
    # One answer in the conversation and none in the threads; one revision asked of the model.
    assert len(world.status_comments(number)) == 1
    assert not [c for c in gh.review_comments(REPO, number) if c.get("in_reply_to_id")]
    revisions = [
        c for c in world.model.calls("/chat/completions") if ASK_MARK.strip() in json.dumps(c.body)
    ]
    assert len(revisions) == 1, "one revision for the whole review"
    sent = json.dumps(revisions[0].body, ensure_ascii=False)
    assert "Tighten the places I marked." in sent and "Shorter, please." in sent
    report = await check_book(world.clone(branch, tmp_path / "clone"))
    assert report.errors == [], report.markdown()
