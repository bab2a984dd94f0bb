"""No empty work: whether a job's files would change what they replace.

A job's files replace the head of its branch's open pull request when there is one, and the
default branch otherwise. Re-running a chapter whose text comes back the same (a
deterministic model, a cached answer) must not push an empty commit or open a PR with no
diff: the job says "nothing changed" instead. Against the default branch the comparison is
free (the job has the book on disk at that commit). Against an open PR the app remembers,
in Redis, the git blob shas of the files it committed and the commit it wrote them in; only
when the new files match that record is the PR read (one call), to see that it is still open
and that its head is still that commit (a reviewer's or a revision's commit on top means the
PR holds something else, and the usual path, which never overwrites a person, goes on).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from githubkit.exception import RequestFailed

TTL_SECONDS = 90 * 24 * 3600


def blob_sha(content: str | bytes) -> str:
    """The sha git gives a file with this content (`git hash-object`)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def same_as_checkout(directory: Path, files: Mapping[str, str | bytes | None]) -> bool:
    """Whether writing `files` (None: deleting) over the checkout changes nothing. A link
    in the checkout is never "the same": the change would replace it by a file."""
    for path, text in files.items():
        target = directory / path
        if text is None:
            if os.path.lexists(target):
                return False
        elif target.is_symlink() or not target.is_file():
            return False
        elif target.read_bytes() != (text.encode("utf-8") if isinstance(text, str) else text):
            return False
    return True


def fingerprint(files: Mapping[str, str | bytes | None]) -> dict[str, str]:
    """`{path: blob sha}` of a job's files, `""` for a deletion: what is compared."""
    return {path: "" if text is None else blob_sha(text) for path, text in files.items()}


class ProposedFiles:
    """The files the app last committed on each branch, and in which commit (Redis)."""

    def __init__(self, redis: Any, full_name: str) -> None:
        self.redis = redis
        self.prefix = f"liquidbook:proposed:{full_name}:"

    async def record(
        self, branch: str, commit: str, files: Mapping[str, str | bytes | None]
    ) -> None:
        key = self.prefix + branch
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"\0commit": commit, **fingerprint(files)})
            pipe.expire(key, TTL_SECONDS)
            await pipe.execute()

    async def commit_with(self, branch: str, files: Mapping[str, str | bytes | None]) -> str | None:
        """The commit that holds exactly `files` as the app last wrote them on `branch`, or
        None when the files differ or nothing is remembered."""
        raw = await self.redis.hgetall(self.prefix + branch)
        recorded = {_text(k): _text(v) for k, v in raw.items()}
        commit = recorded.pop("\0commit", None)
        return commit if commit and recorded == fingerprint(files) else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def open_pull_head(
    gh: Any, full_name: str, number: int, branch: str
) -> tuple[str, str] | None:
    """`(head sha, html url)` of PR `number` while it is open for `branch`; None otherwise."""
    owner, _, repo = full_name.partition("/")
    try:
        pull = (await gh.arequest("GET", f"/repos/{owner}/{repo}/pulls/{number}")).json()
    except RequestFailed as exc:
        if exc.response.status_code != 404:
            raise
        return None
    head = pull.get("head") or {}
    if pull.get("state") != "open" or head.get("ref") != branch:
        return None
    return str(head.get("sha")), str(pull.get("html_url"))
