"""Pull request reviews: a review submitted with its line comments, all or none.

GitHub creates a review's comments only when every one of them hangs on the diff: one line
outside it fails the whole request with 422 and nothing is created. A submitted review is
delivered as one `pull_request_review_comment` created per line comment, then
`pull_request_review` submitted; a pending review (no `event`) delivers nothing.
"""

from __future__ import annotations

from typing import Any

from .errors import validation_failed
from .hub import Hub
from .ops_issues import check_body
from .ops_pulls import anchor_hunk, create_review_comment
from .payloads import repo_event
from .pull_events import pull_git
from .render_pulls import pull_json
from .render_reviews import review_json
from .state import Delivery, Issue, Repo, Review, ReviewComment, User, next_id, now

STATES = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


def create_review(
    hub: Hub,
    repo: Repo,
    issue: Issue,
    user: User,
    body: str = "",
    event: str | None = None,
    comments: list[dict[str, Any]] | None = None,
    commit_id: str | None = None,
    app_id: int | None = None,
) -> tuple[Review, list[ReviewComment], list[Delivery]]:
    """Submit a review (or keep it pending without `event`) with its line comments."""
    if event is not None and event not in STATES:
        raise validation_failed("PullRequestReview", "event", "invalid")
    if event in ("REQUEST_CHANGES", "COMMENT") and not body and not comments:
        raise validation_failed("PullRequestReview", "body", "custom", "Review Body can't be blank")
    if body:
        check_body("PullRequestReview", body)
    info = pull_git(hub, repo, issue)
    wanted = comments or []
    for item in wanted:
        # Every comment is checked before any is made: the batch fails whole.
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise validation_failed("PullRequestReviewComment", "path", "missing_field")
        line = item.get("line", item.get("position"))
        if not isinstance(line, int) or not isinstance(item.get("body"), str):
            raise validation_failed("PullRequestReviewComment", "line", "missing_field")
        check_body("PullRequestReviewComment", item["body"])
        anchor_hunk(
            hub, repo, info.base_sha, info.head_sha, item["path"], line,
            str(item.get("side") or "RIGHT"),
        )  # fmt: skip
    with hub.state.lock:
        review = Review(
            id=next_id(),
            repo_id=repo.id,
            pull_number=issue.number,
            user=user,
            body=body,
            state=STATES[event] if event else "PENDING",
            commit_id=commit_id or info.head_sha,
            submitted_at=now() if event else None,
        )
        hub.state.reviews[review.id] = review
    made: list[ReviewComment] = []
    deliveries: list[Delivery] = []
    for item in wanted:
        comment, sent = create_review_comment(
            hub, repo, issue, user, item["body"], item["path"],
            item.get("line", item.get("position")), str(item.get("side") or "RIGHT"),
            item.get("start_line"), review.commit_id, app_id=app_id, review_id=review.id,
            deliver=event is not None,
        )  # fmt: skip
        made.append(comment)
        deliveries += sent
    if event:
        with hub.state.lock:
            payload = repo_event(
                hub.state,
                repo,
                user,
                "submitted",
                review=review_json(hub.state, repo, review, webhook=True),
                pull_request=pull_json(hub.state, repo, issue, info),
            )
        deliveries += hub.webhooks.emit(repo, "pull_request_review", payload)
    return review, made, deliveries
