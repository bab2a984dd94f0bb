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
from bot.sandbox.json_report import answer_text, build_report, write_report
from bot.sandbox.model import choose_model
from bot.sandbox.report import show_pull, show_report, show_status
from bot.sandbox.reviewer import LineSpec, newest_app_pull, thread_answer
from bot.sandbox.ticks import DASHBOARD_WAIT_SECONDS, await_dashboard, show_dashboard
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
        # What `--report` lists: each comment, where it went and the app's final answers.
        self.posted: list[dict[str, Any]] = []
        # PRs kept open because the next step comments on them as a reviewer.
        self.held: list[dict[str, Any]] = []

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
        if self.merge:
            await_dashboard(self.gh, self.app, min(DASHBOARD_WAIT_SECONDS, self.timeout))

    def ensure_issue(self) -> int:
        """The issue the author talks to the app on, opened on first use."""
        if self.issue is None:
            self.issue = world.open_issue(self.gh)
        return self.issue

    def run_comment(self, body: str, hold: bool = False) -> bool:
        """Post one comment, wait for its answers, show them and the PRs, merge them (or
        keep them open when `hold`: a reviewer's comment on them comes next)."""
        from bot.commands import parse_commands
        from bot.jobs.acknowledge import expected_answers

        issue = self.ensure_issue()
        before = world.pull_heads(self.gh)
        say(f"\n{AUTHOR} comments on #{issue}:")
        say("\n".join(f"  > {line}" for line in body.splitlines()))
        delivery = self.gh.comment(REPOSITORY, issue, AUTHOR, body)
        record: dict[str, Any] = {
            "kind": "comment",
            "text": body,
            "posted_on": {"issue": issue, "comment_id": delivery.payload["comment"]["id"]},
            "answers": [],
        }
        self.posted.append(record)
        if delivery.status_code != 200:
            say(f"❌ The app did not accept the webhook: {delivery.status_code or delivery.error}")
            return False
        expected = expected_answers(parse_commands(body))
        if expected == 0:
            say("  (no command in this comment: the app does not answer it)")
            return True
        result = self.wait_for_answers(delivery.payload["comment"]["id"], expected)
        return self.finish_step(result, before, record, hold)

    def finish_step(
        self,
        result: CommentResult | None,
        before: dict[int, str],
        record: dict[str, Any],
        hold: bool,
    ) -> bool:
        """Show the final answers and the PRs the step changed; merge them, and the PRs held
        for this step, unless the next step comments on them too."""
        if result is None:
            return False
        record["answers"] = [answer_text(status) for status in result.statuses]
        record["ok"] = result.ok
        for status in result.statuses:
            show_status(status)
        result.pulls = world.changed_pulls(self.gh, before)
        for pull in result.pulls:
            show_pull(self.gh, pull)
        if not result.pulls:
            say("\n  (no pull request was opened or updated)")
        waiting = {p["number"]: p for p in [*self.held, *result.pulls]}
        if hold:
            self.held = list(waiting.values())
            if waiting:
                say(f"  (kept open: the next comment is a reviewer's, on #{max(waiting)})")
            return result.ok
        self.held = []
        still_open = {p["number"] for p in self.gh.pulls(REPOSITORY, state="open")}
        merged = self.merge_pulls([p for n, p in waiting.items() if n in still_open])
        return result.ok and merged

    def run_pr_comment(self, body: str, hold: bool = False) -> bool:
        """As a reviewer, comment in the conversation of the newest PR the app opened."""
        from bot.commands import parse_commands
        from bot.jobs.acknowledge import expected_answers

        pull = self.target_pull()
        if pull is None:
            return False
        before = world.pull_heads(self.gh)
        say(f"\n{AUTHOR} comments on pull request #{pull}:")
        say("\n".join(f"  > {line}" for line in body.splitlines()))
        delivery = self.gh.comment(REPOSITORY, pull, AUTHOR, body)
        comment_id = delivery.payload["comment"]["id"]
        record = {
            "kind": "pr_comment",
            "text": body,
            "posted_on": {"pull_request": pull, "comment_id": comment_id},
            "answers": [],
        }
        self.posted.append(record)
        if delivery.status_code != 200:
            say(f"❌ The app did not accept the webhook: {delivery.status_code or delivery.error}")
            return False
        expected = expected_answers(parse_commands(body))
        if expected == 0:
            say("  (no command in this comment: the app does not answer it)")
            return self.finish_step(CommentResult(), before, record, hold)
        result = wait_for(
            lambda: final_answers(self.gh, pull, comment_id, expected),
            f"the answers to comment {comment_id} on #{pull}",
            self.timeout,
            self.app,
        )
        return self.finish_step(result, before, record, hold)

    def run_review_comment(self, spec: LineSpec, hold: bool = False) -> bool:
        """As a reviewer, comment on lines of the newest PR the app opened."""
        from handlers.reviews import line_command

        pull = self.target_pull()
        if pull is None:
            return False
        before = world.pull_heads(self.gh)
        say(f"\n{AUTHOR} comments on {spec.where()} of pull request #{pull}:")
        say("\n".join(f"  > {line}" for line in spec.text.splitlines()))
        record: dict[str, Any] = {
            "kind": "review_comment",
            "text": spec.text,
            "posted_on": {
                "pull_request": pull,
                "path": spec.path,
                "start_line": spec.start,
                "line": spec.end,
            },
            "answers": [],
        }
        self.posted.append(record)
        try:
            delivery = self.gh.review_comment(
                REPOSITORY, pull, AUTHOR, spec.text, spec.path, spec.end, "RIGHT",
                spec.start if spec.start != spec.end else None,
            )  # fmt: skip
        except Exception as exc:  # GitHub's 422: the lines are not part of the diff
            say(f"❌ GitHub refused the line comment on {spec.where()}: {exc}")
            record["answers"] = [f"GitHub refused the comment: {exc}"]
            record["ok"] = False
            return False
        comment_id = delivery.payload["comment"]["id"]
        record["posted_on"]["comment_id"] = comment_id
        if delivery.status_code != 200:
            say(f"❌ The app did not accept the webhook: {delivery.status_code or delivery.error}")
            return False
        if line_command(spec.text) is None:
            say("  (no /suggest or /revise in this line comment: the app does not answer it)")
            return self.finish_step(CommentResult(), before, record, hold)
        result = wait_for(
            lambda: thread_answer(self.gh, pull, comment_id),
            f"the reply to line comment {comment_id} on #{pull}",
            self.timeout,
            self.app,
        )
        return self.finish_step(result, before, record, hold)

    def target_pull(self) -> int | None:
        """The newest PR the app opened, which a reviewer's comment goes to."""
        pull = newest_app_pull(self.gh)
        if pull is None:
            say("❌ There is no pull request of the app to comment on yet.")
            return None
        return int(pull["number"])

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

    def report(self, seconds: float, json_path: Path | None = None) -> None:
        """Clone the default branch and say where everything is on disk; write the JSON
        report when asked."""
        show_report(self.workdir, self.gh, self.app, seconds)
        if json_path is not None and self.gh is not None:
            book = self.workdir / "book"
            report = build_report(
                self.gh, self.posted, self.workdir, book if book.is_dir() else None
            )
            write_report(json_path, report)
            say(f"  the JSON report:  {json_path}")
        if self.gh is not None:
            show_dashboard(self.gh)

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
