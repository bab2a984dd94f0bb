"""JSON shapes of pull requests and their changed files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .git import FileChange
from .render_core import author_association, repo_json, user_json
from .render_issues import label_json
from .state import Issue, Repo, State, iso, node_id


@dataclass(frozen=True)
class PullGit:
    """What git says about a pull request at the moment it is rendered."""

    head_sha: str
    base_sha: str
    mergeable: bool | None
    commits: int
    additions: int
    deletions: int
    changed_files: int


def _side(state: State, repo: Repo, ref: str, sha: str) -> dict[str, Any]:
    return {
        "label": f"{repo.owner.login}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user_json(state, repo.owner),
        "repo": repo_json(state, repo),
    }


def _head_repo(state: State, repo: Repo, head_repo_id: int | None) -> Repo:
    """The repository the head branch is in: a fork's, or the base repository."""
    fork = state.repo_by_id(head_repo_id) if head_repo_id is not None else None
    return fork or repo


def pull_json(state: State, repo: Repo, issue: Issue, info: PullGit) -> dict[str, Any]:
    """A `pull-request` (the full object; lists use the same shape)."""
    pull = issue.pull
    assert pull is not None
    api = f"{state.api_url}/repos/{repo.full_name}"
    url = f"{api}/pulls/{issue.number}"
    html = f"{state.html_url}/{repo.full_name}/pull/{issue.number}"
    issue_url = f"{api}/issues/{issue.number}"
    merged = pull.merged_at is not None
    if issue.state == "closed":
        mergeable_state = "unknown"
    elif info.mergeable:
        mergeable_state = "draft" if pull.draft else "clean"
    else:
        mergeable_state = "dirty"
    return {
        "url": url,
        "id": pull.id,
        "node_id": node_id("PullRequest", pull.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_url,
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{issue_url}/comments",
        "statuses_url": f"{api}/statuses/{info.head_sha}",
        "number": issue.number,
        "state": issue.state,
        "locked": issue.locked,
        "title": issue.title,
        "user": user_json(state, issue.user),
        "body": issue.body,
        "labels": [label_json(state, repo, name) for name in issue.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(issue.created_at),
        "updated_at": iso(issue.updated_at),
        "closed_at": iso(issue.closed_at),
        "merged_at": iso(pull.merged_at),
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": user_json(state, issue.assignees[0]) if issue.assignees else None,
        "assignees": [user_json(state, u) for u in issue.assignees],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _side(
            state, _head_repo(state, repo, pull.head_repo_id), pull.head_ref, info.head_sha
        ),
        "base": _side(state, repo, pull.base_ref, info.base_sha),
        "_links": {
            "self": {"href": url},
            "html": {"href": html},
            "issue": {"href": issue_url},
            "comments": {"href": f"{issue_url}/comments"},
            "review_comments": {"href": f"{url}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{url}/commits"},
            "statuses": {"href": f"{api}/statuses/{info.head_sha}"},
        },
        "author_association": author_association(state, repo, issue.user),
        "auto_merge": None,
        "draft": pull.draft,
        "merged": merged,
        "mergeable": info.mergeable if issue.state == "open" else None,
        "rebaseable": info.mergeable if issue.state == "open" else None,
        "mergeable_state": mergeable_state,
        "merged_by": user_json(state, pull.merged_by) if pull.merged_by else None,
        "comments": state.comment_counts.get((repo.id, issue.number), 0),
        "review_comments": sum(
            1
            for c in state.review_comments.values()
            if c.repo_id == repo.id and c.pull_number == issue.number
        ),
        "maintainer_can_modify": pull.maintainer_can_modify,
        "commits": info.commits,
        "additions": info.additions,
        "deletions": info.deletions,
        "changed_files": info.changed_files,
    }


def file_json(state: State, repo: Repo, head_sha: str, change: FileChange) -> dict[str, Any]:
    """A `diff-entry` of GET /pulls/{pull_number}/files."""
    path = quote(change.filename)
    body: dict[str, Any] = {
        "sha": change.sha,
        "filename": change.filename,
        "status": change.status,
        "additions": change.additions,
        "deletions": change.deletions,
        "changes": change.additions + change.deletions,
        "blob_url": f"{state.html_url}/{repo.full_name}/blob/{head_sha}/{path}",
        "raw_url": f"{state.html_url}/{repo.full_name}/raw/{head_sha}/{path}",
        "contents_url": f"{state.api_url}/repos/{repo.full_name}/contents/{path}?ref={head_sha}",
    }
    if change.patch is not None:
        body["patch"] = change.patch
    if change.previous_filename is not None:
        body["previous_filename"] = change.previous_filename
    return body
