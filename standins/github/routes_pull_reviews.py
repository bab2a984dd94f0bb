"""Pull request reviews: create (with line comments), list, read one, list its comments."""

from __future__ import annotations

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import not_found, validation_failed
from .ops_pulls import find_pull
from .ops_reviews import create_review
from .render_issues import review_comment_json
from .render_reviews import review_json

P = "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"


def post_review(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews."""
    repo = call.repo()
    call.require("pull_requests:write")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    comments = call.field("comments", list, default=[])
    if not all(isinstance(c, dict) for c in comments):
        raise validation_failed("PullRequestReview", "comments", "invalid")
    review, _, _ = create_review(
        call.hub,
        repo,
        issue,
        call.actor(),
        body=call.field("body", str, default=""),
        event=call.field("event", str),
        comments=comments,
        commit_id=call.field("commit_id", str),
        app_id=call.auth.app.id if call.auth.app else None,
    )
    with call.state.lock:
        return Reply(review_json(call.state, repo, review))


def list_reviews(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews — oldest first."""
    repo = call.repo()
    call.require("pull_requests:read")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    with call.state.lock:
        found = [
            review_json(call.state, repo, r)
            for r in sorted(call.state.reviews.values(), key=lambda r: r.id)
            if r.repo_id == repo.id and r.pull_number == issue.number
        ]
    return call.page(found)


def get_review(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}."""
    repo = call.repo()
    call.require("pull_requests:read")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    with call.state.lock:
        review = call.state.reviews.get(call.int_param("review_id"))
        if review is None or review.repo_id != repo.id or review.pull_number != issue.number:
            raise not_found()
        return Reply(review_json(call.state, repo, review))


def list_review_comments_of(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments."""
    repo = call.repo()
    call.require("pull_requests:read")
    issue = find_pull(call.hub, repo, call.int_param("pull_number"))
    review_id = call.int_param("review_id")
    with call.state.lock:
        review = call.state.reviews.get(review_id)
        if review is None or review.repo_id != repo.id or review.pull_number != issue.number:
            raise not_found()
        found = [
            review_comment_json(call.state, repo, c)
            for c in sorted(call.state.review_comments.values(), key=lambda c: c.id)
            if c.repo_id == repo.id and c.review_id == review_id
        ]
    return call.page(found)


routes: list[Route] = [
    api("GET", P, list_reviews),
    api("POST", P, post_review),
    api("GET", P + "/{review_id}", get_review),
    api("GET", P + "/{review_id}/comments", list_review_comments_of),
]
