"""Commands posted while the app was down are answered once it is back (issue 8.5).

GitHub never redelivers a failed delivery by itself. With the app stopped, three commands
are posted (the stand-in records each delivery as failed: nothing listens); the app starts,
its recovery at start-up asks GitHub to send them again, and each command gets exactly one
answer (and the chapter command one PR). A fourth command was processed but its answer was
lost on the way back (a proxy answered 504): GitHub says failed, the dedup store says done,
and it is not run again. A second recovery asks for nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.jobs.redeliver import recover
from bot.services import Services
from standins.github.server import ServerThread
from tests.world import REPO, World


class LosingProxy:
    """A reverse proxy that passes each delivery to the app, then answers 504 as a proxy
    whose upstream took too long does: the app did the work, GitHub records a failure."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream

        async def hook(request: Request) -> Response:
            async with httpx.AsyncClient() as client:
                await client.post(
                    self.upstream, content=await request.body(), headers=dict(request.headers)
                )
            return Response("Gateway Timeout", 504)

        self.server = ServerThread(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
        self.url = f"http://127.0.0.1:{self.server.start()}/hook"


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    # One database kind: recovery reads GitHub and Redis only.
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        world.start_app()
        world.install()
        yield world
    finally:
        world.close()


async def test_commands_posted_while_down_are_answered_once_after_restart(world: World) -> None:
    gh = world.github
    assert world.app_process is not None
    issues = {
        name: gh.open_issue(REPO, "alice", name) for name in ("lost", "chapter", "help", "usage")
    }

    # Processed, but the answer never reached GitHub.
    proxy = LosingProxy(world.app_process.url + "/api/github/webhooks")
    try:
        gh.set_webhook_url(world.app.id, proxy.url)
        answered_late = gh.comment(REPO, issues["lost"], "alice", "/help")
        assert answered_late.status_code == 504
        world.wait_final(issues["lost"])
    finally:
        proxy.server.stop()

    # The app goes down; GitHub keeps sending to where it was.
    world.app_process.stop()
    gh.set_webhook_url(world.app.id, world.app_process.url + "/api/github/webhooks")
    posted = {
        "chapter": gh.comment(REPO, issues["chapter"], "alice", "/generate chapter 1"),
        "help": gh.comment(REPO, issues["help"], "alice", "/help"),
        "usage": gh.comment(REPO, issues["usage"], "alice", "/usage"),
    }
    for delivery in posted.values():
        assert delivery.status_code is None and delivery.error  # nobody listening

    world.start_app()  # a new process and port; the recovery runs as its worker starts
    for name in posted:
        world.wait_final(issues[name], timeout=120)
    world.wait_for(lambda: "delivery recovery:" in world.app_process.log(), what="its log line")

    # Every command answered exactly once, one PR for the chapter.
    for name in issues:
        assert len(world.status_comments(issues[name])) == 1, name
    [pr] = gh.pulls(REPO)
    assert pr["head"]["ref"].startswith("liquidbook/chapter-")
    attempts = Counter(d.id for d in gh.deliveries)
    assert all(attempts[d.id] == 2 for d in posted.values()), attempts
    assert attempts[answered_late.id] == 1

    # Run again: GitHub shows the three delivered; the rest is known processed.
    services = await Services.start(world.settings())
    try:
        again = await recover(services)
    finally:
        await services.close()
    assert not again.skipped and again.redelivered == 0
    # Failed on GitHub's side but processed: the fourth command, and the events of the app's
    # own answer to it, which went through the same proxy.
    assert again.missed == again.processed >= 1
    gh.settle()
    assert Counter(d.id for d in gh.deliveries) == attempts
    for name in issues:
        assert len(world.status_comments(issues[name])) == 1, name
