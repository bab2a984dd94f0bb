"""Offer a book to every repository an installation just gained, one setup job each.

An installation can bring thousands of repositories in one delivery. Enqueueing a job is a
few Redis round trips, so queueing them all inside the webhook request made its answer
grow with the list (3,000 repositories: 0.6 s of the request, and 30 s once the worker's
own work competed for the same process). The webhook handler queues this one job instead;
it queues the setup jobs, each under the id `setup_job_id` gives it, so a repository is
offered its setup once however many deliveries name it.
"""

from __future__ import annotations

from typing import Any

from bot.services import Services


def setup_job_id(installation_id: int, repository_id: int) -> str:
    """The id of the setup job of one repository of one installation."""
    return f"setup:{installation_id}:{repository_id}"


async def offer_setup(
    ctx: dict[str, Any], installation_id: int, repositories: list[tuple[int, str]]
) -> int:
    """Queue `setup_repository` for each `(repository id, full name)`; how many were new."""
    services: Services = ctx["services"]
    queued = 0
    for repository_id, full_name in repositories:
        if await services.queue.enqueue(
            "setup_repository",
            installation_id,
            full_name,
            None,
            job_id=setup_job_id(installation_id, repository_id),
        ):
            queued += 1
    return queued
