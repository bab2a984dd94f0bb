"""One new commit on top of a branch someone else may also be pushing to: never forced.

A revision lands on a pull request's own branch, which may hold a reviewer's commits: the
commit's parent is the head the job read, and the ref moves only as a fast-forward
(`force: false`). GitHub answers 422 when the branch moved meanwhile; the caller rebuilds on
the new head. The new commit's sha (with its parent and the job's account) is recorded per
command in Redis before the ref moves, so a retried job finds its own commit: landed (the
head is it), or made but not landed (the head is still its parent: move the ref now).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.pull_request import (
    BaseCommit,
    KnownPullRequests,
    _again_after_timeout,
    make_commit,
)


class NotFastForward(Exception):
    """The branch moved while the job ran: its commit no longer sits on the head."""


@dataclass(frozen=True)
class Recorded:
    """A commit a job made: its sha, the head it was built on, and the job's final account."""

    sha: str
    parent: str
    summary: str


class CommitRecord:
    """The commit one command made, remembered in Redis for a week (a retried job's window)."""

    TTL_SECONDS = 7 * 24 * 3600

    def __init__(self, redis: Any, key: str) -> None:
        self.redis = redis
        self.key = f"liquidbook:commit-of:{key}"

    async def get(self) -> Recorded | None:
        raw = await self.redis.get(self.key)
        return Recorded(**json.loads(raw)) if raw is not None else None

    async def save(self, recorded: Recorded) -> None:
        await self.redis.set(self.key, json.dumps(asdict(recorded)), ex=self.TTL_SECONDS)


async def fast_forward(gh: GitHub, full_name: str, branch: str, sha: str) -> None:
    """Move `branch` to `sha`, a descendant of its head; `NotFastForward` when it is not."""
    owner, _, repo = full_name.partition("/")
    try:
        await _again_after_timeout(
            lambda: gh.arequest(
                "PATCH",
                f"/repos/{owner}/{repo}/git/refs/heads/{branch}",
                json={"sha": sha, "force": False},
            )
        )
    except RequestFailed as exc:
        if exc.response.status_code == 422:
            raise NotFastForward(branch) from None
        raise


async def commit_on_top(
    gh: GitHub,
    full_name: str,
    base: BaseCommit,
    files: Mapping[str, str | bytes | None],
    message: str,
    record: CommitRecord,
    summary: Callable[[str], str],
    memory: KnownPullRequests | None = None,
) -> str:
    """Commit `files` on top of `base` and fast-forward its branch: the new sha.

    Recorded (with `summary(sha)`, the job's final account) before the ref moves. Raises
    `NotFastForward` when the branch moved on. `memory` learns the commit is the app's, so a
    later job that would replace the branch checks the commits under it, not this one."""
    sha = await make_commit(gh, full_name, base, files, message)
    await record.save(Recorded(sha, base.sha, summary(sha)))
    if memory is not None:
        await memory.wrote(base.branch, sha)
    await fast_forward(gh, full_name, base.branch, sha)
    return sha
