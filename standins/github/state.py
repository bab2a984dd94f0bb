"""The stand-in's data model: everything GitHub knows that is not a git object."""

from __future__ import annotations

import base64
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# githubkit caches JWTs and installation tokens process-wide, keyed by app and installation
# id. Ids that restart at 1 in every stand-in would hand one test's cached token to the next
# stand-in, so ids come from one process-wide counter that starts at a random offset.
_ids = itertools.count(10_000_000 + secrets.randbelow(80_000_000))
_ids_lock = threading.Lock()


def next_id() -> int:
    """A fresh id, unique across every stand-in in this process."""
    with _ids_lock:
        return next(_ids)


def now() -> datetime:
    """The current time in UTC, to the second, as GitHub reports it."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime | None) -> str | None:
    """GitHub's timestamp format (`2024-01-01T00:00:00Z`)."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, ident: int | str) -> str:
    """An opaque global node id, shaped like GitHub's legacy ones."""
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


ROLES = ("admin", "maintain", "write", "triage", "read", "none")


@dataclass
class User:
    """A GitHub account: a person, a bot, or an organization."""

    id: int
    login: str
    type: str = "User"  # "User" | "Bot" | "Organization"
    name: str | None = None

    @property
    def email(self) -> str:
        return f"{self.id}+{self.login}@users.noreply.github.com"


@dataclass
class AppRecord:
    """A registered GitHub App, with the key it signs its JWTs with."""

    id: int
    slug: str
    name: str
    client_id: str
    client_secret: str
    private_key_pem: str
    webhook_secret: str | None
    webhook_url: str | None
    permissions: dict[str, str] | None  # None: every permission (write)
    events: list[str]
    owner: User
    bot: User
    hook_id: int
    description: str | None = None
    created_at: datetime = field(default_factory=now)


@dataclass
class Installation:
    """An app installed on an account, for all of its repositories or a selection."""

    id: int
    app_id: int
    account: User
    repository_selection: str  # "all" | "selected"
    repo_ids: set[int]
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    suspended_at: datetime | None = None
    suspended_by: User | None = None


@dataclass
class Token:
    """An installation access token (`ghs_…`)."""

    token: str
    installation_id: int
    expires_at: datetime
    permissions: dict[str, str] | None
    repo_ids: set[int] | None  # None: every repository of the installation


@dataclass
class Repo:
    """A repository; its git objects live in the bare repository at `path`."""

    id: int
    owner: User
    name: str
    path: Path
    default_branch: str
    private: bool
    description: str | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    pushed_at: datetime = field(default_factory=now)
    roles: dict[str, str] = field(default_factory=dict)  # login (lower) -> role
    next_number: int = 1
    fork_of: int | None = None  # the parent repository's id, for a fork

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


@dataclass
class PullState:
    """What makes an issue a pull request. Head and base shas are read live from git."""

    id: int
    head_ref: str
    base_ref: str
    draft: bool = False
    maintainer_can_modify: bool = False
    merged_at: datetime | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None
    closed_head_sha: str | None = None
    closed_base_sha: str | None = None
    # A PR from a fork: the fork's id, and the ref of the base repository that holds a copy
    # of the fork's head (GitHub's `refs/pull/{n}/head`), taken when the PR was opened.
    head_repo_id: int | None = None
    fork_ref: str | None = None

    @property
    def head_git_ref(self) -> str:
        """Where the head commit is in the base repository's git."""
        return self.fork_ref or f"refs/heads/{self.head_ref}"


@dataclass
class Issue:
    """An issue, or the issue half of a pull request (they share the number sequence)."""

    id: int
    repo_id: int
    number: int
    title: str
    body: str | None
    user: User
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    assignees: list[User] = field(default_factory=list)
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    closed_at: datetime | None = None
    locked: bool = False
    pull: PullState | None = None
    app_id: int | None = None  # created through an app


@dataclass
class Comment:
    """A comment on an issue or on a pull request's conversation."""

    id: int
    repo_id: int
    issue_number: int
    user: User
    body: str
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    app_id: int | None = None


@dataclass
class ReviewComment:
    """A comment on lines of a pull request's diff."""

    id: int
    repo_id: int
    pull_number: int
    user: User
    body: str
    path: str
    commit_id: str
    line: int | None
    side: str
    start_line: int | None
    start_side: str | None
    diff_hunk: str
    review_id: int
    in_reply_to_id: int | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    app_id: int | None = None


@dataclass
class Review:
    """A submitted (or pending) review of a pull request; its line comments carry its id."""

    id: int
    repo_id: int
    pull_number: int
    user: User
    body: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED or PENDING, as the REST API spells it
    commit_id: str
    submitted_at: datetime | None = None


@dataclass
class Reaction:
    """An emoji reaction on an issue, an issue comment or a review comment."""

    id: int
    subject: str  # "issue" | "issue_comment" | "pull_comment"
    subject_id: int
    user: User
    content: str
    created_at: datetime = field(default_factory=now)


@dataclass
class CheckRun:
    """A check run an app reports on a commit."""

    id: int
    repo_id: int
    app_id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None
    output: dict[str, Any]
    details_url: str | None
    external_id: str | None
    check_suite_id: int


@dataclass
class WorkflowRun:
    """A run of a workflow file (the stand-in "runs" a dispatched one by itself)."""

    id: int
    repo_id: int
    path: str  # .github/workflows/<file>
    name: str
    event: str
    head_branch: str
    head_sha: str
    status: str  # queued, in_progress, completed
    conclusion: str | None
    created_at: datetime
    updated_at: datetime


@dataclass
class PagesSite:
    """The GitHub Pages settings of a repository."""

    repo_id: int
    build_type: str
    source: dict[str, str] | None
    created_at: datetime = field(default_factory=now)


@dataclass
class Delivery:
    """One webhook delivery attempt, recorded whether or not it was sent.

    `id` is the event's GUID (`X-GitHub-Delivery`), shared by the attempts that redeliver
    it; `attempt_id` is GitHub's number for this one attempt (`id` in
    `GET /app/hook/deliveries`, and what `POST …/deliveries/{id}/attempts` names).
    """

    id: str
    event: str
    action: str | None
    app_id: int | None
    payload: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    url: str | None
    status_code: int | None = None
    response_body: str | None = None
    error: str | None = None
    redelivery: bool = False
    delivered_at: datetime = field(default_factory=now)
    attempt_id: int = field(default_factory=next_id)
    duration: float = 0.0  # seconds the receiver took to answer (or to fail)


@dataclass
class LoggedRequest:
    """One request the REST API answered, as the tests inspect it."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    headers: dict[str, str]
    json_body: Any
    auth_kind: str  # "jwt" | "installation" | "none"
    response_json: Any = None
    installation_id: int | None = None
    route: str | None = None  # the path template that answered, e.g. /repos/{owner}/{repo}


@dataclass
class State:
    """Every record of the stand-in, guarded by one re-entrant lock."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[str, User] = field(default_factory=dict)  # login (lower) -> user
    apps: dict[int, AppRecord] = field(default_factory=dict)
    installations: dict[int, Installation] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    repos: dict[str, Repo] = field(default_factory=dict)  # full name (lower) -> repo
    issues: dict[tuple[int, int], Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    # Comments per (repo id, issue number), kept with `comments` (ops_issues): an issue's
    # JSON carries its count, and counting a hundred thousand comments per render made every
    # comment a bench's jobs posted cost more than the last.
    comment_counts: dict[tuple[int, int], int] = field(default_factory=dict)
    review_comments: dict[int, ReviewComment] = field(default_factory=dict)
    reviews: dict[int, Review] = field(default_factory=dict)
    reactions: list[Reaction] = field(default_factory=list)
    _indexed: list[Reaction] | None = field(default=None, repr=False)
    _indexed_count: int = field(default=0, repr=False)
    _reaction_index: dict[tuple[str, int], list[Reaction]] = field(default_factory=dict, repr=False)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    pages: dict[int, PagesSite] = field(default_factory=dict)
    workflow_runs: dict[int, WorkflowRun] = field(default_factory=dict)
    # How the next dispatched workflow run ends ("success" or "failure"), and after how long.
    workflow_outcome: str = "success"
    workflow_seconds: float = 0.5
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    requests: list[LoggedRequest] = field(default_factory=list)
    # REST requests whose effects may already show in the records but which are not logged yet
    answering: int = 0
    api_url: str = "http://127.0.0.1"
    html_url: str = "http://github.test"

    def user(self, login: str) -> User | None:
        """The account with this login, case-insensitively."""
        return self.users.get(login.lower())

    def ensure_user(self, login: str, type: str = "User") -> User:
        """The account with this login, created on first use."""
        found = self.user(login)
        if found is None:
            found = User(id=next_id(), login=login, type=type)
            self.users[login.lower()] = found
        return found

    def repo(self, full_name: str) -> Repo | None:
        """The repository `owner/name`, case-insensitively."""
        return self.repos.get(full_name.lower())

    def reactions_on(self, subject: str, subject_id: int) -> list[Reaction]:
        """The reactions on one issue or comment, from an index of `reactions` (which is
        only appended to, or replaced by a new list): scanning every reaction per comment
        rendered made a bench's ten-thousandth job cost more than its first."""
        with self.lock:
            reactions = self.reactions
            if self._indexed is not reactions or self._indexed_count > len(reactions):
                self._indexed, self._indexed_count, self._reaction_index = reactions, 0, {}
            for reaction in reactions[self._indexed_count :]:
                key = (reaction.subject, reaction.subject_id)
                self._reaction_index.setdefault(key, []).append(reaction)
            self._indexed_count = len(reactions)
            return list(self._reaction_index.get((subject, subject_id), ()))

    def repo_by_id(self, repo_id: int) -> Repo | None:
        """The repository with this id."""
        return next((r for r in self.repos.values() if r.id == repo_id), None)

    def installation_repos(self, inst: Installation) -> list[Repo]:
        """The repositories an installation can reach."""
        owned = [r for r in self.repos.values() if r.owner.id == inst.account.id]
        if inst.repository_selection == "all":
            return owned
        return [r for r in owned if r.id in inst.repo_ids]

    def installations_for(self, repo: Repo) -> list[Installation]:
        """Active installations that cover this repository."""
        return [
            inst
            for inst in self.installations.values()
            if inst.suspended_at is None
            and repo.id in {r.id for r in self.installation_repos(inst)}
        ]
