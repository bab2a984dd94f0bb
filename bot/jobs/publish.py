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
- Several `/publish`es of the same commit at once (from two issues, say) wait for one run:
  the first dispatches it, the others join its list of waiters in Redis, and the run's event
  ends every status comment with the same answer.
- A run that does not report back within `LIQUIDBOOK_PUBLISH_WAIT_SECONDS` (a deferred job,
  `publish_timed_out`, not a waiting worker): the app asks GitHub for the run of that commit
  and ends every waiting comment with what it finds: the outcome of a run whose event was
  lost, the link to a run still queued or running, or that no run started.
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
# The waiters' list outlives the wait by this much: the timeout job always finds it.
PENDING_SECONDS = 3600


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
    waiter = {
        "installation_id": request["installation_id"],
        "status_ref": {**status_ref, "issue_number": request.get("issue_number")},
        "default_branch": branch,
        "url": url,
        "token": f"{request['comment_id']}:{attempt}",
    }
    key = _waiters_key(full_name, head.sha)
    # The comment says "deploying" before this publish can be ended by the run's event, so
    # the final answer is never overwritten by it.
    joining = bool(await services.redis.llen(key))  # type: ignore[misc]
    if joining:
        await status.finish(
            f"⏳ Deploying commit `{head.sha[:12]}` of `{branch}`: another `/publish` already "
            "started the bundled workflow, and this one waits for the same run. This comment "
            "ends with the book's address when it is live."
        )
    else:
        await status.finish(
            f"⏳ Deploying commit `{head.sha[:12]}` of `{branch}` with the bundled workflow. "
            "This comment ends with the book's address when it is live."
        )
    deadline = settings.liquidbook_publish_wait_seconds
    async with services.redis.pipeline(transaction=True) as pipe:
        pipe.rpush(key, json.dumps(waiter))
        pipe.expire(key, int(deadline) + PENDING_SECONDS)
        count, _ = await pipe.execute()
    if count > 1:
        return "joined the deploy under way"
    try:
        await gh.arequest(
            "POST",
            f"/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches",
            json={"ref": branch},
        )
    except RequestFailed as error:
        code = error.response.status_code
        if code == 404:
            text = (
                f"❌ The bundled workflow `{WORKFLOW_PATH}` is not on `{branch}`, so there is "
                "nothing to deploy the book with. Comment `/init` to have it added, merge that "
                "PR, then `/publish` again."
            )
        elif code == 403:
            text = (
                "❌ I may not start workflows in this repository yet: the app's installation "
                "needs the **Actions: write** permission. An owner can accept it in the "
                "installation's settings; then comment `/publish` again."
            )
        else:
            await _end_waiters(gh, services, full_name, head.sha, lambda _: None, error)
            raise
        await _end_waiters(gh, services, full_name, head.sha, lambda _: text)
        return "no workflow" if code == 404 else "no actions permission"
    await services.queue.enqueue(
        "publish_timed_out",
        {
            "installation_id": request["installation_id"],
            "repository": full_name,
            "sha": head.sha,
            "token": waiter["token"],
        },
        job_id=f"publish-timeout:{full_name}:{head.sha}:{waiter['token']}",
        defer_seconds=deadline,
    )
    return "dispatched"


def _waiters_key(full_name: str, sha: str) -> str:
    """The `/publish`es waiting for the deploy of `sha` (a Redis list of JSON entries: the
    first one dispatched the run, the others joined it)."""
    return f"{_PENDING}{full_name}:{sha}"


# Takes the list of waiters, only when its first entry is the one `ARGV[1]` names (any, if
# empty): a timeout never ends the waiters of a later dispatch of the same commit.
_TAKE = """
local first = redis.call('LINDEX', KEYS[1], 0)
if not first then return {} end
if ARGV[1] ~= '' and not string.find(first, ARGV[1], 1, true) then return {} end
local all = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return all
"""


def _marker(token: str) -> str:
    """How `token` appears in its waiter's JSON (empty: any waiter)."""
    return json.dumps({"token": token})[1:-1] if token else ""


async def take_waiters(
    redis: Any, full_name: str, sha: str, token: str = ""
) -> list[dict[str, Any]]:
    """Every `/publish` waiting for the deploy of `sha`, removed from Redis (each is ended
    once, by whoever takes it)."""
    raw = await redis.eval(_TAKE, 1, _waiters_key(full_name, sha), _marker(token))
    waiters = []
    for entry in raw or []:
        try:
            waiters.append(json.loads(entry))
        except ValueError:
            continue
    return waiters


async def _end_waiters(
    gh: GitHub,
    services: Services,
    full_name: str,
    sha: str,
    text: Any,
    error: Exception | None = None,
    token: str = "",
) -> int:
    """End the status comment of every `/publish` waiting for `sha` with `text(waiter)`
    (None: a generic failure naming `error`). One comment that cannot be edited does not
    keep the others from their answer."""
    waiters = await take_waiters(services.redis, full_name, sha, token)
    for waiter in waiters:
        message = text(waiter) or (
            f"❌ Starting the deploy failed ({type(error).__name__}); comment `/publish` again."
        )
        try:
            await status_comment(gh, full_name, waiter["status_ref"]).finish(message)
        except Exception as failure:  # the other comments still get theirs
            log.warning("publish status on %s not ended: %s", full_name, failure)
    return len(waiters)


async def deploy_finished(ctx: dict[str, Any], request: dict[str, Any]) -> str:
    """A run of the bundled workflow on the default branch completed: record the deploy
    (for `/publish` and the dashboard) and end every publish that waits for its commit."""
    services: Services = ctx["services"]
    if services.github is None:
        return "skipped: app not configured"
    full_name, run = request["repository"], request["run"]
    gh = services.github.installation(request["installation_id"])
    deploy = await _deploy_of(gh, full_name, run)
    await record_deploy(services.redis, full_name, deploy)
    ended = await _end_waiters(
        gh, services, full_name, deploy.sha, lambda waiter: _outcome_text(deploy, waiter)
    )
    return (
        f"published {deploy.conclusion} ({ended} waiting)"
        if ended
        else (f"recorded {deploy.conclusion}")
    )


async def _deploy_of(gh: GitHub, full_name: str, run: dict[str, Any]) -> Deploy:
    url = None
    if run["conclusion"] == "success":
        pages = await read_pages(gh, full_name)
        url = str(pages.get("html_url")) if pages and pages.get("html_url") else None
    return Deploy(
        sha=run["head_sha"],
        conclusion=run["conclusion"],
        url=url,
        run_url=run.get("html_url"),
        at=run.get("updated_at") or datetime.now(UTC).isoformat(timespec="seconds"),
        failing_step=await _failing_step(gh, full_name, run)
        if run["conclusion"] != "success"
        else None,
    )


def _outcome_text(deploy: Deploy, waiter: dict[str, Any]) -> str:
    if deploy.conclusion == "success":
        known = deploy if deploy.url else Deploy(**{**deploy.__dict__, "url": waiter.get("url")})
        return live_text(known, waiter["default_branch"])
    return failed_text(deploy)


async def publish_timed_out(ctx: dict[str, Any], request: dict[str, Any]) -> str:
    """`LIQUIDBOOK_PUBLISH_WAIT_SECONDS` after a dispatch: the `/publish`es still waiting for
    its `workflow_run` event are ended with what GitHub says of the run. A run that completed
    (its event lost) is reported like any; one still queued or running is linked, with what
    to do; no run at all is said too. None is left saying "Deploying…"."""
    services: Services = ctx["services"]
    if services.github is None:
        return "skipped: app not configured"
    full_name, sha = request["repository"], request["sha"]
    key = _waiters_key(full_name, sha)
    first: Any = await services.redis.lindex(key, 0)  # type: ignore[misc]
    if first is None or _marker(request["token"]) not in (
        first.decode() if isinstance(first, bytes) else str(first)
    ):
        return "nothing waiting"
    gh = services.github.installation(request["installation_id"])
    run = await _run_of(gh, full_name, sha)
    minutes = _minutes(services.settings.liquidbook_publish_wait_seconds)
    if run is not None and run.get("status") == "completed":
        deploy = await _deploy_of(
            gh,
            full_name,
            {
                "id": run["id"],
                "head_sha": sha,
                "conclusion": str(run.get("conclusion") or "unknown"),
                "html_url": run.get("html_url"),
                "updated_at": run.get("updated_at"),
            },
        )
        await record_deploy(services.redis, full_name, deploy)
        ended = await _end_waiters(
            gh, services, full_name, sha, lambda w: _outcome_text(deploy, w), None, request["token"]
        )
        return f"published {deploy.conclusion} late ({ended} waiting)"
    if run is not None:
        where = f"[the deploy run]({run.get('html_url')})" if run.get("html_url") else "The run"
        text = (
            f"⚠️ {where} of commit `{sha[:12]}` did not report back within {minutes}: it is "
            f"still `{run.get('status')}` (GitHub may be short of runners). I stopped waiting; "
            "the book goes live when the run ends. Its page shows how it ends, and "
            "`/publish` then answers with the address."
        )
    else:
        actions = (
            f"{services.settings.github_web_url.rstrip('/')}/{full_name}/actions/workflows/"
            f"{WORKFLOW_PATH.rsplit('/', 1)[-1]}"
        )
        text = (
            f"⚠️ No run of the bundled workflow on commit `{sha[:12]}` reported back within "
            f"{minutes}, so nothing was published. Check that Actions are enabled for this "
            f"repository and look at [the workflow's runs]({actions}), then comment "
            "`/publish` again."
        )
    ended = await _end_waiters(gh, services, full_name, sha, lambda _: text, None, request["token"])
    return f"timed out ({ended} waiting)"


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} seconds"
    return f"{round(seconds / 60)} minutes"


async def _run_of(gh: GitHub, full_name: str, sha: str) -> dict[str, Any] | None:
    """The newest run of the bundled workflow on `sha`, when GitHub lists one."""
    owner, repo = _split(full_name)
    workflow = WORKFLOW_PATH.rsplit("/", 1)[-1]
    try:
        response = await gh.arequest(
            "GET",
            f"/repos/{owner}/{repo}/actions/workflows/{workflow}/runs",
            params={"head_sha": sha, "per_page": 5},
        )
    except RequestFailed:
        return None
    runs = response.json().get("workflow_runs") or []
    return runs[0] if runs and isinstance(runs[0], dict) else None


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
