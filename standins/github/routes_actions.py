"""GitHub Actions: dispatching the bundled workflow (`/publish`) and its runs.

A dispatched run is "run" by the stand-in itself: after `State.workflow_seconds` it completes
with `State.workflow_outcome`; a successful run of a workflow on the default branch deploys
the Pages site, and the `workflow_run` completed event is delivered in GitHub's shape.
"""

from __future__ import annotations

import threading
from typing import Any

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import not_found, unprocessable
from .hub import Hub
from .payloads import repo_event
from .render_core import repo_json
from .state import Repo, State, User, WorkflowRun, iso, next_id, node_id, now


def workflow_run_json(hub: Hub, repo: Repo, run: WorkflowRun) -> dict[str, Any]:
    """A `workflow-run`."""
    state = hub.state
    api_url = f"{state.api_url}/repos/{repo.full_name}/actions/runs/{run.id}"
    git = hub.git(repo)
    with git.lock:
        info = git.read_commit(run.head_sha)
    with state.lock:
        repository = repo_json(state, repo)
    return {
        "id": run.id,
        "name": run.name,
        "node_id": node_id("WorkflowRun", run.id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": run.path,
        "display_title": info.message.splitlines()[0] if info.message else run.name,
        "run_number": run.id % 10_000,
        "run_attempt": 1,
        "event": run.event,
        "status": run.status,
        "conclusion": run.conclusion,
        "workflow_id": _workflow_id(run.path),
        "url": api_url,
        "html_url": f"{state.html_url}/{repo.full_name}/actions/runs/{run.id}",
        "pull_requests": [],
        "created_at": iso(run.created_at),
        "updated_at": iso(run.updated_at),
        "run_started_at": iso(run.created_at),
        "jobs_url": f"{api_url}/jobs",
        "logs_url": f"{api_url}/logs",
        "check_suite_url": f"{state.api_url}/repos/{repo.full_name}/check-suites/{run.id}",
        "artifacts_url": f"{api_url}/artifacts",
        "cancel_url": f"{api_url}/cancel",
        "rerun_url": f"{api_url}/rerun",
        "workflow_url": (
            f"{state.api_url}/repos/{repo.full_name}/actions/workflows/{_workflow_id(run.path)}"
        ),
        "head_commit": {
            "id": run.head_sha,
            "tree_id": info.tree,
            "message": info.message.rstrip("\n"),
            "timestamp": info.author.date.isoformat(),
            "author": {"name": info.author.name, "email": info.author.email},
            "committer": {"name": info.committer.name, "email": info.committer.email},
        },
        "repository": repository,
        "head_repository": repository,
    }


def _workflow_id(path: str) -> int:
    """A stable id for a workflow file (GitHub numbers them; the file name also works)."""
    return sum(ord(c) * (i + 1) for i, c in enumerate(path)) % 1_000_000 + 1


def complete_run(hub: Hub, repo: Repo, run: WorkflowRun, sender: User, conclusion: str) -> None:
    """End a run: deploy the site when it succeeds, deliver `workflow_run` completed."""
    with hub.state.lock:
        run.status, run.conclusion, run.updated_at = "completed", conclusion, now()
    body = workflow_run_json(hub, repo, run)
    with hub.state.lock:
        payload = repo_event(hub.state, repo, sender, "completed", workflow_run=body)
        payload["workflow"] = {"id": body["workflow_id"], "name": run.name, "path": run.path}
    hub.webhooks.emit(repo, "workflow_run", payload)


def post_dispatch(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches."""
    repo = call.repo()
    call.require("actions:write")
    ref = call.field("ref", str, required=True)
    workflow = str(call.params["workflow_id"])
    path = workflow if workflow.startswith(".github/") else f".github/workflows/{workflow}"
    branch = ref.removeprefix("refs/heads/")
    git = call.hub.git(repo)
    with git.lock:
        sha = git.ref_sha(f"refs/heads/{branch}")
        entry = git.entry_at(sha, path) if sha else None
        text = git.read_blob(entry.sha) if entry and entry.type == "blob" else None
    if sha is None:
        raise unprocessable(f"No ref found for: {ref}")
    if text is None:
        raise not_found()
    if b"workflow_dispatch" not in text:
        raise unprocessable("Workflow does not have 'workflow_dispatch' trigger")
    name = next(
        (line.split(":", 1)[1].strip() for line in text.decode().splitlines()
         if line.startswith("name:")),
        path,
    )  # fmt: skip
    state: State = call.state
    with state.lock:
        run = WorkflowRun(
            next_id(), repo.id, path, name, "workflow_dispatch", branch, sha, "queued", None,
            now(), now(),
        )  # fmt: skip
        state.workflow_runs[run.id] = run
        outcome, seconds = state.workflow_outcome, state.workflow_seconds
    sender = call.actor()
    timer = threading.Timer(seconds, complete_run, (call.hub, repo, run, sender, outcome))
    timer.daemon = True
    timer.start()
    return Reply(None, 204)


def _find_run(call: Call) -> tuple[Repo, WorkflowRun]:
    repo = call.repo()
    with call.state.lock:
        run = call.state.workflow_runs.get(call.int_param("run_id"))
    if run is None or run.repo_id != repo.id:
        raise not_found()
    return repo, run


def get_run(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/actions/runs/{run_id}."""
    repo, run = _find_run(call)
    call.require("actions:read")
    return Reply(workflow_run_json(call.hub, repo, run))


# The bundled workflow's jobs and the steps of its build job, as a run of it lists them.
JOBS = (
    ("Read the Pages settings", ("Read the Pages settings",)),
    ("Build the book", ("Install Jupyter Book", "Build", "Upload the site")),
    ("Publish to GitHub Pages", ("Deploy",)),
)


def get_run_jobs(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs: a failed run failed at the
    build step (`FAILING_STEP`), and its later jobs were skipped."""
    repo, run = _find_run(call)
    call.require("actions:read")
    state = call.state
    run_url = f"{state.api_url}/repos/{repo.full_name}/actions/runs/{run.id}"
    failed = run.conclusion == "failure"
    jobs = []
    for number, (name, steps) in enumerate(JOBS, start=1):
        job_id = run.id * 10 + number
        if run.status != "completed":
            conclusion = None
        elif failed and name == "Build the book":
            conclusion = "failure"
        elif failed and number > 2:
            conclusion = "skipped"
        else:
            conclusion = "success"
        step_list = []
        for index, step in enumerate(steps, start=1):
            step_conclusion = conclusion
            if conclusion == "failure":
                step_conclusion = (
                    "failure" if step == "Build" else ("success" if index == 1 else "skipped")
                )
            step_list.append(
                {"name": step, "status": run.status, "conclusion": step_conclusion, "number": index}
            )
        jobs.append(
            {
                "id": job_id,
                "node_id": node_id("Job", job_id),
                "run_id": run.id,
                "run_url": run_url,
                "head_sha": run.head_sha,
                "workflow_name": run.name,
                "head_branch": run.head_branch,
                "name": name,
                "url": f"{state.api_url}/repos/{repo.full_name}/actions/jobs/{job_id}",
                "html_url": f"{state.html_url}/{repo.full_name}/actions/runs/{run.id}/job/{job_id}",
                "status": run.status,
                "conclusion": conclusion,
                "created_at": iso(run.created_at),
                "started_at": iso(run.created_at),
                "completed_at": iso(run.updated_at) if run.status == "completed" else None,
                "check_run_url": f"{state.api_url}/repos/{repo.full_name}/check-runs/{job_id}",
                "labels": ["ubuntu-latest"],
                "runner_id": 1,
                "runner_name": "GitHub Actions 1",
                "runner_group_id": 1,
                "runner_group_name": "GitHub Actions",
                "steps": step_list,
            }
        )
    return Reply({"total_count": len(jobs), "jobs": jobs})


def list_workflow_runs(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs: the runs of one
    workflow (by file name or path), newest first, filtered by `branch`, `event`, `status`
    and `head_sha` as GitHub does; one page of `per_page` (≤100, default 30)."""
    repo = call.repo()
    call.require("actions:read")
    workflow = str(call.params["workflow_id"])
    path = workflow if workflow.startswith(".github/") else f".github/workflows/{workflow}"
    query = call.query
    try:
        per_page = max(1, min(100, int(query.get("per_page", 30))))
    except ValueError:
        per_page = 30
    with call.state.lock:
        runs = [
            r
            for r in call.state.workflow_runs.values()
            if r.repo_id == repo.id
            and (r.path == path or str(_workflow_id(r.path)) == workflow)
            and query.get("branch") in (None, r.head_branch)
            and query.get("event") in (None, r.event)
            and query.get("head_sha") in (None, r.head_sha)
            and query.get("status") in (None, r.status, r.conclusion)
        ]
    runs.sort(key=lambda r: r.id, reverse=True)
    body = [workflow_run_json(call.hub, repo, r) for r in runs[:per_page]]
    return Reply({"total_count": len(runs), "workflow_runs": body})


R = "/repos/{owner}/{repo}"
routes: list[Route] = [
    api("POST", R + "/actions/workflows/{workflow_id}/dispatches", post_dispatch),
    api("GET", R + "/actions/workflows/{workflow_id}/runs", list_workflow_runs),
    api("GET", R + "/actions/runs/{run_id}", get_run),
    api("GET", R + "/actions/runs/{run_id}/jobs", get_run_jobs),
]
