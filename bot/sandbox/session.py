"""`Sandbox`: the stand-in GitHub, the model, the app, and the author's side of the conversation.

It plays the author: installs the app, waits for the setup PR and merges it, opens the issue
"Write the book" and posts each comment on it, waits until every status comment of that
comment is final, prints them and the pull requests the comment's jobs opened, and merges
those PRs (unless told not to), so `/outline …` then `/generate chapter 2` writes chapter 2
of the merged outline.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from bot.sandbox import world
from bot.sandbox.answers import CommentResult, final_answers, wait_for
from bot.sandbox.app import AppChild, app_environment, free_port, loopback_no_proxy
from bot.sandbox.console import SandboxError, say
from bot.sandbox.model import choose_model
from bot.sandbox.report import show_pull, show_report, show_status
from bot.sandbox.world import AUTHOR, REPOSITORY


class Sandbox:
    """The stand-in GitHub, the model, the app, and the author's side of the conversation."""

    def __init__(
        self,
        workdir: Path,
        port: int | None,
        timeout: float,
        merge: bool,
        config: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.config = config
        self.port = port or free_port()
        self.timeout = timeout
        self.merge = merge
        self.gh: Any = None
        self.model: Any = None
        self.app: AppChild | None = None
        self.issue: int | None = None

    def start(self) -> None:
        """Bring everything up, install the app, and merge the setup PR it opens."""
        say(f"Sandbox folder: {self.workdir}")
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = loopback_no_proxy(dict(os.environ))
        self.gh = world.start_github(self.workdir / "github")
        choice, self.model = choose_model(dict(os.environ))
        say(f"Model: {choice.note}")
        record = world.register_app(self.gh, self.port)
        env = app_environment(record, choice, self.gh.api_url, self.workdir, self.port)
        self.app = AppChild(self.workdir / "app", env, self.port)
        self.app.start()
        say(f"App: {self.app.url} (log: {self.app.log_path})")
        world.install_app(self.gh, record, self.app)
        self.handle_setup()
        if self.config is not None:
            world.push_config(self.gh, self.config)

    def handle_setup(self) -> None:
        """Wait for the setup PR the installation triggers, show it and merge it."""
        say("\nWaiting for the setup pull request…")
        pull = wait_for(
            lambda: world.setup_pull(self.gh), "the setup pull request", self.timeout, self.app
        )
        if pull is None:
            raise SandboxError("the app opened no setup pull request (see above)")
        show_pull(self.gh, pull)
        if not self.merge_pulls([pull]):
            raise SandboxError("the setup pull request could not be merged")

    def ensure_issue(self) -> int:
        """The issue the author talks to the app on, opened on first use."""
        if self.issue is None:
            self.issue = world.open_issue(self.gh)
        return self.issue

    def run_comment(self, body: str) -> bool:
        """Post one comment, wait for its answers, show them and the PRs, merge them."""
        from bot.commands import parse_commands
        from bot.jobs.acknowledge import expected_answers

        issue = self.ensure_issue()
        before = world.pull_heads(self.gh)
        say(f"\n{AUTHOR} comments on #{issue}:")
        say("\n".join(f"  > {line}" for line in body.splitlines()))
        delivery = self.gh.comment(REPOSITORY, issue, AUTHOR, body)
        if delivery.status_code != 200:
            say(f"❌ The app did not accept the webhook: {delivery.status_code or delivery.error}")
            return False
        expected = expected_answers(parse_commands(body))
        if expected == 0:
            say("  (no command in this comment: the app does not answer it)")
            return True
        result = self.wait_for_answers(delivery.payload["comment"]["id"], expected)
        if result is None:
            return False
        for status in result.statuses:
            show_status(status)
        result.pulls = world.changed_pulls(self.gh, before)
        for pull in result.pulls:
            show_pull(self.gh, pull)
        if not result.pulls:
            say("\n  (no pull request was opened or updated)")
        merged = self.merge_pulls(result.pulls)
        return result.ok and merged

    def wait_for_answers(self, comment_id: int, expected: int) -> CommentResult | None:
        """Every status comment of one comment in a final state, or None on a time-out."""
        return wait_for(
            lambda: final_answers(self.gh, self.issue, comment_id, expected),
            f"the answers to comment {comment_id}",
            self.timeout,
            self.app,
        )

    def merge_pulls(self, pulls: list[dict[str, Any]]) -> bool:
        """Merge as the author, in order (unless --no-merge); False if one would not merge."""
        if not self.merge:
            return True
        return world.merge_pulls(self.gh, pulls)

    def report(self, seconds: float) -> None:
        """Clone the default branch and say where everything is on disk."""
        show_report(self.workdir, self.gh, self.app, seconds)

    def close(self) -> None:
        """Stop the app, the model and the GitHub stand-in (each even if another fails)."""
        for stop in (
            self.app.stop if self.app else None,
            self.model.stop if self.model else None,
            self.gh.stop if self.gh else None,
        ):
            if stop is not None:
                with contextlib.suppress(Exception):
                    stop()
        self.app = self.model = self.gh = None
