"""What the sandbox prints: the app's answers, the pull requests, and where everything is.

At the end the book's default branch is cloned into `<workdir>/book` and checked offline
(the check every job runs); `jupyter-book build --html` there needs the internet, since it
downloads the site theme.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bot.book.check import check_book
from bot.sandbox.answers import STATUS_MARKER
from bot.sandbox.app import AppChild
from bot.sandbox.console import say
from bot.sandbox.world import REPOSITORY


def show_status(comment: dict[str, Any]) -> None:
    """A status comment's final text, without its hidden marker."""
    text = (comment.get("body") or "").replace(STATUS_MARKER, "").strip()
    say(f"\nApp's answer (comment {comment['id']}):")
    say("\n".join(f"  {line}" for line in text.splitlines()))


def show_pull(gh: Any, pull: dict[str, Any]) -> None:
    """Number, title, branch, URL, the files it changes and its build-check verdict."""
    say(f"\nPull request #{pull['number']}: {pull['title']}")
    say(f"  branch: {pull['head']['ref']} → {pull['base']['ref']}")
    say(f"  url:    {pull['html_url']}")
    verdict = build_verdict(pull.get("body") or "")
    if verdict:
        say(f"  build:  {verdict}")
    say("  files:")
    for line in changed_files(gh, pull["base"]["sha"], pull["head"]["sha"]):
        say(f"    {line}")


def changed_files(gh: Any, base: str, head: str) -> list[str]:
    """`A path` / `M path` lines of a PR, read from the stand-in's bare repository."""
    git_dir = str(gh.repo_dir(REPOSITORY))
    completed = run_git("--git-dir", git_dir, "diff", "--name-status", f"{base}...{head}")
    if completed.returncode != 0:
        return [f"(git diff failed: {completed.stderr.strip()})"]
    return [" ".join(line.split("\t")) for line in completed.stdout.splitlines()]


def build_verdict(pull_body: str) -> str:
    """The first line of a PR body's "Build check" section (✅/⚠️/❌ …), if it has one."""
    _, found, rest = pull_body.partition("### Build check")
    if not found:
        return ""
    return next((line.strip() for line in rest.splitlines() if line.strip()), "")


def show_report(workdir: Path, gh: Any, app: AppChild | None, seconds: float) -> None:
    """Clone the default branch and say where everything is on disk."""
    say(f"\nSandbox run took {seconds:.1f} s; everything is in {workdir}")
    try:
        bare = gh.repo_dir(REPOSITORY) if gh is not None else None
    except KeyError:  # stopped before the repository was created
        bare = None
    if bare is None:
        return
    book = workdir / "book"
    shutil.rmtree(book, ignore_errors=True)
    cloned = run_git("clone", "--quiet", str(bare), str(book))
    say("Where everything is:")
    say(f"  sandbox folder:   {workdir}")
    say(f"  bare repository:  {bare}")
    if cloned.returncode == 0:
        say(f"  the book (clone): {book}")
        say(f"    check it offline: liquidbook check {book}")
        say(
            f"    build the site (downloads the theme: needs the internet): cd {book} && jupyter-book build --html"
        )
        if (book / "myst.yml").is_file():
            report = asyncio.run(check_book(book))
            first = report.markdown().splitlines()[0]
            say(f"    offline check now (jupyter-book build --site --strict): {first}")
    else:
        say(f"  (git clone failed: {cloned.stderr.strip()})")
    if app is not None:
        say(f"  the app's log:    {app.log_path}")


def run_git(*args: str) -> subprocess.CompletedProcess[str]:
    """Run git, turning a missing git into a failed result rather than a crash."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except OSError as exc:
        return subprocess.CompletedProcess(["git", *args], 127, "", f"cannot run git: {exc}")
