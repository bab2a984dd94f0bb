"""`/generate quiz chapter N` over HTTP: the app, the stand-ins, git and the real build.

One world for the whole story: a quiz with no correct answer (twice) is refused with ❌ and
nothing committed; an invalid first answer corrected on the model's second try is proposed
as `quizzes/<stem>.json` plus the chapter's Self-check section, and the book builds cleanly
(✅); a re-run updates that same PR.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.book.quiz import parse_quiz
from bot.db import Database, Usage
from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, scripted_answer

CHAPTER = "chapters/01-getting-started.md"
WIDGET = "_static/liquidbook-quiz.mjs"
QUIZ_FILE = "quizzes/01-getting-started.json"
GOOD = [
    {
        "type": "multiple_choice",
        "question": "Where do <em>tide pools</em> form?<script>alert(1)</script>",
        "answers": [
            {
                "answer": "On rocky shores",
                "correct": True,
                "feedback": "Yes: the rocks hold water.",
            },
            {"answer": "In deserts", "correct": False, "feedback": "No sea there."},
        ],
    },
    {
        "type": "numeric",
        "question": "How many high tides in a day?",
        "precision": 1,
        "answers": [
            {"type": "value", "value": 2, "correct": True, "feedback": "Twice a day."},
            {"type": "default", "feedback": "Count again."},
        ],
    },
]
NO_CORRECT = [
    {
        "type": "multiple_choice",
        "question": "Which?",
        "answers": [
            {"answer": "A", "correct": False, "feedback": ""},
            {"answer": "B", "correct": False, "feedback": ""},
        ],
    }
]


class Script:
    """The quiz answers the model gives, in order; then the last one again."""

    def __init__(self) -> None:
        self.quizzes: list[Any] = []
        self.prompts: list[str] = []

    def answer(self, request: dict[str, Any]) -> str:
        prompt = "\n".join(str(m.get("content")) for m in request.get("messages", []))
        if "Write a self-check quiz for a chapter" not in prompt:
            return scripted_answer(request)
        self.prompts.append(prompt)
        quiz = self.quizzes.pop(0) if len(self.quizzes) > 1 else self.quizzes[0]
        return "```json\n" + json.dumps(quiz) + "\n```"


@pytest.fixture
def world(tmp_path: Path, redis_url: str, database_url: str) -> Iterator[tuple[World, Script]]:
    world = World(tmp_path, redis_url, database_url)
    script = Script()
    world.model.default = Behaviour(text=script.answer)
    try:
        world.start_app()
        world.install()
        yield world, script
    finally:
        world.close()


# On SQLite (the figure test reads its usage rows from PostgreSQL).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_quiz_refused_then_proposed_then_updated(world: tuple[World, Script]) -> None:
    w, script = world
    gh = w.github
    # A book set up before quizzes existed: no widget module.
    gh.push(REPO, "main", {WIDGET: None}, user="alice", message="An older book")
    issue = gh.open_issue(REPO, "alice", "Quizzes")

    script.quizzes = [NO_CORRECT]
    gh.comment(REPO, issue, "alice", "/generate quiz chapter 1")
    [final] = w.wait_final(issue)
    assert "❌" in final["body"] and "nothing was committed" in final["body"]
    assert "at least one correct answer" in final["body"]
    assert len(script.prompts) == 2  # the first answer, then once back with its problems
    assert "at least one correct answer" in script.prompts[1]
    assert gh.pulls(REPO) == []
    assert gh.read_file(REPO, "main", QUIZ_FILE) is None

    script.quizzes, script.prompts = [NO_CORRECT, GOOD], []
    gh.comment(REPO, issue, "alice", "/generate quiz chapter 1\nTwo questions, one numeric")
    finals = w.wait_final(issue, count=2)
    body = finals[-1]["body"]
    assert "✅" in body and "⚠️" not in body, body
    # The shared widget module comes in the setup PR (the one PR that adds the files a book
    # set up earlier lacks); the quiz PR leaves it alone.
    [files_pr] = [p for p in gh.pulls(REPO) if p["head"]["ref"] == "liquidbook/setup"]
    assert set(w.git("diff", "--name-only", "main...liquidbook/setup").split()) == {WIDGET}
    assert "the widget that makes the book's quizzes interactive" in files_pr["body"]
    [pr] = [p for p in gh.pulls(REPO) if p["number"] != files_pr["number"]]
    branch = pr["head"]["ref"]
    assert branch == "liquidbook/quiz-01-getting-started"
    assert pr["html_url"] in body
    assert "Two questions, one numeric" in script.prompts[0]
    quiz_text = gh.read_file(REPO, branch, QUIZ_FILE).decode()
    quiz = parse_quiz(quiz_text)  # what was committed is a valid JupyterQuiz file
    assert len(quiz.questions) == 2 and "<script>" not in quiz_text and "alert" not in quiz_text
    assert "<em>tide pools</em>" in quiz_text
    chapter = gh.read_file(REPO, branch, CHAPTER).decode()
    assert chapter.count("## Self-check") == 1
    assert ":::{exercise}" in chapter and ":::{solution} getting-started-quiz-2" in chapter
    assert "Yes: the rocks hold water." in chapter
    assert "was invalid" in pr["body"] and f"#{files_pr['number']}" in pr["body"]
    assert "{anywidget}" not in chapter  # static exercises until the widget is in the book
    files = set(w.git("diff", "--name-only", f"main...{branch}").split())
    assert files == {CHAPTER, QUIZ_FILE}

    # Asked again before the setup PR is merged: the same setup PR, never a second one.
    script.quizzes, script.prompts = [GOOD], []
    gh.comment(REPO, issue, "alice", "/generate quiz chapter 1")
    finals = w.wait_final(issue, count=3)
    assert "✅" in finals[-1]["body"], finals[-1]["body"]
    assert sorted(p["head"]["ref"] for p in gh.pulls(REPO, state="open")) == [
        "liquidbook/quiz-01-getting-started",
        "liquidbook/setup",
    ]

    gh.merge_pull(REPO, files_pr["number"], "alice")
    script.quizzes, script.prompts = [GOOD[:1]], []
    calls = len(gh.requests)
    gh.comment(REPO, issue, "alice", "/generate quiz chapter 1")
    finals = w.wait_final(issue, count=4)
    w.github.settle()
    job = w.job_calls(calls)
    print(f"GitHub calls for a quiz re-run: {len(job)}: {job}")
    # Book (branch, tarball), PR read (it stands for the branch check), tree, commit, ref,
    # PR edit, the PR's check run, the final status.
    assert len(job) <= 9, job
    assert "✅" in finals[-1]["body"], finals[-1]["body"]
    assert len(gh.pulls(REPO, state="open")) == 1
    chapter = gh.read_file(REPO, branch, CHAPTER).decode()
    assert "::::{anywidget} ../_static/liquidbook-quiz.mjs" in chapter
    assert len(parse_quiz(gh.read_file(REPO, branch, QUIZ_FILE).decode()).questions) == 1
    assert w.git("show", f"{branch}:{CHAPTER}").count(":::{exercise}") == 1

    # A reviewer's commit on the quiz branch is never replaced: the re-run stops and says
    # what to do, in the chapter's own line.
    edited = gh.push(REPO, branch, {QUIZ_FILE: json.dumps(GOOD)}, user="bob", message="Fix")
    gh.comment(REPO, issue, "alice", "/generate quiz chapter 1")
    finals = w.wait_final(issue, count=5)
    body = finals[-1]["body"]
    assert "⚠️ Chapter 1:" in body and "Merge or close its quiz pull request and delete " in body
    assert "`liquidbook/quiz-01-getting-started`" in body and "Traceback" not in body, body
    assert w.git("rev-parse", branch).strip() == edited

    # Every model call of the quiz jobs (the refused answers too) is a usage row of the
    # command `quiz`, in the app's database.
    async def usage() -> list[tuple[str | None, str, str]]:
        db = Database(w.database_url)
        try:
            async with db.session() as session:
                rows = (await session.execute(select(Usage).order_by(Usage.id))).scalars()
                return [(r.command, r.model, r.outcome) for r in rows]
        finally:
            await db.close()

    rows = asyncio.run(usage())
    assert {command for command, _, _ in rows} == {"quiz"}, rows
    # ❌ (two answers), ✅ after a correction (two), then three single answers.
    assert len(rows) == 7 and {model for _, model, _ in rows} == {"gpt-4.1"}, rows
