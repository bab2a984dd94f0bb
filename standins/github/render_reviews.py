"""JSON shape of a pull request review (REST `pull-request-review`; the webhook's `review`)."""

from __future__ import annotations

from typing import Any

from .render_core import author_association, user_json
from .state import Repo, Review, State, iso, node_id


def review_json(state: State, repo: Repo, review: Review, webhook: bool = False) -> dict[str, Any]:
    """A review. The webhook spells its state in lower case (`commented`), REST in upper."""
    api = f"{state.api_url}/repos/{repo.full_name}/pulls/{review.pull_number}"
    html = f"{state.html_url}/{repo.full_name}/pull/{review.pull_number}"
    html += f"#pullrequestreview-{review.id}"
    body: dict[str, Any] = {
        "id": review.id,
        "node_id": node_id("PullRequestReview", review.id),
        "user": user_json(state, review.user),
        "body": review.body or (None if webhook else ""),
        "commit_id": review.commit_id,
        "submitted_at": iso(review.submitted_at) if review.submitted_at else None,
        "state": review.state.lower() if webhook else review.state,
        "html_url": html,
        "pull_request_url": api,
        "author_association": author_association(state, repo, review.user),
        "_links": {"html": {"href": html}, "pull_request": {"href": api}},
    }
    if not review.submitted_at and not webhook:
        del body["submitted_at"]
    return body
