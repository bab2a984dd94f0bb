"""Registering the GitHub App from app.yml through the manifest flow, against the stand-in."""

from __future__ import annotations

import html
import json
import re
import stat
from pathlib import Path

import httpx
import yaml

from standins.github import GitHubStandIn
from tests.servers import ROOT, AppProcess


def test_manifest_is_least_privilege() -> None:
    manifest = yaml.safe_load((ROOT / "app.yml").read_text())
    assert manifest["default_permissions"] == {
        "contents": "write",
        "pull_requests": "write",
        "issues": "write",
        "metadata": "read",
        "checks": "write",
        "workflows": "write",
        "pages": "write",
        "actions": "read",
    }
    assert "issue_comment" in manifest["default_events"]
    assert "administration" not in manifest["default_permissions"]


def test_setup_page_registers_the_app_and_goes_live(tmp_path: Path) -> None:
    with GitHubStandIn(tmp_path / "github") as gh:
        env = {"GITHUB_API_URL": gh.api_url, "GITHUB_WEB_URL": "http://github.test"}
        with AppProcess(tmp_path / "app", env) as app:
            page = httpx.get(app.url + "/setup", timeout=10).text
            action = html.unescape(re.search(r"action='([^']+)'", page).group(1))
            assert action.startswith("http://github.test/settings/apps/new?state=")
            state = action.split("state=")[1]
            manifest = json.loads(
                html.unescape(re.search(r"name=manifest value='([^']+)'", page).group(1))
            )
            assert manifest["hook_attributes"]["url"] == app.url + "/api/github/webhooks"
            assert manifest["redirect_url"] == app.url + "/setup/callback"

            # GitHub creates the app and sends the person back with a one-time code.
            code = gh.manifest_code(manifest)
            bad = httpx.get(
                app.url + "/setup/callback", params={"code": code, "state": "forged"}, timeout=10
            )
            assert bad.status_code == 400
            done = httpx.get(
                app.url + "/setup/callback", params={"code": code, "state": state}, timeout=30
            )
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
            # The code is single-use.
            again = httpx.get(
                app.url + "/setup/callback", params={"code": code, "state": state}, timeout=10
            )
            assert again.status_code == 400

            # GitHub's deliveries, signed with the new secret, are now accepted.
            app_id = int(re.search(r"GITHUB_APP_ID=['\"]?(\d+)", saved).group(1))
            gh.add_user("octo-org")
            gh.create_repo("octo-org", "book", files={"README.md": "hi\n"})
            gh.install(app_id, "octo-org", ["book"])
            delivery = [d for d in gh.deliveries if d.event == "installation"][-1]
            assert delivery.status_code == 200, delivery.response_body
    assert "Traceback" not in app.log()
