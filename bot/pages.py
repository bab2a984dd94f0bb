"""The HTML pages the server shows people: setup, after registration, errors, status.

People decide here whether to trust the app with their repositories, so the pages look like
a product: GitHub's Primer CSS, vendored in `bot/static/primer/` and served by this server
(never a CDN, so the pages work offline and the Content-Security-Policy can say `'self'`).

Templates are `string.Template`s filled by `fill`, which escapes every value unless it is
`Html` (a fragment built by `fill` itself): escaping is the default, not something each
caller has to remember.
"""

from __future__ import annotations

import html
import importlib.metadata
import string
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

from bot.app_permissions import AppRequest, app_request

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/static"
GITHUB_DOCS = {
    "Registering a GitHub App from a manifest": "https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest",
    "Installing a GitHub App": "https://docs.github.com/apps/using-github-apps/installing-your-own-github-app",
    "Permissions of GitHub Apps": "https://docs.github.com/rest/authentication/permissions-required-for-github-apps",
}


class Html(str):
    """Markup that is safe to insert as is (made by `fill`, `join` or from a literal)."""


def fill(template: str, **values: object) -> Html:
    """`template` with `$name` replaced by `values`, each escaped unless it is `Html`."""
    safe = {
        key: value if isinstance(value, Html) else html.escape(str(value), quote=True)
        for key, value in values.items()
    }
    return Html(string.Template(template).substitute(safe))


def join(parts: Iterable[Html]) -> Html:
    return Html("".join(parts))


def version() -> str:
    """The installed package's version; a checkout run without installing reads pyproject."""
    try:
        return importlib.metadata.version("liquidbook")
    except importlib.metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])


def docs_links() -> dict[str, str]:
    """The project's own documentation (pyproject's `[project.urls]`, when it names any),
    then GitHub's pages on registering, installing and permissions."""
    links: dict[str, str] = {}
    try:
        for entry in importlib.metadata.metadata("liquidbook").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if url.strip().startswith("https://"):
                links[f"Liquid Book: {label.strip()}"] = url.strip()
    except importlib.metadata.PackageNotFoundError:
        pass
    return {**links, **GITHUB_DOCS}


def content_security_policy(form_target: str | None = None) -> str:
    """Everything from this server only: no scripts at all, styles and images from 'self';
    a form may post only to `form_target`'s origin (GitHub, for the manifest)."""
    forms = "'none'"
    if form_target:
        parts = urlsplit(form_target)
        forms = f"{parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        f"form-action {forms}; base-uri 'none'; frame-ancestors 'none'"
    )


_LAYOUT = """<!doctype html>
<html lang="en" data-color-mode="auto" data-light-theme="light" data-dark-theme="dark">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title · $app</title>
<link rel="icon" href="$static/liquidbook.svg" type="image/svg+xml">
<link rel="stylesheet" href="$static/primer/primer.css">
<link rel="stylesheet" href="$static/liquidbook.css">
</head>
<body>
<header class="lb-header border-bottom color-bg-subtle">
<div class="container-md px-3 py-3 d-flex flex-items-center">
<img class="lb-logo mr-2" src="$static/liquidbook.svg" width="32" height="32" alt="">
<span class="f4 text-bold">$app</span>
<span class="lb-version ml-2 px-2 f6 color-fg-muted border rounded-2">v$version</span>
<a class="ml-auto f5" href="$docs">$docs_label</a>
</div>
</header>
<main class="container-md px-3 pt-5 pb-4">
$body
</main>
<footer class="container-md px-3 mb-5">
<p class="border-top pt-3 f6 color-fg-muted">$app $version · <a href="/healthz">health</a> ·
<a href="/metrics">metrics</a> · $links</p>
</footer>
</body>
</html>
"""


def page(
    title: str, body: Html, status: int = 200, *, form_target: str | None = None
) -> HTMLResponse:
    """A whole page around `body`, with the headers every page of ours carries."""
    app = app_request()
    links = docs_links()
    footer_links = Html(
        " · ".join(
            fill('<a href="$url">$label</a>', url=url, label=label) for label, url in links.items()
        )
    )
    document = fill(
        _LAYOUT,
        title=title,
        app=app.name,
        version=version(),
        static=STATIC_PATH,
        docs=next(iter(links.values())),
        docs_label="Documentation" if len(links) > len(GITHUB_DOCS) else "GitHub App docs",
        body=body,
        links=footer_links,
    )
    return HTMLResponse(
        document,
        status_code=status,
        headers={
            "Content-Security-Policy": content_security_policy(form_target),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


# -- sections shared by the pages ------------------------------------------------------------


def card(key: str, title: str, body: Html, note: Html | str = "") -> Html:
    """A bordered section with a header (Primer 22 leaves `.Box` to its components, so this
    is made of its utilities)."""
    return fill(
        """<section class="lb-card border rounded-2 mt-4" aria-labelledby="$key">
<div class="px-3 py-2 border-bottom color-bg-subtle rounded-top-2">
<h2 class="f4 text-bold" id="$key">$title</h2>$note
</div>
$body
</section>""",
        key=key,
        title=title,
        body=body,
        note=fill('<p class="f6 color-fg-muted mb-0">$note</p>', note=note) if note else "",
    )


def inline_code(text: str) -> Html:
    """`text` escaped, with its `backticked` spans as <code> (app.yml's comments use them)."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an unmatched backtick: show the text as it is
        return fill("$text", text=text)
    return join(
        fill("<code>$part</code>" if n % 2 else "$part", part=part) for n, part in enumerate(pieces)
    )


_PERMISSION_ROW = """<li class="lb-row d-flex px-3 py-2 border-top">
<span class="lb-permission text-bold">$title</span>
<span class="lb-level"><span class="lb-access f6 px-2 rounded-2 $tone">$access</span></span>
<span class="flex-1 color-fg-muted">$reason</span>
</li>"""


def permissions_box(request: AppRequest) -> Html:
    """Every permission `app.yml` requests, its level, and the reason its comment gives."""
    rows = join(
        fill(
            _PERMISSION_ROW,
            title=p.title,
            access=p.access,
            tone="lb-write" if p.level != "read" else "lb-read",
            reason=inline_code(p.reason or "app.yml gives no reason for this permission."),
        )
        for p in request.permissions
    )
    events = join(fill("<code>$event</code> ", event=e) for e in request.events)
    body = fill(
        """<ul class="list-style-none">$rows
<li class="lb-row px-3 py-2 border-top f6 color-fg-muted">Webhook events: $events(and
<code>installation</code> events, which every app receives).</li>
</ul>""",
        rows=rows,
        events=events,
    )
    return card(
        "permissions",
        "What the app may do",
        body,
        fill(
            "Read from $file: each permission is there for the capability beside it. GitHub "
            "shows you the same list before you confirm.",
            file=Html("<code>app.yml</code>"),
        ),
    )


def existing_app_box(public_url: str) -> Html:
    """How to use an app registered by hand instead of the button (README's settings)."""
    body = fill(
        """<div class="p-3">
<p>Registered the app by hand, or for another server? Set these in the environment or in
<code>.env</code> in the folder <code>liquidbook serve</code> runs in, then restart it:</p>
<dl class="lb-settings">
<dt><code>GITHUB_APP_ID</code></dt><dd>the app's ID, on its settings page under
<em>About</em>.</dd>
<dt><code>GITHUB_PRIVATE_KEY</code> or <code>GITHUB_PRIVATE_KEY_PATH</code></dt>
<dd>a private key of the app (<em>Generate a private key</em>): the PEM text, or the path
of the <code>.pem</code> file.</dd>
<dt><code>GITHUB_WEBHOOK_SECRET</code></dt><dd>the app's webhook secret.</dd>
</dl>
<p>Its webhook URL must be <code>$hook</code>, with the permissions and events above.</p>
</div>""",
        hook=f"{public_url}/api/github/webhooks",
    )
    return card("existing", "Use an existing GitHub App", body)


def next_steps_box() -> Html:
    """What an author does once the app is installed."""
    body = Html(
        """<div class="p-3">
<p>Open an issue in a repository where the app is installed and comment
<code>/help</code>: Liquid Book answers with its commands. Then <code>/init</code> opens a
pull request with a starting book and the workflow that builds and publishes it, and
<code>/outline</code> and <code>/generate chapter 1</code> write the book, one pull request
at a time.</p>
</div>"""
    )
    return card("next", "After installing", body)
