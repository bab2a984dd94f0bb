"""The world the sandbox builds, and what the author does in it.

The stand-in of GitHub (`standins.github`) with the app registered, a user `author` who is
admin of `author/book`, a repository holding only a README. The author installs the app,
opens the issue the conversation happens on, and merges pull requests.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from bot.sandbox.app import AppChild
from bot.sandbox.console import SandboxError, say

REPOSITORY = "author/book"
AUTHOR = "author"
ISSUE_TITLE = "Write the book"
SETUP_BRANCH = "liquidbook/setup"
CONFIG_PATH = ".github/liquidbook.yml"


def start_github(folder: Path) -> Any:
    """The stand-in of GitHub, serving on loopback with its state under `folder`."""
    from standins.github import GitHubStandIn

    gh = GitHubStandIn(folder).start()
    say(f"GitHub stand-in: {gh.api_url}")
    return gh


def register_app(gh: Any, port: int) -> Any:
    """Register the app (webhooks to `port`), add the author and their repository."""
    record = gh.register_app(
        webhook_url=f"http://127.0.0.1:{port}/api/github/webhooks",
        webhook_secret=secrets.token_hex(16),
    )
    gh.add_user(AUTHOR, name="Book Author")
    gh.create_repo(
        AUTHOR, "book", files={"README.md": "# book\n\nA book written with Liquid Book.\n"}
    )
    gh.set_permission(REPOSITORY, AUTHOR, "admin")
    return record


def install_app(gh: Any, record: Any, app: AppChild) -> int:
    """Install the app on the book as the author; the app must accept the webhook."""
    installation: int = gh.install(record.id, AUTHOR, repositories=["book"], sender=AUTHOR)
    # Jobs start at once and cause deliveries of their own: find this one by its event.
    delivery = next(d for d in reversed(gh.deliveries) if d.event == "installation")
    if delivery.status_code != 200:
        raise SandboxError(
            "the app answered the installation webhook with "
            f"{delivery.status_code or delivery.error}:\n{app.log_tail()}"
        )
    say(f"Installed the app on {REPOSITORY} (installation {installation}).")
    return installation


def push_config(gh: Any, text: str) -> None:
    """Put the book's settings file on the default branch, as the author."""
    gh.push(REPOSITORY, "main", {CONFIG_PATH: text}, AUTHOR, "Book settings from --config")
    say(f"Pushed the --config file to {CONFIG_PATH} on main as {AUTHOR}.")


def open_issue(gh: Any) -> int:
    """Open the issue the author talks to the app on."""
    issue: int = gh.open_issue(
        REPOSITORY, AUTHOR, ISSUE_TITLE, "Planning and writing the book with Liquid Book."
    )
    say(f"\nOpened issue #{issue} “{ISSUE_TITLE}” as {AUTHOR}.")
    return issue


def setup_pull(gh: Any) -> dict[str, Any] | None:
    """The setup pull request the installation triggers, once the app has opened it."""
    return next((p for p in gh.pulls(REPOSITORY) if p["head"]["ref"] == SETUP_BRANCH), None)


def pull_heads(gh: Any) -> dict[int, str]:
    """Every pull request's number and head commit, to see later which ones changed."""
    return {p["number"]: p["head"]["sha"] for p in gh.pulls(REPOSITORY)}


def changed_pulls(gh: Any, before: dict[int, str]) -> list[dict[str, Any]]:
    """Open PRs that are new, or whose head moved, since `before`."""
    return [
        p for p in gh.pulls(REPOSITORY, state="open") if before.get(p["number"]) != p["head"]["sha"]
    ]


def merge_pulls(gh: Any, pulls: list[dict[str, Any]]) -> bool:
    """Merge as the author, in order; False if one would not merge."""
    ok = True
    for pull in sorted(pulls, key=lambda p: p["number"]):
        try:
            gh.merge_pull(REPOSITORY, pull["number"], AUTHOR)
            say(f"Merged #{pull['number']} as {AUTHOR}.")
        except Exception as exc:
            say(f"❌ Could not merge #{pull['number']}: {exc}")
            ok = False
    return ok
