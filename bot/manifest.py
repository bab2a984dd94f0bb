"""Register the GitHub App from `app.yml` through GitHub's manifest flow, as Probot does.

With no app configured, `liquidbook serve` shows a page whose button posts the manifest to
GitHub; GitHub creates the app and redirects back with a one-time code, which we exchange
(`POST /app-manifests/{code}/conversions`) for the app's id, private key and webhook secret.
They are saved to `.env` (mode 0600) and take effect at once, without a restart.

Only the browser that opened `/setup` can finish it: the manifest's `state` is also set in an
HttpOnly cookie, and the callback needs both to match (and the state to be unused, in Redis).
Once an app is configured, both pages refuse, so nobody can swap the app's credentials.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import yaml
from dotenv import set_key
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot import setup_pages
from bot.pages import Html
from bot.resources import resource_path
from bot.settings import Settings, load_settings

log = logging.getLogger(__name__)

STATE_PREFIX = "liquidbook:manifest-state:"
CONVERSION_LOCK = "liquidbook:manifest-conversion"
STATE_COOKIE = "liquidbook_setup_state"
STATE_SECONDS = 3600
ENV_FILE = Path(".env")
_REQUIRED_FIELDS = ("id", "slug", "pem", "webhook_secret")


def load_manifest(public_url: str) -> dict[str, Any]:
    """`app.yml` with this server's URLs filled in."""
    manifest: dict[str, Any] = yaml.safe_load(resource_path("app.yml").read_text())
    manifest["url"] = manifest.get("url") or public_url
    manifest["hook_attributes"] = {"url": f"{public_url}/api/github/webhooks", "active": True}
    manifest["redirect_url"] = f"{public_url}/setup/callback"
    return manifest


def _already_configured() -> HTMLResponse:
    return setup_pages.already_configured()


def _failed(headline: str, detail: str, status: int, *, forget: bool = True) -> HTMLResponse:
    """An error page; `forget` drops the browser's state cookie (its state was used up)."""
    response = setup_pages.failed(headline, detail, status)
    if forget:
        response.delete_cookie(STATE_COOKIE, path="/setup")
    return response


def _github_com(settings: Settings) -> bool:
    """Whether people register the app on github.com (not GitHub Enterprise Server, whose
    webhooks may well reach private addresses, nor a stand-in)."""
    return urlsplit(settings.github_web_url).hostname in ("github.com", "www.github.com")


def _not_public(address: str) -> bool:
    """Loopback, private, link-local, unspecified, reserved: nothing GitHub can reach."""
    try:
        return not ipaddress.ip_address(address.split("%", 1)[0]).is_global
    except ValueError:
        return False


async def webhook_problem(settings: Settings) -> tuple[str, bool] | None:
    """Why github.com could not deliver webhooks to this server, and whether that is certain.

    github.com refuses to register a webhook URL "not reachable over the public Internet".
    The decision:

    - **Refuse** (no button) when that is certain: `LIQUIDBOOK_PUBLIC_URL` is unset (the
      default `http://HOST:PORT` is this machine), or it names `localhost` or a loopback,
      private or link-local address literally. GitHub would reject the manifest, so the
      button could only lead to its error page; the setup page says what to set instead.
    - **Warn** (the button stays) when the address is a name that resolves, from this
      server, only to such addresses: split-horizon DNS may give GitHub a public address for
      the same name, so the server cannot be sure.
    - Nothing for GitHub Enterprise Server or a stand-in (`GITHUB_WEB_URL` other than
      github.com), which can reach private networks.
    """
    if not _github_com(settings):
        return None
    if settings.liquidbook_public_url is None:
        return (
            f"LIQUIDBOOK_PUBLIC_URL is not set, so the app would be registered with webhooks "
            f"to {settings.public_url}, an address of this machine",
            True,
        )
    host = (urlsplit(settings.public_url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost") or _not_public(host):
        return (
            f"LIQUIDBOOK_PUBLIC_URL is {settings.public_url}, a loopback, private or "
            "link-local address",
            True,
        )
    try:
        found = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(host, None), 3)
    except (OSError, TimeoutError):
        return None  # the name may resolve elsewhere; GitHub says so itself if not
    addresses = {info[4][0] for info in found}
    if addresses and all(_not_public(str(a)) for a in addresses):
        return (
            f"LIQUIDBOOK_PUBLIC_URL is {settings.public_url}, whose name resolves from this "
            f"server only to private addresses ({', '.join(sorted(map(str, addresses)))})",
            False,
        )
    return None


async def setup_page(request: Request) -> Response:
    """The page with the button that creates the app on GitHub (for a user or `?org=`).

    On github.com, with a webhook address GitHub cannot reach, the page says so before the
    button, or instead of it when that is certain (see `webhook_problem`).
    """
    services = request.app.state.services
    settings = services.settings
    if services.github is not None:
        return _already_configured()
    problem = await webhook_problem(settings)
    advice = (
        setup_pages.webhook_advice(problem[0], problem[1], settings.port)
        if problem is not None
        else Html("")
    )
    if problem is not None and problem[1]:
        return setup_pages.refused(advice, settings.public_url)
    state = secrets.token_urlsafe(24)
    await services.redis.set(STATE_PREFIX + state, b"1", ex=STATE_SECONDS)
    org = request.query_params.get("org", "").strip()
    target = (
        f"{settings.github_web_url}/organizations/{quote(org, safe='')}/settings/apps/new"
        if org
        else f"{settings.github_web_url}/settings/apps/new"
    )
    response = setup_pages.setup(
        target=f"{target}?state={state}",
        manifest=json.dumps(load_manifest(settings.public_url)),
        org=org,
        warning=advice,
        public_url=settings.public_url,
    )
    # GitHub sends the person back with a top-level GET: a Lax cookie comes along with it.
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=STATE_SECONDS,
        path="/setup",
        httponly=True,
        samesite="lax",
        secure=str(settings.public_url).startswith("https://"),
    )
    return response


async def callback(request: Request) -> Response:
    """GitHub's redirect after the app was created: exchange the code, save, go live."""
    services = request.app.state.services
    if services.github is not None:
        return _already_configured()
    code = request.query_params.get("code", "")
    state = request.query_params.get("state", "")
    cookie = request.cookies.get(STATE_COOKIE, "")
    same_browser = bool(state) and hmac.compare_digest(cookie.encode(), state.encode())
    if not same_browser:
        return _failed(
            "This setup link was not opened from this browser.",
            "Finish the setup in the browser that opened the setup page, within an hour.",
            400,
            forget=False,  # a forged link must not spoil the setup this browser has under way
        )
    if not code or not await services.redis.delete(STATE_PREFIX + state):
        return _failed("This setup link is invalid or expired.", "", 400)
    # One conversion at a time, so two setups finishing together cannot overwrite each other.
    if not await services.redis.set(CONVERSION_LOCK, b"1", nx=True, ex=120):
        return _failed("Another setup is finishing right now.", "Reload in a minute.", 409)
    try:
        return await _convert(services, code)
    finally:
        await services.redis.delete(CONVERSION_LOCK)


async def _convert(services: Any, code: str) -> Response:
    """Exchange the one-time code for the app's credentials; save them and go live."""
    settings = services.settings
    url = f"{settings.github_api_url}/app-manifests/{code}/conversions"
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(url, headers={"Accept": "application/vnd.github+json"})
    except httpx.HTTPError as error:
        log.warning("manifest conversion failed: %s", type(error).__name__)
        return _failed(
            "Could not reach GitHub to finish the setup.",
            f"The request to {settings.github_api_url} failed ({type(error).__name__}).",
            502,
        )
    if response.status_code != 201:
        log.warning("manifest conversion answered %s", response.status_code)
        return _failed(
            "GitHub did not accept the setup code.",
            f"It answered {response.status_code}.",
            502,
        )
    app = _conversion_reply(response)
    if app is None:
        log.warning("manifest conversion reply lacks the app's credentials")
        return _failed(
            "GitHub's answer did not contain the new app's credentials.",
            "The app may have been created on GitHub anyway: delete it there (Settings → "
            "Developer settings → GitHub Apps) before starting again.",
            502,
        )
    if services.github is not None:  # another setup finished while GitHub was answering
        return _already_configured()
    try:
        save_credentials(app, ENV_FILE)
    except OSError as error:
        log.error("could not save the app's credentials: %s", type(error).__name__)
        return _failed(
            f"Could not save the app's credentials to {ENV_FILE}.",
            f"Writing the file failed ({type(error).__name__}); check the server's folder.",
            500,
        )
    try:
        services.configure_github(load_settings())
    except Exception as error:  # a clear page, never a stack trace
        log.error("the saved credentials do not load: %s", error)
        return _failed(
            "The app's credentials were saved but do not load.",
            f"Restart the server and check its log ({type(error).__name__}).",
            500,
        )
    html_url = app.get("html_url")
    if not isinstance(html_url, str) or not html_url.startswith(("https://", "http://")):
        html_url = f"{settings.github_web_url}/apps/{app['slug']}"
    install_url = f"{html_url}/installations/new"
    page = setup_pages.registered(str(app["slug"]), install_url, ENV_FILE)
    page.delete_cookie(STATE_COOKIE, path="/setup")
    return page


def _conversion_reply(response: httpx.Response) -> dict[str, Any] | None:
    """GitHub's conversion answer, or None when it is not JSON or lacks a credential."""
    try:
        app = response.json()
    except ValueError:
        return None
    if not isinstance(app, dict):
        return None
    for key in _REQUIRED_FIELDS:
        value = app.get(key)
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            return None
    if not str(app["id"]).isdigit():
        return None
    return app


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
