"""Pull requests: opening, editing, merging with real git, and review comments on lines."""

from __future__ import annotations

import re
from typing import Any

from .errors import ApiError, not_found, validation_failed
from .git import FileChange
from .hub import Hub
from .ops_git import ref_moved, signature
from .ops_issues import check_body, find_issue
from .payloads import repo_event
from .pull_events import pull_event, pull_git
from .render_issues import review_comment_json
from .render_pulls import pull_json
from .state import Delivery, Issue, PullState, Repo, ReviewComment, User, next_id, now

PULL_DOCS = "https://docs.github.com/rest/pulls/pulls"


def find_pull(hub: Hub, repo: Repo, number: int) -> Issue:
    """Pull request `number` of `repo` (404 for a plain issue or a missing number)."""
    issue = find_issue(hub, repo, number)
    if issue.pull is None:
        raise not_found()
    return issue


def _branch(hub: Hub, head: str, repo: Repo) -> tuple[str, Repo | None]:
    """The head branch, and the fork it is in when `head` is `owner:branch` of a fork of
    `repo` (422 for another owner without such a fork)."""
    owner, sep, branch = head.partition(":")
    if not sep:
        return head, None
    if owner.lower() == repo.owner.login.lower():
        return branch, None
    with hub.state.lock:
        fork = hub.state.repo(f"{owner}/{repo.name}")
    if fork is None or fork.fork_of != repo.id:
        raise validation_failed("PullRequest", "head", "invalid")
    return branch, fork


def open_pull(
    hub: Hub,
    repo: Repo,
    user: User,
    title: str | None,
    head: str,
    base: str,
    body: str | None = None,
    draft: bool = False,
    maintainer_can_modify: bool = False,
    app_id: int | None = None,
) -> tuple[Issue, list[Delivery]]:
    """Open a pull request from `head` into `base`; 422 like GitHub when it cannot."""
    if not title:
        raise validation_failed("PullRequest", "title", "missing_field")
    check_body("PullRequest", body)
    branch, fork = _branch(hub, head, repo)
    git = hub.git(repo)
    with git.lock:
        base_sha = git.ref_sha(f"refs/heads/{base}")
        fork_ref = f"refs/pull/{repo.next_number}/head" if fork else None
        if fork is not None and fork_ref is not None:
            # GitHub keeps a copy of a fork's head in the base repository.
            git.run(
                "fetch",
                "--quiet",
                str(fork.path),
                f"+refs/heads/{branch}:{fork_ref}",
                ok=(0, 1, 128),
            )
        head_sha = git.ref_sha(fork_ref or f"refs/heads/{branch}")
        if base_sha is None:
            raise validation_failed("PullRequest", "base", "invalid")
        if head_sha is None:
            raise validation_failed("PullRequest", "head", "invalid")
        with hub.state.lock:
            for other in hub.state.issues.values():
                if (
                    other.repo_id == repo.id
                    and other.pull
                    and other.state == "open"
                    and other.pull.head_ref == branch
                    and other.pull.head_repo_id == (fork.id if fork else None)
                    and other.pull.base_ref == base
                ):
                    raise validation_failed(
                        "PullRequest",
                        code="custom",
                        message=f"A pull request already exists for {repo.owner.login}:{branch}.",
                        documentation_url=f"{PULL_DOCS}#create-a-pull-request",
                    )
        if not git.commits_between(base_sha, head_sha):
            raise validation_failed(
                "PullRequest",
                code="custom",
                message=f"No commits between {base} and {branch}",
                documentation_url=f"{PULL_DOCS}#create-a-pull-request",
            )
        with hub.state.lock:
            pull = PullState(next_id(), branch, base, draft, maintainer_can_modify)
            if fork is not None:
                pull.head_repo_id, pull.fork_ref = fork.id, fork_ref
            issue = Issue(
                next_id(), repo.id, repo.next_number, title, body, user, pull=pull, app_id=app_id
            )
            repo.next_number += 1
            hub.state.issues[(repo.id, issue.number)] = issue
    event = pull_event(hub, repo, issue, "opened", user)
    return issue, hub.webhooks.emit(repo, "pull_request", event)


def render_pull(hub: Hub, repo: Repo, issue: Issue) -> dict[str, Any]:
    """The REST JSON of a pull request, with its git facts read now."""
    info = pull_git(hub, repo, issue)
    with hub.state.lock:
        return pull_json(hub.state, repo, issue, info)


def update_pull(
    hub: Hub, repo: Repo, issue: Issue, fields: dict[str, Any], user: User
) -> list[Delivery]:
    """PATCH a pull request: title, body, base, state; deliver edited/closed/reopened."""
    assert issue.pull is not None
    check_body("PullRequest", fields.get("body"))
    changes: dict[str, Any] = {}
    actions = []
    git = hub.git(repo)
    if "base" in fields and git.ref_sha(f"refs/heads/{fields['base']}") is None:
        raise validation_failed("PullRequest", "base", "invalid")
    with hub.state.lock:
        for key in ("title", "body"):
            if key in fields and fields[key] != getattr(issue, key):
                changes[key] = {"from": getattr(issue, key)}
                setattr(issue, key, fields[key])
        if "base" in fields and fields["base"] != issue.pull.base_ref:
            changes["base"] = {"ref": {"from": issue.pull.base_ref}, "sha": {"from": ""}}
            issue.pull.base_ref = fields["base"]
        if "maintainer_can_modify" in fields:
            issue.pull.maintainer_can_modify = bool(fields["maintainer_can_modify"])
        state = fields.get("state")
        if state in ("open", "closed") and state != issue.state and issue.pull.merged_at is None:
            if state == "closed":
                issue.pull.closed_head_sha = git.ref_sha(issue.pull.head_git_ref)
                issue.pull.closed_base_sha = git.ref_sha(f"refs/heads/{issue.pull.base_ref}")
            else:
                issue.pull.closed_head_sha = issue.pull.closed_base_sha = None
            issue.state = state
            issue.closed_at = now() if state == "closed" else None
            actions.append("closed" if state == "closed" else "reopened")
        issue.updated_at = now()
    if changes:
        actions.insert(0, "edited")
    deliveries = []
    for action in actions:
        extra = {"changes": changes} if action == "edited" else {}
        deliveries += hub.webhooks.emit(
            repo, "pull_request", pull_event(hub, repo, issue, action, user, **extra)
        )
    return deliveries


def merge_pull(
    hub: Hub,
    repo: Repo,
    issue: Issue,
    user: User,
    method: str = "merge",
    sha: str | None = None,
    commit_title: str | None = None,
    commit_message: str | None = None,
) -> tuple[str, list[Delivery]]:
    """Merge with real git into the base branch; deliver `pull_request` closed and `push`."""
    pull = issue.pull
    assert pull is not None
    if method not in ("merge", "squash", "rebase"):
        raise validation_failed("PullRequest", "merge_method", "invalid")
    git = hub.git(repo)
    with git.lock:
        if issue.state != "open":
            raise ApiError(405, "Pull Request is not mergeable")
        head = git.ref_sha(pull.head_git_ref)
        base = git.ref_sha(f"refs/heads/{pull.base_ref}")
        if head is None or base is None:
            raise ApiError(405, "Pull Request is not mergeable")
        if sha and sha != head:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        tree = git.merge_tree(base, head)
        if tree is None:
            raise ApiError(405, "Pull Request is not mergeable")
        sig = signature(user)
        if method == "rebase" and git.is_ancestor(base, head):
            merged = head
        elif method == "merge":
            title = (
                commit_title
                or f"Merge pull request #{issue.number} from {repo.owner.login}/{pull.head_ref}"
            )
            message = (
                f"{title}\n\n{commit_message if commit_message is not None else issue.title}\n"
            )
            merged = git.commit_tree(tree, [base, head], message, sig, sig)
        else:
            # squash, and rebase of a diverged branch, land as one commit on the base.
            title = commit_title or f"{issue.title} (#{issue.number})"
            message = f"{title}\n\n{commit_message}\n" if commit_message else f"{title}\n"
            merged = git.commit_tree(tree, [base], message, sig, sig)
        if not git.update_ref(f"refs/heads/{pull.base_ref}", merged, base):
            raise ApiError(409, "Base branch was modified. Review and try the merge again.")
        with hub.state.lock:
            pull.merged_at = issue.closed_at = issue.updated_at = now()
            pull.merged_by = user
            pull.merge_commit_sha = merged
            pull.closed_head_sha, pull.closed_base_sha = head, base
            issue.state = "closed"
    deliveries = hub.webhooks.emit(
        repo, "pull_request", pull_event(hub, repo, issue, "closed", user)
    )
    deliveries += ref_moved(
        hub, repo, f"refs/heads/{pull.base_ref}", base, merged, user, forced=False
    )
    return merged, deliveries


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def diff_hunk(change: FileChange, line: int, side: str) -> str | None:
    """The diff hunk up to `line` (GitHub's `diff_hunk`), or None when the line is not in the diff."""
    if not change.patch:
        return None
    hunk: list[str] = []
    old = new = 0
    for text in change.patch.split("\n"):
        match = _HUNK.match(text)
        if match:
            hunk = [text]
            old, new = int(match.group(1)), int(match.group(3))
            continue
        if text.startswith("\\"):
            continue
        hunk.append(text)
        if text.startswith("-"):
            here, old = (old, old + 1)
            if side == "LEFT" and here == line:
                return "\n".join(hunk)
        elif text.startswith("+"):
            here, new = (new, new + 1)
            if side == "RIGHT" and here == line:
                return "\n".join(hunk)
        else:
            if (side == "RIGHT" and new == line) or (side == "LEFT" and old == line):
                return "\n".join(hunk)
            old, new = old + 1, new + 1
    return None


def anchor_hunk(
    hub: Hub, repo: Repo, base_sha: str, head_sha: str, path: str, line: int, side: str
) -> str:
    """The diff hunk a new line comment hangs on; 422 as GitHub answers when the path or the
    line is not part of the pull request's diff."""
    git = hub.git(repo)
    with git.lock:
        base = git.merge_base(base_sha, head_sha) or base_sha
        change = next((c for c in git.diff(base, head_sha) if c.filename == path), None)
    if change is None:
        raise validation_failed(
            "PullRequestReviewComment",
            "path",
            "custom",
            "pull_request_review_thread.path could not be resolved",
        )
    found = diff_hunk(change, line, side)
    if found is None:
        raise validation_failed(
            "PullRequestReviewComment",
            "line",
            "custom",
            "pull_request_review_thread.line must be part of the diff",
        )
    return found


def create_review_comment(
    hub: Hub,
    repo: Repo,
    issue: Issue,
    user: User,
    body: str,
    path: str | None = None,
    line: int | None = None,
    side: str = "RIGHT",
    start_line: int | None = None,
    commit_id: str | None = None,
    in_reply_to: int | None = None,
    app_id: int | None = None,
    review_id: int | None = None,
    deliver: bool = True,
) -> tuple[ReviewComment, list[Delivery]]:
    """Comment on a line of the diff (or reply to a thread); deliver the review comment event.
    Alone it is a review of its own, as on GitHub; `review_id` puts it in a review, whose
    comments are delivered only once it is submitted (`deliver`)."""
    check_body("PullRequestReviewComment", body)
    info = pull_git(hub, repo, issue)
    if in_reply_to is not None:
        with hub.state.lock:
            parent = hub.state.review_comments.get(in_reply_to)
        if parent is None or parent.pull_number != issue.number or parent.repo_id != repo.id:
            raise not_found()
        path, line, side, start_line = parent.path, parent.line, parent.side, parent.start_line
        commit_id, hunk = parent.commit_id, parent.diff_hunk
    else:
        if not path or line is None:
            raise validation_failed("PullRequestReviewComment", "line", "missing_field")
        hunk = anchor_hunk(hub, repo, info.base_sha, info.head_sha, path, line, side)
    with hub.state.lock:
        comment = ReviewComment(
            id=next_id(),
            repo_id=repo.id,
            pull_number=issue.number,
            user=user,
            body=body,
            path=path,
            commit_id=commit_id or info.head_sha,
            line=line,
            side=side,
            start_line=start_line,
            start_side=side if start_line is not None else None,
            diff_hunk=hunk,
            review_id=review_id or next_id(),
            in_reply_to_id=in_reply_to,
            app_id=app_id,
        )
        hub.state.review_comments[comment.id] = comment
        event = repo_event(
            hub.state,
            repo,
            user,
            "created",
            comment=review_comment_json(hub.state, repo, comment),
            pull_request=pull_json(hub.state, repo, issue, info),
        )
    if not deliver:
        return comment, []
    return comment, hub.webhooks.emit(repo, "pull_request_review_comment", event)


def edit_review_comment(
    hub: Hub, repo: Repo, comment: ReviewComment, user: User, body: str
) -> list[Delivery]:
    """Change a review comment's body; deliver `pull_request_review_comment` edited."""
    check_body("PullRequestReviewComment", body)
    issue = find_pull(hub, repo, comment.pull_number)
    info = pull_git(hub, repo, issue)
    with hub.state.lock:
        previous, comment.body, comment.updated_at = comment.body, body, now()
        event = repo_event(
            hub.state,
            repo,
            user,
            "edited",
            changes={"body": {"from": previous}},
            comment=review_comment_json(hub.state, repo, comment),
            pull_request=pull_json(hub.state, repo, issue, info),
        )
    return hub.webhooks.emit(repo, "pull_request_review_comment", event)
