"""The GitHub stand-in, driven the way the app drives GitHub: githubkit over real HTTP.

Every check here is against a real server on loopback and real git repositories on disk;
webhook payloads are compared with GitHub's own examples (`@octokit/webhooks-examples`) and
parsed with githubkit's webhook models.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import githubkit_schemas.latest.models as webhook_models
import httpx
import jwt
import pytest
from githubkit import AppAuthStrategy, GitHub
from githubkit.exception import RequestFailed
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from standins.github import AppRecord, GitHubStandIn
from standins.github.auth import generate_private_key
from standins.github.server import ServerThread

EXAMPLES = (
    Path(__file__).parent / "npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
)
SECRET = "It's a Secret to Everybody"
BOOK = {
    "myst.yml": "version: 1\nproject:\n  title: Bayes\n",
    "chapters/01-intro.md": "# Intro\n\nHello.\n",
    "chapters/02-old.md": "# Old\n",
}


class Receiver:
    """A webhook endpoint on loopback that keeps every request it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()

        async def hook(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.received.append((dict(request.headers), body))
            return Response("ok", 202)

        self.server = ServerThread(Starlette(routes=[Route("/webhook", hook, methods=["POST"])]))
        self.url = f"http://127.0.0.1:{self.server.start()}/webhook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.stop()


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[GitHubStandIn]:
    with GitHubStandIn(tmp_path / "github") as standin:
        yield standin


@pytest.fixture
def app(gh: GitHubStandIn) -> AppRecord:
    # Deliveries are recorded without a URL; tests about delivery add a receiver.
    return gh.register_app(webhook_secret=SECRET)


@pytest.fixture
def inst_id(gh: GitHubStandIn, app: AppRecord) -> int:
    gh.create_repo("octo-org", "book", files=BOOK)
    gh.add_user("alice")
    gh.set_permission("octo-org/book", "alice", "write")
    return gh.install(app.id, "octo-org")


def client(gh: GitHubStandIn, app: AppRecord) -> GitHub[Any]:
    return GitHub(
        AppAuthStrategy(str(app.id), app.private_key_pem),
        base_url=gh.api_url + "/",
        http_cache=False,
    )


def installation(gh: GitHubStandIn, app: AppRecord, inst_id: int) -> GitHub[Any]:
    g = client(gh, app)
    return g.with_auth(g.auth.as_installation(inst_id))


def git(repo_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo_dir), *args], capture_output=True, text=True, check=True
    ).stdout


def app_jwt(
    app: AppRecord, iat_offset: int = -60, lifetime: int = 600, key: str | None = None
) -> str:
    now = int(time.time())
    claims = {"iss": str(app.id), "iat": now + iat_offset, "exp": now + iat_offset + lifetime}
    return jwt.encode(claims, key or app.private_key_pem, algorithm="RS256")


# -- the app's whole path through githubkit --------------------------------------------------


async def test_full_flow_through_githubkit(gh: GitHubStandIn, app: AppRecord, inst_id: int) -> None:
    g = installation(gh, app, inst_id)
    owner, name = "octo-org", "book"

    tarball = await g.rest.repos.async_download_tarball_archive(owner, name, "main")
    main_sha = gh.branches("octo-org/book")["main"]
    with tarfile.open(fileobj=io.BytesIO(tarball.content), mode="r:gz") as tar:
        names = tar.getnames()
        prefix = f"octo-org-book-{main_sha[:7]}/"
        assert f"{prefix}myst.yml" in names
        member = tar.extractfile(f"{prefix}chapters/01-intro.md")
        assert member is not None and member.read() == b"# Intro\n\nHello.\n"

    base = (await g.rest.git.async_get_commit(owner, name, main_sha)).parsed_data
    tree = (
        await g.rest.git.async_create_tree(
            owner,
            name,
            base_tree=base.tree.sha,
            tree=[
                {
                    "path": "chapters/03-bayes.md",
                    "mode": "100644",
                    "type": "blob",
                    "content": "# Bayes\n",
                },
                {"path": "chapters/02-old.md", "mode": "100644", "type": "blob", "sha": None},
            ],
        )
    ).parsed_data
    assert {e.path for e in tree.tree} == {"myst.yml", "chapters"}
    commit = (
        await g.rest.git.async_create_commit(
            owner, name, message="Generate chapter 3", tree=tree.sha, parents=[main_sha]
        )
    ).parsed_data
    assert commit.author.name == "liquid-book[bot]"

    ref = (
        await g.rest.git.async_create_ref(
            owner, name, ref="refs/heads/liquidbook/ch3", sha=commit.sha
        )
    ).parsed_data
    assert ref.object_.sha == commit.sha
    with pytest.raises(RequestFailed) as exists:
        await g.rest.git.async_create_ref(
            owner, name, ref="refs/heads/liquidbook/ch3", sha=commit.sha
        )
    assert exists.value.response.status_code == 422
    assert exists.value.response.json()["message"] == "Reference already exists"

    pr = (
        await g.rest.pulls.async_create(
            owner, name, title="Chapter 3", head="liquidbook/ch3", base="main", body="Generated."
        )
    ).parsed_data
    assert pr.head.sha == commit.sha and pr.user is not None and pr.user.type == "Bot"
    assert pr.changed_files == 2 and pr.mergeable is True
    with pytest.raises(RequestFailed) as again:
        await g.rest.pulls.async_create(
            owner, name, title="Again", head="octo-org:liquidbook/ch3", base="main"
        )
    error = again.value.response.json()
    assert again.value.response.status_code == 422
    assert (
        error["errors"][0]["message"]
        == "A pull request already exists for octo-org:liquidbook/ch3."
    )
    listed: list[Any] = (
        await g.rest.pulls.async_list(owner, name, head="octo-org:liquidbook/ch3", state="open")
    ).parsed_data
    assert [p.number for p in listed] == [pr.number]
    files: list[Any] = (await g.rest.pulls.async_list_files(owner, name, pr.number)).parsed_data
    assert {(f.filename, f.status) for f in files} == {
        ("chapters/03-bayes.md", "added"),
        ("chapters/02-old.md", "removed"),
    }

    # The real git objects are what the API said.
    assert (
        git(gh.repo_dir("octo-org/book"), "show", f"{commit.sha}:chapters/03-bayes.md")
        == "# Bayes\n"
    )
    assert git(gh.repo_dir("octo-org/book"), "rev-parse", f"{commit.sha}^") == main_sha + "\n"
    assert (
        git(gh.repo_dir("octo-org/book"), "rev-parse", "refs/heads/liquidbook/ch3").strip()
        == commit.sha
    )
    assert gh.read_file("octo-org/book", "liquidbook/ch3", "chapters/02-old.md") is None

    number = gh.open_issue("octo-org/book", "alice", "Chapter 3 please")
    said = gh.comment("octo-org/book", number, "alice", "/generate chapter 3")
    comment_id = said.payload["comment"]["id"]
    first = await g.rest.reactions.async_create_for_issue_comment(
        owner, name, comment_id, content="eyes"
    )
    second = await g.rest.reactions.async_create_for_issue_comment(
        owner, name, comment_id, content="eyes"
    )
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.parsed_data.id == second.parsed_data.id
    assert [r["content"] for r in gh.reactions(comment_id)] == ["eyes"]

    status = (
        await g.rest.issues.async_create_comment(owner, name, number, body="Working on it…")
    ).parsed_data
    assert status.user is not None and status.user.login == "liquid-book[bot]"
    edited = (
        await g.rest.issues.async_update_comment(owner, name, status.id, body="Done: #1")
    ).parsed_data
    assert edited.body == "Done: #1"
    assert [c["body"] for c in gh.comments("octo-org/book", number)] == [
        "/generate chapter 3",
        "Done: #1",
    ]

    perm = (
        await g.rest.repos.async_get_collaborator_permission_level(owner, name, "alice")
    ).parsed_data
    assert (perm.permission, perm.role_name) == ("write", "write")

    merged = gh.merge_pull("octo-org/book", pr.number, "alice")
    assert gh.branches("octo-org/book")["main"] == merged
    assert git(gh.repo_dir("octo-org/book"), "show", "main:chapters/03-bayes.md") == "# Bayes\n"
    after = (await g.rest.pulls.async_get(owner, name, pr.number)).parsed_data
    assert after.merged and after.state == "closed"
    assert gh.pulls("octo-org/book")[0]["merge_commit_sha"] == merged


async def test_refs_move_like_github(gh: GitHubStandIn, app: AppRecord, inst_id: int) -> None:
    g = installation(gh, app, inst_id)
    main = gh.branches("octo-org/book")["main"]
    await g.rest.git.async_create_ref("octo-org", "book", ref="refs/heads/work", sha=main)
    ahead = gh.push("octo-org/book", "work", {"a.md": "a\n"}, "alice")
    side = gh.push("octo-org/book", "side", {"b.md": "b\n"}, "alice")

    await g.rest.git.async_update_ref("octo-org", "book", "heads/main", sha=ahead)
    with pytest.raises(RequestFailed) as not_ff:
        await g.rest.git.async_update_ref("octo-org", "book", "heads/main", sha=side)
    assert not_ff.value.response.status_code == 422
    assert not_ff.value.response.json()["message"] == "Update is not a fast forward"
    await g.rest.git.async_update_ref("octo-org", "book", "heads/main", sha=side, force=True)
    assert gh.branches("octo-org/book")["main"] == side

    matching = (await g.rest.git.async_list_matching_refs("octo-org", "book", "heads/")).parsed_data
    assert {r.ref for r in matching} == {"refs/heads/main", "refs/heads/work", "refs/heads/side"}
    assert (await g.rest.git.async_delete_ref("octo-org", "book", "heads/work")).status_code == 204
    with pytest.raises(RequestFailed) as gone:
        await g.rest.git.async_get_ref("octo-org", "book", "heads/work")
    assert gone.value.response.status_code == 404
    assert gone.value.response.json() == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    }


async def test_contents_blobs_and_trees(gh: GitHubStandIn, app: AppRecord, inst_id: int) -> None:
    g = installation(gh, app, inst_id)
    file = (await g.rest.repos.async_get_content("octo-org", "book", "myst.yml")).parsed_data
    assert base64.b64decode(file.content) == BOOK["myst.yml"].encode()  # type: ignore[union-attr]
    listing = (await g.rest.repos.async_get_content("octo-org", "book", "chapters")).parsed_data
    assert sorted(i.name for i in listing) == ["01-intro.md", "02-old.md"]  # type: ignore[union-attr]
    with pytest.raises(RequestFailed) as missing:
        await g.rest.repos.async_get_content("octo-org", "book", "nope.md")
    assert missing.value.response.status_code == 404

    blob = (
        await g.rest.git.async_create_blob(
            "octo-org", "book", content=base64.b64encode(b"\x89PNG").decode(), encoding="base64"
        )
    ).parsed_data
    assert (
        base64.b64decode(
            (await g.rest.git.async_get_blob("octo-org", "book", blob.sha)).parsed_data.content
        )
        == b"\x89PNG"
    )
    tree = (await g.rest.git.async_get_tree("octo-org", "book", "main", recursive="1")).parsed_data
    assert {e.path for e in tree.tree} == {
        "myst.yml",
        "chapters",
        "chapters/01-intro.md",
        "chapters/02-old.md",
    }
    with pytest.raises(RequestFailed) as bad:
        await g.rest.git.async_create_tree(
            "octo-org",
            "book",
            tree=[{"path": "x", "mode": "100644", "type": "blob", "sha": "f" * 40}],
        )
    assert bad.value.response.status_code == 422
    branch = (await g.rest.repos.async_get_branch("octo-org", "book", "main")).parsed_data
    assert branch.commit.sha == gh.branches("octo-org/book")["main"]


async def test_comment_limits_pages_checks_and_permissions(
    gh: GitHubStandIn, app: AppRecord, inst_id: int
) -> None:
    g = installation(gh, app, inst_id)
    number = gh.open_issue("octo-org/book", "alice", "Long")
    with pytest.raises(RequestFailed) as long:
        await g.rest.issues.async_create_comment("octo-org", "book", number, body="x" * 65537)
    assert long.value.response.status_code == 422
    assert (
        long.value.response.json()["errors"][0]["message"]
        == "body is too long (maximum is 65536 characters)"
    )

    gh.add_user("mia")
    gh.add_user("tom")
    gh.set_permission("octo-org/book", "mia", "maintain")
    gh.set_permission("octo-org/book", "tom", "triage")
    for login, expected in {"mia": ("write", "maintain"), "tom": ("read", "triage")}.items():
        perm = (
            await g.rest.repos.async_get_collaborator_permission_level("octo-org", "book", login)
        ).parsed_data
        assert (perm.permission, perm.role_name) == expected
    with pytest.raises(RequestFailed) as nobody:
        await g.rest.repos.async_get_collaborator_permission_level("octo-org", "book", "ghost")
    assert nobody.value.response.status_code == 404

    with pytest.raises(RequestFailed) as no_pages:
        await g.rest.repos.async_get_pages("octo-org", "book")
    assert no_pages.value.response.status_code == 404
    created = await g.rest.repos.async_create_pages_site("octo-org", "book", build_type="workflow")
    assert (
        created.status_code == 201
        and created.parsed_data.html_url == "http://octo-org.github.io/book/"
    )
    with pytest.raises(RequestFailed) as twice:
        await g.rest.repos.async_create_pages_site("octo-org", "book", build_type="workflow")
    assert twice.value.response.status_code == 409

    sha = gh.branches("octo-org/book")["main"]
    run = (
        await g.rest.checks.async_create(
            "octo-org", "book", name="book", head_sha=sha, status="in_progress"
        )
    ).parsed_data
    done = (
        await g.rest.checks.async_update(
            "octo-org",
            "book",
            run.id,
            conclusion="success",
            output={"title": "ok", "summary": "0 errors"},
        )
    ).parsed_data
    assert (done.status, done.conclusion) == ("completed", "success")


# -- retries, faults and headers -------------------------------------------------------------


async def test_githubkit_retries_server_errors_and_rate_limits(
    gh: GitHubStandIn, app: AppRecord, inst_id: int
) -> None:
    g = installation(gh, app, inst_id)
    number = gh.open_issue("octo-org/book", "alice", "Retry")
    gh.faults.add(method="POST", path=r"/issues/\d+/comments$", status=502, times=1)
    await g.rest.issues.async_create_comment("octo-org", "book", number, body="after a 502")
    posts = gh.calls("POST", "/repos/octo-org/book/issues/")
    assert [c.status for c in posts] == [502, 201]

    gh.faults.add(
        method="GET", path=r"/repos/octo-org/book$", status="secondary_rate_limit", retry_after=1
    )
    started = time.monotonic()
    repo = (await g.rest.repos.async_get("octo-org", "book")).parsed_data
    assert repo.full_name == "octo-org/book" and time.monotonic() - started >= 1
    limited = [
        c for c in gh.calls("GET", "/repos/octo-org/book") if c.path == "/repos/octo-org/book"
    ]
    assert [c.status for c in limited] == [403, 200]
    assert (
        limited[0].response_json["message"].startswith("You have exceeded a secondary rate limit.")
    )

    gh.faults.add(method="GET", path=r"/rate_limit$", delay=0.3)
    started = time.monotonic()
    await g.rest.rate_limit.async_get()
    assert time.monotonic() - started >= 0.3


async def test_response_headers(gh: GitHubStandIn, app: AppRecord, inst_id: int) -> None:
    g = installation(gh, app, inst_id)
    resp = await g.rest.repos.async_get("octo-org", "book")
    headers = resp.headers
    assert headers["x-github-api-version-selected"] == "2026-03-10"
    assert headers["x-ratelimit-limit"] == "5000" and headers["x-ratelimit-resource"] == "core"
    assert int(headers["x-ratelimit-used"]) + int(headers["x-ratelimit-remaining"]) == 5000
    assert headers["x-github-request-id"]
    call = gh.calls("GET", "/repos/octo-org/book")[-1]
    assert call.auth_kind == "installation" and call.installation_id == inst_id


# -- auth ------------------------------------------------------------------------------------


def test_app_jwt_checks(gh: GitHubStandIn, app: AppRecord, inst_id: int) -> None:
    def get_app(token: str) -> httpx.Response:
        return httpx.get(f"{gh.api_url}/app", headers={"Authorization": f"Bearer {token}"})

    assert get_app(app_jwt(app)).json()["slug"] == "liquid-book"
    wrong_key = get_app(app_jwt(app, key=generate_private_key()))
    expired = get_app(app_jwt(app, iat_offset=-1200))
    too_long = get_app(app_jwt(app, lifetime=1200))
    for resp in (wrong_key, expired, too_long):
        assert resp.status_code == 401
        assert resp.json()["documentation_url"] == "https://docs.github.com/rest"
        assert resp.json()["status"] == "401"
    assert "'Expiration time' claim ('exp')" in expired.json()["message"]
    assert gh.calls("GET", "/app", auth_kind="jwt")[-1].status == 401


def test_installation_tokens(gh: GitHubStandIn, app: AppRecord, inst_id: int) -> None:
    gh.create_repo("other-org", "private", private=True)
    other = gh.install(app.id, "other-org")
    jwt_headers = {"Authorization": f"Bearer {app_jwt(app)}"}
    made = httpx.post(f"{gh.api_url}/app/installations/{other}/access_tokens", headers=jwt_headers)
    assert made.status_code == 201 and made.json()["token"].startswith("ghs_")
    token = {"Authorization": f"token {made.json()['token']}"}
    assert httpx.get(f"{gh.api_url}/repos/other-org/private", headers=token).status_code == 200
    assert (
        httpx.get(f"{gh.api_url}/repos/octo-org/book/contents/myst.yml", headers=token).status_code
        == 404
    )
    assert httpx.get(f"{gh.api_url}/repos/other-org/private").status_code == 404  # anonymous

    gh.expire_tokens(other)
    expired = httpx.get(f"{gh.api_url}/repos/other-org/private", headers=token)
    assert expired.status_code == 401 and expired.json()["message"] == "Bad credentials"

    gh.suspend(other)
    suspended = httpx.post(
        f"{gh.api_url}/app/installations/{other}/access_tokens", headers=jwt_headers
    )
    assert suspended.status_code == 403


async def test_concurrent_writes_stay_consistent(
    gh: GitHubStandIn, app: AppRecord, inst_id: int
) -> None:
    g = installation(gh, app, inst_id)
    number = gh.open_issue("octo-org/book", "alice", "Busy")
    # One shared connection pool (without `async with`, githubkit builds a client per request).
    async with g:
        said: list[Any] = await asyncio.gather(
            *(
                g.rest.issues.async_create_comment("octo-org", "book", number, body=f"#{i}")
                for i in range(12)
            ),
            *(
                g.rest.git.async_create_blob("octo-org", "book", content=f"blob {i}")
                for i in range(12)
            ),
        )
    assert all(r.status_code == 201 for r in said)
    assert len({c["id"] for c in gh.comments("octo-org/book", number)}) == 12
    blobs = [r.parsed_data.sha for r in said[12:]]
    assert git(gh.repo_dir("octo-org/book"), "cat-file", "-p", blobs[5]) == "blob 5"


def test_removed_repositories_are_out_of_reach(
    gh: GitHubStandIn, app: AppRecord, inst_id: int
) -> None:
    gh.create_repo("octo-org", "notes")
    removed = gh.remove_repositories(inst_id, ["notes"])
    assert removed.payload["repository_selection"] == "selected"
    made = httpx.post(
        f"{gh.api_url}/app/installations/{inst_id}/access_tokens",
        headers={"Authorization": f"Bearer {app_jwt(app)}"},
    ).json()
    token = {"Authorization": f"token {made['token']}"}
    assert httpx.get(f"{gh.api_url}/repos/octo-org/notes", headers=token).status_code == 404
    assert httpx.get(f"{gh.api_url}/repos/octo-org/book", headers=token).status_code == 200
    gh.add_repositories(inst_id, ["notes"])
    assert httpx.get(f"{gh.api_url}/repos/octo-org/notes", headers=token).status_code == 200


def test_token_permissions_are_enforced(gh: GitHubStandIn) -> None:
    app = gh.register_app(slug="reader", name="Reader", permissions={"contents": "read"})
    gh.create_repo("octo-org", "book", files=BOOK)
    inst = gh.install(app.id, "octo-org")
    made = httpx.post(
        f"{gh.api_url}/app/installations/{inst}/access_tokens",
        headers={"Authorization": f"Bearer {app_jwt(app)}"},
    ).json()
    token = {"Authorization": f"Bearer {made['token']}"}
    assert made["permissions"] == {"contents": "read", "metadata": "read"}
    denied = httpx.post(
        f"{gh.api_url}/repos/octo-org/book/git/blobs", headers=token, json={"content": "x"}
    )
    assert (
        denied.status_code == 403
        and denied.json()["message"] == "Resource not accessible by integration"
    )


def test_manifest_conversion_registers_a_working_app(gh: GitHubStandIn) -> None:
    code = gh.manifest_code(
        {
            "name": "Liquid Book Dev",
            "url": "https://example.test",
            "hook_attributes": {"url": "https://example.test/webhook"},
            "default_permissions": {"contents": "write", "issues": "write"},
            "default_events": ["issue_comment", "push"],
        }
    )
    made = httpx.post(f"{gh.api_url}/app-manifests/{code}/conversions")
    assert made.status_code == 201
    body = made.json()
    assert body["slug"] == "liquid-book-dev" and body["pem"].startswith(
        "-----BEGIN RSA PRIVATE KEY"
    )
    assert (
        body["webhook_secret"]
        and body["client_secret"]
        and body["events"] == ["issue_comment", "push"]
    )
    token = jwt.encode(
        {"iss": str(body["id"]), "iat": int(time.time()) - 60, "exp": int(time.time()) + 540},
        body["pem"],
        algorithm="RS256",
    )
    assert (
        httpx.get(f"{gh.api_url}/app", headers={"Authorization": f"Bearer {token}"}).json()["id"]
        == body["id"]
    )
    assert httpx.post(f"{gh.api_url}/app-manifests/{code}/conversions").status_code == 404


# -- webhooks --------------------------------------------------------------------------------


def _examples() -> dict[tuple[str, str | None], list[dict[str, Any]]]:
    found: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for entry in json.loads(EXAMPLES.read_text()):
        for example in entry["examples"]:
            found.setdefault((entry["name"], example.get("action")), []).append(example)
    return found


# Keys some examples carry only in situations the stand-in does not produce.
SITUATIONAL = {("issues", "opened"): {"changes"}}


def _webhook_model(event: str, action: str | None) -> Any:
    """githubkit's model of GitHub's schema for one event and action (`WebhookPullRequestOpened`)."""
    words = event.split("_") + (action.split("_") if action else [])
    return getattr(webhook_models, "Webhook" + "".join(w.capitalize() for w in words))


def _verify(headers: dict[str, str], body: bytes) -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-hub-signature-256"], expected)
    assert (
        headers["x-hub-signature"]
        == "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    )
    assert headers["user-agent"].startswith("GitHub-Hookshot/")
    assert headers["content-type"] == "application/json"
    assert headers["x-github-hook-installation-target-type"] == "integration"


@pytest.mark.skipif(
    not EXAMPLES.exists(), reason="npm @octokit/webhooks-examples is not installed under tests/npm"
)
async def test_webhooks_match_githubs_examples(
    gh: GitHubStandIn, app: AppRecord, inst_id: int, receiver: Receiver
) -> None:
    gh.set_webhook_url(app.id, receiver.url)
    g = installation(gh, app, inst_id)
    gh.create_repo("octo-org", "guide", files={"README.md": "hi\n"})
    gh.create_repo("octo-org", "extra", files={"README.md": "hi\n"})
    gh.remove_repositories(inst_id, ["extra"])
    gh.add_repositories(inst_id, ["extra"])
    number = gh.open_issue("octo-org/book", "alice", "Please", body="Outline please")
    said = gh.comment("octo-org/book", number, "alice", "/outline A course")
    gh.edit_comment(said.payload["comment"]["id"], "alice", "/outline A short course")
    gh.delete_comment(said.payload["comment"]["id"], "alice")
    sha = gh.push("octo-org/book", "draft", {"chapters/04.md": "# Four\n"}, "alice", "Draft four")
    pr = (
        await g.rest.pulls.async_create("octo-org", "book", title="Four", head="draft", base="main")
    ).parsed_data
    gh.push("octo-org/book", "draft", {"chapters/04.md": "# Four, again\n"}, "alice")
    gh.review_comment(
        "octo-org/book", pr.number, "alice", "Shorter?", path="chapters/04.md", line=1
    )
    gh.review(
        "octo-org/book",
        pr.number,
        "alice",
        "/revise tighten",
        [{"path": "chapters/04.md", "line": 1, "body": "Shorter."}],
    )
    gh.merge_pull("octo-org/book", pr.number, "alice")
    gh.suspend(inst_id)
    gh.unsuspend(inst_id)
    gh.uninstall(inst_id)
    assert sha

    examples = _examples()
    seen = set()
    sent = [d for d in gh.deliveries if d.url]  # all but `installation` created (no URL yet)
    assert [body for _, body in receiver.received] == [d.body for d in sent]
    for headers, body in receiver.received:
        _verify(headers, body)
    for delivery in gh.deliveries:
        _verify({k.lower(): v for k, v in delivery.headers.items()}, delivery.body)
        event, payload = delivery.event, json.loads(delivery.body)
        key = (event, payload.get("action"))
        seen.add(key)
        wanted = set().union(*(set(e) for e in examples[key])) - SITUATIONAL.get(key, set())
        assert wanted <= set(payload), f"{key} lacks {wanted - set(payload)}"
        for part in ("comment", "issue", "pull_request", "installation", "review"):
            if part in payload and event != "installation_repositories":
                ex_keys = set().union(
                    *(set(e[part]) for e in examples[key] if isinstance(e.get(part), dict))
                )
                if event != "installation" or part == "installation":
                    assert ex_keys <= set(payload[part]), (
                        f"{key}.{part} lacks {ex_keys - set(payload[part])}"
                    )
        _webhook_model(event, payload.get("action")).model_validate(payload)
    assert seen >= {
        ("installation", "created"),
        ("installation", "deleted"),
        ("installation", "suspend"),
        ("installation", "unsuspend"),
        ("installation_repositories", "added"),
        ("installation_repositories", "removed"),
        ("issues", "opened"),
        ("issue_comment", "created"),
        ("issue_comment", "edited"),
        ("issue_comment", "deleted"),
        ("pull_request", "opened"),
        ("pull_request", "synchronize"),
        ("pull_request", "closed"),
        ("pull_request_review_comment", "created"),
        ("pull_request_review", "submitted"),
        ("push", None),
    }


async def test_bot_actions_are_delivered_and_marked(
    gh: GitHubStandIn, app: AppRecord, inst_id: int, receiver: Receiver
) -> None:
    gh.set_webhook_url(app.id, receiver.url)
    g = installation(gh, app, inst_id)
    number = gh.open_issue("octo-org/book", "alice", "Hi")
    edited = gh.edit_comment(
        gh.comment("octo-org/book", number, "alice", "/usage").payload["comment"]["id"],
        "alice",
        "/usage now",
    )
    assert edited.payload["changes"] == {"body": {"from": "/usage"}}
    await g.rest.issues.async_create_comment("octo-org", "book", number, body="Tokens: 0")
    own = gh.deliveries[-1]
    assert (own.event, own.action) == ("issue_comment", "created")
    assert (
        own.payload["sender"]["login"] == "liquid-book[bot]"
        and own.payload["sender"]["type"] == "Bot"
    )
    assert own.payload["comment"]["performed_via_github_app"]["id"] == app.id
    assert own.payload["installation"]["id"] == inst_id and own.status_code == 202

    again = gh.redeliver(own.id)
    assert again.id == own.id and again.body == own.body and again.redelivery
    assert receiver.received[-1][1] == receiver.received[-2][1]
    assert receiver.received[-1][0]["x-github-delivery"] == own.id

    gh.set_webhook_url(app.id, None)
    quiet = gh.comment("octo-org/book", number, "alice", "unsent")
    assert quiet.status_code is None and quiet.url is None and quiet in gh.deliveries


def test_standalone_control_api(tmp_path: Path) -> None:
    with GitHubStandIn(tmp_path) as gh:

        def post(action: str, **args: Any) -> Any:
            return httpx.post(f"{gh.api_url}/_standin/{action}", json=args).json()

        made = post("apps", slug="sandbox", name="Sandbox")
        post("repos", owner="octo-org", name="book", files={"myst.yml": "version: 1\n"})
        inst = post("installations", app_id=made["id"], account="octo-org")["id"]
        number = post("issues", full_name="octo-org/book", user="alice", title="Hi")["number"]
        delivery = post(
            "comments", full_name="octo-org/book", issue_number=number, user="alice", body="/usage"
        )
        assert (
            delivery["event"] == "issue_comment"
            and delivery["payload"]["installation"]["id"] == inst
        )
        assert httpx.get(f"{gh.api_url}/_standin/health").json()["ok"] is True
        assert gh.calls(auth_kind=None) == []  # control calls are not GitHub API calls


async def test_delivery_log_pages_and_redeliveries_like_github(
    gh: GitHubStandIn, app: AppRecord, inst_id: int, receiver: Receiver
) -> None:
    """`GET /app/hook/deliveries` lists every attempt newest first with a cursor in `Link`;
    `POST …/attempts` answers 202 and sends the same event again, same GUID and body."""
    g = client(gh, app)
    number = gh.open_issue("octo-org/book", "alice", "Hi")  # no URL yet: never attempted
    gh.set_webhook_url(app.id, "http://127.0.0.1:9/hook")  # nobody listens there
    lost = [gh.comment("octo-org/book", number, "alice", f"/usage {i}") for i in range(3)]
    gh.set_webhook_url(app.id, receiver.url)
    delivered = gh.comment("octo-org/book", number, "alice", "/help")

    seen, params = [], {"per_page": 2}
    while True:
        page = await g.arequest("GET", "/app/hook/deliveries", params=params)
        seen += page.json()
        link = page.headers.get("link")
        if not link:
            break
        assert 'rel="next"' in link and "cursor=" in link
        cursor = link.split("cursor=")[1].split(">")[0].split("&")[0]
        params = {"per_page": 2, "cursor": cursor}
    assert [item["guid"] for item in seen] == [delivered.id] + [d.id for d in reversed(lost)]
    ids = [item["id"] for item in seen]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    first = seen[-1]
    assert first["status"] == "failed to connect" and first["status_code"] == 502
    assert first["redelivery"] is False and (first["event"], first["action"]) == (
        "issue_comment",
        "created",
    )
    assert first["installation_id"] == inst_id and first["delivered_at"].endswith("Z")
    assert seen[0]["status"] == "OK" and seen[0]["status_code"] == 202
    failed = await g.arequest("GET", "/app/hook/deliveries", params={"status": "failure"})
    assert {item["guid"] for item in failed.json()} == {d.id for d in lost}

    one = (await g.arequest("GET", f"/app/hook/deliveries/{first['id']}")).json()
    assert one["request"]["payload"] == lost[0].payload and one["url"].endswith(":9/hook")
    assert one["request"]["headers"]["X-GitHub-Delivery"] == lost[0].id

    before = len(receiver.received)
    asked = await g.arequest("POST", f"/app/hook/deliveries/{first['id']}/attempts")
    assert asked.status_code == 202
    for _ in range(500):  # sent from a thread of its own, after the answer
        if len(receiver.received) > before:
            break
        await asyncio.sleep(0.02)
    headers, body = receiver.received[-1]
    assert headers["x-github-delivery"] == lost[0].id and body == lost[0].body
    _verify(headers, body)
    latest = (await g.arequest("GET", "/app/hook/deliveries", params={"per_page": 1})).json()
    assert latest[0]["guid"] == lost[0].id and latest[0]["redelivery"] is True
    assert latest[0]["status"] == "OK" and latest[0]["id"] > ids[0]

    # Another app's deliveries and unknown attempts are not this app's to see.
    other = gh.register_app(slug="other", webhook_secret=SECRET)
    assert (await client(gh, other).arequest("GET", "/app/hook/deliveries")).json() == []
    for path in (f"/app/hook/deliveries/{first['id']}", "/app/hook/deliveries/1"):
        with pytest.raises(RequestFailed) as refused:
            await client(gh, other).arequest("GET", path)
        assert refused.value.response.status_code == 404
    with pytest.raises(RequestFailed) as bad:
        await g.arequest("GET", "/app/hook/deliveries", params={"cursor": "nonsense"})
    assert bad.value.response.status_code == 400
