"""The setup pages as a person meets them, in a real browser against the real server.

`visit_setup_pages` starts the app (`python -m bot serve`, as tests/servers.py does) and the
stand-in of GitHub on loopback, walks a Chromium through each page and yields the page's name
while the browser shows it, so tests/test_setup_pages_browser.py can check it and
scripts/screenshots.py can photograph it: both see the very same pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

from standins.github import GitHubStandIn
from tests.chromium import Chromium
from tests.servers import AppProcess

# The web server alone: these pages need no worker (jobs are not part of registering).
SERVE = ("serve", "--no-worker")
# name -> the HTTP status the page is served with
SCENES = {
    "setup-warning": 200,  # github.com, and no public address: advice instead of the button
    "setup-before": 200,  # no app yet: the button
    "setup-error": 400,  # a callback this browser did not start
    "setup-after": 200,  # GitHub created the app; credentials saved
    "setup-closed": 409,  # setup once an app is configured
    "home-running": 200,  # the home page once an app is configured
}


def _status(browser: Chromium, since: int) -> int:
    """The HTTP status of the document the browser loaded last."""
    for event in reversed(browser.events[since:]):
        if event["method"] == "Network.responseReceived" and event["params"]["type"] == "Document":
            return int(event["params"]["response"]["status"])
    raise AssertionError("no document was loaded")


def visit_setup_pages(browser: Chromium, workdir: Path) -> Iterator[tuple[str, int]]:
    """Yield (scene, HTTP status) with the browser on each page of `SCENES`, in order."""

    def show(url: str) -> int:
        since = len(browser.events)
        browser.open(url)
        return _status(browser, since)

    # On github.com (the default GITHUB_WEB_URL) with no LIQUIDBOOK_PUBLIC_URL.
    with AppProcess(workdir / "github-com", {}, SERVE) as app:
        yield "setup-warning", show(app.url + "/setup")

    with GitHubStandIn(workdir / "github") as gh:
        env = {"GITHUB_API_URL": gh.api_url, "GITHUB_WEB_URL": "http://github.test"}
        with AppProcess(workdir / "app", env, SERVE) as app:
            callback = app.url + "/setup/callback"
            status = show(app.url + "/setup")
            yield "setup-before", status
            yield "setup-error", show(callback + "?" + urlencode({"code": "x", "state": "y"}))
            show(app.url + "/setup")
            action = browser.evaluate("document.querySelector('form').action")
            manifest = json.loads(
                browser.evaluate("document.querySelector('input[name=manifest]').value")
            )
            state = action.split("state=")[1]
            code = gh.manifest_code(manifest)  # GitHub creates the app; the person comes back
            yield "setup-after", show(callback + "?" + urlencode({"code": code, "state": state}))
            yield "setup-closed", show(app.url + "/setup")
            yield "home-running", show(app.url + "/")
