"""`/publish`, over HTTP only (the app and the GitHub stand-in, whose Actions "run" the
dispatched workflow and deliver `workflow_run`).

Pages off: the status names the one setting (no 5xx, no request to create a site); the
author turns Pages on and the app, looking again, dispatches the bundled workflow once and
ends the status with the live URL, the commit and the run. A second `/publish` of the same
head answers at once; a failed deploy names the failing step. Two `/publish`es at once
(from two issues) wait for one run and both end with the address. A run that never reports
back ends the status when `LIQUIDBOOK_PUBLISH_WAIT_SECONDS` is over, with the run's link;
one that completed but whose event was lost ends it with the address all the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from tests.world import REPO, World

DISPATCH = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, redis_server_url: str, redis_test_db: int
) -> Iterator[World]:
    # One world for the module (its tests each publish a new commit). Publishing keeps
    # nothing in the database: SQLite is enough.
    tmp_path = tmp_path_factory.mktemp("publish")
    redis_url = module_redis_url(redis_server_url, redis_test_db)
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'liquidbook.db'}")
    try:
        world.start_app(
            LIQUIDBOOK_PAGES_POLL_SECONDS="1",
            LIQUIDBOOK_PAGES_WAIT_SECONDS="60",
            LIQUIDBOOK_PUBLISH_WAIT_SECONDS="6",
        )
        world.installation_id = world.install()  # type: ignore[attr-defined]
        yield world
    finally:
        world.close()


def module_redis_url(server_url: str, db: int) -> str:
    """The session's test database, flushed (what the `redis_url` fixture gives a test)."""
    url = f"{server_url}?db={db}" if server_url.startswith("unix://") else f"{server_url}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


def dispatches(world: World) -> int:
    return sum(1 for r in world.github.requests if (r.method, r.route) == ("POST", DISPATCH))


def test_publish_with_pages_off_then_on(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Publish")
    gh.comment(REPO, issue, "alice", "/publish")

    def asked() -> bool:
        return any("Source: GitHub Actions" in c["body"] for c in world.status_comments(issue))

    world.wait_for(asked, what="the one setting to change")
    [status] = world.status_comments(issue)
    assert "/octo-org/book/settings/pages" in status["body"]
    assert dispatches(world) == 0
    gh.set_pages(REPO, True)
    [final] = world.wait_final(issue)
    head = gh.branches(REPO)["main"]
    assert final["body"].count("✅ The book is live at http://octo-org.github.io/book/") == 1
    assert head[:12] in final["body"] and "/actions/runs/" in final["body"]
    assert dispatches(world) == 1
    # No 5xx, and never a request to create the site (that needs Administration).
    assert not [r for r in gh.requests if r.status >= 500]
    assert not [r for r in gh.requests if r.method == "POST" and r.path.endswith("/pages")]

    # Again, nothing new on main: the address at once, no second deploy.
    gh.comment(REPO, issue, "alice", "/publish")
    finals = world.wait_final(issue, count=2)
    assert "live at http://octo-org.github.io/book/" in finals[-1]["body"]
    assert dispatches(world) == 1

    # A new commit whose deploy fails: the status names the failing step.
    with gh.hub.state.lock:
        gh.hub.state.workflow_outcome = "failure"
    gh.push(REPO, "main", {"notes.md": "# Notes\n"}, user="alice", message="Notes")
    gh.comment(REPO, issue, "alice", "/publish")
    finals = world.wait_final(issue, count=3)
    assert "❌ The deploy of commit" in finals[-1]["body"]
    assert "Build the book / Build" in finals[-1]["body"]
    assert dispatches(world) == 2

    # A Pages build of that commit errored (`page_build`, in the shape of octokit's example):
    # it is the last deploy now, with GitHub's message as the failing step.
    head = gh.branches(REPO)["main"]
    gh.deliver(
        "page_build",
        {
            "id": 130514899,
            "build": {
                "url": f"https://api.github.com/repos/{REPO}/pages/builds/130514899",
                "status": "errored",
                "error": {"message": "Page build failed."},
                "commit": head,
                "duration": 1698,
                "created_at": "2026-12-06T02:00:00Z",
                "updated_at": "2026-12-06T02:00:02Z",
            },
            "repository": {
                "full_name": REPO,
                "name": REPO.split("/")[1],
                "owner": {"login": REPO.split("/")[0]},
                "default_branch": "main",
            },
            "installation": {"id": world.installation_id},  # type: ignore[attr-defined]
            "sender": {"login": "github-pages[bot]", "type": "Bot"},
        },
    )
    client = redis.Redis.from_url(world.redis_url)
    try:

        def recorded() -> dict[str, object] | None:
            raw = client.get(f"liquidbook:deploy:{REPO}")
            deploy = json.loads(raw) if raw else None
            return deploy if deploy and deploy["failing_step"] == "Page build failed." else None

        deploy = world.wait_for(recorded, what="the page_build recorded as the last deploy")
    finally:
        client.close()
    assert deploy["sha"] == head and deploy["conclusion"] == "failure"


def new_head(world: World, text: str) -> str:
    """Pages on, deploys succeeding, and a new commit on main (not deployed yet)."""
    gh = world.github
    gh.set_pages(REPO, True)
    with gh.hub.state.lock:
        gh.hub.state.workflow_outcome = "success"
        gh.hub.state.workflow_seconds = 0.5
    return gh.push(REPO, "main", {"notes.md": f"# Notes\n\n{text}\n"}, user="alice", message=text)


def test_two_publishes_at_once_wait_for_one_run(world: World) -> None:
    gh = world.github
    head = new_head(world, "Two at once.")
    with gh.hub.state.lock:
        gh.hub.state.workflow_seconds = 2.5  # both join before the run reports back
    before = dispatches(world)
    first, second = (gh.open_issue(REPO, "alice", f"Publish {n}") for n in (1, 2))
    gh.comment(REPO, first, "alice", "/publish")
    gh.comment(REPO, second, "alice", "/publish")
    [one] = world.wait_final(first)
    [two] = world.wait_final(second)
    for final in (one, two):
        assert "✅ The book is live at http://octo-org.github.io/book/" in final["body"]
        assert head[:12] in final["body"] and "/actions/runs/" in final["body"]
    assert dispatches(world) == before + 1


def test_a_run_that_never_reports_back_ends_the_status(world: World) -> None:
    gh = world.github
    head = new_head(world, "Slow runners.")
    with gh.hub.state.lock:
        gh.hub.state.workflow_seconds = 3600  # queued for an hour: no event in this test
    issue = gh.open_issue(REPO, "alice", "Publish, slowly")
    gh.comment(REPO, issue, "alice", "/publish")
    [final] = world.wait_final(issue)
    body = final["body"]
    assert body.count("⚠️ [the deploy run](http") == 1, body
    assert f"/{REPO}/actions/runs/" in body and head[:12] in body
    assert "did not report back within 6 seconds" in body and "still `queued`" in body
    assert "Deploying" not in body
    [run] = [r for r in gh.workflow_runs(REPO) if r["head_sha"] == head]
    assert run["status"] == "queued"


def test_a_run_whose_event_is_lost_is_found_when_the_wait_is_over(world: World) -> None:
    gh = world.github
    head = new_head(world, "Lost event.")
    with gh.hub.state.lock:
        app = gh.hub.state.apps[world.app.id]
        events = list(app.events)
        # GitHub drops the run's event: the app hears the others only.
        app.events = ["issues", "issue_comment", "push", "pull_request", "check_run"]
    try:
        issue = gh.open_issue(REPO, "alice", "Publish, event lost")
        gh.comment(REPO, issue, "alice", "/publish")
        [final] = world.wait_final(issue)
    finally:
        with gh.hub.state.lock:
            app.events = events
    assert "✅ The book is live at http://octo-org.github.io/book/" in final["body"]
    [run] = [r for r in gh.workflow_runs(REPO) if r["head_sha"] == head]
    assert run["status"] == "completed" and run["html_url"] in final["body"]
