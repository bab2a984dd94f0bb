"""Write a job's files as one commit on its own branch, and open or update one pull request.

The Git Data API does it in a fixed number of calls whatever the number of text files:
a tree with inline contents on top of the base tree, a commit, the ref; then the PR. Every
step tolerates having been done before (a retried or duplicated job): an existing branch is
moved to the new commit, an existing open PR for the branch is updated, never duplicated.
Nothing here ever writes the default branch, and a branch holding a commit someone else wrote
(a reviewer's fix pushed to `liquidbook/chapter-3`, even under a later commit of the app's)
is never moved: the job stops and says so.

A call that times out may still have been carried out by GitHub. Creating a branch or a PR
is then looked up before the job goes on or reports (as after GitHub's 422 "already
exists"); calls that are safe to repeat (edits, git objects) are sent once more. Titles are
written with their `@mentions` neutralised (`bot.mentions`): a model chose them.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.github import find_after_timeout, timed_out
from bot.mentions import neutralise_mentions

log = logging.getLogger(__name__)
T = TypeVar("T")

BRANCH_PREFIX = "liquidbook/"
MAX_BODY = 65536
# The last line of every commit message the app writes: how a re-run tells its own earlier
# commit (safe to replace) from a person's (never replaced).
COMMIT_MARK = "Written by Liquid Book."


class WriteRefused(Exception):
    """A write the app must never make (the default branch, a path outside the book)."""


class BranchEdited(WriteRefused):
    """The job's branch carries a commit the app did not write; moving it would lose it."""

    def __init__(self, branch: str, message: str, author: str | None) -> None:
        self.branch = branch
        first_line = (message.strip().splitlines() or [""])[0][:80]
        by = f" by @{author}" if author else ""
        super().__init__(
            f'`{branch}` has a commit Liquid Book did not write ("{first_line}"{by}), so it '
            "was left as it is rather than overwritten"
        )

    def markdown(self) -> str:
        return (
            f"⚠️ {self}. Nothing was committed.\n\nMerge or close that branch's pull request "
            f"and delete `{self.branch}`, then comment the command again to start afresh; or "
            "keep editing that pull request by hand."
        )


@dataclass(frozen=True)
class BaseCommit:
    """The commit a job read the book at, and what it writes on top of."""

    branch: str
    sha: str
    tree_sha: str


@dataclass(frozen=True)
class PullRequest:
    number: int
    html_url: str


def _split(full_name: str) -> tuple[str, str]:
    owner, _, repo = full_name.partition("/")
    return owner, repo


async def _again_after_timeout(call: Callable[[], Awaitable[T]]) -> T:
    """A call that is safe to repeat (an edit, a git object: content-addressed, or left
    dangling), sent once more when it timed out."""
    try:
        return await call()
    except Exception as exc:
        if not timed_out(exc):
            raise
        log.warning("a GitHub call timed out; sending it once more")
    return await call()


# How much of a person's text (an outline's description, a chapter's instructions) a PR body
# or a status comment quotes; the whole text stays in the comment it came from.
QUOTE_LIMIT = 3000
CLIP_NOTE = "\n\n… (cut to fit GitHub's 65,536-character limit)"


def clip(text: str, limit: int = MAX_BODY, note: str = CLIP_NOTE) -> str:
    """GitHub rejects bodies over 65,536 characters: cut with a visible note instead."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note))] + note


def shorten(text: str, limit: int = QUOTE_LIMIT, where: str = "the comment") -> str:
    """A person's text, quoted up to `limit` characters, with a note saying where the rest is."""
    if len(text) <= limit:
        return text
    note = f" … (shortened from {len(text):,} characters; the whole text is in {where})"
    cut = text[: max(0, limit - len(note))]
    space = cut.rfind(" ")
    if space > len(cut) * 0.8:
        cut = cut[:space]  # end on a word when one ends near the limit
    return cut.rstrip() + note


def fit(text: str, footer: str, limit: int = MAX_BODY) -> str:
    """`text` then `footer` within `limit` characters: the footer (what the app says about
    the change: build check, files, model, the issue it answers) is never cut, `text` is.
    A footer longer than half the limit is itself clipped first, so text always shows."""
    footer = clip(footer, limit // 2)
    return clip(text, limit - len(footer)) + footer


async def base_commit(gh: GitHub, full_name: str, branch: str) -> BaseCommit:
    """The head commit of `branch` and its tree, in one call."""
    owner, repo = _split(full_name)
    response = await gh.arequest("GET", f"/repos/{owner}/{repo}/branches/{branch}")
    data = response.json()
    commit = data["commit"]
    return BaseCommit(branch=branch, sha=commit["sha"], tree_sha=commit["commit"]["tree"]["sha"])


async def _tree_entries(
    gh: GitHub, full_name: str, files: Mapping[str, str | bytes | None]
) -> list[dict[str, Any]]:
    owner, repo = _split(full_name)
    entries: list[dict[str, Any]] = []
    for path, content in sorted(files.items()):
        if content is None:
            entries.append({"path": path, "mode": "100644", "type": "blob", "sha": None})
        elif isinstance(content, str):
            entries.append({"path": path, "mode": "100644", "type": "blob", "content": content})
        else:
            try:
                entries.append(
                    {"path": path, "mode": "100644", "type": "blob", "content": content.decode()}
                )
            except UnicodeDecodeError:
                # Binary files (figures) cannot be inlined: one blob each.
                encoded = base64.b64encode(content).decode()
                blob = await _again_after_timeout(
                    lambda encoded=encoded: gh.arequest(  # type: ignore[misc]
                        "POST",
                        f"/repos/{owner}/{repo}/git/blobs",
                        json={"content": encoded, "encoding": "base64"},
                    )
                )
                entries.append(
                    {"path": path, "mode": "100644", "type": "blob", "sha": blob.json()["sha"]}
                )
    return entries


async def make_commit(
    gh: GitHub,
    full_name: str,
    base: BaseCommit,
    files: Mapping[str, str | bytes | None],
    message: str,
) -> str:
    """A commit of `files` on top of `base` (tree + commit: two calls); the ref is not moved."""
    owner, _, repo = full_name.partition("/")
    if COMMIT_MARK not in message:
        message = f"{message.rstrip()}\n\n{COMMIT_MARK}"
    entries = await _tree_entries(gh, full_name, files)
    tree = await _again_after_timeout(
        lambda: gh.arequest(
            "POST",
            f"/repos/{owner}/{repo}/git/trees",
            json={"base_tree": base.tree_sha, "tree": entries},
        )
    )
    commit = await _again_after_timeout(
        lambda: gh.arequest(
            "POST",
            f"/repos/{owner}/{repo}/git/commits",
            json={"message": message, "tree": tree.json()["sha"], "parents": [base.sha]},
        )
    )
    return str(commit.json()["sha"])


async def commit_files(
    gh: GitHub,
    full_name: str,
    base: BaseCommit,
    branch: str,
    files: Mapping[str, str | bytes | None],
    message: str,
    *,
    branch_exists: bool = False,
    memory: KnownPullRequests | None = None,
    head_is_ours: bool = False,
) -> str:
    """Create one commit with `files` on top of `base` and point `branch` at it.

    `branch_exists` says which to try first, moving the ref or creating it; the other is the
    fallback (GitHub answers 422 either way), so a wrong guess costs one call, not a failure.
    An existing branch is moved only when every commit on it since `base` is one the app
    wrote: one of the shas `memory` recorded for it, or, with no such record, a commit
    carrying COMMIT_MARK.
    `head_is_ours` says the caller has just seen that (its PR's head is such a commit), which
    saves reading the branch.
    """
    if not branch.startswith(BRANCH_PREFIX) or branch == base.branch:
        raise WriteRefused(
            f"refusing to write branch {branch!r}: jobs write liquidbook/ branches only"
        )
    if not files:
        raise WriteRefused("nothing to commit")
    owner, repo = _split(full_name)
    if (
        branch_exists
        and not head_is_ours
        and not await _replaceable(gh, full_name, branch, memory, base.branch)
    ):
        branch_exists = False  # it was deleted since: create it
    sha = await make_commit(gh, full_name, base, files, message)
    if memory is not None:
        # Recorded before the ref moves, so a job killed right after still knows it is its own.
        await memory.wrote(branch, sha)

    async def post_ref() -> None:
        await gh.arequest(
            "POST",
            f"/repos/{owner}/{repo}/git/refs",
            json={"ref": f"refs/heads/{branch}", "sha": sha},
        )

    async def landed() -> bool | None:
        return True if await _head_sha(gh, full_name, branch) == sha else None

    async def create() -> None:
        try:
            await post_ref()
            return
        except Exception as exc:
            if not timed_out(exc):
                raise
            log.warning("creating %s timed out; looking for it", branch)
        # GitHub may have made it after all; if not, ask again (a 422 then: it exists).
        if not await find_after_timeout(landed):
            await post_ref()

    async def move() -> None:
        # The branch exists: a re-run of the same job. Its commit replaces the earlier one,
        # which `_replaceable` checked is the app's own.
        await _again_after_timeout(
            lambda: gh.arequest(
                "PATCH",
                f"/repos/{owner}/{repo}/git/refs/heads/{branch}",
                json={"sha": sha, "force": True},
            )
        )

    if branch_exists:
        try:
            await move()
        except RequestFailed as exc:
            if exc.response.status_code != 422:
                raise
            await create()  # deleted between the check and the move
        return sha
    try:
        await create()
    except RequestFailed as exc:
        if exc.response.status_code != 422:
            raise
        # It exists after all (a job whose PR number was not remembered): the same check.
        if await _replaceable(gh, full_name, branch, memory, base.branch):
            await move()
        else:
            await create()
    return sha


async def _head_sha(gh: GitHub, full_name: str, branch: str) -> str | None:
    """The sha `branch` points at, or None when there is no such branch."""
    owner, repo = _split(full_name)
    try:
        response = await gh.arequest("GET", f"/repos/{owner}/{repo}/branches/{branch}")
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return None
        raise
    return str(response.json()["commit"]["sha"])


async def _replaceable(
    gh: GitHub, full_name: str, branch: str, memory: KnownPullRequests | None, base_branch: str
) -> bool:
    """True when `branch` exists and every commit on it since `base_branch` is the app's
    own; False when it does not exist. Raises BranchEdited naming the first commit someone
    else wrote: a reviewer's commit under one the app added on top (a `/revise`) is as
    much theirs as one on top. One call (GitHub's comparison of the two). A message that
    merely keeps our mark, as `git commit --amend --no-edit` does, is not enough when the
    app remembers which commits it wrote."""
    owner, repo = _split(full_name)
    try:
        response = await gh.arequest(
            "GET", f"/repos/{owner}/{repo}/compare/{base_branch}...{branch}"
        )
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return False
        raise
    data = response.json()
    commits = list(data.get("commits") or [])
    written = await memory.written(branch) if memory is not None else set()
    for commit in commits:
        message = str(commit["commit"]["message"])
        if commit["sha"] in written or (not written and message.rstrip().endswith(COMMIT_MARK)):
            continue
        author = (commit.get("author") or {}).get("login")
        raise BranchEdited(branch, message, author)
    if int(data.get("total_commits") or 0) > len(commits):
        # Commits past the comparison's first page were not seen: not provably ours.
        raise BranchEdited(branch, f"{data['total_commits']} commits since {base_branch}", None)
    return True


async def commit_and_open(
    gh: GitHub,
    full_name: str,
    base: BaseCommit,
    branch: str,
    files: Mapping[str, str | bytes | None],
    *,
    title: str,
    body: str,
    known_number: int | None,
    memory: KnownPullRequests | None,
    lead: Callable[[str], str] | None = None,
) -> PullRequest:
    """One commit with `files` on `branch` (its message: `title`), and its open PR.

    `lead`, given the new commit's sha, writes what goes before `body` (a figure's image
    linked at that commit): the PR is written once, with no read and edit afterwards.

    A first run costs four calls: tree, commit, ref, PR. A re-run with the PR remembered
    reads that PR first: when it is still open for this branch and its head is a commit the
    app wrote, that one read stands for the branch check too (five calls: PR, tree, commit,
    ref, PR edit). Otherwise the branch is checked as `commit_files` does, and a closed PR
    is left as it was reviewed while a new one is opened.
    """
    title = neutralise_mentions(title)
    pull = None
    if known_number is not None:
        pull = await _open_pull(gh, full_name, known_number, branch)
    # The PR's one commit is the app's: the read stands for the branch check. With more
    # commits (a reviewer's, or a revision on top of one) every one is checked.
    head_is_ours = (
        pull is not None
        and memory is not None
        and pull.get("commits") == 1
        and str(pull.get("head", {}).get("sha")) in await memory.written(branch)
    )
    sha = await commit_files(
        gh,
        full_name,
        base,
        branch,
        files,
        title,
        branch_exists=known_number is not None,
        memory=memory,
        head_is_ours=head_is_ours,
    )
    if lead is not None:
        body = lead(sha) + body
    if pull is None:
        return await open_or_update_pull_request(
            gh, full_name, branch=branch, base=base.branch, title=title, body=body
        )
    owner, repo = _split(full_name)
    updated = await _again_after_timeout(
        lambda: gh.arequest(
            "PATCH",
            f"/repos/{owner}/{repo}/pulls/{pull['number']}",
            json={"title": title, "body": clip(body)},
        )
    )
    return PullRequest(int(pull["number"]), updated.json()["html_url"])


async def _open_pull(gh: GitHub, full_name: str, number: int, branch: str) -> dict[str, Any] | None:
    """PR `number` when it is still open with `branch` as its head; None otherwise."""
    owner, repo = _split(full_name)
    try:
        current = (await gh.arequest("GET", f"/repos/{owner}/{repo}/pulls/{number}")).json()
    except RequestFailed as exc:
        if exc.response.status_code != 404:
            raise
        return None
    if current.get("state") == "open" and current.get("head", {}).get("ref") == branch:
        return dict(current)
    return None


async def open_or_update_pull_request(
    gh: GitHub,
    full_name: str,
    *,
    branch: str,
    base: str,
    title: str,
    body: str,
    known_number: int | None = None,
) -> PullRequest:
    """Update the open PR for `branch`, or open it.

    With `known_number` (remembered from an earlier run) the PR is read first and updated
    only if it is still open for this branch: a merged or closed PR keeps the description
    it was reviewed with, and a new one is opened. Without it, creation is tried first and
    GitHub's 422 "already exists" leads to the open PR, found by its head; so does a
    creation that timed out, once the PR shows (else creation is tried once more).
    """
    owner, repo = _split(full_name)
    body = clip(body)
    title = neutralise_mentions(title)

    async def update(number: int) -> PullRequest:
        updated = await _again_after_timeout(
            lambda: gh.arequest(
                "PATCH",
                f"/repos/{owner}/{repo}/pulls/{number}",
                json={"title": title, "body": body},
            )
        )
        return PullRequest(number, updated.json()["html_url"])

    async def find_open() -> int | None:
        found = await gh.arequest(
            "GET",
            f"/repos/{owner}/{repo}/pulls",
            params={"head": f"{owner}:{branch}", "state": "open", "per_page": 1},
        )
        existing = found.json()
        return int(existing[0]["number"]) if existing else None

    async def create() -> PullRequest | None:
        """The new PR, or None when GitHub says one is open for the branch already."""
        try:
            response = await gh.arequest(
                "POST",
                f"/repos/{owner}/{repo}/pulls",
                json={
                    "title": title,
                    "head": branch,
                    "base": base,
                    "body": body,
                    "maintainer_can_modify": True,
                },
            )
        except RequestFailed as exc:
            if exc.response.status_code != 422 or "already exists" not in exc.response.text:
                raise
            return None
        data = response.json()
        return PullRequest(data["number"], data["html_url"])

    if known_number is not None:
        try:
            current = (
                await gh.arequest("GET", f"/repos/{owner}/{repo}/pulls/{known_number}")
            ).json()
            if current.get("state") == "open" and current.get("head", {}).get("ref") == branch:
                return await update(known_number)
        except RequestFailed as exc:
            if exc.response.status_code != 404:
                raise
    number = None
    try:
        created = await create()
    except Exception as exc:
        if not timed_out(exc):
            raise
        log.warning("opening the PR for %s timed out; looking for it", branch)
        number = await find_after_timeout(find_open)
        # It never showed: ask again (GitHub's 422 then means the first one landed late).
        created = await create() if number is None else None
    if created is not None:
        return created
    number = number or await find_open()
    if number is None:
        raise RuntimeError(f"GitHub reported an open PR for {branch} but lists none")
    return await update(number)


class KnownPullRequests:
    """Which PR each job branch has, and which commits the app wrote on it, remembered in
    Redis: a re-run goes straight to the updates (moving the ref, editing the PR) instead of
    failing creations first, and never moves a branch whose head it did not write."""

    TTL_SECONDS = 90 * 24 * 3600

    def __init__(self, redis: Any, full_name: str) -> None:
        self.redis = redis
        self.prefix = f"liquidbook:pr:{full_name}:"
        self.sha_prefix = f"liquidbook:sha:{full_name}:"

    async def get(self, branch: str) -> int | None:
        value = await self.redis.get(self.prefix + branch)
        return int(value) if value is not None else None

    async def remember(self, branch: str, number: int) -> None:
        await self.redis.set(self.prefix + branch, str(number), ex=self.TTL_SECONDS)

    async def forget(self, branch: str) -> None:
        """The PR was closed or merged: the next run opens a new one."""
        await self.redis.delete(self.prefix + branch)

    async def wrote(self, branch: str, sha: str) -> None:
        """Record a commit the app wrote on `branch` (checked before the branch is moved)."""
        key = self.sha_prefix + branch
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, sha)
            pipe.expire(key, self.TTL_SECONDS)
            await pipe.execute()

    async def written(self, branch: str) -> set[str]:
        """The commits the app wrote on `branch`, as far as it remembers (empty: no record)."""
        return {
            m.decode() if isinstance(m, bytes) else str(m)
            for m in await self.redis.smembers(self.sha_prefix + branch)
        }
