"""Review comments on lines of a pull request (`/suggest …` and `/revise …` in a thread),
and submitted reviews whose body holds `/revise` (every line comment of it, one commit).

As for issue comments, the handler only recognises a command and queues its
acknowledgement (👀, the commenter's role, one reply in the thread) on the acknowledgement
queue, keyed by the comment id so a redelivery or an edit never runs it twice. Comments by
bots, the app's own replies included, are ignored; replies in a thread are commands too.
A review is keyed by its id, whichever of its events arrives first (`bot.jobs.review_commands`).
"""

from __future__ import annotations

from typing import Any

from bot.book.review_outcome import holds_revise
from bot.commands import MAX_COMMENT_CHARS
from bot.queue import ACK_QUEUE_NAME
from bot.routing import Event, Router
from bot.services import Services
from handlers.comments import is_bot, person_comment

router = Router()

LINE_COMMANDS = ("/suggest", "/revise")


def line_command(body: str) -> str | None:
    """`suggest` or `revise` when the comment starts with that command word, else None."""
    head = body.lstrip()[: MAX_COMMENT_CHARS + 1]
    for command in LINE_COMMANDS:
        if head.lower().startswith(command) and (
            len(head) == len(command) or head[len(command)].isspace()
        ):
            return command[1:]
    return None


def review_comment_request(event: Event) -> dict[str, Any] | None:
    """What the acknowledgement needs from a `pull_request_review_comment` payload, or None."""
    parts = person_comment(event, "pull_request")
    if parts is None:
        return None
    comment, pull, repository = parts
    body = comment.get("body")
    if not isinstance(body, str) or not isinstance(pull.get("number"), int):
        return None
    command = line_command(body)
    if command is None:
        return None
    return {
        "installation_id": event.installation_id,
        "repository": repository.get("full_name"),
        "default_branch": repository.get("default_branch") or "main",
        "issue_number": pull["number"],
        "pull_request": True,
        "comment_id": comment["id"],
        "comment_url": comment.get("html_url") or "",
        "author": comment["user"].get("login"),
        "command": command,
        "body": body[: MAX_COMMENT_CHARS + 1],
        "path": comment.get("path"),
        "line": comment.get("line"),
        "start_line": comment.get("start_line"),
        "side": comment.get("side") or "RIGHT",
        "original_line": comment.get("original_line"),
        "original_start_line": comment.get("original_start_line"),
        "original_commit_id": comment.get("original_commit_id"),
        "commit_id": comment.get("commit_id"),
        "review_id": comment.get("pull_request_review_id"),
    }


@router.register("pull_request_review_comment", "created")
async def review_comment_created(event: Event, services: Services) -> None:
    """A new line comment that starts with `/suggest` or `/revise`: queue its answer."""
    request = review_comment_request(event)
    if request is None:
        return
    await services.queue.enqueue(
        "acknowledge_line_command",
        request,
        job_id=f"ack-line:{request['repository']}:{request['comment_id']}",
        queue_name=ACK_QUEUE_NAME,
    )


def review_request(event: Event) -> dict[str, Any] | None:
    """What the review's acknowledgement needs from `pull_request_review` submitted, or None
    when the review does not ask for a revision."""
    payload = event.payload
    review, pull = payload.get("review"), payload.get("pull_request")
    repository = payload.get("repository")
    if not (isinstance(review, dict) and isinstance(pull, dict) and isinstance(repository, dict)):
        return None
    if event.installation_id is None or not isinstance(review.get("id"), int):
        return None
    if is_bot(payload.get("sender")) or is_bot(review.get("user")):
        return None
    body = review.get("body")
    if not holds_revise(body) or not isinstance(pull.get("number"), int):
        return None
    return review_job_request(
        event.installation_id, repository, pull["number"], review["id"],
        review["user"].get("login"), str(body), review.get("html_url") or "",
    )  # fmt: skip


def review_job_request(
    installation_id: int,
    repository: dict[str, Any],
    pull: int,
    review_id: int,
    author: str,
    body: str,
    url: str,
) -> dict[str, Any]:
    """The request of a review's acknowledgement (also built by a line command's
    acknowledgement when it finds its review asks for a revision)."""
    return {
        "installation_id": installation_id,
        "repository": repository.get("full_name"),
        "default_branch": repository.get("default_branch") or "main",
        "issue_number": pull,
        "pull_request": True,
        "review_id": review_id,
        "comment_url": url,
        "author": author,
        "body": body[: MAX_COMMENT_CHARS + 1],
    }


@router.register("pull_request_review", "submitted")
async def review_submitted(event: Event, services: Services) -> None:
    """A submitted review whose body holds `/revise`: queue the review's one revision."""
    request = review_request(event)
    if request is None:
        return
    await services.queue.enqueue(
        "acknowledge_review",
        request,
        job_id=f"ack-review:{request['repository']}:{request['review_id']}",
        queue_name=ACK_QUEUE_NAME,
    )
