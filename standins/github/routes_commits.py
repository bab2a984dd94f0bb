"""Commits: comparing two commits (what a branch adds since its base), as GitHub's REST does."""

from __future__ import annotations

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import not_found
from .render_git import commit_json
from .render_pulls import file_json

# GitHub lists at most this many commits of a comparison (`total_commits` counts them all).
MAX_COMPARED = 250


def compare(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/compare/{basehead} — `BASE...HEAD`: the commits HEAD has
    that their merge base lacks (oldest first), and the files changed since it."""
    repo = call.repo()
    call.require("contents:read")
    base_name, dots, head_name = call.params["basehead"].partition("...")
    if not dots:
        raise not_found()
    git = call.hub.git(repo)
    with git.lock:
        base, head = git.resolve(base_name), git.resolve(head_name)
        if base is None or head is None:
            raise not_found()
        merge_base = git.merge_base(base, head) or base
        ahead = git.commits_between(merge_base, head)
        behind = git.commits_between(merge_base, base)
        infos = [git.read_commit(sha) for sha in ahead[:MAX_COMPARED]]
        base_info, merge_info = git.read_commit(base), git.read_commit(merge_base)
        changes = git.diff(merge_base, head)
    status = (
        "identical"
        if not ahead and not behind
        else "ahead"
        if not behind
        else "behind"
        if not ahead
        else "diverged"
    )
    url = f"{call.state.api_url}/repos/{repo.full_name}/compare/{base_name}...{head_name}"
    html = f"{call.state.html_url}/{repo.full_name}/compare/{base_name}...{head_name}"
    return Reply(
        {
            "url": url,
            "html_url": html,
            "permalink_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "base_commit": commit_json(call.state, repo, base_info),
            "merge_base_commit": commit_json(call.state, repo, merge_info),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": [commit_json(call.state, repo, info) for info in infos],
            "files": [file_json(call.state, repo, head, c) for c in changes],
        }
    )


routes: list[Route] = [api("GET", "/repos/{owner}/{repo}/compare/{basehead:path}", compare)]
