"""The common frame of repository webhook payloads: action, objects, repository, sender."""

from __future__ import annotations

from typing import Any

from .render_core import org_json, repo_json, user_json
from .state import Repo, State, User


def open_issue_count(state: State, repo: Repo) -> int:
    """Open issues and pull requests, as `open_issues_count` counts them."""
    return sum(1 for i in state.issues.values() if i.repo_id == repo.id and i.state == "open")


def repo_event(
    state: State, repo: Repo, sender: User, action: str | None = None, **objects: Any
) -> dict[str, Any]:
    """A payload: `action`, the event's objects, `repository`, `organization`, `sender`.

    The `installation` key is added per app at delivery time.
    """
    payload: dict[str, Any] = {} if action is None else {"action": action}
    payload.update(objects)
    payload["repository"] = repo_json(state, repo, open_issue_count(state, repo))
    if repo.owner.type == "Organization":
        payload["organization"] = org_json(state, repo.owner)
    payload["sender"] = user_json(state, sender)
    return payload
