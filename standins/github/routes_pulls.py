"""Pull requests: list, open, edit, merge, changed files, review comments and their reactions."""

from __future__ import annotations

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import not_found
from .ops_issues import add_reaction
from .ops_pulls import (
    create_review_comment,
    edit_review_comment,
    find_pull,
    merge_pull,
    open_pull,
    render_pull,
    update_pull,
)
from .pull_events import pull_git
from .render_issues import reaction_json, review_comment_json
from .render_pulls import file_json
from .state import Repo, ReviewComment

P = "/repos/{owner}/{repo}/pulls"


def list_pulls(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls — filtered by state, `head` (owner:branch) and base."""
    repo = call.repo()
    call.require("pull_requests:read")
    state = call.query.get("state", "open")
    head = call.query.get("head")
    base = call.query.get("base")
    with call.state.lock:
        pulls = sorted(
            (i for i in call.state.issues.values() if i.repo_id == repo.id and i.pull),
            key=lambda i: i.number,
            reverse=call.query.get("direction", "desc") == "desc",
        )
    chosen = []
    for issue in pulls:
        assert issue.pull is not None
        if state != "all" and issue.state != state:
            continue
        if head:
            owner, _, branch = head.partition(":")
            if not branch:
                # GitHub ignores a head filter without an owner, like it ignores a bad one.
                branch = issue.pull.head_ref
            elif owner.lower() != repo.owner.login.lower():
                continue
            if issue.pull.head_ref != branch:
                continue
        if base and issue.pull.base_ref != base:
            continue
        chosen.append(issue)
    page = call.page(chosen)
    page.body = [render_pull(call.hub, repo, i) for i in page.body]
    return page


def post_pull(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/pulls."""
    repo = call.repo()
    call.require("pull_requests:write")
    issue, _ = open_pull(
        call.hub,
        repo,
        call.actor(),
        title=call.field("title", str),
        head=call.field("head", str, required=True),
        base=call.field("base", str, required=True),
        body=call.field("body", str),
        draft=bool(call.field("draft", bool, default=False)),
        maintainer_can_modify=bool(call.field("maintainer_can_modify", bool, default=False)),
        app_id=call.auth.app.id if call.auth.app else None,
    )
    return Reply(render_pull(call.hub, repo, issue), 201)


def get_pull(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/{pull_number}."""
    repo = call.repo()
    call.require("pull_requests:read")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    return Reply(render_pull(call.hub, repo, issue))


def patch_pull(call: Call) -> Reply:
    """PATCH /repos/{owner}/{repo}/pulls/{pull_number} — title, body, state, base."""
    repo = call.repo()
    call.require("pull_requests:write")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    fields = {
        k: call.field(k, kind)
        for k, kind in (
            ("title", str),
            ("body", str),
            ("state", str),
            ("base", str),
            ("maintainer_can_modify", bool),
        )
        if isinstance(call.body, dict) and k in call.body
    }
    update_pull(call.hub, repo, issue, fields, call.actor())
    return Reply(render_pull(call.hub, repo, issue))


def put_merge(call: Call) -> Reply:
    """PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge — merge, squash or rebase."""
    repo = call.repo()
    call.require("contents:write")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    sha, _ = merge_pull(
        call.hub,
        repo,
        issue,
        call.actor(),
        method=call.field("merge_method", str, default="merge"),
        sha=call.field("sha", str),
        commit_title=call.field("commit_title", str),
        commit_message=call.field("commit_message", str),
    )
    return Reply({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


def get_merged(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/{pull_number}/merge — 204 when merged, else 404."""
    repo = call.repo()
    call.require("pull_requests:read")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    assert issue.pull is not None
    if issue.pull.merged_at is None:
        raise not_found()
    return Reply(None, 204)


def list_files(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/{pull_number}/files."""
    repo = call.repo()
    call.require("pull_requests:read")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    info = pull_git(call.hub, repo, issue)
    git = call.hub.git(repo)
    with git.lock:
        base = git.merge_base(info.base_sha, info.head_sha) or info.base_sha
        changes = git.diff(base, info.head_sha)
    return call.page([file_json(call.state, repo, info.head_sha, c) for c in changes])


def list_review_comments(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/{pull_number}/comments."""
    repo = call.repo()
    call.require("pull_requests:read")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    with call.state.lock:
        found = [
            review_comment_json(call.state, repo, c)
            for c in sorted(call.state.review_comments.values(), key=lambda c: c.id)
            if c.repo_id == repo.id and c.pull_number == issue.number
        ]
    return call.page(found)


def post_review_comment(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/pulls/{pull_number}/comments — a line comment or a reply."""
    repo = call.repo()
    call.require("pull_requests:write")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    comment, _ = create_review_comment(
        call.hub,
        repo,
        issue,
        call.actor(),
        body=call.field("body", str, required=True),
        path=call.field("path", str),
        line=call.field("line", int) or call.field("position", int),
        side=call.field("side", str, default="RIGHT"),
        start_line=call.field("start_line", int),
        commit_id=call.field("commit_id", str),
        in_reply_to=call.field("in_reply_to", int),
        app_id=call.auth.app.id if call.auth.app else None,
    )
    with call.state.lock:
        return Reply(review_comment_json(call.state, repo, comment), 201)


def _review_comment(call: Call) -> tuple[Repo, ReviewComment]:
    repo = call.repo()
    with call.state.lock:
        comment = call.state.review_comments.get(call.int_param("comment_id"))
    if comment is None or comment.repo_id != repo.id:
        raise not_found()
    return repo, comment


def _review_comment_id(call: Call) -> int:
    return _review_comment(call)[1].id


def get_review_comment(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/comments/{comment_id}."""
    repo, comment = _review_comment(call)
    call.require("pull_requests:read")
    with call.state.lock:
        return Reply(review_comment_json(call.state, repo, comment))


def patch_review_comment(call: Call) -> Reply:
    """PATCH /repos/{owner}/{repo}/pulls/comments/{comment_id}."""
    repo, comment = _review_comment(call)
    call.require("pull_requests:write")
    body = call.field("body", str, required=True)
    edit_review_comment(call.hub, repo, comment, call.actor(), body)
    with call.state.lock:
        return Reply(review_comment_json(call.state, repo, comment))


def post_reply(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies."""
    repo, parent = _review_comment(call)
    call.require("pull_requests:write")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    if parent.pull_number != issue.number:
        raise not_found()
    comment, _ = create_review_comment(
        call.hub,
        repo,
        issue,
        call.actor(),
        body=call.field("body", str, required=True),
        in_reply_to=parent.id,
        app_id=call.auth.app.id if call.auth.app else None,
    )
    with call.state.lock:
        return Reply(review_comment_json(call.state, repo, comment), 201)


def list_review_comment_reactions(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions."""
    comment_id = _review_comment_id(call)
    call.require("pull_requests:read")
    with call.state.lock:
        found = [
            reaction_json(call.state, r)
            for r in call.state.reactions
            if (r.subject, r.subject_id) == ("pull_comment", comment_id)
        ]
    return call.page(found)


def post_review_comment_reaction(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions — 200 when it exists."""
    comment_id = _review_comment_id(call)
    call.require("pull_requests:write")
    content = call.field("content", str, required=True)
    reaction, created = add_reaction(call.hub, "pull_comment", comment_id, call.actor(), content)
    with call.state.lock:
        return Reply(reaction_json(call.state, reaction), 201 if created else 200)


routes: list[Route] = [
    api("GET", P, list_pulls),
    api("POST", P, post_pull),
    api("GET", P + "/{pull_number}", get_pull),
    api("PATCH", P + "/{pull_number}", patch_pull),
    api("GET", P + "/{pull_number}/merge", get_merged),
    api("PUT", P + "/{pull_number}/merge", put_merge),
    api("GET", P + "/{pull_number}/files", list_files),
    api("GET", P + "/{pull_number}/comments", list_review_comments),
    api("POST", P + "/{pull_number}/comments", post_review_comment),
    api("POST", P + "/{pull_number}/comments/{comment_id}/replies", post_reply),
    api("GET", P + "/comments/{comment_id}", get_review_comment),
    api("PATCH", P + "/comments/{comment_id}", patch_review_comment),
    api("GET", P + "/comments/{comment_id}/reactions", list_review_comment_reactions),
    api("POST", P + "/comments/{comment_id}/reactions", post_review_comment_reaction),
]
