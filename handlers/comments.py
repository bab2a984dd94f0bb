"""Slash-commands in issue and PR comments: recognise them, and queue the acknowledgement.

The handler never talks to GitHub: it checks who wrote the comment, looks for a line that
could be a command (`may_hold_commands`: one linear pass in C over a bounded prefix; anyone
may comment, so the handler does nothing whose cost a comment can choose), and enqueues one
`acknowledge_command` job keyed by the comment id on the acknowledgement queue (its own
worker, never behind long jobs). That job parses the comment with the grammar, reacts with
👀 when it holds a command, checks the author's permission and answers within a second.
Comments by bots (the app itself included) are ignored. Only `created` is handled: an edited
comment does not run its commands a second time.
"""

from __future__ import annotations

from typing import Any

from bot.commands import MAX_COMMENT_CHARS, may_hold_commands
from bot.queue import ACK_QUEUE_NAME
from bot.routing import Event, Router
from bot.services import Services

router = Router()


def is_bot(user: Any) -> bool:
    """GitHub Apps and bot accounts: `type: Bot`, or a login ending in `[bot]`."""
    if not isinstance(user, dict):
        return True  # no author: nothing to answer to
    login = str(user.get("login") or "")
    return user.get("type") == "Bot" or login.endswith("[bot]")


def person_comment(
    event: Event, parent: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """`(comment, payload[parent], repository)` of a comment a person wrote in an installed
    repository, or None (a bot's, the app's own, or a payload missing one of them)."""
    payload = event.payload
    comment, container = payload.get("comment"), payload.get(parent)
    repository = payload.get("repository")
    if not (
        isinstance(comment, dict) and isinstance(container, dict) and isinstance(repository, dict)
    ):
        return None
    if event.installation_id is None or not isinstance(comment.get("id"), int):
        return None
    if is_bot(payload.get("sender")) or is_bot(comment.get("user")):
        return None
    return comment, container, repository


def command_request(event: Event) -> dict[str, Any] | None:
    """What the acknowledgement job needs, from an `issue_comment` payload, or None."""
    parts = person_comment(event, "issue")
    if parts is None:
        return None
    comment, issue, repository = parts
    body = comment.get("body")
    if not isinstance(body, str) or not may_hold_commands(body):
        return None
    return {
        "installation_id": event.installation_id,
        "repository": repository.get("full_name"),
        "default_branch": repository.get("default_branch") or "main",
        "issue_number": issue.get("number"),
        # A comment in a pull request's conversation: `/revise` works on that PR.
        "pull_request": isinstance(issue.get("pull_request"), dict),
        "comment_id": comment["id"],
        "comment_url": comment.get("html_url") or "",
        "author": comment["user"].get("login"),
        # The grammar reads no further than this (one more character tells it the comment
        # was longer), so the job's arguments in Redis stay small whatever was posted.
        "body": body[: MAX_COMMENT_CHARS + 1],
    }


@router.register("issue_comment", "created")
async def comment_created(event: Event, services: Services) -> None:
    """A new comment with a line that may be a command: queue the acknowledgement."""
    request = command_request(event)
    if request is None or not isinstance(request["issue_number"], int):
        return
    await services.queue.enqueue(
        "acknowledge_command",
        request,
        job_id=f"ack:{request['repository']}:{request['comment_id']}",
        queue_name=ACK_QUEUE_NAME,
    )
