"""Check runs: how the app reports a book build on a commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import ApiError, not_found, unprocessable
from .render_core import app_json
from .state import CheckRun, Repo, State, iso, next_id, node_id, now


def check_run_json(
    state: State, repo: Repo, run: CheckRun, pull_requests: list[dict[str, Any]]
) -> dict[str, Any]:
    """A `check-run`."""
    api_url = f"{state.api_url}/repos/{repo.full_name}/check-runs/{run.id}"
    return {
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": node_id("CheckRun", run.id),
        "external_id": run.external_id,
        "url": api_url,
        "html_url": f"{state.html_url}/{repo.full_name}/runs/{run.id}",
        "details_url": run.details_url,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "output": {
            "title": run.output.get("title"),
            "summary": run.output.get("summary"),
            "text": run.output.get("text"),
            "annotations_count": len(run.output.get("annotations") or []),
            "annotations_url": f"{api_url}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.check_suite_id},
        "app": app_json(state, state.apps[run.app_id]),
        "pull_requests": pull_requests,
    }


def _pulls_at(call: Call, repo: Repo, sha: str) -> list[dict[str, Any]]:
    """The open pull requests whose head is `sha`, in the short form check runs carry."""
    with call.state.lock:
        pulls = [
            i
            for i in call.state.issues.values()
            if i.repo_id == repo.id and i.pull and i.state == "open"
        ]
    git = call.hub.git(repo)
    found = []
    for issue in pulls:
        assert issue.pull is not None
        with git.lock:
            head = git.ref_sha(issue.pull.head_git_ref)
            base = git.ref_sha(f"refs/heads/{issue.pull.base_ref}") or ""
        if head != sha:
            continue
        found.append(
            {
                "id": issue.pull.id,
                "number": issue.number,
                "url": f"{call.state.api_url}/repos/{repo.full_name}/pulls/{issue.number}",
                "head": {
                    "ref": issue.pull.head_ref,
                    "sha": head,
                    "repo": _repo_ref(call.state, repo),
                },
                "base": {
                    "ref": issue.pull.base_ref,
                    "sha": base,
                    "repo": _repo_ref(call.state, repo),
                },
            }
        )
    return found


def _repo_ref(state: State, repo: Repo) -> dict[str, Any]:
    return {"id": repo.id, "url": f"{state.api_url}/repos/{repo.full_name}", "name": repo.name}


def _time(call: Call, name: str) -> datetime | None:
    value = call.field(name, str)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise unprocessable(
            f"Invalid request.\n\nFor '{name}', {value!r} is not a date-time."
        ) from exc


ANNOTATION_LEVELS = ("notice", "warning", "failure")
MAX_ANNOTATIONS = 50  # per request, like GitHub's


def _annotations(value: Any) -> list[dict[str, Any]]:
    """The annotations of one request, checked like GitHub checks them."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise unprocessable("Invalid request.\n\nFor 'annotations', it must be an array.")
    if len(value) > MAX_ANNOTATIONS:
        raise unprocessable(
            f"Invalid request.\n\nOnly {MAX_ANNOTATIONS} annotations are allowed per request."
        )
    found = []
    for item in value:
        if not isinstance(item, dict):
            raise unprocessable("Invalid request.\n\nAn annotation must be an object.")
        for key, kind in (("path", str), ("start_line", int), ("end_line", int),
                          ("annotation_level", str), ("message", str)):  # fmt: skip
            if not isinstance(item.get(key), kind):
                raise unprocessable(f'Invalid request.\n\n"{key}" wasn\'t supplied.')
        if item["annotation_level"] not in ANNOTATION_LEVELS:
            raise unprocessable("Invalid request.\n\nFor 'annotation_level', it is not valid.")
        found.append(dict(item))
    return found


def _apply_check_fields(call: Call, run: CheckRun) -> None:
    status = call.field("status", str)
    conclusion = call.field("conclusion", str)
    if status is not None:
        run.status = status
    if conclusion is not None:
        run.conclusion = conclusion
        run.status = "completed"
    if run.status == "completed" and run.conclusion is None:
        raise unprocessable('Invalid request.\n\nNo subschema in "anyOf" matched.')
    run.started_at = _time(call, "started_at") or run.started_at
    run.completed_at = _time(call, "completed_at") or run.completed_at
    if run.status == "completed" and run.completed_at is None:
        run.completed_at = now()
    output = call.field("output", dict)
    if output is not None:
        # GitHub appends the annotations of each update to the run's; the rest is replaced.
        annotations = _annotations(output.get("annotations"))
        run.output = {
            **{k: v for k, v in output.items() if k != "annotations"},
            "annotations": [*(run.output.get("annotations") or []), *annotations],
        }
    run.details_url = call.field("details_url", str, default=run.details_url)
    run.external_id = call.field("external_id", str, default=run.external_id)
    run.name = call.field("name", str, default=run.name)


def post_check_run(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/check-runs."""
    repo = call.repo()
    call.require("checks:write")
    app = call.auth.app
    if app is None:
        raise ApiError(401, "Requires authentication")
    name = call.field("name", str, required=True)
    head_sha = call.field("head_sha", str, required=True)
    git = call.hub.git(repo)
    with git.lock:
        if git.object_type(head_sha) != "commit":
            raise unprocessable(f"No commit found for SHA: {head_sha}")
    run = CheckRun(
        next_id(),
        repo.id,
        app.id,
        name,
        head_sha,
        "queued",
        None,
        now(),
        None,
        {},
        None,
        None,
        next_id(),
    )
    _apply_check_fields(call, run)
    pulls = _pulls_at(call, repo, head_sha)
    with call.state.lock:
        call.state.check_runs[run.id] = run
        return Reply(check_run_json(call.state, repo, run, pulls), 201)


def _find_run(call: Call) -> tuple[Repo, CheckRun]:
    repo = call.repo()
    with call.state.lock:
        run = call.state.check_runs.get(call.int_param("check_run_id"))
    if run is None or run.repo_id != repo.id:
        raise not_found()
    return repo, run


def get_check_run(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/check-runs/{check_run_id}."""
    repo, run = _find_run(call)
    call.require("checks:read")
    pulls = _pulls_at(call, repo, run.head_sha)
    with call.state.lock:
        return Reply(check_run_json(call.state, repo, run, pulls))


def patch_check_run(call: Call) -> Reply:
    """PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}."""
    repo, run = _find_run(call)
    call.require("checks:write")
    if call.auth.app is None or run.app_id != call.auth.app.id:
        raise ApiError(403, "Only the GitHub App that created a check run can modify it.")
    pulls = _pulls_at(call, repo, run.head_sha)
    with call.state.lock:
        _apply_check_fields(call, run)
        return Reply(check_run_json(call.state, repo, run, pulls))


def get_annotations(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations."""
    _, run = _find_run(call)
    call.require("checks:read")
    with call.state.lock:
        annotations = list(run.output.get("annotations") or [])
    return call.page(
        [
            {
                "path": a["path"],
                "start_line": a["start_line"],
                "end_line": a["end_line"],
                "start_column": a.get("start_column"),
                "end_column": a.get("end_column"),
                "annotation_level": a["annotation_level"],
                "title": a.get("title"),
                "message": a["message"],
                "raw_details": a.get("raw_details"),
                "blob_href": "",
            }
            for a in annotations
        ]
    )


R = "/repos/{owner}/{repo}"
routes: list[Route] = [
    api("POST", R + "/check-runs", post_check_run),
    api("GET", R + "/check-runs/{check_run_id}", get_check_run),
    api("PATCH", R + "/check-runs/{check_run_id}", patch_check_run),
    api("GET", R + "/check-runs/{check_run_id}/annotations", get_annotations),
]
