"""`liquidbook sandbox` runs the whole story offline and leaves a book that builds cleanly.

The sandbox is run as a person runs it, `python -m bot sandbox …` in a child process, with
no model key in its environment, so it must pick the offline stand-in model on its own.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.book.check import check_book
from bot.book.model import Book
from bot.sandbox import (
    STATUS_MARKER,
    LineSpec,
    build_verdict,
    is_final,
    is_success,
    parse_line_spec,
    read_comments,
    real_model,
)
from standins.offline_model import CHAPTER_WARNING
from tests.servers import clean_env

needs_cli = pytest.mark.skipif(
    shutil.which("jupyter-book") is None or shutil.which("git") is None,
    reason="the sandbox needs the jupyter-book CLI and git",
)


def run_sandbox(
    workdir: Path, *args: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """`python -m bot sandbox` with no model settings at all (the offline model is used)."""
    env = clean_env({})
    for name in ("LIQUIDBOOK_MODEL", "LIQUIDBOOK_FALLBACK_MODELS"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", "--workdir", str(workdir), *args],
        cwd=workdir.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (a leftover app or Redis)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(cmdline)
    return found


@needs_cli
def test_sandbox_outlines_and_writes_a_chapter(tmp_path: Path) -> None:
    workdir = tmp_path / "sandbox"
    result = run_sandbox(
        workdir,
        "--comment",
        "/outline A short course on tide pools, 3 chapters",
        "--comment",
        "/generate chapter 2",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "liquidbook:status" not in output, "the hidden marker is not shown"
    assert "offline stand-in" in output and "not AI output" in output
    assert "Pull request #1: Set up Liquid Book" in output
    assert "Pull request #4: Outline: Tide Pools" in output
    assert "branch: liquidbook/outline → main" in output
    assert "Pull request #5: Write chapter 2: " in output
    assert "branch: liquidbook/chapter-" in output
    assert "✅ Outline of 3 chapters" in output and "✅ Chapter 2:" in output
    assert "Merged #5 as author." in output

    book = workdir / "book"
    assert str(book) in output and "bare repository:" in output
    toc = Book.from_directory(book).toc
    assert len(toc) == 3, [c.path for c in toc]
    assert CHAPTER_WARNING in toc[1].body and "\n## " in toc[1].body
    assert toc[0].is_stub and toc[2].is_stub, "only chapter 2 was written"
    # A course: modules with exercises and a quiz slot each, even before they are written.
    assert "```{exercise}" in toc[1].body and "```{solution}" in toc[1].body
    assert all("## Self-check" in chapter.body for chapter in toc)
    assert not list(book.rglob("*.bib"))
    report = asyncio.run(check_book(book))
    assert report.ok and report.clean, report.markdown()

    log = (workdir / "app" / "app.log").read_text("utf-8")
    assert "started embedded Redis at unix://" in log, "the sandbox brings its own Redis"
    assert processes_mentioning(str(workdir)) == [], "every child process was stopped"
    # What to run next: the site build needs the internet; the offline check does not.
    assert "downloads the theme: needs the internet" in output
    assert f"liquidbook check {book}" in output
    assert "offline check now (jupyter-book build --site --strict): ✅" in output


@needs_cli
def test_sandbox_plays_a_reviewer_and_reports_the_run(tmp_path: Path) -> None:
    """A reviewer's `/revise` and `/suggest` on the chapter PR, answered by the offline model
    before the PR is merged; the JSON report lists comments, answers, PRs and paths."""
    workdir = tmp_path / "sandbox"
    report_path = tmp_path / "report.json"
    chapter = "chapters/01-introducing-tide-pools.md"
    result = run_sandbox(
        workdir,
        "--comment",
        "/outline A short book on tide pools, 3 chapters",
        "--comment",
        "/generate chapter 1",
        "--pr-comment",
        "/revise shorter",
        "--review-comment",
        f"{chapter}:12-13 /suggest use the active voice",
        "--report",
        str(report_path),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.index("comments on pull request #5") < output.index("Merged #5 as author.")
    report = json.loads(report_path.read_text("utf-8"))
    kinds = [c["kind"] for c in report["comments"]]
    assert kinds == ["comment", "comment", "pr_comment", "review_comment"]
    revise, suggest = report["comments"][2:]
    assert revise["posted_on"]["pull_request"] == 5 and revise["ok"]
    [answer] = revise["answers"]
    assert "✅ Revised in" in answer and "liquidbook:status" not in answer
    assert suggest["posted_on"] | {"comment_id": 0} == {
        "pull_request": 5,
        "path": chapter,
        "start_line": 12,
        "line": 13,
        "comment_id": 0,
    }
    [reply] = suggest["answers"]
    assert reply.count("```suggestion") == 1 and "Revised offline as asked" in reply
    pulls = {p["number"]: p for p in report["pull_requests"]}
    chapter_pr = pulls[5]
    assert chapter_pr["state"] == "merged" and chapter_pr["branch"].startswith("liquidbook/")
    assert [c["message"] for c in chapter_pr["commits"]] == [
        "Write chapter 1: Introducing Tide Pools",
        f"Revise {chapter}",
    ]
    assert chapter_pr["changed_files"] == [{"status": "M", "path": chapter}]
    # The Book Dashboard opens once the setup PR is merged, before the author's issue.
    assert [i["title"] for i in report["issues"]] == ["📖 Book dashboard", "Write the book"]
    # The chapter's commit has its "Liquid Book" check run, from the build the job ran before
    # opening the PR (annotations listed, none here: the offline chapter builds).
    runs = {r["head_sha"]: r for r in report["check_runs"]}
    written = runs[chapter_pr["commits"][0]["sha"]]
    assert written["name"] == "Liquid Book" and written["status"] == "completed"
    assert isinstance(written["annotations"], list)
    assert report["bare_repository"].endswith("author/book.git")
    book = Path(report["book_clone"])
    # The revision is visible in the merged book: the offline model names the instructions.
    assert "“shorter”" in (book / chapter).read_text("utf-8")
    assert processes_mentioning(str(workdir)) == []


@needs_cli
def test_sandbox_research_cites_its_references_and_a_rerun_changes_nothing(
    tmp_path: Path,
) -> None:
    """The same description as research: sections, a `.bib` per chapter cited by it; the
    same chapter asked for again (offline answers are deterministic) changes nothing."""
    workdir = tmp_path / "sandbox"
    result = run_sandbox(
        workdir,
        "--comment",
        "/outline A short research paper on tide pools, 3 chapters",
        "--comment",
        "/generate chapter 1-2",
        "--comment",
        "/generate chapter 1",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "ℹ️ Nothing changed" in output and "the same as on `main`" in output
    book = workdir / "book"
    toc = Book.from_directory(book).toc
    assert [c.title for c in toc] == ["Background and Related Work", "Methods", "Results"]
    for chapter in toc[:2]:
        bib = (book / chapter.path).with_suffix(".bib").read_text()
        key = bib.split("{", 1)[1].split(",", 1)[0]
        assert f"{{cite}}`{key}`" in chapter.body and "Needs a source" in bib
    assert "```{exercise}" not in toc[0].body and "## Self-check" not in toc[0].body
    report = asyncio.run(check_book(book))
    assert report.ok and report.clean, report.markdown()


@needs_cli
def test_sandbox_fails_when_a_command_fails(tmp_path: Path) -> None:
    """--no-merge leaves the setup PR open, so the repository has no book to write in."""
    workdir = tmp_path / "sandbox"
    result = run_sandbox(workdir, "--no-merge", "--comment", "/generate chapter 5")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Merged" not in output
    assert "❌" in output
    assert processes_mentioning(str(workdir)) == []


@needs_cli
def test_sandbox_seeds_the_books_settings_from_a_file(tmp_path: Path) -> None:
    """An invalid settings file gets the answer an author would get."""
    config = tmp_path / "liquidbook.yml"
    config.write_text("type: novel\nmodles: {}\n", "utf-8")
    workdir = tmp_path / "sandbox"
    result = run_sandbox(
        workdir, "--config", str(config), "--comment", "/generate chapter 1", timeout=180
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Pushed the --config file to .github/liquidbook.yml" in output
    assert "`type`" in output and "novel" in output and "models" in output
    settings = workdir / "book" / ".github" / "liquidbook.yml"
    assert settings.read_text("utf-8") == config.read_text("utf-8")
    assert processes_mentioning(str(workdir)) == []


def test_a_missing_config_file_is_refused(tmp_path: Path) -> None:
    result = run_sandbox(tmp_path / "sandbox", "--config", str(tmp_path / "nope.yml"), timeout=60)
    assert result.returncode == 2
    assert "--config" in result.stderr and "cannot read it" in result.stderr


def test_a_used_workdir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken.txt").write_text("x")
    result = run_sandbox(tmp_path, timeout=60)
    assert result.returncode == 2
    assert "must be an empty folder" in result.stderr


def test_review_comment_specs() -> None:
    assert parse_line_spec("ch/01.md:12-14 /suggest use\nthe active voice") == LineSpec(
        "ch/01.md", 12, 14, "/suggest use\nthe active voice"
    )
    assert parse_line_spec("a.md:3 x") == LineSpec("a.md", 3, 3, "x")
    for bad in ("a.md 3 x", "a.md:0 x", "a.md:5-4 x", "a.md:3", ":3 x"):
        with pytest.raises(ValueError):
            parse_line_spec(bad)
    result = run_sandbox(Path("/nonexistent-sandbox"), "--review-comment", "nope", timeout=60)
    assert result.returncode == 2 and "PATH:LINE" in result.stderr


def test_comments_typed_on_stdin() -> None:
    typed = "/outline Tide pools\nfor children\n\n\n/generate chapter 1\n\nquit\n/usage\n"
    assert list(read_comments(io.StringIO(typed))) == [
        "/outline Tide pools\nfor children",
        "/generate chapter 1",
    ]
    assert list(read_comments(io.StringIO("/help"))) == ["/help"], "EOF posts the last one"


def status(text: str, heading: str = "`/outline` — requested by @author") -> dict[str, object]:
    return {"body": f"{STATUS_MARKER}\n**{heading}**\n\n{text}\n"}


def test_status_comments_are_read_as_the_app_writes_them() -> None:
    assert not is_final(status("⏳ Queued: reading the book as soon as a worker is free."))
    assert not is_final(status("✍️ Writing chapter 2 with `openai:x`…"))
    assert not is_final(status("🔎 Checking the build of chapter 2 (Waves) with `jupyter-book`…"))
    assert not is_final(status("📬 Opening the pull request…"))
    assert is_final(status("✅ Outline of 3 chapters: http://x/pull/3"))
    assert is_success(status("⚠️ Partly done"))
    assert not is_success(status("❌ This book has 1 chapter; there is no chapter 5."))
    assert not is_success(status("**`.github/liquidbook.yml` has 1 problem**, so I stopped"))
    assert is_success(status("| Command | What it does |", heading="`/help` — requested by @a"))
    assert build_verdict("x\n\n### Build check\n\n✅ The book builds cleanly (1.0 s).\n") == (
        "✅ The book builds cleanly (1.0 s)."
    )


def test_a_real_model_needs_its_key() -> None:
    choice, why = real_model({"LIQUIDBOOK_MODEL": "openrouter:anthropic/claude-sonnet-4.5"})
    assert choice is None and "OPENROUTER_API_KEY" in why
    choice, _ = real_model(
        {
            "LIQUIDBOOK_MODEL": "openrouter:anthropic/claude-sonnet-4.5",
            "LIQUIDBOOK_FALLBACK_MODELS": "anthropic:claude-haiku-4-5",
            "OPENROUTER_API_KEY": "k1",
            "ANTHROPIC_API_KEY": "k2",
            "OPENAI_API_KEY": "unrelated",
            "GITHUB_TOKEN": "never passed",
        }
    )
    assert choice is not None
    assert choice.env == {
        "LIQUIDBOOK_MODEL": "openrouter:anthropic/claude-sonnet-4.5",
        "LIQUIDBOOK_FALLBACK_MODELS": "anthropic:claude-haiku-4-5",
        "OPENROUTER_API_KEY": "k1",
        "ANTHROPIC_API_KEY": "k2",
    }
    local, _ = real_model({"LIQUIDBOOK_MODEL": "ollama:llama3.1:8b", "OLLAMA_BASE_URL": "http://h"})
    assert local is not None and local.env["OLLAMA_BASE_URL"] == "http://h"
    assert real_model({})[0] is None
    assert os.environ.get("GITHUB_TOKEN") != "never passed"
