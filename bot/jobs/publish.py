"""`/publish`: make the book live on GitHub Pages and answer with its address.

The app reads the Pages site (`GET /repos/{o}/{r}/pages`, the `pages: read` permission):

- Pages off, or not deployed by Actions: the app never asks for the Administration
  permission creating a site needs. The status comment names the one setting to change
  (Settings → Pages → Source: GitHub Actions, with its link); switching Pages on sends no
  event, so the job looks again every `LIQUIDBOOK_PAGES_POLL_SECONDS` for at most
  `LIQUIDBOOK_PAGES_WAIT_SECONDS` (each look a job of its own, deferred: no worker waits),
  then finishes the publish by itself, or says to run `/publish` again.
- Pages on with `build_type: workflow`: when the last deploy (`bot.build_records`) is of the
  default branch's head, the answer is the address at once. Otherwise the bundled workflow is
  dispatched on the default branch (`actions: write`) and the publish waits in Redis for its
  `workflow_run` completed event (`deploy_finished`), which ends the status comment with the
  live URL, the deployed commit and the run's link, or the run's failure.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.book.bundled import WORKFLOW_PATH
from bot.build_records import Deploy, last_deploy, record_deploy
from bot.jobs.runner import command_job, status_comment
from bot.pull_request import base_commit
from bot.services import Services
from bot.status import StatusComment

log = logging.getLogger(__name__)

_PENDING = "liquidbook:publish:pending:"
PENDING_SECONDS = 3600  # a dispatched deploy that never reports is forgotten after this


def _split(full_name: str) -> tuple[str, str]:
    owner, _, repo = full_name.partition("/")
    return owner, repo


async def read_pages(gh: GitHub, full_name: str) -> dict[str, Any] | None:
    """The Pages site, or None when Pages is off (GitHub answers 404)."""
    owner, repo = _split(full_name)
    try:
        response = await gh.arequest("GET", f"/repos/{owner}/{repo}/pages")
    except RequestFailed as error:
        if error.response.status_code == 404:
            return None
        raise
    data = response.json()
    return data if isinstance(data, dict) else None


def settings_link(web_url: str, full_name: str) -> str:
    return f"{web_url.rstrip('/')}/{full_name}/settings/pages"


def turn_on_text(link: str, pages: dict[str, Any] | None, minutes: int) -> str:
    now = "is off" if pages is None else "publishes from a branch, not from GitHub Actions"
    return (
        f"⚙️ GitHub Pages {now} for this repository. One setting makes the book live: "
        f"**Settings → Pages → Build and deployment → Source: GitHub Actions** ({link}). "
        f"I'll look again every little while for {minutes} minutes and publish as soon as it "
        "is on; after that, comment `/publish` again."
    )


def live_text(deploy: Deploy, default_branch: str) -> str:
    run = f" ([deploy run]({deploy.run_url}))" if deploy.run_url else ""
    return (
        f"✅ The book is live at {deploy.url}\n\nDeployed commit `{deploy.sha[:12]}` of "
        f"`{default_branch}`{run}."
    )


def failed_text(deploy: Deploy) -> str:
    step = f" at **{deploy.failing_step}**" if deploy.failing_step else ""
    run = f" ([run]({deploy.run_url}))" if deploy.run_url else ""
    return (
        f"❌ The deploy of commit `{deploy.sha[:12]}` ended with `{deploy.conclusion}`{step}"
        f"{run}. Its log says why; fix the book and comment `/publish` again."
    )


async def publish_book(
    ctx: dict[str, Any],
    request: dict[str, Any],
    payload: dict[str, Any],
    status_ref: dict[str, Any],
) -> str:
    """Publish the book, or say the one setting that lets it."""

    async def body(services: Services, gh: GitHub, status: StatusComment) -> str:
        return await _publish(ctx, services, gh, status, request, payload, status_ref)

    return await command_job(ctx, request, status_ref, "publish", body)


async def _publish(
    ctx: dict[str, Any],
    services: Services,
    gh: GitHub,
    status: StatusComment,
    request: dict[str, Any],
    payload: dict[str, Any],
    status_ref: dict[str, Any],
) -> str:
    settings = services.settings
    full_name, branch = request["repository"], request["default_branch"]
    attempt = int(payload.get("attempt", 0))
    pages = await read_pages(gh, full_name)
    if pages is None or pages.get("build_type") != "workflow":
        wait, every = settings.liquidbook_pages_wait_seconds, settings.liquidbook_pages_poll_seconds
        link = settings_link(settings.github_web_url, full_name)
        if attempt == 0:
            await status.finish(turn_on_text(link, pages, max(1, round(wait / 60))))
        if (attempt + 1) * every > wait:
            await status.finish(
                f"⚠️ GitHub Pages is still not deployed by GitHub Actions, so nothing was "
                f"published. Set **Settings → Pages → Source: GitHub Actions** ({link}), then "
                "comment `/publish` again."
            )
            return "pages off"
        await services.queue.enqueue(
            "publish_book",
            request,
            {**payload, "attempt": attempt + 1},
            status_ref,
            job_id=f"publish:{full_name}:{request['comment_id']}:{attempt + 1}",
            defer_seconds=every,
        )
        return "waiting for pages"
    head = await base_commit(gh, full_name, branch)
    url = str(pages.get("html_url") or "")
    last = await last_deploy(services.redis, full_name)
    if last is not None and last.sha == head.sha and last.conclusion == "success":
        await status.finish(live_text(Deploy(**{**last.__dict__, "url": url or last.url}), branch))
        return "already live"
    owner, repo = _split(full_name)
    workflow = WORKFLOW_PATH.rsplit("/", 1)[-1]
    try:
        await gh.arequest(
            "POST",
            f"/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches",
            json={"ref": branch},
        )
    except RequestFailed as error:
        code = error.response.status_code
        if code == 404:
            await status.finish(
                f"❌ The bundled workflow `{WORKFLOW_PATH}` is not on `{branch}`, so there is "
                "nothing to deploy the book with. Comment `/init` to have it added, merge that "
                "PR, then `/publish` again."
            )
            return "no workflow"
        if code == 403:
            await status.finish(
                "❌ I may not start workflows in this repository yet: the app's installation "
                "needs the **Actions: write** permission. An owner can accept it in the "
                "installation's settings; then comment `/publish` again."
            )
            return "no actions permission"
        raise
    pending = {
        "installation_id": request["installation_id"],
        "status_ref": {**status_ref, "issue_number": request.get("issue_number")},
        "default_branch": branch,
        "sha": head.sha,
        "url": url,
    }
    await services.redis.set(_PENDING + full_name, json.dumps(pending), ex=PENDING_SECONDS)
    await status.finish(
        f"⏳ Deploying commit `{head.sha[:12]}` of `{branch}` with the bundled workflow. "
        "This comment ends with the book's address when it is live."
    )
    return "dispatched"


async def deploy_finished(ctx: dict[str, Any], request: dict[str, Any]) -> str:
    """A run of the bundled workflow on the default branch completed: record the deploy
    (for `/publish` and the dashboard) and end a publish that waits for it."""
    services: Services = ctx["services"]
    if services.github is None:
        return "skipped: app not configured"
    full_name, run = request["repository"], request["run"]
    gh = services.github.installation(request["installation_id"])
    url = None
    if run["conclusion"] == "success":
        pages = await read_pages(gh, full_name)
        url = str(pages.get("html_url")) if pages and pages.get("html_url") else None
    deploy = Deploy(
        sha=run["head_sha"],
        conclusion=run["conclusion"],
        url=url,
        run_url=run.get("html_url"),
        at=run.get("updated_at") or datetime.now(UTC).isoformat(timespec="seconds"),
        failing_step=await _failing_step(gh, full_name, run)
        if run["conclusion"] != "success"
        else None,
    )
    await record_deploy(services.redis, full_name, deploy)
    raw = await services.redis.getdel(_PENDING + full_name)
    if raw is None:
        return f"recorded {deploy.conclusion}"
    pending = json.loads(raw)
    status = status_comment(gh, full_name, pending["status_ref"])
    if deploy.conclusion == "success":
        await status.finish(live_text(deploy, pending["default_branch"]))
    else:
        await status.finish(failed_text(deploy))
    return f"published {deploy.conclusion}"


async def _failing_step(gh: GitHub, full_name: str, run: dict[str, Any]) -> str | None:
    """`job / step` of the first failed step of the run, when GitHub lists it."""
    owner, repo = _split(full_name)
    try:
        response = await gh.arequest("GET", f"/repos/{owner}/{repo}/actions/runs/{run['id']}/jobs")
    except RequestFailed:
        return None
    for job in response.json().get("jobs") or []:
        if job.get("conclusion") != "failure":
            continue
        for step in job.get("steps") or []:
            if step.get("conclusion") == "failure":
                return f"{job.get('name')} / {step.get('name')}"
        return str(job.get("name"))
    return None
