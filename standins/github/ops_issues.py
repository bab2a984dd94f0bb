"""Issues, their comments and reactions, and the `issues` / `issue_comment` events."""

from __future__ import annotations

from typing import Any

from .errors import not_found, validation_failed
from .hub import Hub
from .payloads import repo_event
from .render_issues import REACTIONS, comment_json, issue_json
from .state import Comment, Delivery, Issue, Reaction, Repo, User, next_id, now

MAX_BODY = 65536


def check_body(resource: str, body: str | None) -> None:
    """422 like GitHub for a body over 65536 characters."""
    if body is not None and len(body) > MAX_BODY:
        raise validation_failed(
            resource, "body", "custom", f"body is too long (maximum is {MAX_BODY} characters)"
        )


def find_issue(hub: Hub, repo: Repo, number: int) -> Issue:
    """Issue (or pull request) `number` of `repo`, 404 when missing."""
    with hub.state.lock:
        issue = hub.state.issues.get((repo.id, number))
    if issue is None:
        raise not_found()
    return issue


def find_comment(hub: Hub, repo: Repo, comment_id: int) -> Comment:
    """An issue comment of `repo`, 404 when missing."""
    with hub.state.lock:
        comment = hub.state.comments.get(comment_id)
    if comment is None or comment.repo_id != repo.id:
        raise not_found()
    return comment


def _issue_event(
    hub: Hub, repo: Repo, issue: Issue, action: str, sender: User, **extra: Any
) -> dict[str, Any]:
    with hub.state.lock:
        return repo_event(
            hub.state, repo, sender, action, issue=issue_json(hub.state, repo, issue), **extra
        )


def open_issue(
    hub: Hub,
    repo: Repo,
    user: User,
    title: str,
    body: str | None = None,
    labels: list[str] | None = None,
    app_id: int | None = None,
) -> tuple[Issue, list[Delivery]]:
    """Open an issue; deliver `issues` opened."""
    check_body("Issue", body)
    with hub.state.lock:
        issue = Issue(
            id=next_id(),
            repo_id=repo.id,
            number=repo.next_number,
            title=title,
            body=body,
            user=user,
            labels=list(labels or []),
            app_id=app_id,
        )
        repo.next_number += 1
        hub.state.issues[(repo.id, issue.number)] = issue
    event = _issue_event(hub, repo, issue, "opened", user)
    return issue, hub.webhooks.emit(repo, "issues", event)


def update_issue(
    hub: Hub, repo: Repo, issue: Issue, fields: dict[str, Any], user: User
) -> list[Delivery]:
    """Edit title/body/state/labels; deliver `issues` edited, closed or reopened."""
    check_body("Issue", fields.get("body"))
    changes: dict[str, Any] = {}
    actions = []
    with hub.state.lock:
        for key in ("title", "body"):
            if key in fields and fields[key] != getattr(issue, key):
                changes[key] = {"from": getattr(issue, key)}
                setattr(issue, key, fields[key])
        if "labels" in fields:
            issue.labels = [
                str(x if isinstance(x, str) else x.get("name")) for x in fields["labels"]
            ]
        state = fields.get("state")
        if state in ("open", "closed") and state != issue.state:
            issue.state = state
            issue.closed_at = now() if state == "closed" else None
            actions.append("closed" if state == "closed" else "reopened")
        issue.updated_at = now()
    if changes:
        actions.insert(0, "edited")
    deliveries = []
    for action in actions:
        extra = {"changes": changes} if action == "edited" else {}
        event = _issue_event(hub, repo, issue, action, user, **extra)
        deliveries += hub.webhooks.emit(repo, "issues", event)
    return deliveries


def _comment_event(
    hub: Hub, repo: Repo, comment: Comment, action: str, sender: User, **extra: Any
) -> dict[str, Any]:
    with hub.state.lock:
        issue = hub.state.issues[(repo.id, comment.issue_number)]
        return repo_event(
            hub.state,
            repo,
            sender,
            action,
            **extra,
            issue=issue_json(hub.state, repo, issue),
            comment=comment_json(hub.state, repo, comment),
        )


def create_comment(
    hub: Hub, repo: Repo, number: int, user: User, body: str, app_id: int | None = None
) -> tuple[Comment, list[Delivery]]:
    """Comment on issue or pull request `number`; deliver `issue_comment` created."""
    issue = find_issue(hub, repo, number)
    check_body("IssueComment", body)
    with hub.state.lock:
        comment = Comment(next_id(), repo.id, issue.number, user, body, app_id=app_id)
        hub.state.comments[comment.id] = comment
        key = (repo.id, issue.number)
        hub.state.comment_counts[key] = hub.state.comment_counts.get(key, 0) + 1
        issue.updated_at = now()
    event = _comment_event(hub, repo, comment, "created", user)
    return comment, hub.webhooks.emit(repo, "issue_comment", event)


def edit_comment(hub: Hub, repo: Repo, comment: Comment, user: User, body: str) -> list[Delivery]:
    """Change a comment's body; deliver `issue_comment` edited with `changes.body.from`."""
    check_body("IssueComment", body)
    with hub.state.lock:
        previous = comment.body
        comment.body = body
        comment.updated_at = now()
    changes = {"body": {"from": previous}}
    event = _comment_event(hub, repo, comment, "edited", user, changes=changes)
    return hub.webhooks.emit(repo, "issue_comment", event)


def delete_comment(hub: Hub, repo: Repo, comment: Comment, user: User) -> list[Delivery]:
    """Delete a comment; deliver `issue_comment` deleted."""
    event = _comment_event(hub, repo, comment, "deleted", user)
    with hub.state.lock:
        if hub.state.comments.pop(comment.id, None) is not None:
            key = (comment.repo_id, comment.issue_number)
            hub.state.comment_counts[key] = hub.state.comment_counts.get(key, 1) - 1
        hub.state.reactions = [
            r
            for r in hub.state.reactions
            if (r.subject, r.subject_id) != ("issue_comment", comment.id)
        ]
    return hub.webhooks.emit(repo, "issue_comment", event)


def add_reaction(
    hub: Hub, subject: str, subject_id: int, user: User, content: str
) -> tuple[Reaction, bool]:
    """React; an identical reaction by the same user is returned again (created False)."""
    if content not in REACTIONS:
        raise validation_failed(
            "Reaction", "content", "custom", "content is not included in the list"
        )
    with hub.state.lock:
        for existing in hub.state.reactions_on(subject, subject_id):
            if (existing.user.id, existing.content) == (user.id, content):
                return existing, False
        reaction = Reaction(next_id(), subject, subject_id, user, content)
        hub.state.reactions.append(reaction)
        return reaction, True
