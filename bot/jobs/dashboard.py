"""Keep the Book Dashboard issue current: one coalesced refresh job per repository.

`schedule_refresh` is called after every job, merge, push to the default branch, deploy and
tick. The first call marks the repository pending (`SET NX`) and queues one refresh
`LIQUIDBOOK_DASHBOARD_DELAY_SECONDS` later; calls while it waits change nothing, so a burst of
events makes one edit that shows the last state. The refresh clears the mark when it starts:
an event during a refresh queues the next one, and nothing is missed.

A refresh makes four GitHub calls whatever the size of the book: the default branch's head,
its tarball (chapter states, quiz and figure counts), the issue (re-read just before writing:
GitHub has no conditional update, so a tick the app has not acted on yet is kept), and the
edit, skipped when the body would not change. Chapter PRs and their builds come from the
app's own records in Redis (`KnownPullRequests`, `bot.build_records`).

The issue's number is kept in Redis. When that record is missing (the first refresh, or
Redis lost it), one more call lists the repository's issues with the dashboard's label
(`find_dashboard`) and only a repository without one gets a new issue, opened with that label;
the refresh runs under the repository's lock, so concurrent refreshes never open two.

Ticks: a box the app acted on is "running" (a count of its jobs) until its jobs end, then
"done": the next refresh shows it unticked. A tick not in either set is shown as the person
left it.
"""

from __future__ import annotations

import logging
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from githubkit.exception import RequestFailed

from bot.book import dashboard as render_dashboard
from bot.book.config import ConfigError
from bot.book.model import BookError
from bot.book.tarball import TarballError
from bot.book_reader import checkout
from bot.build_records import checks_for, last_deploy
from bot.jobs.proposal import budget_for
from bot.pull_request import KnownPullRequests
from bot.services import Services

log = logging.getLogger(__name__)

_PREFIX = "liquidbook:dashboard:"
TTL_SECONDS = 90 * 24 * 3600


def issue_key(full_name: str) -> str:
    return f"{_PREFIX}issue:{full_name}"


def running_key(full_name: str) -> str:
    return f"{_PREFIX}running:{full_name}"


def done_key(full_name: str) -> str:
    return f"{_PREFIX}done:{full_name}"


def merged_key(full_name: str) -> str:
    return f"{_PREFIX}merged:{full_name}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def schedule_refresh(
    services: Services, installation_id: int, full_name: str, default_branch: str
) -> bool:
    """Queue the repository's dashboard refresh unless one is already waiting."""
    delay = services.settings.liquidbook_dashboard_delay_seconds
    pending = f"{_PREFIX}pending:{full_name}"
    if not await services.redis.set(pending, "1", nx=True, ex=int(delay) + 600):
        return False
    return bool(
        await services.queue.enqueue(
            "refresh_dashboard",
            {
                "installation_id": installation_id,
                "repository": full_name,
                "default_branch": default_branch,
            },
            job_id=f"dashboard:{full_name}:{time.time_ns()}",
            defer_seconds=delay,
        )
    )


async def box_started(redis: Any, full_name: str, box: str, jobs: int) -> None:
    """A tick was acted on: `jobs` jobs run for it (0: answered at once, untick now)."""
    if jobs > 0:
        await redis.hincrby(running_key(full_name), box, jobs)
        await redis.expire(running_key(full_name), TTL_SECONDS)
    else:
        await redis.sadd(done_key(full_name), box)
        await redis.expire(done_key(full_name), TTL_SECONDS)


async def box_finished(redis: Any, full_name: str, box: str) -> None:
    """One job of a ticked box ended; the box is unticked when its last one has."""
    left = await redis.hincrby(running_key(full_name), box, -1)
    if left <= 0:
        await redis.hdel(running_key(full_name), box)
        await redis.sadd(done_key(full_name), box)
        await redis.expire(done_key(full_name), TTL_SECONDS)


async def after_job(services: Services, request: dict[str, Any]) -> None:
    """Called when a command job ends, whatever its outcome: untick its box, refresh."""
    try:
        box = request.get("dashboard_box")
        if isinstance(box, str):
            await box_finished(services.redis, request["repository"], box)
        await schedule_refresh(
            services,
            request["installation_id"],
            request["repository"],
            request.get("default_branch") or "main",
        )
    except Exception:
        log.exception("dashboard: could not schedule a refresh for %s", request.get("repository"))


async def refresh_dashboard(ctx: dict[str, Any], request: dict[str, Any]) -> str:
    """Regenerate the dashboard issue's body (opening the issue for a book that has none)."""
    services: Services = ctx["services"]
    if services.github is None:
        return "skipped: app not configured"
    full_name = request["repository"]
    await services.redis.delete(f"{_PREFIX}pending:{full_name}")
    gh = services.github.installation(request["installation_id"])
    async with services.redis.lock(f"{_PREFIX}lock:{full_name}", timeout=300, blocking_timeout=300):
        with tempfile.TemporaryDirectory(prefix="liquidbook-dashboard-") as scratch:
            try:
                co = await checkout(gh, full_name, request["default_branch"], Path(scratch))
            except (BookError, ConfigError, TarballError) as exc:
                log.info("dashboard: %s holds no readable book (%s)", full_name, exc)
                return "not a book"
            except RequestFailed as exc:
                if exc.response.status_code == 404:
                    return "no default branch"
                raise
            state = await gather_state(services, request, co.book)
        return await write(services, gh, full_name, state)


async def gather_state(
    services: Services, request: dict[str, Any], book: Any
) -> render_dashboard.DashboardState:
    """The dashboard's content from the checked-out book and the app's records."""
    from bot.book.outline import _chapters_off_the_toc
    from bot.jobs.generate import chapter_branch

    full_name = request["repository"]
    redis: Any = services.redis
    directory: Path = book.directory
    known = KnownPullRequests(redis, full_name)
    branches = [chapter_branch(chapter) for chapter in book.toc]
    numbers: list[Any] = []
    shas: list[Any] = []
    if branches:
        async with redis.pipeline(transaction=False) as pipe:
            for branch in branches:
                pipe.get(known.prefix + branch)
            for branch in branches:
                pipe.smembers(known.sha_prefix + branch)
            results = await pipe.execute()
        numbers, shas = results[: len(branches)], results[len(branches) :]
    merged = {
        _text(k): int(_text(v)) for k, v in (await redis.hgetall(merged_key(full_name))).items()
    }
    all_shas = [_text(s) for group in shas for s in group]
    checks = await checks_for(redis, full_name, all_shas)
    chapters = []
    for index, chapter in enumerate(book.toc):
        stem = Path(chapter.path).stem
        quizzes = 1 if (directory / "quizzes" / f"{stem}.json").is_file() else 0
        images = directory / "images" / stem
        figures = sum(1 for f in images.glob("*.webp")) if images.is_dir() else 0
        number = numbers[index] if index < len(numbers) else None
        pr_check = None
        if number is not None:
            found = [checks[_text(s)] for s in shas[index] if _text(s) in checks]
            if found:
                latest = max(found, key=lambda c: c.at)
                pr_check = (
                    f"{latest.conclusion} ({latest.errors} errors, {latest.warnings} warnings)"
                )
        chapters.append(
            render_dashboard.ChapterState(
                number=chapter.number,
                title=chapter.title,
                path=chapter.path,
                stub=bool(chapter.is_stub),
                pr_number=int(_text(number)) if number is not None else None,
                pr_check=pr_check,
                merged_pr=merged.get(branches[index]),
                quizzes=quizzes,
                figures=figures,
                last_check=pr_check,
            )
        )
    deploy = await last_deploy(redis, full_name)
    deploy_text = None
    if deploy is not None:
        where = f" [run]({deploy.run_url})" if deploy.run_url else ""
        failing = f", failing step: {deploy.failing_step}" if deploy.failing_step else ""
        deploy_text = f"{deploy.conclusion} at {deploy.at} ({deploy.sha[:7]}{failing}){where}"
    budget = budget_for(book.config, services.settings)
    spent = Decimal(0)
    if services.db is not None:
        from bot.usage import month_spend

        try:
            spent = await month_spend(services.db, request["installation_id"])
        except Exception:
            log.exception("dashboard: could not read this month's spend")
    return render_dashboard.DashboardState(
        full_name=full_name,
        default_branch=request["default_branch"],
        title=book.title,
        book_type=str(book.config.type),
        chapters=chapters,
        disabled=[c.path for c in _chapters_off_the_toc(book)],
        live_url=deploy.url if deploy else None,
        deploy=deploy_text,
        spent_usd=f"${spent:.2f}",
        budget_usd=f"${budget:.2f}",
        server_url=services.settings.github_web_url.rstrip("/"),
    )


async def find_dashboard(gh: Any, full_name: str) -> int | None:
    """The number of the repository's dashboard issue on GitHub, or None (one call): the
    oldest issue with the dashboard's label that a bot opened and that holds the marker (a
    label anyone may add is not enough). Closed ones count: a closed dashboard is edited,
    never doubled."""
    owner, _, repo = full_name.partition("/")
    response = await gh.arequest(
        "GET",
        f"/repos/{owner}/{repo}/issues",
        params={
            "labels": render_dashboard.LABEL,
            "state": "all",
            "sort": "created",
            "direction": "asc",
            "per_page": 100,
        },
    )
    for issue in response.json():
        if not isinstance(issue, dict) or issue.get("pull_request"):
            continue
        user = issue.get("user")
        if (
            isinstance(user, dict)
            and user.get("type") == "Bot"
            and render_dashboard.MARKER in (issue.get("body") or "")
        ):
            return int(issue["number"])
    return None


async def write(
    services: Services, gh: Any, full_name: str, state: render_dashboard.DashboardState
) -> str:
    """Open the dashboard issue, or edit its body when it would change."""
    owner, _, repo = full_name.partition("/")
    redis: Any = services.redis
    number = await redis.get(issue_key(full_name))
    running = {_text(k) for k in await redis.hkeys(running_key(full_name))}
    done = {_text(k) for k in await redis.smembers(done_key(full_name))}
    if number is None:
        # Redis lost its record (flushed, restored, another server): the issue is looked up
        # on GitHub before one is opened. The refresh holds the repository's lock, so two
        # refreshes never both open one.
        found = await find_dashboard(gh, full_name)
        if found is None:
            body = render_dashboard.render(state, frozenset(running))
            response = await gh.arequest(
                "POST",
                f"/repos/{owner}/{repo}/issues",
                json={
                    "title": render_dashboard.TITLE,
                    "body": body,
                    "labels": [render_dashboard.LABEL],
                },
            )
            await redis.set(issue_key(full_name), str(response.json()["number"]), ex=TTL_SECONDS)
            return "opened"
        await redis.set(issue_key(full_name), str(found), ex=TTL_SECONDS)
        number = found
    number = int(_text(number))
    try:
        current = (await gh.arequest("GET", f"/repos/{owner}/{repo}/issues/{number}")).json()
    except RequestFailed as exc:
        if exc.response.status_code in (404, 410):
            await redis.delete(issue_key(full_name))
            return await write(services, gh, full_name, state)
        raise
    current_body = current.get("body") or ""
    ticked = render_dashboard.ticked_boxes(current_body)
    shown = frozenset(running | (ticked - done))
    body = render_dashboard.render(state, shown)
    await redis.expire(issue_key(full_name), TTL_SECONDS)
    if body == current_body:
        if done:
            await redis.srem(done_key(full_name), *done)
        return "unchanged"
    await gh.arequest("PATCH", f"/repos/{owner}/{repo}/issues/{number}", json={"body": body})
    if done:
        await redis.srem(done_key(full_name), *done)
    return "edited"
