"""The setup PR: a starting book, the book files the app's features need (the quiz widget)
and the build-and-deploy workflow, whichever the repository lacks, in one pull request.

Opened when the app is installed on a repository that lacks any of them, on `/init`, and by
a quiz job that finds the widget missing (`open_setup_pull_request`): the one PR that adds
shared files. This module is the only code that writes under `.github/workflows/`, and what
it writes comes from `actions/` in this package, never from a comment or a model answer. Like every other job it builds the
book the PR leaves (the repository with the new files) before opening it, and the PR says
what the build found.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.book.bundled import WORKFLOW_PATH, skeleton_files, workflow_text
from bot.book.check import BuildReport, check_book
from bot.book.quiz import WIDGET_PATH
from bot.book.tarball import extract_tarball
from bot.book_reader import download_tarball
from bot.jobs.proposal import build_problems, verdict
from bot.jobs.runner import status_comment
from bot.pull_request import (
    BaseCommit,
    BranchEdited,
    KnownPullRequests,
    PullRequest,
    base_commit,
    commit_files,
    fit,
    open_or_update_pull_request,
)
from bot.services import Services
from bot.status import StatusComment

log = logging.getLogger(__name__)

SETUP_BRANCH = "liquidbook/setup"


def book_skeleton(full_name: str, html_url: str) -> dict[str, str]:
    """The starting book with the repository's name filled in."""
    title = full_name.split("/", 1)[1].replace("-", " ").replace("_", " ").strip().title()
    return {
        path: text.replace("My Liquid Book", title or "My Book").replace(
            "# github: https://github.com/OWNER/REPO", f"github: {html_url}"
        )
        for path, text in skeleton_files().items()
    }


def workflow_for(default_branch: str) -> str:
    """The bundled workflow, deploying from this repository's default branch."""
    text = workflow_text()
    if default_branch not in ("main", "master"):
        text = text.replace(
            "branches: [main, master]", f"branches: [main, master, {default_branch!r}]"
        )
    return text


async def existing_paths(gh: GitHub, full_name: str, tree_sha: str) -> set[str]:
    """Every path in the tree (one call, recursive)."""
    owner, _, repo = full_name.partition("/")
    response = await gh.arequest(
        "GET", f"/repos/{owner}/{repo}/git/trees/{tree_sha}", params={"recursive": "1"}
    )
    return {item["path"] for item in response.json().get("tree", [])}


PR_BODY = """\
This sets up **Liquid Book** on this repository.

{what}

After merging, turn on GitHub Pages with the source **GitHub Actions** (Settings → Pages). \
Then talk to the app in any issue:

- `/outline An introduction to … for …, 8 chapters` — proposes the table of contents
- `/generate chapter 1` — writes a chapter
- `/help` — every command

The workflow builds the book strictly on every pull request (a failing build shows as a red \
check) and deploys it to GitHub Pages from the default branch.
"""


# Files of the skeleton a book set up earlier may lack and the app's features need (the quiz
# widget). The setup PR brings the missing ones, and it is the only PR that ever adds them:
# a quiz job that finds the widget missing opens or refreshes this same PR, so no two open
# PRs add the same shared file.
BOOK_FILES = {WIDGET_PATH: "the widget that makes the book's quizzes interactive"}


def setup_files(
    paths: set[str], full_name: str, html_url: str, default_branch: str
) -> tuple[dict[str, str | bytes | None], list[str]]:
    """What the setup PR adds to a repository holding `paths`, and a line for each part."""
    files: dict[str, str | bytes | None] = {}
    parts = []
    if "myst.yml" not in paths:
        files.update(book_skeleton(full_name, html_url))
        parts.append(
            "- a starting book: `myst.yml` (settings and table of contents), an introduction, "
            "a first chapter, and `.github/liquidbook.yml` (the book's settings for the app)"
        )
    else:
        skeleton = skeleton_files()
        for path, why in BOOK_FILES.items():
            if path not in paths:
                files[path] = skeleton[path]
                parts.append(f"- `{path}`: {why}")
    if WORKFLOW_PATH not in paths:
        files[WORKFLOW_PATH] = workflow_for(default_branch)
        parts.append(
            f"- `{WORKFLOW_PATH}`: builds the book on every PR and publishes it to GitHub Pages"
        )
    return files, parts


async def open_setup_pull_request(
    gh: GitHub,
    full_name: str,
    base: BaseCommit,
    paths: set[str],
    html_url: str,
    memory: KnownPullRequests,
    *,
    reply: StatusComment | None = None,
    checkout: Path | None = None,
) -> tuple[PullRequest, BuildReport] | None:
    """Open or refresh the setup PR with what the repository at `base` (holding `paths`)
    lacks; None when it lacks nothing. `checkout`: the repository at `base`, extracted
    already (else it is downloaded for the build check). Raises BranchEdited when someone
    else committed to the setup branch."""
    files, parts = setup_files(paths, full_name, html_url, base.branch)
    if not files:
        return None
    if reply:
        await reply.progress("🔎 Checking the build of the starting book with `jupyter-book`…")
    if checkout is not None:
        texts = {path: text for path, text in files.items() if isinstance(text, str)}
        report = await check_book(checkout, files=texts)
    else:
        report = await _check(gh, full_name, base, files)
    await commit_files(
        gh, full_name, base, SETUP_BRANCH, files, "Set up Liquid Book", memory=memory
    )
    pr = await open_or_update_pull_request(
        gh,
        full_name,
        branch=SETUP_BRANCH,
        base=base.branch,
        title="Set up Liquid Book",
        body=fit(
            PR_BODY.format(what="It adds:\n" + "\n".join(parts)),
            f"\n### Build check\n\n{report.markdown()}\n",
        ),
    )
    log.info("setup PR for %s: #%s", full_name, pr.number)
    return pr, report


async def setup_repository(
    ctx: dict[str, Any], installation_id: int, full_name: str, status: dict[str, Any] | None
) -> str:
    """Open (or refresh) the setup PR where the book or the workflow is missing."""
    services: Services = ctx["services"]
    if services.github is None:
        log.warning("setup of %s skipped: no GitHub App configured", full_name)
        return "skipped: app not configured"
    gh = services.github.installation(installation_id)
    reply = status_comment(gh, full_name, status) if status else None
    try:
        return await _setup(gh, full_name, reply, KnownPullRequests(services.redis, full_name))
    except RequestFailed as exc:
        log.warning("setup of %s: GitHub answered %s", full_name, exc.response.status_code)
        if reply:
            await reply.finish(_refused_message(exc.response.status_code))
        return f"github {exc.response.status_code}"
    except Exception:
        log.exception("setup of %s failed (job %s)", full_name, ctx.get("job_id"))
        if reply:
            await reply.finish(
                "❌ Something went wrong on our side, and nothing was committed. The "
                f"operators have the details (job `{ctx.get('job_id', '?')}`); comment "
                "`/init` again to retry."
            )
        raise


async def _check(
    gh: GitHub, full_name: str, base: BaseCommit, files: dict[str, str | bytes | None]
) -> BuildReport:
    """Build the repository at `base` with the setup files written over it."""
    texts = {path: text for path, text in files.items() if isinstance(text, str)}
    with TemporaryDirectory(prefix="liquidbook-setup-") as tmp:
        data = await download_tarball(gh, full_name, base.sha)
        directory = await asyncio.to_thread(extract_tarball, data, Path(tmp) / "repository")
        return await check_book(directory, files=texts)


def _refused_message(code: int) -> str:
    """What to tell the author when GitHub refused a step of the setup."""
    if code in (403, 404):
        return (
            f"❌ GitHub refused to let the app write the setup pull request ({code}). The "
            "app needs **Contents**, **Pull requests** and **Workflows** write access on this "
            "repository: an organisation owner may have to accept the app's updated "
            "permissions (Settings → GitHub Apps). The default branch is untouched; comment `/init` "
            "again afterwards."
        )
    return (
        f"❌ GitHub answered {code} while opening the setup pull request; the default branch is "
        "untouched. Comment `/init` again in a few minutes."
    )


async def _setup(
    gh: GitHub, full_name: str, reply: StatusComment | None, memory: KnownPullRequests
) -> str:
    owner, _, repo = full_name.partition("/")
    info = (await gh.arequest("GET", f"/repos/{owner}/{repo}")).json()
    default_branch = info["default_branch"]
    try:
        base = await base_commit(gh, full_name, default_branch)
    except RequestFailed as exc:
        if exc.response.status_code in (404, 409):  # an empty repository has no branch yet
            if reply:
                await reply.finish(
                    "This repository has no commits yet. Push a first commit (a README is enough), then comment `/init` again."
                )
            return "empty repository"
        raise
    paths = await existing_paths(gh, full_name, base.tree_sha)
    try:
        opened = await open_setup_pull_request(
            gh, full_name, base, paths, info.get("html_url", ""), memory, reply=reply
        )
    except BranchEdited as exc:
        if reply:
            await reply.finish(exc.markdown())
        log.info("setup of %s left alone: %s", full_name, exc)
        return "branch edited"
    if opened is None:
        if reply:
            await reply.finish(
                "✅ This repository already has a book (`myst.yml`), its book files and the "
                "build workflow: nothing to set up."
            )
        return "already set up"
    pr, report = opened
    if reply:
        if report.clean:
            await reply.finish(f"✅ Opened the setup pull request: {pr.html_url}")
        else:
            await reply.finish(
                f"⚠️ Opened the setup pull request: {pr.html_url} — {verdict(report)}:\n"
                f"{build_problems(report)}"
            )
    return f"pr #{pr.number}"
