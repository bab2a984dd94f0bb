"""JSON shapes of issues, issue comments, review comments and reactions."""

from __future__ import annotations

import zlib
from typing import Any

from .render_core import app_json, author_association, user_json
from .state import Comment, Issue, Reaction, Repo, ReviewComment, State, iso, node_id

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


def reactions_summary(state: State, subject: str, subject_id: int, url: str) -> dict[str, Any]:
    """The `reactions` rollup embedded in issues and comments."""
    found = state.reactions_on(subject, subject_id)
    summary: dict[str, Any] = {"url": url, "total_count": len(found)}
    summary.update({c: sum(1 for r in found if r.content == c) for c in REACTIONS})
    return summary


def label_json(state: State, repo: Repo, name: str) -> dict[str, Any]:
    """A `label`; ids derive from the name so the same label keeps its id."""
    ident = zlib.crc32(f"{repo.id}:{name}".encode())
    return {
        "id": ident,
        "node_id": node_id("Label", ident),
        "url": f"{state.api_url}/repos/{repo.full_name}/labels/{name}",
        "name": name,
        "color": "ededed",
        "default": False,
        "description": None,
    }


def _app(state: State, app_id: int | None) -> dict[str, Any] | None:
    return app_json(state, state.apps[app_id]) if app_id in state.apps else None


def issue_json(state: State, repo: Repo, issue: Issue) -> dict[str, Any]:
    """An `issue` (for a pull request, with its `pull_request` links)."""
    api = f"{state.api_url}/repos/{repo.full_name}"
    url = f"{api}/issues/{issue.number}"
    kind = "pull" if issue.pull else "issues"
    html = f"{state.html_url}/{repo.full_name}/{kind}/{issue.number}"
    body: dict[str, Any] = {
        "url": url,
        "repository_url": api,
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "timeline_url": f"{url}/timeline",
        "html_url": html,
        "id": issue.id,
        "node_id": node_id("Issue", issue.id),
        "number": issue.number,
        "title": issue.title,
        "user": user_json(state, issue.user),
        "labels": [label_json(state, repo, name) for name in issue.labels],
        "state": issue.state,
        "state_reason": "completed" if issue.state == "closed" else None,
        "locked": issue.locked,
        "assignee": user_json(state, issue.assignees[0]) if issue.assignees else None,
        "assignees": [user_json(state, u) for u in issue.assignees],
        "milestone": None,
        "comments": state.comment_counts.get((repo.id, issue.number), 0),
        "created_at": iso(issue.created_at),
        "updated_at": iso(issue.updated_at),
        "closed_at": iso(issue.closed_at),
        "author_association": author_association(state, repo, issue.user),
        "active_lock_reason": None,
        "body": issue.body,
        "reactions": reactions_summary(state, "issue", issue.id, f"{url}/reactions"),
        "performed_via_github_app": _app(state, issue.app_id),
    }
    body["draft"] = bool(issue.pull and issue.pull.draft)
    if issue.pull:
        pull_api = f"{api}/pulls/{issue.number}"
        body["pull_request"] = {
            "url": pull_api,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": iso(issue.pull.merged_at),
        }
    return body


def comment_json(state: State, repo: Repo, comment: Comment) -> dict[str, Any]:
    """An `issue-comment`."""
    api = f"{state.api_url}/repos/{repo.full_name}"
    url = f"{api}/issues/comments/{comment.id}"
    issue = state.issues.get((repo.id, comment.issue_number))
    kind = "pull" if issue is not None and issue.pull else "issues"
    return {
        "url": url,
        "html_url": f"{state.html_url}/{repo.full_name}/{kind}/{comment.issue_number}"
        f"#issuecomment-{comment.id}",
        "issue_url": f"{api}/issues/{comment.issue_number}",
        "id": comment.id,
        "node_id": node_id("IssueComment", comment.id),
        "user": user_json(state, comment.user),
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        "author_association": author_association(state, repo, comment.user),
        "body": comment.body,
        "reactions": reactions_summary(state, "issue_comment", comment.id, f"{url}/reactions"),
        "performed_via_github_app": _app(state, comment.app_id),
    }


def review_comment_json(state: State, repo: Repo, comment: ReviewComment) -> dict[str, Any]:
    """A `pull-request-review-comment`."""
    api = f"{state.api_url}/repos/{repo.full_name}"
    url = f"{api}/pulls/comments/{comment.id}"
    pull_url = f"{api}/pulls/{comment.pull_number}"
    html = f"{state.html_url}/{repo.full_name}/pull/{comment.pull_number}#discussion_r{comment.id}"
    body: dict[str, Any] = {
        "url": url,
        "pull_request_review_id": comment.review_id,
        "id": comment.id,
        "node_id": node_id("PullRequestReviewComment", comment.id),
        "diff_hunk": comment.diff_hunk,
        "path": comment.path,
        "position": comment.line,
        "original_position": comment.line,
        "commit_id": comment.commit_id,
        "original_commit_id": comment.commit_id,
        "user": user_json(state, comment.user),
        "body": comment.body,
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        "html_url": html,
        "pull_request_url": pull_url,
        "author_association": author_association(state, repo, comment.user),
        "_links": {
            "self": {"href": url},
            "html": {"href": html},
            "pull_request": {"href": pull_url},
        },
        "start_line": comment.start_line,
        "original_start_line": comment.start_line,
        "start_side": comment.start_side,
        "line": comment.line,
        "original_line": comment.line,
        "side": comment.side,
        "subject_type": "line",
        "reactions": reactions_summary(state, "pull_comment", comment.id, f"{url}/reactions"),
        "performed_via_github_app": _app(state, comment.app_id),
    }
    if comment.in_reply_to_id is not None:
        body["in_reply_to_id"] = comment.in_reply_to_id
    return body


def reaction_json(state: State, reaction: Reaction) -> dict[str, Any]:
    """A `reaction`."""
    return {
        "id": reaction.id,
        "node_id": node_id("Reaction", reaction.id),
        "user": user_json(state, reaction.user),
        "content": reaction.content,
        "created_at": iso(reaction.created_at),
    }
