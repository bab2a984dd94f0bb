"""Pull request events: forget a closed or merged PR of the app's, so the next run of its
command opens a new one instead of editing the old (which keeps the description it was
reviewed with), and hints stop pointing at it; and after a merge into the default branch,
queue the standing glossary PR's update (`bot.jobs.glossary`)."""

from __future__ import annotations

from typing import Any

from bot.jobs.glossary import GLOSSARY_BRANCH, schedule_glossary
from bot.pull_request import BRANCH_PREFIX, KnownPullRequests
from bot.routing import Event, Router
from bot.services import Services

router = Router()


@router.register("pull_request", "closed")
async def pull_request_closed(event: Event, services: Services) -> None:
    pull = event.payload.get("pull_request")
    full_name = event.repository
    if not isinstance(pull, dict) or full_name is None:
        return
    head = pull.get("head")
    if not isinstance(head, dict):
        return
    branch = head.get("ref")
    if pull.get("merged") is True and branch != GLOSSARY_BRANCH:
        await _glossary_after_merge(event, services, pull)
    head_repo = head.get("repo")
    if not isinstance(head_repo, dict):
        return  # the fork was deleted
    if not isinstance(branch, str) or not branch.startswith(BRANCH_PREFIX):
        return
    if head_repo.get("full_name") != full_name:
        return  # a fork's branch that happens to share the name is not ours
    known = KnownPullRequests(services.redis, full_name)
    if await known.get(branch) == pull.get("number"):
        await known.forget(branch)


async def _glossary_after_merge(event: Event, services: Services, pull: dict[str, Any]) -> None:
    """A merge into the default branch may bring chapters with new key terms: queue one
    glossary update (merges close together share it). Any PR may carry chapter text, a
    person's as well as the app's; a run that finds no new term writes nothing."""
    repository = event.payload.get("repository") or {}
    default_branch = repository.get("default_branch") or "main"
    base = pull.get("base")
    if event.installation_id is None or not isinstance(base, dict):
        return
    if base.get("ref") != default_branch or not isinstance(pull.get("number"), int):
        return
    merger = pull.get("merged_by") or pull.get("user") or {}
    request = {
        "installation_id": event.installation_id,
        "repository": event.repository,
        "default_branch": default_branch,
        "merged_pr": pull["number"],
        "issue_number": pull["number"],
        "author": str(merger.get("login") or "ghost"),
        "comment_url": pull.get("html_url") or "",
    }
    delay = services.settings.liquidbook_glossary_delay_seconds
    await schedule_glossary(services.queue, services.redis, request, delay)
