"""Refresh the Book Dashboard after a merge, a push to the default branch and a deploy.

Each handler only schedules the coalesced refresh (`bot.jobs.dashboard.schedule_refresh`);
a merged PR of the app's chapter branches is also remembered, so the chapter shows
"written (merged #n)".
"""

from __future__ import annotations

from typing import Any

from bot.jobs.dashboard import TTL_SECONDS, merged_key, schedule_refresh
from bot.pull_request import BRANCH_PREFIX
from bot.routing import Event, Router
from bot.services import Services

router = Router()


def _default_branch(event: Event) -> str:
    repository = event.payload.get("repository")
    if isinstance(repository, dict) and isinstance(repository.get("default_branch"), str):
        return repository["default_branch"]
    return "main"


async def _refresh(event: Event, services: Services) -> None:
    if event.installation_id is None or event.repository is None:
        return
    await schedule_refresh(
        services, event.installation_id, event.repository, _default_branch(event)
    )


@router.register("pull_request", "closed")
async def merged(event: Event, services: Services) -> None:
    pull = event.payload.get("pull_request")
    if not isinstance(pull, dict) or pull.get("merged") is not True or event.repository is None:
        return
    head = pull.get("head")
    branch = head.get("ref") if isinstance(head, dict) else None
    if (
        isinstance(branch, str)
        and branch.startswith(BRANCH_PREFIX)
        and isinstance(pull.get("number"), int)
    ):
        key = merged_key(event.repository)
        redis: Any = services.redis
        await redis.hset(key, branch, str(pull["number"]))
        await redis.expire(key, TTL_SECONDS)
    # A merge also delivers `push` to the base branch, which refreshes; a merge into
    # another branch does not change the book on the default branch.


@router.register("push")
async def pushed(event: Event, services: Services) -> None:
    if event.payload.get("ref") != f"refs/heads/{_default_branch(event)}":
        return
    await _refresh(event, services)


@router.register("workflow_run", "completed")
async def deployed(event: Event, services: Services) -> None:
    await _refresh(event, services)


@router.register("page_build")
async def page_built(event: Event, services: Services) -> None:
    await _refresh(event, services)
