"""`workflow_run` completed: a run of the bundled workflow on the default branch is a deploy
of the book. The job `deploy_finished` (`bot.jobs.publish`) records it in Redis (sha,
conclusion, URL, time: what `/publish` and the dashboard show) and ends a `/publish` that
waits for it. Runs of other workflows, and of this one on other branches, are not deploys.
`page_build` (a Pages site build, built or errored) is recorded as the last deploy too."""

from __future__ import annotations

from bot.book.bundled import WORKFLOW_PATH
from bot.build_records import Deploy, last_deploy, record_deploy
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


@router.register("page_build")
async def page_build(event: Event, services: Services) -> None:
    """A Pages build finished (GitHub sends it for every site build, a branch-built site's
    too): its commit and outcome become the last deploy, keeping the URL already known
    (the event carries only the API address of the build). A build still running
    (`building`, `queued`) changes nothing."""
    build = event.payload.get("build")
    if not isinstance(build, dict) or event.repository is None:
        return
    status, commit = build.get("status"), build.get("commit")
    if status not in ("built", "errored") or not isinstance(commit, str):
        return
    error = build.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    known = await last_deploy(services.redis, event.repository)
    await record_deploy(
        services.redis,
        event.repository,
        Deploy(
            sha=commit[:64],
            conclusion="success" if status == "built" else "failure",
            url=known.url if known is not None else None,
            run_url=known.run_url if known is not None and known.sha == commit else None,
            at=str(build.get("updated_at") or ""),
            failing_step=str(message)[:500] if status == "errored" and message else None,
        ),
    )
