"""The setup pages in a real browser: Primer's stylesheet applies, and nothing leaves loopback.

Headless Chromium (Debian's `chromium`) opens each page of tests/setup_scenes.py against the
real server and the stand-in of GitHub, and reads computed styles: Primer's system font
stack on the body, its green on the primary button, its 768 px container. The browser's net
log must show no DNS query and no connection beyond loopback, and every request of the pages
must go to the server itself.

Without chromium the test skips, except on CI (`CI=true`), where it fails.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.app_permissions import app_request
from bot.pages import STATIC_DIR
from tests.chromium import Chromium, egress, executable
from tests.setup_scenes import SCENES, visit_setup_pages

if executable() is None:
    if os.environ.get("CI") == "true":
        pytest.fail("CI needs Debian's chromium for the setup pages: apt-get install -y chromium")
    pytest.skip(
        "Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True
    )


def primer_variable(name: str) -> str:
    """A custom property's value as the vendored Primer defines it (its first definition)."""
    css = (STATIC_DIR / "primer" / "primer.css").read_text()
    found = re.search(rf"--{re.escape(name)}:\s*([^;}}]+)", css)
    assert found, name
    return found.group(1).strip()


def rgb(hex_colour: str) -> str:
    """#1f883d -> "rgb(31, 136, 61)", as getComputedStyle answers."""
    digits = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(digits[i : i + 2], 16) for i in (0, 2, 4)))


def test_each_setup_page_is_styled_by_primer_from_this_server(tmp_path: Path) -> None:
    font_stack = primer_variable("fontStack-sansSerif")
    button_green = rgb(primer_variable("bgColor-success-emphasis"))
    seen: dict[str, int] = {}
    with Chromium(tmp_path / "browser") as browser:
        for scene, status in visit_setup_pages(browser, tmp_path):
            seen[scene] = status
            origin = browser.evaluate("location.origin")
            # The stylesheets loaded, from this server, and Primer's rules apply.
            sheets = browser.evaluate("[...document.styleSheets].map(s => s.href)")
            assert sheets == [
                f"{origin}/static/primer/primer.css",
                f"{origin}/static/liquidbook.css",
            ]
            assert browser.evaluate("document.styleSheets[0].cssRules.length") > 1000
            family = browser.style("body", "font-family")
            assert family.replace('"', "") == font_stack.replace('"', ""), family
            assert browser.style("main", "max-width") == "768px"
            assert browser.style("main", "margin-left") == browser.style("main", "margin-right")
            assert browser.style("header img", "width") == "32px"
            assert browser.evaluate("document.querySelector('header img').naturalWidth") == 64
            version = browser.evaluate("document.querySelector('.lb-version').textContent")
            assert re.fullmatch(r"v\d+\.\d+\.\d+.*", version), version
            text = browser.evaluate("document.body.innerText")
            if scene in ("setup-before", "setup-warning"):
                for permission in app_request().permissions:
                    assert permission.title in text and permission.access in text
                for variable in (
                    "GITHUB_APP_ID",
                    "GITHUB_PRIVATE_KEY_PATH",
                    "GITHUB_WEBHOOK_SECRET",
                ):
                    assert variable in text
            if scene == "setup-before":
                assert browser.style(".btn-primary", "background-color") == button_green
                assert browser.style(".btn-primary", "color") == "rgb(255, 255, 255)"
            if scene == "setup-warning":
                assert browser.evaluate("document.querySelector('form')") is None
                assert "github.com cannot send webhooks to this server" in text
            if scene == "setup-after":
                link = browser.evaluate("document.querySelector('a.btn-primary').href")
                assert link.endswith("/installations/new"), link
                assert browser.style("a.btn-primary", "background-color") == button_green
            if scene in ("setup-before", "setup-after", "setup-closed", "home-running"):
                assert "/help" in text
            if scene == "setup-error":
                assert browser.evaluate("document.querySelector('a.btn').textContent") == (
                    "Start again"
                )
        # Nothing the pages asked for came from elsewhere, nothing was refused by the policy
        # (a refusal would mean a page depends on something it cannot load), and every
        # static file was found. (The 400 and 409 pages log their own status as errors.)
        for url in browser.page_requests():
            assert urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"), url
        errors = [
            entry
            for entry in browser.log_entries()
            if entry["level"] == "error"
            and (entry["source"] != "network" or "/static/" in entry.get("url", ""))
        ]
        assert errors == []
    assert seen == SCENES
    netlog = tmp_path / "browser" / "netlog.json"
    # No DNS query, connection or datagram beyond loopback. (Chromium's own background
    # requests, `requested_elsewhere`, are stopped inside the browser by the guard flags.)
    assert egress(netlog) == [], egress(netlog)
