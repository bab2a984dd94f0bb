"""The pages of registering the app (`bot/manifest.py` decides which one to show).

Each says what happened, what will happen next, and what the person can do; nothing here
decides anything. Layout, escaping and headers come from `bot/pages.py`.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse

from bot.app_permissions import app_request
from bot.pages import Html, card, existing_app_box, fill, next_steps_box, page, permissions_box


def webhook_advice(why: str, certain: bool, port: int) -> Html:
    """Why github.com cannot (or may not) reach this server, and what to set instead."""
    headline = (
        "github.com cannot send webhooks to this server."
        if certain
        else "github.com may not be able to send webhooks to this server."
    )
    consequence = (
        "which GitHub does not accept: it sends webhooks only to addresses reachable over "
        "the public internet."
        if certain
        else "If GitHub cannot reach it either, it will refuse to create the app."
    )
    return fill(
        """<div class="lb-notice p-3 mb-4 rounded-2 border color-border-attention-emphasis
color-bg-attention" role="alert">
<p class="text-bold mb-1">$headline</p>
<p class="mb-2">$why$sep $consequence</p>
<p class="mb-0">Set <code>LIQUIDBOOK_PUBLIC_URL</code> to a public https address that
reaches this server, for example a tunnel's (<code>cloudflared tunnel --url
http://127.0.0.1:$port</code>, <code>ngrok http $port</code>); it must carry the browser's
return to <code>/setup/callback</code> too, not only webhooks. Then restart
<code>liquidbook serve</code> and open this page again.</p>
</div>""",
        headline=headline,
        why=why,
        sep="," if certain else ".",
        consequence=consequence,
        port=port,
    )


def _intro() -> Html:
    return fill(
        """<h1 class="h1 mb-2">Set up $app</h1>
<p class="f4 color-fg-muted mb-4">$description</p>""",
        app=app_request().name,
        description=app_request().description,
    )


def setup(*, target: str, manifest: str, org: str, warning: Html, public_url: str) -> HTMLResponse:
    """The setup page with the button that posts the manifest to GitHub (`target`)."""
    owner = fill("the organization <b>$org</b>", org=org) if org else Html("your account")
    steps = fill(
        """<div class="p-3">
<ol class="lb-steps pl-4 mb-3">
<li>The button sends the app's manifest (<code>app.yml</code>) to GitHub, to create the app
on $owner.</li>
<li>GitHub shows the app's name and permissions; you confirm there.</li>
<li>GitHub sends you back here. This server saves the app's ID, private key and webhook
secret to <code>.env</code> (readable by its owner only) and uses them at once.</li>
<li>You install the app on the repositories of your book.</li>
</ol>
<form method="post" action="$action">
<input type="hidden" name="manifest" value="$manifest">
<button class="btn btn-primary btn-large" type="submit">Create the GitHub App</button>
</form>
<p class="f6 color-fg-muted mt-3">For an organization, open <code>/setup?org=NAME</code>.</p>
</div>""",
        owner=owner,
        action=target,
        manifest=manifest,
    )
    steps = card("register", "Register a new GitHub App", steps)
    body = Html(
        _intro()
        + warning
        + steps
        + permissions_box(app_request())
        + existing_app_box(public_url)
        + next_steps_box()
    )
    return page("Set up", body, form_target=target)


def refused(advice: Html, public_url: str) -> HTMLResponse:
    """The setup page when github.com certainly cannot reach this server: no button."""
    body = Html(_intro() + advice + permissions_box(app_request()) + existing_app_box(public_url))
    return page("Set up", body)


def registered(slug: str, install_url: str, env_file: Path) -> HTMLResponse:
    """After GitHub created the app and its credentials were saved."""
    body = fill(
        """<div class="lb-done p-4 rounded-2 border color-border-success-emphasis
color-bg-success">
<h1 class="h2 mb-2">Created the GitHub App <span class="text-mono">$slug</span></h1>
<p class="mb-3">Its credentials are saved in <code>$env</code>, readable by this server's
user only, and the server uses them now: no restart needed.</p>
<a class="btn btn-primary btn-large" href="$install">Install it on a repository</a>
</div>
$next""",
        slug=slug,
        env=str(env_file),
        install=install_url,
        next=next_steps_box(),
    )
    return page("Ready", body)


def already_configured() -> HTMLResponse:
    """Setup is closed once an app is configured, so nobody can swap its credentials."""
    body = Html(
        """<h1 class="h2 mb-2">The GitHub App is already configured.</h1>
<p>Setup is closed, so nobody can replace the app's credentials. To register another app,
remove <code>GITHUB_APP_ID</code> and its key and secret from the settings
(<code>.env</code>) and restart the server.</p>"""
        + next_steps_box()
    )
    return page("Already configured", body, 409)


def failed(headline: str, detail: str, status: int) -> HTMLResponse:
    """A setup step failed: what happened, and the way back to the start."""
    body = fill(
        """<div class="lb-failed p-4 rounded-2 border color-border-danger-emphasis
color-bg-danger" role="alert">
<h1 class="h2 mb-2">$headline</h1>
<p class="mb-3">$detail</p>
<a class="btn" href="/setup">Start again</a>
</div>""",
        headline=headline,
        detail=detail or "Nothing was saved.",
    )
    return page("Setup failed", body, status)


def running(webhook_path: str) -> HTMLResponse:
    """The home page once the app is configured."""
    body = fill(
        """<h1 class="h2 mb-2">Liquid Book is running</h1>
<p>GitHub delivers webhooks to <code>$path</code>; <a href="/healthz">/healthz</a> says
whether Redis and the database answer.</p>
$next""",
        path=webhook_path,
        next=next_steps_box(),
    )
    return page("Running", body)
