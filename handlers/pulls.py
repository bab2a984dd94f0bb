"""Pull request events: forget a closed or merged PR of the app's, so the next run of its
command opens a new one instead of editing the old (which keeps the description it was
reviewed with), and hints stop pointing at it."""

from __future__ import annotations

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
