"""Registering the GitHub App from app.yml through the manifest flow, against the stand-in."""

from __future__ import annotations

import html
import json
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import httpx
import yaml

from bot.app_permissions import permission_reasons
from bot.manifest import load_manifest
from standins.github import GitHubStandIn
from tests.servers import ROOT, AppProcess, free_port

ALWAYS_DELIVERED = {"installation", "installation_repositories"}


class _Form(HTMLParser):
    """The setup page's form: its action and its hidden manifest field."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.manifest: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input" and values.get("name") == "manifest":
            self.manifest = values.get("value")


def form_of(page: str) -> tuple[str, dict[str, object]]:
    """The setup page's form action and the manifest it posts."""
    parser = _Form()
    parser.feed(page)
    assert parser.action is not None and parser.manifest is not None, page
    return parser.action, json.loads(parser.manifest)


def test_manifest_is_least_privilege_and_says_why(npm_dir: Path) -> None:
    from handlers import router

    text = (ROOT / "app.yml").read_text()
    manifest = yaml.safe_load(text)
    permissions = manifest["default_permissions"]
    assert permissions == {
        "contents": "write",
        "pull_requests": "write",
        "issues": "write",
        "metadata": "read",
        "workflows": "write",
        "checks": "write",
        "pages": "read",
        "actions": "write",
    }
    # Every permission has a comment with its level and the capability that uses it.
    reasons = permission_reasons(text)
    assert {name: level for name, (level, _) in reasons.items()} == permissions
    assert all(len(reason) > 20 for _, reason in reasons.values()), reasons
    # Capabilities not built yet say so, for as long as no code calls their endpoints.
    bot_code = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    # (REST paths after a repository, so `bot/pages.py`, the server's own pages, is no call.)
    for name, endpoint in [
        ("checks", r"/check-runs\b"),
        ("pages", r"(\}|/repos/\S*)/pages\b"),
        ("actions", r"/actions/workflows/\S*/dispatches\b"),
    ]:
        called = re.search(endpoint, bot_code) is not None
        assert ("not built yet" in reasons[name][1]) == (not called), name

    # Subscribed: exactly the events a handler routes (besides those every app receives).
    events = set(manifest["default_events"])
    assert events == router.events - ALWAYS_DELIVERED
    assert not events & ALWAYS_DELIVERED

    # Names GitHub knows, at levels it offers (its REST description).
    spec = json.loads((npm_dir / "@octokit/openapi/generated/api.github.com.json").read_text())
    known = spec["components"]["schemas"]["app-permissions"]["properties"]
    for name, level in permissions.items():
        assert level in known[name]["enum"], name


def open_setup(browser: httpx.Client, url: str) -> tuple[str, dict[str, object]]:
    """Open the setup page as a browser does; return the manifest `state` and the manifest."""
    page = browser.get(url + "/setup", timeout=10)
    assert page.status_code == 200, page.text
    action, manifest = form_of(page.text)
    return action.split("state=")[1], manifest


def test_setup_page_registers_the_app_and_goes_live(tmp_path: Path) -> None:
    with GitHubStandIn(tmp_path / "github") as gh:
        env = {"GITHUB_API_URL": gh.api_url, "GITHUB_WEB_URL": "http://github.test"}
        with (
            AppProcess(tmp_path / "app", env) as app,
            httpx.Client() as browser,
            httpx.Client() as other_browser,
        ):
            page = browser.get(app.url + "/setup", timeout=10)
            action, manifest = form_of(page.text)
            assert action.startswith("http://github.test/settings/apps/new?state=")
            # Only this server's files, and the form may post to GitHub alone.
            policy = page.headers["content-security-policy"]
            assert "default-src 'none'" in policy and "style-src 'self'" in policy
            assert "form-action http://github.test;" in policy and "script-src" not in policy
            state = action.split("state=")[1]
            cookie = page.headers["set-cookie"]
            assert f"liquidbook_setup_state={state}" in cookie
            assert "HttpOnly" in cookie and "Path=/setup" in cookie
            assert "samesite=lax" in cookie.lower()
            assert manifest["hook_attributes"]["url"] == app.url + "/api/github/webhooks"
            assert manifest["redirect_url"] == app.url + "/setup/callback"
            # Someone else opened the setup page too, before the app was configured.
            other_state, _ = open_setup(other_browser, app.url)

            # GitHub creates the app and sends the person back with a one-time code.
            code = gh.manifest_code(manifest)
            callback = app.url + "/setup/callback"
            bad = browser.get(callback, params={"code": code, "state": "forged"}, timeout=10)
            assert bad.status_code == 400
            # The right code and state, in a browser that did not open this setup page.
            elsewhere = other_browser.get(callback, params={"code": code, "state": state})
            assert elsewhere.status_code == 400 and "not opened from this browser" in elsewhere.text
            bare = httpx.get(callback, params={"code": code, "state": state}, timeout=10)
            assert bare.status_code == 400
            done = browser.get(callback, params={"code": code, "state": state}, timeout=30)
            assert done.status_code == 200 and "installations/new" in done.text, done.text
            env_file = tmp_path / "app" / ".env"
            saved = env_file.read_text()
            assert (
                "GITHUB_APP_ID=" in saved
                and "PRIVATE KEY-----" in saved
                and "GITHUB_WEBHOOK_SECRET=" in saved
            )
            assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
            assert httpx.get(app.url + "/healthz", timeout=10).json()["github_app"] == "configured"
            # The code is single-use, and setup is closed for good once an app is configured:
            # neither a replay nor the other browser's own, still unused, state can swap the
            # app's credentials.
            again = browser.get(callback, params={"code": code, "state": state}, timeout=10)
            assert again.status_code == 409 and "already configured" in again.text
            swap = other_browser.get(
                callback,
                params={"code": gh.manifest_code(manifest), "state": other_state},
                timeout=10,
            )
            assert swap.status_code == 409 and "already configured" in swap.text
            closed = other_browser.get(app.url + "/setup", timeout=10)
            assert closed.status_code == 409 and "already configured" in closed.text
            assert "set-cookie" not in closed.headers and "<form" not in closed.text
            assert env_file.read_text() == saved

            # GitHub's deliveries, signed with the new secret, are now accepted.
            app_id = int(re.search(r"GITHUB_APP_ID=['\"]?(\d+)", saved).group(1))
            gh.add_user("octo-org")
            gh.create_repo("octo-org", "book", files={"README.md": "hi\n"})
            gh.install(app_id, "octo-org", ["book"])
            delivery = [d for d in gh.deliveries if d.event == "installation"][-1]
            assert delivery.status_code == 200, delivery.response_body
    assert "Traceback" not in app.log()


def test_a_bad_conversion_reply_is_a_clear_page(tmp_path: Path) -> None:
    """GitHub's conversion answers an error, or 201 without the credentials: a page that
    says so, nothing saved, and the setup can be started again."""
    with GitHubStandIn(tmp_path / "github") as gh:
        env = {"GITHUB_API_URL": gh.api_url, "GITHUB_WEB_URL": "http://github.test"}
        with AppProcess(tmp_path / "app", env) as app, httpx.Client() as browser:
            callback = app.url + "/setup/callback"
            conversion = r"/app-manifests/[^/]+/conversions$"
            for status, fragment in [
                (500, "did not accept the setup code"),
                (201, "did not contain the new app&#x27;s credentials"),
            ]:
                gh.faults.add(method="POST", path=conversion, status=status)
                state, manifest = open_setup(browser, app.url)
                code = gh.manifest_code(manifest)
                failed = browser.get(callback, params={"code": code, "state": state}, timeout=30)
                assert failed.status_code == 502, failed.text
                assert fragment in failed.text and "Start again" in failed.text
                assert not (tmp_path / "app" / ".env").exists()
                health = httpx.get(app.url + "/healthz", timeout=10).json()
                assert health["github_app"] != "configured"
            state, manifest = open_setup(browser, app.url)
            code = gh.manifest_code(manifest)
            done = browser.get(callback, params={"code": code, "state": state}, timeout=30)
            assert done.status_code == 200, done.text
    assert "Traceback" not in app.log()


def test_github_out_of_reach_is_a_clear_page(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"GITHUB_API_URL": closed, "GITHUB_WEB_URL": "http://github.test"}
    with AppProcess(tmp_path / "app", env) as app, httpx.Client() as browser:
        state, _ = open_setup(browser, app.url)
        failed = browser.get(
            app.url + "/setup/callback", params={"code": "abc", "state": state}, timeout=30
        )
        assert failed.status_code == 502, failed.text
        assert "Could not reach GitHub" in failed.text and "ConnectError" in failed.text
        assert not (tmp_path / "app" / ".env").exists()
    assert "Traceback" not in app.log()


def _setup_page(tmp_path: Path, redis_url: str, **env: str) -> tuple[httpx.Response, str]:
    """The setup page of a server with `env`, and that server's log."""
    base = {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}"}
    with AppProcess(tmp_path, {**base, **env}, ("serve", "--no-worker")) as app:
        page = httpx.get(app.url + "/setup", timeout=10)
    return page, app.log()


def test_on_github_com_a_webhook_address_github_cannot_reach_is_refused(
    tmp_path: Path, redis_url: str
) -> None:
    """github.com refuses webhook URLs that are not reachable from the public internet:
    with no LIQUIDBOOK_PUBLIC_URL, or one naming a private address, the page says so and
    how to fix it, and offers no button that could only lead to GitHub's error."""
    for n, public_url in enumerate([None, "http://192.168.1.20:3000", "http://localhost:3000"]):
        env = {"LIQUIDBOOK_PUBLIC_URL": public_url} if public_url else {}
        page, log = _setup_page(tmp_path / str(n), redis_url, **env)
        assert page.status_code == 200, page.text
        text = html.unescape(page.text)
        assert "github.com cannot send webhooks to this server" in text
        assert "reachable over the public internet" in text
        assert "Set LIQUIDBOOK_PUBLIC_URL to a public https address" in re.sub("<[^>]+>", "", text)
        assert "<form" not in page.text and "set-cookie" not in page.headers
        if public_url is None:
            assert "LIQUIDBOOK_PUBLIC_URL is not set" in text
        else:
            assert public_url in text
        assert "Traceback" not in log


def test_on_github_com_a_name_that_resolves_privately_is_warned_about(
    tmp_path: Path, redis_url: str
) -> None:
    """A name that resolves, from here, only to private addresses may still be public to
    GitHub (split-horizon DNS): a warning before the button, and the button."""
    import ipaddress
    import socket

    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    assert not any(ipaddress.ip_address(a).is_global for a in addresses), addresses
    page, _ = _setup_page(tmp_path, redis_url, LIQUIDBOOK_PUBLIC_URL=f"http://{name}:3000")
    text = html.unescape(page.text)
    assert "github.com may not be able to send webhooks to this server" in text
    assert text.index("may not be able") < text.index("<form")
    assert "Create the GitHub App" in text


def test_a_public_address_or_another_github_gets_no_warning(tmp_path: Path, redis_url: str) -> None:
    public, _ = _setup_page(tmp_path / "a", redis_url, LIQUIDBOOK_PUBLIC_URL="https://140.82.112.3")
    enterprise, _ = _setup_page(tmp_path / "b", redis_url, GITHUB_WEB_URL="https://ghe.example.org")
    for page in (public, enterprise):
        assert page.status_code == 200 and "<form" in page.text
        assert "send webhooks" not in page.text
    _, manifest = form_of(public.text)
    assert manifest["hook_attributes"]["url"] == "https://140.82.112.3/api/github/webhooks"


def test_the_standin_checks_a_manifest_as_github_does(tmp_path: Path) -> None:
    valid = {
        "name": "Valid",
        "url": "https://book.example.org",
        "hook_attributes": {"url": "https://book.example.org/api/github/webhooks"},
        "default_permissions": {"contents": "write", "metadata": "read"},
        "default_events": ["issue_comment"],
    }
    broken = [
        ({**valid, "url": None}, "Url can't be blank"),
        ({**valid, "url": "ftp://book.example.org"}, "Url must be a valid http or https URL"),
        ({**valid, "hook_attributes": {"active": True}}, "Hook url can't be blank"),
        (
            {**valid, "hook_attributes": {"url": "book.example.org/hook"}},
            "Hook url must be a valid http or https URL",
        ),
        (
            {**valid, "default_permissions": {"contents": "write", "repo": "write"}},
            "Default permission repo is not a permission GitHub Apps can request",
        ),
        (
            {**valid, "default_permissions": {"metadata": "admin"}},
            "Default permission metadata cannot be 'admin' (one of: read, write)",
        ),
        (
            {**valid, "default_events": ["issue_comment", "pushes"]},
            "Default event pushes is not a webhook event GitHub Apps receive",
        ),
    ]
    with GitHubStandIn(tmp_path / "github") as gh:
        for manifest, error in broken:
            code = gh.manifest_code(manifest)
            answer = httpx.post(f"{gh.api_url}/app-manifests/{code}/conversions", timeout=10)
            assert answer.status_code == 422, answer.text
            body = answer.json()
            assert body["message"] == "Validation Failed" and body["errors"] == [error]
            assert body["documentation_url"].startswith("https://docs.github.com/")
        assert gh.hub.state.apps == {}
        # Ours, as the setup page fills it in, is one GitHub accepts.
        ours = load_manifest("https://book.example.org")
        code = gh.manifest_code(ours)
        made = httpx.post(f"{gh.api_url}/app-manifests/{code}/conversions", timeout=10)
        assert made.status_code == 201, made.text
        assert made.json()["events"] == ours["default_events"]


def test_the_standins_manifest_rules_are_githubs(npm_dir: Path) -> None:
    """The stand-in's lists of permissions and events are those of GitHub's REST description."""
    from standins.github.app_manifest import APP_EVENTS, APP_PERMISSIONS

    spec = json.loads((npm_dir / "@octokit/openapi/generated/api.github.com.json").read_text())
    permissions = spec["components"]["schemas"]["app-permissions"]["properties"]
    assert APP_PERMISSIONS == {name: tuple(p["enum"]) for name, p in permissions.items()}
    events = set()
    for webhook in spec["x-webhooks"].values():
        operation = webhook["post"]
        if "app" in operation["x-github"].get("supported-webhook-types", []):
            [event] = [
                p["example"]
                for p in operation["parameters"]
                if p["name"].lower() == "x-github-event"
            ]
            events.add(event)
    assert APP_EVENTS == events
