"""The app's private key signs its JWTs but never shows in a repr, a log line or an error;
a token GitHub revokes early is replaced."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio
from githubkit.exception import RequestFailed

from bot.github import GitHubApp
from bot.settings import load_settings
from standins.github import GitHubStandIn
from standins.github.auth import revoke_tokens


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


async def test_a_revoked_token_is_replaced_once(tmp_path: Path, redis_url: str) -> None:
    """GitHub revokes the cached token early: the next calls get a new one (one fetch for all
    of them, however many were refused together), and a token refused twice stays refused."""
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
        fetches = lambda: gh.calls("POST", "/app/installations/", auth_kind="jwt")  # noqa: E731
        try:
            app = GitHubApp(settings, client)
            async with app.installation(installation) as as_installation:
                await as_installation.arequest("GET", "/installation/repositories")
                assert len(fetches()) == 1
                assert revoke_tokens(gh.hub.state, installation) == 1
                answers = await asyncio.gather(
                    *(
                        as_installation.arequest("GET", "/installation/repositories")
                        for _ in range(8)
                    )
                )
                assert all(a.status_code == 200 for a in answers)
                assert len(fetches()) == 2
                refused = [
                    r for r in gh.calls("GET", "/installation/repositories") if r.status == 401
                ]
                assert 1 <= len(refused) <= 8
                # Refused again after the new token: the second answer is final.
                gh.faults.add(
                    method="GET", path=r"^/installation/repositories$", status=401, times=2
                )
                with pytest.raises(RequestFailed) as failed:
                    await as_installation.arequest("GET", "/installation/repositories")
                assert failed.value.response.status_code == 401
                assert len(fetches()) == 3
        finally:
            await client.aclose()


@pytest.mark.parametrize("base", ["https://api.github.com/", "https://ghe.example/api/v3/"])
@pytest.mark.parametrize(
    "path",
    [
        "app",
        "app/installations/7/access_tokens",
        "APP/installations",
        "app/hook/deliveries/12/attempts",
        "marketplace_listing/plans/3/accounts",
        "repos/o/r/installation",
        "orgs/o/installation",
        "users/u/installation",
        "repos/o/r/issues/1/comments",
        "repos/o/r/contents/.github/liquidbook.yml?ref=main",
        "repos/o/r/collaborators/a/permission",
        "applications/abc/token",
        "applications/abc/grants",
        "login/oauth/access_token",
        "installation/repositories",
        "repos/app/installation/issues",
        "",
    ],
)
def test_the_installation_check_is_githubkits(base: str, path: str) -> None:
    """`_as_installation` matches githubkit's route helpers on every kind of route."""
    import httpx
    from githubkit import GitHub
    from githubkit.auth.app import AppAuth, require_app_auth, require_basic_auth, require_bypass

    from bot.github import _as_installation

    github = GitHub("token", base_url=base)
    auth = AppAuth(github, 1, "key", installation_id=2)
    request = httpx.Request("GET", base + path)
    theirs = not (
        require_bypass(request.url)
        or require_basic_auth(request.url)
        or require_app_auth(auth._get_api_route(request.url))
    )
    assert _as_installation(auth, request) is theirs
