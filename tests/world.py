"""A whole world on loopback for end-to-end tests: GitHub, a model provider, and the app.

The stand-in of GitHub holds a real git repository with a book; the OpenAI-compatible
stand-in answers the model calls; the app runs as child processes (`liquidbook serve`,
optionally with separate `liquidbook worker`s). Tests act as people through the stand-in
(comment, merge) and read the outcome from it and from git.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.book.bundled import WORKFLOW_PATH, skeleton_files, workflow_text
from bot.settings import Settings, load_settings
from standins.github import GitHubStandIn
from standins.providers.behaviour import Behaviour
from standins.providers.openai_chat import OpenAIChatStandIn
from tests.servers import AppProcess

SECRET = "world-webhook-secret"
REPO = "octo-org/book"
FINAL = ("✅", "⚠️", "❌", "ℹ️")


def scripted_answer(request: dict[str, Any]) -> str:
    """What the test model says: an outline as JSON, or a chapter body in MyST."""
    prompt = "\n".join(str(m.get("content")) for m in request.get("messages", []))
    if '"chapters"' in prompt and "JSON" in prompt:
        # The author's description comes last in the prompt; its "N chapters" counts.
        found = re.findall(r"(\d+) chapters", prompt)
        count = int(found[-1]) if found else 3
        return (
            "```json\n"
            + json.dumps(
                {
                    "title": "Tide Pools",
                    "description": "A short course.",
                    "type": "course",
                    "chapters": [
                        {
                            "title": f"Part {i} of the shore",
                            "summary": f"What lives in zone {i}.",
                            "objectives": [f"Name the animals of zone {i}", "Read a tide table"],
                        }
                        for i in range(1, count + 1)
                    ],
                }
            )
            + "\n```"
        )
    return (
        "## Why this matters\n\nTide pools hold life between the tides.\n\n"
        ":::{note}\nThe water level changes twice a day.\n:::\n\n"
        "## A little mathematics\n\nThe tide height is roughly\n\n"
        "$$\nh(t) = A \\cos(\\omega t)\n$$\n\n"
        "```python\nprint('low tide')\n```\n"
    )


class World:
    """The stand-ins and the app, wired together."""

    def __init__(self, root: Path, redis_url: str, database_url: str) -> None:
        self.root = root
        self.redis_url = redis_url
        self.database_url = database_url
        self.github = GitHubStandIn(root / "github").start()
        self.model = OpenAIChatStandIn("openai", api_key="sk-world")
        self.model.default = Behaviour(text=scripted_answer)
        self.model.start()
        self.app_process: AppProcess | None = None
        self.workers: list[AppProcess] = []
        self.app = self.github.register_app(webhook_secret=SECRET)
        self.github.add_user("alice")
        self.github.add_user("mallory")
        files: dict[str, str | bytes] = dict(skeleton_files())
        files[WORKFLOW_PATH] = workflow_text()
        self.github.create_repo("octo-org", "book", files=files)
        self.github.set_permission(REPO, "alice", "write")
        self.github.set_permission(REPO, "mallory", "read")

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "GITHUB_APP_ID": str(self.app.id),
            "GITHUB_APP_SLUG": self.app.slug,
            "GITHUB_PRIVATE_KEY": self.app.private_key_pem,
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "GITHUB_API_URL": self.github.api_url,
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
            "LIQUIDBOOK_MODEL": "openai:gpt-4.1",
            "OPENAI_API_KEY": "sk-world",
            "OPENAI_BASE_URL": self.model.base_url,
            "LOG_LEVEL": "INFO",
            # Merges queue a glossary update this long after; a test that wants one sooner
            # says so, the others never see a glossary PR appear among theirs.
            "LIQUIDBOOK_GLOSSARY_DELAY_SECONDS": "3600",
            # Likewise the "Liquid Book" check of each push and PR (tests/test_e2e_checks.py).
            "LIQUIDBOOK_CHECK_DELAY_SECONDS": "3600",
            # And the Book Dashboard's refresh (tests/test_dashboard_e2e.py): a test counting
            # its job's GitHub calls never sees the dashboard issue opened among them.
            "LIQUIDBOOK_DASHBOARD_DELAY_SECONDS": "3600",
            **extra,
        }

    def settings(self, **overrides: Any) -> Settings:
        """The app's settings for jobs run in the test's own process (GitHub, Redis and the
        database of this world; no model)."""
        return load_settings(
            _env_file=None,
            github_app_id=self.app.id,
            github_app_slug=self.app.slug,
            github_private_key=self.app.private_key_pem,
            github_webhook_secret=SECRET,
            github_api_url=self.github.api_url,
            redis_url=self.redis_url,
            database_url=self.database_url,
            **overrides,
        )

    def start_app(self, *, worker: bool = True, **extra: str) -> AppProcess:
        args = ("serve",) if worker else ("serve", "--no-worker")
        self.app_process = AppProcess(self.root / "app", self.env(**extra), args).start()
        self.github.set_webhook_url(self.app.id, self.app_process.url + "/api/github/webhooks")
        return self.app_process

    def start_worker(self, **extra: str) -> AppProcess:
        worker = AppProcess(
            self.root / f"worker{len(self.workers)}", self.env(**extra), ("worker",)
        )
        # A worker has no HTTP port: wait for its start-up line in the log instead.
        assert worker.process is None
        worker.start_background()
        self.workers.append(worker)
        return worker

    def install(self) -> int:
        """Install the app on the book repository and wait for its setup check to finish
        (the book already has everything, so that job ends after reading the tree)."""
        installation = self.github.install(self.app.id, "octo-org", [REPO.split("/")[1]])
        self.wait_for(
            lambda: any(
                r.method == "GET" and r.route == "/repos/{owner}/{repo}/git/trees/{tree_sha}"
                for r in self.github.requests
            ),
            what="the setup check after installing",
        )
        return installation

    def add_chapters(self, chapters: list[tuple[str, str]], settings: str | None = None) -> None:
        """Add `(title, summary)` stub chapters after the skeleton's chapter 1, in this order
        (pushed to main as alice); `settings` replaces `.github/liquidbook.yml`."""
        files: dict[str, str | bytes | None] = {}
        toc = []
        for number, (title, summary) in enumerate(chapters, start=2):
            slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
            path = f"chapters/{number:02d}-{slug}.md"
            toc.append(f"    - file: {path}\n")
            files[path] = (
                f"---\ntitle: {title}\nlabel: chapter-{number}\nsummary: {summary}\n---\n\n"
                "% liquidbook: stub\n"
            )
        myst = self.github.read_file(REPO, "main", "myst.yml")
        assert myst is not None
        last = "    - file: chapters/01-getting-started.md\n"
        assert last in myst.decode()
        files["myst.yml"] = myst.decode().replace(last, last + "".join(toc))
        if settings is not None:
            files[".github/liquidbook.yml"] = settings
        self.github.push(REPO, "main", files, user="alice", message="More chapters")

    def status_comments(self, issue: int, repo: str = REPO) -> list[dict[str, Any]]:
        return [
            c
            for c in self.github.comments(repo, issue)
            if "<!-- liquidbook:status -->" in c["body"]
        ]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 90, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.1)
        logs = self.app_process.log()[-4000:] if self.app_process else ""
        for worker in self.workers:
            logs += "\n--- worker ---\n" + worker.log()[-3000:]
        raise AssertionError(f"timed out waiting for {what}\n{logs}")

    def wait_final(self, issue: int, count: int = 1, timeout: float = 90) -> list[dict[str, Any]]:
        """Wait until `count` status comments on the issue show a final state."""
        return self.wait_final_in(REPO, issue, count, timeout)

    def wait_final_in(
        self, repo: str, issue: int, count: int = 1, timeout: float = 90
    ) -> list[dict[str, Any]]:
        """`wait_final` for another repository."""

        def done() -> list[dict[str, Any]] | None:
            finals = [
                c for c in self.status_comments(issue, repo) if _stage(c["body"]).startswith(FINAL)
            ]
            return finals if len(finals) >= count else None

        finals = self.wait_for(done, timeout, f"{count} final status comment(s) on #{issue}")
        # The final edit shows in the records a moment before the stand-in logs its request.
        self.github.settle()
        return finals

    def git(self, *args: str) -> str:
        return self.git_in(REPO, *args)

    def job_calls(self, since: int) -> list[str]:
        """A job's GitHub calls after its status comment was posted (from the `since`-th
        logged request): the installation's REST calls, without the tarball's download
        host and without the status comment's progress edits (they come only when a stage
        lasts a moment), ending with the final edit."""
        calls = [
            f"{r.method} {r.route or r.path}"
            for r in self.github.requests[since:]
            if r.auth_kind == "installation" and not r.path.startswith("/_codeload/")
        ]
        created = calls.index("POST /repos/{owner}/{repo}/issues/{issue_number}/comments")
        edit = "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"
        assert calls[-1] == edit, calls
        return [c for c in calls[created + 1 :] if c != edit] + [edit]

    def git_in(self, repo: str, *args: str) -> str:
        return subprocess.run(
            ["git", *args],
            cwd=self.github.repo_dir(repo),
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def clone(self, branch: str, into: Path, repo: str = REPO) -> Path:
        subprocess.run(
            ["git", "clone", "-q", "--branch", branch, str(self.github.repo_dir(repo)), str(into)],
            check=True,
        )
        return into

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.app_process is not None:
            self.app_process.stop()
        self.model.stop()
        self.github.stop()


def _stage(body: str) -> str:
    """The first line after the status heading: where the job is."""
    lines = [line for line in body.splitlines() if line.strip()]
    return lines[2] if len(lines) > 2 else ""
