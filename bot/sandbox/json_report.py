"""`--report FILE`: what a sandbox run did, as JSON a script can check.

Each comment with where it was posted and the app's final answers (hidden markers removed);
each pull request with number, title, branch, state (`open`, `closed`, `merged`), commits
and changed files; each issue with number, title and body; each check run with its
conclusion and annotations; the bare repository's path and the book clone's path; the Book
Dashboard issue (number, title, body; null when the app opened none). Later
capabilities add their own keys beside these.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.sandbox.answers import STATUS_MARKER
from bot.sandbox.report import changed_files, run_git
from bot.sandbox.ticks import dashboard_entry
from bot.sandbox.world import REPOSITORY


def answer_text(comment: dict[str, Any]) -> str:
    """A comment of the app as a person reads it: without the hidden status marker."""
    return (comment.get("body") or "").replace(STATUS_MARKER, "").strip()


def pull_commits(gh: Any, base: str, head: str) -> list[dict[str, str]]:
    """The commits a pull request brings, oldest first (sha and first line of the message)."""
    git_dir = str(gh.repo_dir(REPOSITORY))
    done = run_git("--git-dir", git_dir, "log", "--reverse", "--format=%H%x09%s", f"{base}..{head}")
    if done.returncode != 0:
        return []
    commits = []
    for line in done.stdout.splitlines():
        sha, _, subject = line.partition("\t")
        commits.append({"sha": sha, "message": subject})
    return commits


def pull_entry(gh: Any, pull: dict[str, Any]) -> dict[str, Any]:
    base, head = pull["base"]["sha"], pull["head"]["sha"]
    state = "merged" if pull.get("merged_at") else pull["state"]
    return {
        "number": pull["number"],
        "title": pull["title"],
        "branch": pull["head"]["ref"],
        "base": pull["base"]["ref"],
        "state": state,
        "url": pull.get("html_url"),
        "commits": pull_commits(gh, base, head),
        "changed_files": [
            {"status": line.split(" ", 1)[0], "path": line.split(" ", 1)[-1]}
            for line in changed_files(gh, base, head)
        ],
    }


def check_run_entry(gh: Any, run: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": run.get("name"),
        "head_sha": run.get("head_sha"),
        "status": run.get("status"),
        "conclusion": run.get("conclusion"),
        "title": (run.get("output") or {}).get("title"),
        "annotations": [
            {
                "path": a["path"],
                "line": a["start_line"],
                "level": a["annotation_level"],
                "message": a["message"],
            }
            for a in gh.check_run_annotations(run["id"])
        ],
    }


def build_report(
    gh: Any, comments: list[dict[str, Any]], workdir: Path, book: Path | None
) -> dict[str, Any]:
    """The whole report of a run, from the stand-in's records and the sandbox's own."""
    return {
        "comments": comments,
        "pull_requests": [pull_entry(gh, p) for p in gh.pulls(REPOSITORY)],
        "issues": [
            {"number": i["number"], "title": i["title"], "body": i.get("body") or ""}
            for i in gh.issues(REPOSITORY)
        ],
        "check_runs": [check_run_entry(gh, r) for r in gh.check_runs(REPOSITORY)],
        "workdir": str(workdir),
        "bare_repository": str(gh.repo_dir(REPOSITORY)),
        "book_clone": str(book) if book is not None else None,
        "dashboard": dashboard_entry(gh),
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
