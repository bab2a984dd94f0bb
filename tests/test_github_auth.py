"""The app's private key signs its JWTs but never shows in a repr, a log line or an error."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio

from bot.github import GitHubApp
from bot.settings import load_settings
from standins.github import GitHubStandIn


async def test_the_private_key_works_but_never_shows(tmp_path: Path, redis_url: str) -> None:
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
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            app = GitHubApp(settings, client)
            # The key still signs: the app's JWT and an installation token both work.
            assert await app.resolve_slug() == record.slug
            as_installation = app.installation(installation)
            answer = await as_installation.arequest("GET", "/installation/repositories")
            assert answer.json()["total_count"] == 1
        finally:
            await client.aclose()

    key_lines = [line for line in record.private_key_pem.splitlines() if "-----" not in line]
    shown = [
        repr(app.app.auth),
        repr(as_installation.auth),
        str(app.app.auth),
        repr(settings),
        repr(vars(app)),
    ]
    for text in shown:
        assert not any(line in text for line in key_lines), text
    assert "private_key='<redacted>'" in repr(as_installation.auth)
