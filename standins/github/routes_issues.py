"""Issues, issue comments (also on pull requests) and reactions to them."""

from __future__ import annotations

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import validation_failed
from .ops_issues import (
    add_reaction,
    create_comment,
    delete_comment,
    edit_comment,
    find_comment,
    find_issue,
    open_issue,
    update_issue,
)
from .render_issues import comment_json, issue_json, reaction_json

ISSUES = "/repos/{owner}/{repo}/issues"
# Comments on a pull request's conversation are issue comments: either permission will do.
COMMENT_READ = "issues|pull_requests:read"
COMMENT_WRITE = "issues|pull_requests:write"


def get_issue(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/issues/{issue_number} (pull requests too)."""
    repo = call.repo()
    call.require(COMMENT_READ)
    issue = find_issue(call.hub, repo, call.int_param("issue_number"))
    with call.state.lock:
        return Reply(issue_json(call.state, repo, issue))


def list_issues(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/issues — issues and pull requests, filtered by `state`
    (open, closed, all), `labels` (comma-separated, each one required) and `creator`; sorted
    by `created` or `updated`, `direction` desc (the default) or asc."""
    repo = call.repo()
    call.require(COMMENT_READ)
    state = call.query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise validation_failed("Query", "state")
    wanted = {x.strip() for x in call.query.get("labels", "").split(",") if x.strip()}
    creator = call.query.get("creator")
    sort = call.query.get("sort", "created")
    if sort not in ("created", "updated"):
        raise validation_failed("Query", "sort")
    with call.state.lock:
        found = [
            i
            for i in call.state.issues.values()
            if i.repo_id == repo.id
            and state in ("all", i.state)
            and wanted <= set(i.labels)
            and (creator is None or i.user.login == creator)
        ]
        found.sort(
            key=lambda i: (i.created_at if sort == "created" else i.updated_at, i.number),
            reverse=call.query.get("direction", "desc") != "asc",
        )
        shown = [issue_json(call.state, repo, i) for i in found]
    return call.page(shown)


def post_issue(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/issues."""
    repo = call.repo()
    call.require("issues:write")
    labels = call.field("labels", list, default=[])
    issue, _ = open_issue(
        call.hub,
        repo,
        call.actor(),
        title=str(call.field("title", (str, int), required=True)),
        body=call.field("body", str),
        labels=[str(x if isinstance(x, str) else x.get("name")) for x in labels],
        app_id=call.auth.app.id if call.auth.app else None,
    )
    with call.state.lock:
        return Reply(issue_json(call.state, repo, issue), 201)


def patch_issue(call: Call) -> Reply:
    """PATCH /repos/{owner}/{repo}/issues/{issue_number} — title, body, state, labels."""
    repo = call.repo()
    call.require(COMMENT_WRITE)
    issue = find_issue(call.hub, repo, call.int_param("issue_number"))
    body = call.body if isinstance(call.body, dict) else {}
    fields = {k: body[k] for k in ("title", "body", "state", "labels") if k in body}
    update_issue(call.hub, repo, issue, fields, call.actor())
    with call.state.lock:
        return Reply(issue_json(call.state, repo, issue))


def list_comments(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/issues/{issue_number}/comments, oldest first."""
    repo = call.repo()
    call.require(COMMENT_READ)
    issue = find_issue(call.hub, repo, call.int_param("issue_number"))
    with call.state.lock:
        found = [
            comment_json(call.state, repo, c)
            for c in sorted(call.state.comments.values(), key=lambda c: c.id)
            if c.repo_id == repo.id and c.issue_number == issue.number
        ]
    return call.page(found)


def post_comment(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/issues/{issue_number}/comments."""
    repo = call.repo()
    call.require(COMMENT_WRITE)
    comment, _ = create_comment(
        call.hub,
        repo,
        call.int_param("issue_number"),
        call.actor(),
        call.field("body", str, required=True),
        app_id=call.auth.app.id if call.auth.app else None,
    )
    with call.state.lock:
        return Reply(comment_json(call.state, repo, comment), 201)


def get_comment(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/issues/comments/{comment_id}."""
    repo = call.repo()
    call.require(COMMENT_READ)
    comment = find_comment(call.hub, repo, call.int_param("comment_id"))
    with call.state.lock:
        return Reply(comment_json(call.state, repo, comment))


def patch_comment(call: Call) -> Reply:
    """PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}."""
    repo = call.repo()
    call.require(COMMENT_WRITE)
    comment = find_comment(call.hub, repo, call.int_param("comment_id"))
    edit_comment(call.hub, repo, comment, call.actor(), call.field("body", str, required=True))
    with call.state.lock:
        return Reply(comment_json(call.state, repo, comment))


def remove_comment(call: Call) -> Reply:
    """DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}."""
    repo = call.repo()
    call.require(COMMENT_WRITE)
    comment = find_comment(call.hub, repo, call.int_param("comment_id"))
    delete_comment(call.hub, repo, comment, call.actor())
    return Reply(None, 204)


def _reactions(call: Call, subject: str, subject_id: int) -> Reply:
    with call.state.lock:
        found = [
            reaction_json(call.state, r)
            for r in call.state.reactions
            if (r.subject, r.subject_id) == (subject, subject_id)
            and (not call.query.get("content") or r.content == call.query["content"])
        ]
    return call.page(found)


def _react(call: Call, subject: str, subject_id: int) -> Reply:
    content = call.field("content", str, required=True)
    reaction, created = add_reaction(call.hub, subject, subject_id, call.actor(), content)
    with call.state.lock:
        return Reply(reaction_json(call.state, reaction), 201 if created else 200)


def list_comment_reactions(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions."""
    comment = find_comment(call.hub, call.repo(), call.int_param("comment_id"))
    call.require(COMMENT_READ)
    return _reactions(call, "issue_comment", comment.id)


def post_comment_reaction(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions — 200 if it exists."""
    comment = find_comment(call.hub, call.repo(), call.int_param("comment_id"))
    call.require(COMMENT_WRITE)
    return _react(call, "issue_comment", comment.id)


def list_issue_reactions(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/issues/{issue_number}/reactions."""
    issue = find_issue(call.hub, call.repo(), call.int_param("issue_number"))
    call.require(COMMENT_READ)
    return _reactions(call, "issue", issue.id)


def post_issue_reaction(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/issues/{issue_number}/reactions."""
    issue = find_issue(call.hub, call.repo(), call.int_param("issue_number"))
    call.require(COMMENT_WRITE)
    return _react(call, "issue", issue.id)


routes: list[Route] = [
    api("GET", ISSUES, list_issues),
    api("POST", ISSUES, post_issue),
    api("GET", ISSUES + "/{issue_number}", get_issue),
    api("PATCH", ISSUES + "/{issue_number}", patch_issue),
    api("GET", ISSUES + "/{issue_number}/comments", list_comments),
    api("POST", ISSUES + "/{issue_number}/comments", post_comment),
    api("GET", ISSUES + "/{issue_number}/reactions", list_issue_reactions),
    api("POST", ISSUES + "/{issue_number}/reactions", post_issue_reaction),
    api("GET", ISSUES + "/comments/{comment_id}", get_comment),
    api("PATCH", ISSUES + "/comments/{comment_id}", patch_comment),
    api("DELETE", ISSUES + "/comments/{comment_id}", remove_comment),
    api("GET", ISSUES + "/comments/{comment_id}/reactions", list_comment_reactions),
    api("POST", ISSUES + "/comments/{comment_id}/reactions", post_comment_reaction),
]
