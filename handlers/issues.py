"""`issues` edited: a box ticked on the Book Dashboard runs its command as the person who
ticked it.

The tick is read from the webhook alone (`changes.body.from` against `issue.body`, no extra
call): a box unticked before and ticked now. Each becomes the same acknowledgement job a
typed command gets (`bot.jobs.acknowledge`: permission check, status comment on the
dashboard, budget rules), carrying the box's id so the box is unticked when its jobs end.
Edits by bots (the app's own refreshes included) run nothing, and only the app's own
dashboard issue (opened by a bot, holding the marker) is read.
"""

from __future__ import annotations

from typing import Any

from bot.book import dashboard
from bot.jobs.dashboard import box_started, schedule_refresh
from bot.queue import ACK_QUEUE_NAME
from bot.routing import Event, Router
from bot.services import Services
from handlers.comments import is_bot

router = Router()


def ticks(event: Event) -> tuple[dict[str, Any], list[str]] | None:
    """(issue, boxes newly ticked by a person) for an edit of the dashboard, or None."""
    payload = event.payload
    issue, changes = payload.get("issue"), payload.get("changes")
    if not isinstance(issue, dict) or not isinstance(changes, dict):
        return None
    if is_bot(payload.get("sender")) or not is_bot(issue.get("user")):
        return None
    if event.installation_id is None or not isinstance(issue.get("number"), int):
        return None
    before = changes.get("body", {}).get("from") if isinstance(changes.get("body"), dict) else None
    after = issue.get("body")
    if not isinstance(before, str) or not isinstance(after, str):
        return None
    if dashboard.MARKER not in after:
        return None
    return issue, dashboard.newly_ticked(before, after)


@router.register("issues", "edited")
async def dashboard_edited(event: Event, services: Services) -> None:
    found = ticks(event)
    if found is None:
        return
    issue, boxes = found
    repository = event.payload.get("repository") or {}
    full_name = repository.get("full_name")
    if not isinstance(full_name, str):
        return
    default_branch = repository.get("default_branch") or "main"
    login = event.payload["sender"].get("login")
    stubs = sorted(
        int(b.partition(":")[2])
        for b in dashboard.all_boxes(issue["body"])
        if b.startswith("write:")
    )
    for box in boxes:
        command = dashboard.command_for(box, stubs)
        if command is None:
            await box_started(services.redis, full_name, box, 0)
            await schedule_refresh(services, event.installation_id or 0, full_name, default_branch)
            continue
        tick_id = f"tick-{event.delivery_id}-{box.replace(':', '-')}"
        await services.queue.enqueue(
            "acknowledge_command",
            {
                "installation_id": event.installation_id,
                "repository": full_name,
                "default_branch": default_branch,
                "issue_number": issue["number"],
                "pull_request": False,
                "comment_id": tick_id,
                "comment_url": issue.get("html_url") or "",
                "author": login,
                "body": command,
                "dashboard_box": box,
            },
            job_id=f"ack:{full_name}:{tick_id}",
            queue_name=ACK_QUEUE_NAME,
        )


CONFIRM_BOX = "- [x] confirm <!-- lb:confirm -->"


@router.register("issue_comment", "edited")
async def confirm_box_ticked(event: Event, services: Services) -> None:
    """The "confirm" box of the app's own status comment (a request waiting for `/confirm`),
    ticked by a person: the same as commenting `/confirm` (role checked). Every other edited
    comment runs nothing (`handlers/comments.py`)."""
    from bot.status import MARKER as STATUS_MARKER

    payload = event.payload
    comment, issue, changes = payload.get("comment"), payload.get("issue"), payload.get("changes")
    if not (isinstance(comment, dict) and isinstance(issue, dict) and isinstance(changes, dict)):
        return
    if is_bot(payload.get("sender")) or not is_bot(comment.get("user")):
        return
    body = comment.get("body")
    before = changes.get("body", {}).get("from") if isinstance(changes.get("body"), dict) else None
    if not isinstance(body, str) or not isinstance(before, str) or STATUS_MARKER not in body:
        return
    if CONFIRM_BOX not in body or CONFIRM_BOX in before:
        return
    repository = payload.get("repository") or {}
    full_name = repository.get("full_name")
    if not isinstance(full_name, str) or not isinstance(issue.get("number"), int):
        return
    tick_id = f"confirm-{event.delivery_id}"
    await services.queue.enqueue(
        "acknowledge_command",
        {
            "installation_id": event.installation_id,
            "repository": full_name,
            "default_branch": repository.get("default_branch") or "main",
            "issue_number": issue["number"],
            "pull_request": isinstance(issue.get("pull_request"), dict),
            "comment_id": tick_id,
            "comment_url": comment.get("html_url") or "",
            "author": payload["sender"].get("login"),
            "body": "/confirm",
            "dashboard_box": None,
            "no_reaction": True,
        },
        job_id=f"ack:{full_name}:{tick_id}",
        queue_name=ACK_QUEUE_NAME,
    )
