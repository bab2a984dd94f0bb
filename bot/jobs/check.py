"""The "Liquid Book" check run: the book's strict offline build reported on a commit.

A push to the default branch and a pull request opened, synchronized or reopened queue one
check of the commit (`schedule_check`, from `handlers/pushes.py`). Pushes close together
make one build: each records its sha as the newest of its branch (or PR) in Redis and queues
a job deferred by `LIQUIDBOOK_CHECK_DELAY_SECONDS`; a job whose sha is no longer the newest
exits without a check run (`check_commit`), before building and again before reporting.

A check reads the book in two calls (the tarball of the commit, extracted safely by
`bot.book.tarball`, and nothing else), validates `.github/liquidbook.yml` (the same per-key
messages the commands give) and `myst.yml`, runs `bot.book.check.check_book` (strict,
offline, sandboxed), and reports one check run (`report_check_run`): ⛔️ lines as `failure`
annotations, ⚠️ as `warning`, at their file and line, at most 50 per request (GitHub's
limit; the rest appended with PATCH), and a summary with the counts and the build's tail.
Conclusion: `failure` on errors, `neutral` on warnings only, `success` when clean. The run
is recorded with `bot.build_records.record_check` for the dashboard. A fork's PR is read
through the base repository (GitHub serves its head there) and its pages pass the path guard
(`guard_pages`) before the build: each reference to a file outside the book is removed
(leaving blank lines, so the build's line numbers stay the author's) and annotated as a
failure. At most `LIQUIDBOOK_FORK_BUILDS` fork builds of an installation run at once; a check
that finds no slot after `LIQUIDBOOK_FORK_WAITS` looks ends `neutral`, "not built".

The app's own PRs are reported by the job that wrote them, from the build it ran before
opening the PR (`bot.jobs.proposal.propose`): a check job that finds a check already
recorded on its sha exits without building again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from githubkit import GitHub

from bot.book.build_output import BuildIssue
from bot.book.check import BuildReport, check_book, plural
from bot.book.config import ConfigError, parse_config
from bot.book.guard import Place, UncheckableError, describe, guard, references
from bot.book.model import Book, BookError
from bot.book.paths import CONFIG_PATH
from bot.book.tarball import extract_tarball
from bot.book_reader import download_tarball
from bot.build_records import Check, checks_for, record_check
from bot.services import Services

log = logging.getLogger(__name__)

CHECK_NAME = "Liquid Book"
MAX_ANNOTATIONS_PER_REQUEST = 50  # GitHub's limit on one create or update of a check run
MAX_ANNOTATIONS = 1000  # more are counted in the summary, not sent
MAX_SUMMARY = 60_000  # GitHub's summary limit is 65535 characters
_NEWEST = "liquidbook:check:newest:"
_FORK_BUILDS = "liquidbook:check:forks:"
_FORK_COMMIT = "liquidbook:check:fork-commit:"
_FORK_MEMORY = 30 * 86400  # how long a fork's commit is known as one (for rebuilds)
REBUILD_ACTION = {
    "label": "Rebuild",
    "description": "Build the book at this commit again",
    "identifier": "rebuild",
}
_LOCATED_KEY = re.compile(r"`([A-Za-z_][\w.]*)`")


def check_key(full_name: str, ref: str) -> str:
    return f"{_NEWEST}{full_name}:{ref}"


async def schedule_check(
    queue: Any, redis: Any, request: dict[str, Any], delay: float, *, why: str = ""
) -> bool:
    """Make `request["sha"]` the newest of its branch (or PR) and queue its check, deferred
    by `delay`: of a burst of pushes, only the last one's job finds itself newest. A fork's
    commit is remembered as one, so a rebuild of it is guarded and limited like its first
    check."""
    await redis.set(check_key(request["repository"], request["ref"]), request["sha"], ex=86400)
    if request.get("fork"):
        await redis.set(_fork_key(request["repository"], request["sha"]), 1, ex=_FORK_MEMORY)
    if why:
        request = {**request, "why": why}
    return bool(
        await queue.enqueue(
            "check_commit",
            request,
            job_id=f"check:{request['repository']}:{request['sha']}{why}",
            defer_seconds=delay,
        )
    )


def _fork_key(full_name: str, sha: str) -> str:
    return f"{_FORK_COMMIT}{full_name}:{sha}"


async def _superseded(redis: Any, request: dict[str, Any]) -> bool:
    newest = await redis.get(check_key(request["repository"], request["ref"]))
    if newest is None:
        return False
    return (newest.decode() if isinstance(newest, bytes) else str(newest)) != request["sha"]


async def check_commit(ctx: dict[str, Any], request: dict[str, Any]) -> str:
    """Build the book at `request["sha"]` and report the "Liquid Book" check run on it."""
    services: Services = ctx["services"]
    if services.github is None:
        return "skipped: app not configured"
    full_name, sha = request["repository"], request["sha"]
    if await _superseded(services.redis, request):
        return "superseded"
    if not request.get("again") and sha in await checks_for(services.redis, full_name, [sha]):
        return "already reported"
    if not request.get("fork") and await services.redis.exists(_fork_key(full_name, sha)):
        request = {**request, "fork": True}  # a rebuild of a fork's commit
    if request.get("fork"):
        return await _fork_build(ctx, services, request)
    return await _check(services, request)


async def _fork_build(ctx: dict[str, Any], services: Services, request: dict[str, Any]) -> str:
    """A fork's PR: built like any other (the build is sandboxed whatever the commit), but
    at most `LIQUIDBOOK_FORK_BUILDS` of an installation's at once. One over the limit looks
    again `LIQUIDBOOK_FORK_WAIT_SECONDS` later, at most `LIQUIDBOOK_FORK_WAITS` times; then
    its check run says it was not built, and why, with the "Rebuild" button."""
    settings = services.settings
    key = f"{_FORK_BUILDS}{request['installation_id']}"
    running = await services.redis.incr(key)
    await services.redis.expire(key, settings.liquidbook_job_timeout)
    try:
        if running > settings.liquidbook_fork_builds:
            tries = int(request.get("waits", 0)) + 1
            if tries > settings.liquidbook_fork_waits:
                return await _not_built(services, request, tries - 1)
            await services.queue.enqueue(
                "check_commit",
                {**request, "waits": tries},
                job_id=f"check:{request['repository']}:{request['sha']}:wait{tries}"
                + str(request.get("why", "")),
                defer_seconds=settings.liquidbook_fork_wait_seconds,
            )
            return "waiting for a fork build slot"
        return await _check(services, request)
    finally:
        await services.redis.decr(key)


async def _not_built(services: Services, request: dict[str, Any], waits: int) -> str:
    """The check run of a fork's commit that found no free build slot in time: `neutral`,
    not built, with what to do. Not recorded: a later event on the commit builds it."""
    settings = services.settings
    full_name, sha = request["repository"], request["sha"]
    owner, _, repo = full_name.partition("/")
    gh = services.github.installation(request["installation_id"])  # type: ignore[union-attr]
    waited = waits * settings.liquidbook_fork_wait_seconds
    limit = settings.liquidbook_fork_builds
    summary = (
        f"This commit was not built: {plural(limit, 'build')} of pull requests from forks "
        f"may run at once for this installation, and no slot came free in {waited:g} s "
        f"({plural(waits, 'look')}). Nothing is known about the book at this commit.\n\n"
        "Press **Rebuild** above (or re-run the check) to build it now; a new push to the "
        "pull request is built too."
    )
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    await gh.arequest(
        "POST",
        f"/repos/{owner}/{repo}/check-runs",
        json={
            "name": CHECK_NAME,
            "head_sha": sha,
            "status": "completed",
            "conclusion": "neutral",
            "completed_at": stamp,
            "output": {"title": "Not built: too many fork builds at once", "summary": summary},
            "actions": [REBUILD_ACTION],
        },
    )
    return "not built: no fork build slot"


async def _check(services: Services, request: dict[str, Any]) -> str:
    full_name, sha = request["repository"], request["sha"]
    gh = services.github.installation(request["installation_id"])  # type: ignore[union-attr]
    with TemporaryDirectory(prefix="liquidbook-check-") as tmp:
        data = await download_tarball(gh, full_name, sha)
        directory = await asyncio.to_thread(extract_tarball, data, Path(tmp) / "book")
        # A fork's text is untrusted: the path guard runs over it before the build.
        guarded = await asyncio.to_thread(guard_pages, directory) if request.get("fork") else []
        report, settings_notes, strict = await build_report(directory)
        settings_notes = [*guarded, *settings_notes]
        sources = config_sources(directory)
    if await _superseded(services.redis, request):
        return "superseded"
    check = await report_check_run(
        gh,
        full_name,
        sha,
        report,
        services.redis,
        extra=settings_notes,
        warnings_fail=strict,
        sources=sources,
    )
    return (
        f"{check.conclusion}: {plural(check.errors, 'error')}, {plural(check.warnings, 'warning')}"
    )


async def build_report(directory: Path) -> tuple[BuildReport, list[dict[str, Any]], bool]:
    """The build of the book at `directory`, with the settings file's problems as
    annotations on it (the same messages the commands give), and whether the book's settings
    make warnings fail the check (`fail_on_warnings`)."""
    notes: list[dict[str, Any]] = []
    settings_file = directory / CONFIG_PATH
    text = None
    if settings_file.is_file() and not settings_file.is_symlink():
        text = settings_file.read_text("utf-8", errors="replace")
    strict = False
    try:
        strict = parse_config(text).fail_on_warnings
    except ConfigError as error:
        lines = (text or "").splitlines()
        for problem in error.problems:
            line = _line_of(problem, lines)
            notes.append(_annotation(CONFIG_PATH, line, "failure", problem))
    else:
        try:
            await asyncio.to_thread(Book.from_directory, directory)
        except BookError as error:
            notes.append(_annotation("myst.yml", 1, "failure", str(error)))
    report = await check_book(directory)
    return report, notes, strict


def guard_pages(directory: Path) -> list[dict[str, Any]]:
    """Every page of the book at `directory` with its references to files outside the book
    removed (`bot.book.guard`, as for a model's text), each removal a failure annotation at
    its line: what a fork's PR would copy from the build machine is never built."""
    notes: list[dict[str, Any]] = []
    for page in sorted(directory.rglob("*.md")):
        if page.is_symlink() or not page.is_file():
            continue
        path = page.relative_to(directory).as_posix()
        text = page.read_text("utf-8", errors="replace")
        place = Place(path, directory)
        try:
            found: list[Any] | None = references(text, place)
        except UncheckableError:
            found = None
        if found == []:
            continue
        # Blank lines where text was removed: the build's warnings keep the author's lines.
        page.write_text(guard(text, place, keep_lines=True).text, "utf-8")
        for reference in found or []:
            notes.append(_annotation(path, reference.lines[0] + 1, "failure", describe(reference)))
        if found is None:
            message = "Its references to files could not all be checked: it was not built."
            notes.append(_annotation(path, 1, "failure", message))
    return notes


def _line_of(problem: str, lines: list[str]) -> int:
    """The line of the settings file a problem names (its last key), else line 1."""
    keys = _LOCATED_KEY.findall(problem)
    if not keys:
        return 1
    last = keys[0].split(".")[-1]
    for number, line in enumerate(lines, start=1):
        if re.match(rf"\s*{re.escape(last)}\s*:", line):
            return number
    return 1


def _annotation(path: str, line: int, level: str, message: str, title: str = "") -> dict[str, Any]:
    note: dict[str, Any] = {
        "path": path,
        "start_line": line,
        "end_line": line,
        "annotation_level": level,
        "message": message[:60_000] or "(no message)",
    }
    if title:
        note["title"] = title[:255]
    return note


def config_sources(directory: Path) -> dict[str, list[str]]:
    """The lines of the book's top `myst.yml` as the author wrote it (the build reads a copy
    rewritten without plugins, and MyST names no line for a config problem)."""
    found = {}
    for name in ("myst.yml", "myst.yaml"):
        path = directory / name
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= 1_000_000:
            found[name] = path.read_text("utf-8", errors="replace").splitlines()
    return found


_NAMED = re.compile(r"""[:,]\s*["'`]?([^\s"'`:,]+)["'`]?\s*$""")


def config_line(message: str, lines: list[str]) -> int | None:
    """The line of a config file that a problem without a line names: the key or value at
    the end of MyST's message (`extra key ignored: nosuchkey`, `Table of contents entry
    does not exist: missing.md`), as a key first, then as a value; None when not found."""
    named = _NAMED.search(message.splitlines()[0] if message else "")
    if named is None:
        return None
    word = re.escape(named.group(1))
    for pattern in (rf"^\s*(-\s*)?{word}\s*:", rf"(:|-)\s*[\"']?{word}[\"']?\s*(#.*)?$"):
        for number, line in enumerate(lines, start=1):
            if not line.lstrip().startswith("#") and re.search(pattern, line):
                return number
    return None


def annotations_for(
    report: BuildReport, sources: dict[str, list[str]] | None = None
) -> list[dict[str, Any]]:
    """One annotation per issue the build located in a file; book-wide issues are listed in
    the summary only (an annotation needs a file). An issue of a config file in `sources`
    that has no line is placed at the line its message names."""
    found = []
    for issue in [*report.errors, *report.warnings]:
        if not issue.file:
            continue
        level = "failure" if issue.level == "error" else "warning"
        message = issue.message + (f"\n\n{issue.detail}" if issue.detail else "")
        line = issue.line
        if line is None and issue.file in (sources or {}):
            line = config_line(issue.message, (sources or {})[issue.file])
        found.append(_annotation(issue.file, line or 1, level, message, _title(issue)))
    return found


def _title(issue: BuildIssue) -> str:
    return f"{'⛔️ Error' if issue.level == 'error' else '⚠️ Warning'}: {issue.location()}"


def conclusion_for(report: BuildReport, extra: list[dict[str, Any]], warnings_fail: bool) -> str:
    if not report.ok or report.errors or extra:
        return "failure"
    if report.warnings:
        return "failure" if warnings_fail else "neutral"
    return "success"


def summary_for(report: BuildReport, extra: list[dict[str, Any]]) -> tuple[str, str]:
    """The check run's title and summary: the counts, the issues without a file, the
    settings file's problems and the tail of the build's output."""
    errors, warnings = len(report.errors) + len(extra), len(report.warnings)
    if errors:
        title = f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"
    elif warnings:
        title = f"Builds with {plural(warnings, 'warning')}"
    else:
        title = "The book builds cleanly"
    lines = [
        f"`jupyter-book build --site --strict`: {plural(len(report.errors), 'error')} and "
        f"{plural(warnings, 'warning')} in {report.seconds:.1f} s.",
    ]
    if extra:
        lines += ["", f"`{CONFIG_PATH}`, `myst.yml` or a page cannot be used as written:", ""]
        lines += [f"- ⛔️ `{a['path']}`: {a['message']}" for a in extra]
    bookwide = [i for i in [*report.errors, *report.warnings] if not i.file]
    if bookwide:
        lines += ["", "Problems of the whole book:", ""]
        lines += [f"- {i.markdown()}" for i in bookwide[:30]]
    lines += [f"\n⚠️ {note}" for note in report.notes]
    if report.output_tail:
        fence = "````" if "```" in report.output_tail else "```"
        lines += ["", "Build output (last lines):", "", f"{fence}text", report.output_tail, fence]
    summary = "\n".join(lines)
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 1] + "…"
    return title, summary


async def report_check_run(
    gh: GitHub,
    full_name: str,
    sha: str,
    report: BuildReport,
    redis: Any,
    *,
    extra: list[dict[str, Any]] | None = None,
    warnings_fail: bool = False,
    sources: dict[str, list[str]] | None = None,
) -> Check:
    """Create the completed "Liquid Book" check run on `sha` with its annotations (the
    first 50 with the run, the rest appended 50 at a time) and record it."""
    extra = extra or []
    owner, _, repo = full_name.partition("/")
    notes = [*extra, *annotations_for(report, sources)][:MAX_ANNOTATIONS]
    batches = [
        notes[i : i + MAX_ANNOTATIONS_PER_REQUEST]
        for i in range(0, len(notes), MAX_ANNOTATIONS_PER_REQUEST)
    ] or [[]]
    title, summary = summary_for(report, extra)
    conclusion = conclusion_for(report, extra, warnings_fail)
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    # With more batches to send, the run is completed by the last one: a completed run
    # holds all its annotations.
    done = {"status": "completed", "conclusion": conclusion, "completed_at": stamp}
    created = await gh.arequest(
        "POST",
        f"/repos/{owner}/{repo}/check-runs",
        json={
            "name": CHECK_NAME,
            "head_sha": sha,
            **(done if len(batches) == 1 else {"status": "in_progress"}),
            "output": {"title": title, "summary": summary, "annotations": batches[0]},
            "actions": [REBUILD_ACTION],
        },
    )
    run = created.json()
    for number, batch in enumerate(batches[1:], start=2):
        await gh.arequest(
            "PATCH",
            f"/repos/{owner}/{repo}/check-runs/{run['id']}",
            json={
                **(done if number == len(batches) else {}),
                "output": {"title": title, "summary": summary, "annotations": batch},
            },
        )
    check = Check(
        sha=sha,
        conclusion=conclusion,
        errors=len(report.errors) + len(extra),
        warnings=len(report.warnings),
        html_url=run.get("html_url"),
        at=stamp,
    )
    await record_check(redis, full_name, check)
    return check


async def report_own_check(
    gh: GitHub, full_name: str, sha: str, report: BuildReport, redis: Any
) -> None:
    """The check run of a commit the app wrote, from the build it ran before pushing it (no
    second build). A failure to report is logged: the PR stands, and the check job queued by
    its `pull_request` event builds the commit instead."""
    try:
        await report_check_run(gh, full_name, sha, report, redis)
    except Exception as error:
        log.warning("no check run on %s@%s: %s", full_name, sha[:12], type(error).__name__)
