"""Installation tokens, single flight: one fetch for many waiting callers (in two processes'
worth of clients), its lock released on every path, and a failed fetch failing its waiters
at once with GitHub's status instead of each waiting out the lock and asking again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio
from githubkit.exception import RequestFailed

from bot.github import GitHubApp, TokenUnavailable
from bot.github_transport import SharedTransport
from bot.settings import load_settings
from standins.github import GitHubStandIn


async def test_a_failed_fetch_fails_its_waiters_and_releases_the_lock(
    tmp_path: Path, redis_url: str
) -> None:
    with GitHubStandIn(tmp_path / "github") as gh:
        record = gh.register_app(webhook_secret="whsec")
        gh.add_user("octo-org")
        gh.create_repo("octo-org", "book", files={"README.md": "hi\n"})
        installation = gh.install(record.id, "octo-org", ["book"], deliver=False)
        settings = load_settings(
            _env_file=None,
            github_app_id=record.id,
            github_private_key=record.private_key_pem,
            github_webhook_secret="whsec",
            github_api_url=gh.api_url,
        )
        fetches = lambda: gh.calls("POST", "/app/installations/", auth_kind="jwt")  # noqa: E731
        client = redis.asyncio.Redis.from_url(redis_url)
        transport = SharedTransport()
        # Two apps, as two worker processes would have, sharing Redis only.
        apps = [GitHubApp(settings, client, transport), GitHubApp(settings, client)]
        try:

            async def list_repositories(n: int) -> int:
                app = apps[n % 2]
                answer = await app.installation(installation).arequest(
                    "GET", "/installation/repositories"
                )
                return int(answer.json()["total_count"])

            # GitHub refuses the token, slowly enough that everyone else is waiting.
            gh.faults.add(method="POST", path=r"/access_tokens$", status=500, delay=1.0)
            raised = await asyncio.gather(
                *(list_repositories(n) for n in range(12)), return_exceptions=True
            )
            # githubkit wraps what the auth flow raises in a RequestError.
            failed = [getattr(e, "exc", e) for e in raised]
            assert len(fetches()) == 1, "the waiters asked GitHub too"
            assert sum(isinstance(e, RequestFailed) for e in failed) == 1, failed
            waiters = [e for e in failed if isinstance(e, TokenUnavailable)]
            assert len(waiters) == 11 and waiters[0].status == "HTTP 500", failed
            assert "HTTP 500" in str(waiters[0])
            assert not await client.keys("liquidbook:gh:*fetching")  # the lock is released

            # The next calls fetch again, once for all of them.
            answers = await asyncio.gather(*(list_repositories(n) for n in range(12)))
            assert answers == [1] * 12
            assert len(fetches()) == 2
            assert not await client.keys("liquidbook:gh:*fetching")
        finally:
            for app in apps:
                await app.close()
            await transport.close()
            await client.aclose()
