"""Register the GitHub App from `app.yml` through GitHub's manifest flow, as Probot does.

With no app configured, `liquidbook serve` shows a page whose button posts the manifest to
GitHub; GitHub creates the app and redirects back with a one-time code, which we exchange
(`POST /app-manifests/{code}/conversions`) for the app's id, private key and webhook secret.
They are saved to `.env` (mode 0600) and take effect at once, without a restart.
"""

from __future__ import annotations

import html
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import httpx
import yaml
from dotenv import set_key
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.resources import resource_path
from bot.settings import load_settings

log = logging.getLogger(__name__)

STATE_PREFIX = "liquidbook:manifest-state:"
ENV_FILE = Path(".env")


def load_manifest(public_url: str) -> dict[str, Any]:
    """`app.yml` with this server's URLs filled in."""
    manifest: dict[str, Any] = yaml.safe_load(resource_path("app.yml").read_text())
    manifest["url"] = manifest.get("url") or public_url
    manifest["hook_attributes"] = {"url": f"{public_url}/api/github/webhooks", "active": True}
    manifest["redirect_url"] = f"{public_url}/setup/callback"
    return manifest


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<body style='font-family:system-ui;max-width:40em;margin:3em auto'>{body}</body>",
        status_code=status,
    )


async def setup_page(request: Request) -> Response:
    """The page with the button that creates the app on GitHub (for a user or `?org=`)."""
    services = request.app.state.services
    settings = services.settings
    if services.github is not None:
        return _page("Liquid Book", "<h1>The GitHub App is already configured.</h1>")
    state = secrets.token_urlsafe(24)
    await services.redis.set(STATE_PREFIX + state, b"1", ex=3600)
    org = request.query_params.get("org", "").strip()
    target = (
        f"{settings.github_web_url}/organizations/{org}/settings/apps/new"
        if org
        else f"{settings.github_web_url}/settings/apps/new"
    )
    manifest = json.dumps(load_manifest(settings.public_url))
    return _page(
        "Set up Liquid Book",
        "<h1>Set up Liquid Book</h1><p>No GitHub App is configured yet. This creates one on "
        f"{'the organization <b>' + html.escape(org) + '</b>' if org else 'your account'} "
        "from <code>app.yml</code>, with the least permissions the app needs.</p>"
        f"<form method=post action='{html.escape(target)}?state={state}'>"
        f"<input type=hidden name=manifest value='{html.escape(manifest, quote=True)}'>"
        "<button type=submit>Create the GitHub App</button></form>"
        "<p>For an organization, open <code>/setup?org=NAME</code>.</p>",
    )


async def callback(request: Request) -> Response:
    """GitHub's redirect after the app was created: exchange the code, save, go live."""
    services = request.app.state.services
    code = request.query_params.get("code", "")
    state = request.query_params.get("state", "")
    if not code or not state or not await services.redis.delete(STATE_PREFIX + state):
        return _page(
            "Setup failed",
            "<h1>This setup link is invalid or expired.</h1>"
            "<p><a href='/setup'>Start again</a>.</p>",
            400,
        )
    settings = services.settings
    url = f"{settings.github_api_url}/app-manifests/{code}/conversions"
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(url, headers={"Accept": "application/vnd.github+json"})
    if response.status_code != 201:
        log.warning("manifest conversion answered %s", response.status_code)
        return _page(
            "Setup failed",
            "<h1>GitHub did not accept the setup code.</h1>"
            f"<p>It answered {response.status_code}. <a href='/setup'>Try again</a>.</p>",
            502,
        )
    app = response.json()
    save_credentials(app, ENV_FILE)
    services.configure_github(load_settings())
    install_url = (
        f"{app.get('html_url', settings.github_web_url + '/apps/' + app['slug'])}/installations/new"
    )
    return _page(
        "Liquid Book is ready",
        f"<h1>Created the GitHub App <b>{html.escape(app['slug'])}</b></h1>"
        f"<p>Its credentials are saved in <code>{ENV_FILE}</code>. Now "
        f"<a href='{html.escape(install_url)}'>install it on a repository</a>.</p>",
    )


def save_credentials(app: dict[str, Any], env_file: Path) -> None:
    """Write the new app's credentials into `.env`, readable by the owner only."""
    env_file.touch(mode=0o600, exist_ok=True)
    os.chmod(env_file, 0o600)
    values = {
        "GITHUB_APP_ID": str(app["id"]),
        "GITHUB_APP_SLUG": str(app["slug"]),
        "GITHUB_PRIVATE_KEY": str(app["pem"]).replace("\n", "\\n"),
        "GITHUB_WEBHOOK_SECRET": str(app["webhook_secret"]),
        "GITHUB_CLIENT_ID": str(app.get("client_id") or ""),
        "GITHUB_CLIENT_SECRET": str(app.get("client_secret") or ""),
    }
    for key, value in values.items():
        set_key(str(env_file), key, value, quote_mode="always")


routes = [
    Route("/setup", setup_page, methods=["GET"]),
    Route("/setup/callback", callback, methods=["GET"]),
]
