"""Pushes and pull requests: queue the "Liquid Book" check of the new head (`bot.jobs.check`).

A push to the default branch is checked; a pull request opened, synchronized or reopened
from a branch of the same repository is checked at its head. A commit the app wrote itself
(its own PR's) was built before it was pushed and is reported by that job: its check job is
queued later, and finds the check already recorded. PRs from forks carry untrusted text:
they are checked only when `LIQUIDBOOK_CHECK_FORKS` is on, and at most
`LIQUIDBOOK_FORK_BUILDS` of an installation's fork builds run at once (`bot.jobs.check`).
"""

from __future__ import annotations

from bot.jobs.check import schedule_check
from bot.pull_request import BRANCH_PREFIX, KnownPullRequests
from bot.routing import Event, Router
from bot.services import Services

router = Router()

ZERO_SHA = "0" * 40


@router.register("push")
async def push(event: Event, services: Services) -> None:
    payload = event.payload
    repository = payload.get("repository") or {}
    default_branch = repository.get("default_branch") or repository.get("master_branch")
    after = payload.get("after")
    if event.installation_id is None or event.repository is None:
        return
    if payload.get("ref") != f"refs/heads/{default_branch}" or payload.get("deleted"):
        return
    if not isinstance(after, str) or after == ZERO_SHA:
        return
    request = {
        "installation_id": event.installation_id,
        "repository": event.repository,
        "sha": after,
        "ref": f"branch:{default_branch}",
    }
    delay = services.settings.liquidbook_check_delay_seconds
    await schedule_check(services.queue, services.redis, request, delay)


@router.register("pull_request", "opened")
@router.register("pull_request", "synchronize")
@router.register("pull_request", "reopened")
async def pull_request_changed(event: Event, services: Services) -> None:
    pull = event.payload.get("pull_request")
    if not isinstance(pull, dict) or event.installation_id is None or event.repository is None:
        return
    head = pull.get("head")
    head = head if isinstance(head, dict) else {}
    sha, branch = head.get("sha"), head.get("ref")
    head_repo = head.get("repo")
    head_repo = head_repo if isinstance(head_repo, dict) else {}
    if not isinstance(sha, str) or not isinstance(branch, str):
        return
    fork = str(head_repo.get("full_name")).lower() != event.repository.lower()
    settings = services.settings
    if fork and not settings.liquidbook_check_forks:
        return
    delay: float = settings.liquidbook_check_delay_seconds
    if not fork and branch.startswith(BRANCH_PREFIX):
        written = await KnownPullRequests(services.redis, event.repository).written(branch)
        if sha in written:
            # The job that wrote it reports its check first; this check job then finds it
            # recorded and builds nothing.
            delay += settings.liquidbook_own_check_grace_seconds
    request = {
        "installation_id": event.installation_id,
        "repository": event.repository,
        "sha": sha,
        "ref": f"pull:{pull.get('number')}",
        "fork": fork,
    }
    await schedule_check(services.queue, services.redis, request, delay)
