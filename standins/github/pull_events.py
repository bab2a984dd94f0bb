"""A pull request's live git facts and its `pull_request` webhook payloads."""

from __future__ import annotations

from typing import Any

from .git import ZERO_SHA
from .hub import Hub
from .payloads import repo_event
from .render_pulls import PullGit, pull_json
from .state import Issue, Repo, User


def pull_git(hub: Hub, repo: Repo, issue: Issue) -> PullGit:
    """Head and base shas, mergeability and diff size, read from git now."""
    pull = issue.pull
    assert pull is not None
    git = hub.git(repo)
    with git.lock:
        if issue.state == "closed" and pull.closed_head_sha:
            head, base = pull.closed_head_sha, pull.closed_base_sha or ZERO_SHA
        else:
            head = git.ref_sha(pull.head_git_ref) or pull.closed_head_sha or ZERO_SHA
            base = git.ref_sha(f"refs/heads/{pull.base_ref}") or ZERO_SHA
        if ZERO_SHA in (head, base):
            return PullGit(head, base, None, 0, 0, 0, 0)
        merge_base = git.merge_base(base, head) or base
        stats = git.diff_stat(merge_base, head)
        mergeable = git.merge_tree(base, head) is not None if issue.state == "open" else None
        return PullGit(
            head_sha=head,
            base_sha=base,
            mergeable=mergeable,
            commits=len(git.commits_between(base, head)),
            additions=sum(a for a, _ in stats),
            deletions=sum(d for _, d in stats),
            changed_files=len(stats),
        )


def pull_event(
    hub: Hub, repo: Repo, issue: Issue, action: str, sender: User, **extra: Any
) -> dict[str, Any]:
    """A `pull_request` payload (`opened`, `closed`, `synchronize`, `edited`, ...)."""
    info = pull_git(hub, repo, issue)
    with hub.state.lock:
        return repo_event(
            hub.state,
            repo,
            sender,
            action,
            number=issue.number,
            pull_request=pull_json(hub.state, repo, issue, info),
            **extra,
        )
