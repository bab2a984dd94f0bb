"""`GitHubStandIn`: the stand-in as tests and the sandbox drive it (GitHub's side of the world)."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import ApiError
from .faults import Faults
from .hub import Hub
from .ops_apps import change_repositories, install, register_app, set_suspended, uninstall
from .ops_git import commit_files, create_repo, fork_repo
from .ops_issues import (
    create_comment,
    delete_comment,
    edit_comment,
    find_issue,
    open_issue,
    update_issue,
)
from .ops_pulls import (
    create_review_comment,
    find_pull,
    merge_pull,
    open_pull,
    render_pull,
    update_pull,
)
from .ops_reviews import create_review
from .render_issues import comment_json, issue_json, reaction_json, review_comment_json
from .routes_actions import workflow_run_json
from .routes_checks import check_run_json
from .routes_pages import pages_json
from .server import ServerThread, build_app
from .state import ROLES, AppRecord, Delivery, LoggedRequest, PagesSite, Repo, User, now


class GitHubStandIn:
    """A local GitHub: REST API over HTTP, real git repositories, signed webhooks.

    Usable as a context manager; `start()` serves on 127.0.0.1 in a background thread.
    """

    def __init__(self, root: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hub = Hub(self.root)
        self._server = ServerThread(build_app(self.hub, self), host, port)
        self._started = False

    # lifecycle

    def start(self) -> GitHubStandIn:
        """Serve the API; `api_url` is valid afterwards."""
        if not self._started:
            port = self._server.start()
            self.hub.state.api_url = f"http://{self._server.host}:{port}"
            self._started = True
        return self

    def stop(self) -> None:
        """Stop serving (state and repositories stay on disk)."""
        if self._started:
            self._server.stop()
            self._started = False
        self.hub.webhooks.close()

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """`http://127.0.0.1:PORT`: the REST API root, like `https://api.github.com`."""
        return self.hub.state.api_url

    @property
    def faults(self) -> Faults:
        """Injected failures (`gh.faults.add(method=..., path=..., status=...)`)."""
        return self.hub.faults

    # apps and installations

    def register_app(
        self,
        slug: str = "liquid-book",
        name: str = "Liquid Book",
        webhook_url: str | None = None,
        webhook_secret: str | None = "secret",
        permissions: dict[str, str] | None = None,
        events: list[str] | None = None,
        owner: str = "octo-org",
    ) -> AppRecord:
        """Register a GitHub App with a fresh RSA 2048 key. Without `permissions` it may do
        everything; without `events` it receives every event."""
        return register_app(
            self.hub, slug, name, webhook_url, webhook_secret, permissions, events, owner=owner
        )

    def lower_priority(self, niceness: int = 10) -> None:
        """Answer at a lower CPU priority from now on (each thread that answers lowers its
        own): in a test that times the app while it keeps the stand-in busy, GitHub's work
        then does not take the CPU from the app's, as real GitHub's would not."""
        self.hub.niceness = niceness

    def set_webhook_url(self, app_id: int, url: str | None) -> None:
        """Point an app's webhook at `url` (None: record deliveries without sending)."""
        with self.hub.state.lock:
            self.hub.state.apps[app_id].webhook_url = url

    def manifest_code(self, manifest: dict[str, Any]) -> str:
        """Save a manifest as GitHub does when a user creates an app from it; return the code
        that `POST /app-manifests/{code}/conversions` exchanges for the app."""
        code = secrets.token_hex(10)
        with self.hub.state.lock:
            self.hub.state.manifests[code] = dict(manifest)
        return code

    def install(
        self,
        app_id: int,
        account: str,
        repositories: list[str] | None = None,
        deliver: bool = True,
        sender: str | None = None,
    ) -> int:
        """Install an app on an account (every repository when `repositories` is None);
        deliver `installation` created. Returns the installation id."""
        inst, _ = install(self.hub, app_id, account, repositories, deliver, sender)
        return inst.id

    def add_repositories(self, inst_id: int, names: list[str]) -> Delivery:
        """Grant the installation more repositories; deliver `installation_repositories` added."""
        return change_repositories(self.hub, inst_id, names, added=True)

    def remove_repositories(self, inst_id: int, names: list[str]) -> Delivery:
        """Take repositories away; deliver `installation_repositories` removed."""
        return change_repositories(self.hub, inst_id, names, added=False)

    def suspend(self, inst_id: int) -> Delivery:
        """Suspend an installation; its tokens answer 403 until unsuspended."""
        return set_suspended(self.hub, inst_id, True)

    def unsuspend(self, inst_id: int) -> Delivery:
        """Lift a suspension; deliver `installation` unsuspend."""
        return set_suspended(self.hub, inst_id, False)

    def uninstall(self, inst_id: int) -> Delivery:
        """Remove an installation, revoking its tokens; deliver `installation` deleted."""
        return uninstall(self.hub, inst_id)

    def expire_tokens(self, inst_id: int | None = None) -> None:
        """Make every installation token (of one installation) expired, as an hour later."""
        with self.hub.state.lock:
            for token in self.hub.state.tokens.values():
                if inst_id is None or token.installation_id == inst_id:
                    token.expires_at = now().replace(year=2000)

    # people and repositories

    def add_user(self, login: str, type: str = "User", name: str | None = None) -> User:
        """Create an account ("User", "Bot" or "Organization")."""
        with self.hub.state.lock:
            user = self.hub.state.ensure_user(login, type)
            user.type, user.name = type, name
            return user

    def set_permission(self, full_name: str, login: str, role: str) -> None:
        """Give `login` a role on a repository: admin, maintain, write, triage, read or none."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        with self.hub.state.lock:
            self.hub.state.ensure_user(login)
            self._repo(full_name).roles[login.lower()] = role

    def create_repo(
        self,
        owner: str,
        name: str,
        files: Mapping[str, str | bytes] | None = None,
        default_branch: str = "main",
        private: bool = False,
        description: str | None = None,
    ) -> Repo:
        """A repository with one initial commit of `files` on `default_branch`."""
        return create_repo(self.hub, owner, name, files, default_branch, private, description)

    def fork_repo(self, full_name: str, owner: str) -> Repo:
        """Fork `full_name` into `owner`'s account (`owner/<name>`, `fork: true`)."""
        return fork_repo(self.hub, self._repo(full_name), owner)

    def _repo(self, full_name: str) -> Repo:
        repo = self.hub.state.repo(full_name)
        if repo is None:
            raise KeyError(f"no repository {full_name}")
        return repo

    def _user(self, login: str) -> User:
        with self.hub.state.lock:
            return self.hub.state.ensure_user(login)

    # what people do on GitHub

    def open_issue(self, full_name: str, user: str, title: str, body: str = "") -> int:
        """Open an issue as `user`; deliver `issues` opened. Returns its number."""
        issue, _ = open_issue(self.hub, self._repo(full_name), self._user(user), title, body)
        return issue.number

    def comment(self, full_name: str, issue_number: int, user: str, body: str) -> Delivery:
        """Comment on an issue or pull request as `user`; deliver `issue_comment` created."""
        repo = self._repo(full_name)
        comment, deliveries = create_comment(self.hub, repo, issue_number, self._user(user), body)
        return self._first(deliveries, "issue_comment", {"comment": {"id": comment.id}})

    def edit_issue(self, full_name: str, number: int, user: str, body: str) -> Delivery:
        """Edit an issue's body as `user` (a ticked box); deliver `issues` edited with
        `changes.body.from`."""
        repo = self._repo(full_name)
        issue = find_issue(self.hub, repo, number)
        deliveries = update_issue(self.hub, repo, issue, {"body": body}, self._user(user))
        return self._first(deliveries, "issues", {"issue": {"number": number}})

    def edit_comment(self, comment_id: int, user: str, body: str) -> Delivery:
        """Edit an issue comment as `user`; deliver `issue_comment` edited."""
        comment, repo = self._comment(comment_id)
        deliveries = edit_comment(self.hub, repo, comment, self._user(user), body)
        return self._first(deliveries, "issue_comment", {"comment": {"id": comment.id}})

    def delete_comment(self, comment_id: int, user: str) -> Delivery:
        """Delete an issue comment as `user`; deliver `issue_comment` deleted."""
        comment, repo = self._comment(comment_id)
        deliveries = delete_comment(self.hub, repo, comment, self._user(user))
        return self._first(deliveries, "issue_comment", {"comment": {"id": comment.id}})

    def _comment(self, comment_id: int) -> tuple[Any, Repo]:
        with self.hub.state.lock:
            comment = self.hub.state.comments[comment_id]
            repo = self.hub.state.repo_by_id(comment.repo_id)
        assert repo is not None
        return comment, repo

    def open_pull(
        self,
        full_name: str,
        user: str,
        head: str,
        title: str,
        body: str = "",
        base: str | None = None,
    ) -> int:
        """Open a pull request as `user` from branch `head`; deliver `pull_request` opened."""
        repo = self._repo(full_name)
        issue, _ = open_pull(
            self.hub, repo, self._user(user), title, head, base or repo.default_branch, body
        )
        return issue.number

    def close_pull(self, full_name: str, number: int, user: str) -> Delivery:
        """Close a pull request without merging; deliver `pull_request` closed."""
        repo = self._repo(full_name)
        deliveries = update_pull(
            self.hub, repo, find_pull(self.hub, repo, number), {"state": "closed"}, self._user(user)
        )
        return self._first(deliveries, "pull_request", {"number": number})

    def merge_pull(self, full_name: str, number: int, user: str, method: str = "merge") -> str:
        """Merge with real git into the base branch as `user`; deliver `pull_request` closed
        (merged) and `push`. Returns the new base sha."""
        repo = self._repo(full_name)
        sha, _ = merge_pull(
            self.hub, repo, find_pull(self.hub, repo, number), self._user(user), method
        )
        return sha

    def review_comment(
        self,
        full_name: str,
        number: int,
        user: str,
        body: str,
        path: str | None = None,
        line: int | None = None,
        side: str = "RIGHT",
        start_line: int | None = None,
        in_reply_to: int | None = None,
    ) -> Delivery:
        """Comment on diff lines of a pull request; deliver `pull_request_review_comment`."""
        repo = self._repo(full_name)
        comment, deliveries = create_review_comment(
            self.hub, repo, find_pull(self.hub, repo, number), self._user(user), body,
            path, line, side, start_line, in_reply_to=in_reply_to,
        )  # fmt: skip
        return self._first(
            deliveries, "pull_request_review_comment", {"comment": {"id": comment.id}}
        )

    def review(
        self,
        full_name: str,
        number: int,
        user: str,
        body: str,
        comments: list[dict[str, Any]],
        event: str = "COMMENT",
    ) -> Delivery:
        """Submit a review with line comments (`path`, `line`, `body`, optional `start_line`,
        `side`) as `user`; deliver each comment's `pull_request_review_comment`, then
        `pull_request_review` submitted (returned)."""
        repo = self._repo(full_name)
        review, _, deliveries = create_review(
            self.hub, repo, find_pull(self.hub, repo, number), self._user(user), body, event,
            comments,
        )  # fmt: skip
        return self._first(deliveries, "pull_request_review", {"review": {"id": review.id}})

    def push(
        self,
        full_name: str,
        branch: str,
        files: Mapping[str, str | bytes | None],
        user: str,
        message: str = "Update files",
    ) -> str:
        """Commit `files` (None deletes) on `branch` as `user` and deliver `push` (and
        `pull_request` synchronize for pull requests from that branch). Returns the sha."""
        sha, _ = commit_files(
            self.hub, self._repo(full_name), branch, files, self._user(user), message
        )
        return sha

    # webhooks

    def deliver(self, event: str, payload: dict[str, Any], app_id: int | None = None) -> Delivery:
        """Sign and POST a payload to an app's webhook URL (the only app when `app_id` is None)."""
        with self.hub.state.lock:
            apps = list(self.hub.state.apps.values())
        app = (
            next((a for a in apps if a.id == app_id), None)
            if app_id
            else (apps[0] if apps else None)
        )
        if app is None:
            raise KeyError("no app to deliver to")
        return self.hub.webhooks.deliver(app, event, payload)

    def redeliver(self, delivery_id: str) -> Delivery:
        """Deliver a recorded delivery again: same `X-GitHub-Delivery`, same body."""
        return self.hub.webhooks.redeliver(delivery_id)

    def _first(self, deliveries: list[Delivery], event: str, payload: dict[str, Any]) -> Delivery:
        sent = [d for d in deliveries if d.event == event]
        if sent:
            return sent[0]
        # Nobody installed (or subscribed): report the event as recorded but never sent.
        return Delivery(
            str(uuid.uuid4()), event, None, None, payload, json.dumps(payload).encode(), {}, None
        )

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery so far, oldest first."""
        with self.hub.state.lock:
            return list(self.hub.state.deliveries)

    # what the app did

    def settle(self, timeout: float = 10) -> None:
        """Wait until no REST request is half-answered: one whose effect already shows (a
        comment's new body) is in `requests` once this returns."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.hub.state.lock:
                if self.hub.state.answering == 0:
                    return
            time.sleep(0.005)
        raise TimeoutError("the GitHub stand-in is still answering requests")

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every REST request answered so far (a snapshot)."""
        with self.hub.state.lock:
            return [replace(r) for r in self.hub.state.requests]

    def calls(
        self,
        method: str | None = None,
        path_prefix: str | None = None,
        auth_kind: str | None = "installation",
    ) -> list[LoggedRequest]:
        """Logged requests filtered by method, path prefix and auth kind (None: any)."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path_prefix is None or r.path.startswith(path_prefix))
            and (auth_kind is None or r.auth_kind == auth_kind)
        ]

    def repo_dir(self, full_name: str) -> Path:
        """The bare git repository behind `owner/name`."""
        return self._repo(full_name).path

    def read_file(self, full_name: str, ref: str, path: str) -> bytes | None:
        """A file's bytes at a branch, tag or sha; None when absent."""
        repo = self._repo(full_name)
        git = self.hub.git(repo)
        with git.lock:
            commit = git.resolve(ref)
            entry = git.entry_at(commit, path) if commit else None
            return git.read_blob(entry.sha) if entry and entry.type == "blob" else None

    def branches(self, full_name: str) -> dict[str, str]:
        """Branch name -> head sha."""
        git = self.hub.git(self._repo(full_name))
        with git.lock:
            return {ref[len("refs/heads/") :]: sha for ref, sha in git.refs("refs/heads/")}

    def pulls(self, full_name: str, state: str = "all") -> list[dict[str, Any]]:
        """Pull requests as the REST API shows them, by number."""
        repo = self._repo(full_name)
        with self.hub.state.lock:
            issues = sorted(
                (i for i in self.hub.state.issues.values() if i.repo_id == repo.id and i.pull),
                key=lambda i: i.number,
            )
        return [render_pull(self.hub, repo, i) for i in issues if state in ("all", i.state)]

    def issues(self, full_name: str) -> list[dict[str, Any]]:
        """Issues (not pull requests) as the REST API shows them, by number."""
        repo = self._repo(full_name)
        with self.hub.state.lock:
            found = sorted(
                (i for i in self.hub.state.issues.values() if i.repo_id == repo.id and not i.pull),
                key=lambda i: i.number,
            )
            return [issue_json(self.hub.state, repo, i) for i in found]

    def comments(self, full_name: str, issue_number: int) -> list[dict[str, Any]]:
        """Issue comments on an issue or pull request, oldest first, as REST JSON."""
        repo = self._repo(full_name)
        with self.hub.state.lock:
            found = sorted(
                (
                    c
                    for c in self.hub.state.comments.values()
                    if c.repo_id == repo.id and c.issue_number == issue_number
                ),
                key=lambda c: c.id,
            )
            return [comment_json(self.hub.state, repo, c) for c in found]

    def review_comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        """Review comments on a pull request, oldest first, as REST JSON."""
        repo = self._repo(full_name)
        with self.hub.state.lock:
            found = sorted(
                (
                    c
                    for c in self.hub.state.review_comments.values()
                    if c.repo_id == repo.id and c.pull_number == number
                ),
                key=lambda c: c.id,
            )
            return [review_comment_json(self.hub.state, repo, c) for c in found]

    def reactions(self, comment_id: int, subject: str = "issue_comment") -> list[dict[str, Any]]:
        """Reactions on an issue comment (or a `pull_comment` / `issue`), as REST JSON."""
        with self.hub.state.lock:
            return [
                reaction_json(self.hub.state, r)
                for r in self.hub.state.reactions
                if (r.subject, r.subject_id) == (subject, comment_id)
            ]

    def check_runs(self, full_name: str) -> list[dict[str, Any]]:
        """Check runs reported on the repository, as REST JSON."""
        repo = self._repo(full_name)
        with self.hub.state.lock:
            runs = [r for r in self.hub.state.check_runs.values() if r.repo_id == repo.id]
            return [check_run_json(self.hub.state, repo, r, []) for r in runs]

    def check_run_annotations(self, run_id: int) -> list[dict[str, Any]]:
        """Every annotation a check run holds, in the order they were sent."""
        with self.hub.state.lock:
            return [
                dict(a) for a in self.hub.state.check_runs[run_id].output.get("annotations") or []
            ]

    def set_pages(self, full_name: str, on: bool, build_type: str = "workflow") -> None:
        """The author turning Pages on (Source: GitHub Actions) or off; no event is sent."""
        repo = self._repo(full_name)
        with self.hub.state.lock:
            if on:
                self.hub.state.pages[repo.id] = PagesSite(repo.id, build_type, None)
            else:
                self.hub.state.pages.pop(repo.id, None)

    def workflow_runs(self, full_name: str) -> list[dict[str, Any]]:
        """Workflow runs of the repository, as REST JSON."""
        repo = self._repo(full_name)
        with self.hub.state.lock:
            runs = [r for r in self.hub.state.workflow_runs.values() if r.repo_id == repo.id]
        return [workflow_run_json(self.hub, repo, r) for r in runs]

    def pages(self, full_name: str) -> dict[str, Any] | None:
        """The Pages site, or None when Pages is not enabled."""
        repo = self._repo(full_name)
        with self.hub.state.lock:
            site = self.hub.state.pages.get(repo.id)
            return pages_json(self.hub.state, repo, site) if site else None


__all__ = ["ApiError", "GitHubStandIn"]
