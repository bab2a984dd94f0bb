"""`workflow_run` completed: a run of the bundled workflow on the default branch is a deploy
of the book. The job `deploy_finished` (`bot.jobs.publish`) records it in Redis (sha,
conclusion, URL, time: what `/publish` and the dashboard show) and ends a `/publish` that
waits for it. Runs of other workflows, and of this one on other branches, are not deploys."""

from __future__ import annotations

from bot.book.bundled import WORKFLOW_PATH
from bot.routing import Event, Router
from bot.services import Services

router = Router()


@router.register("workflow_run", "completed")
async def workflow_run_completed(event: Event, services: Services) -> None:
    run = event.payload.get("workflow_run")
    repository = event.payload.get("repository") or {}
    if not isinstance(run, dict) or event.installation_id is None or event.repository is None:
        return
    if run.get("path") != WORKFLOW_PATH or run.get("head_branch") != repository.get(
        "default_branch"
    ):
        return
    if not isinstance(run.get("id"), int) or not isinstance(run.get("head_sha"), str):
        return
    if run.get("event") == "pull_request":
        return
    request = {
        "installation_id": event.installation_id,
        "repository": event.repository,
        "run": {
            "id": run["id"],
            "head_sha": run["head_sha"],
            "conclusion": str(run.get("conclusion") or "unknown"),
            "html_url": run.get("html_url"),
            "updated_at": run.get("updated_at"),
        },
    }
    await services.queue.enqueue(
        "deploy_finished", request, job_id=f"deploy:{event.repository}:{run['id']}"
    )
