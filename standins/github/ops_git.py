"""Branches moving: repository creation, pushes, ref updates and the events they send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ApiError, unprocessable
from .git import ZERO_SHA, GitRepo, Signature, TreeChange
from .hub import Hub
from .payloads import repo_event
from .pull_events import pull_event
from .state import Delivery, Repo, User, next_id, now

MAX_PUSH_COMMITS = 20
REF_DOCS = "https://docs.github.com/rest/git/refs"


def signature(user: User) -> Signature:
    """The git identity GitHub gives an account (noreply email)."""
    return Signature(user.name or user.login, user.email, now())


def create_repo(
    hub: Hub,
    owner: str,
    name: str,
    files: Mapping[str, str | bytes] | None = None,
    default_branch: str = "main",
    private: bool = False,
    description: str | None = None,
) -> Repo:
    """A repository with one initial commit holding `files` on `default_branch`."""
    state = hub.state
    with state.lock:
        if state.repo(f"{owner}/{name}") is not None:
            raise ValueError(f"repository {owner}/{name} exists")
        account = state.user(owner) or state.ensure_user(owner, "Organization")
        repo = Repo(
            id=next_id(),
            owner=account,
            name=name,
            path=hub.repo_path(owner, name),
            default_branch=default_branch,
            private=private,
            description=description,
        )
    git = hub.git(repo)
    with git.lock:
        git.init(default_branch)
        tree = git.build_tree(None, _changes(files or {}))
        author = signature(
            account if account.type != "Organization" else state.ensure_user(f"{owner}-admin")
        )
        sha = git.commit_tree(tree, [], "Initial commit\n", author, author)
        git.update_ref(f"refs/heads/{default_branch}", sha)
    with state.lock:
        state.repos[repo.full_name.lower()] = repo
    return repo


def fork_repo(hub: Hub, parent: Repo, owner: str) -> Repo:
    """A fork of `parent` owned by `owner`: its own repository (same name, `fork: true`)
    whose branches start as copies of the parent's."""
    state = hub.state
    with state.lock:
        if state.repo(f"{owner}/{parent.name}") is not None:
            raise ValueError(f"repository {owner}/{parent.name} exists")
        account = state.user(owner) or state.ensure_user(owner)
        fork = Repo(
            id=next_id(),
            owner=account,
            name=parent.name,
            path=hub.repo_path(owner, parent.name),
            default_branch=parent.default_branch,
            private=parent.private,
            description=parent.description,
            fork_of=parent.id,
        )
    git = hub.git(fork)
    with git.lock:
        git.init(parent.default_branch)
        git.run("fetch", "--quiet", str(parent.path), "+refs/heads/*:refs/heads/*")
    with state.lock:
        state.repos[fork.full_name.lower()] = fork
    return fork


def _changes(files: Mapping[str, str | bytes | None]) -> list[TreeChange]:
    changes = []
    for path, content in files.items():
        if content is None:
            changes.append(TreeChange(path, "100644", "blob"))
        else:
            data = content.encode() if isinstance(content, str) else content
            changes.append(TreeChange(path, "100644", "blob", content=data))
    return changes


def commit_files(
    hub: Hub,
    repo: Repo,
    branch: str,
    files: Mapping[str, str | bytes | None],
    user: User,
    message: str,
) -> tuple[str, list[Delivery]]:
    """Commit `files` (None deletes) on `branch` as `user`, like a `git push`; deliver push."""
    git = hub.git(repo)
    with git.lock:
        ref = f"refs/heads/{branch}"
        before = git.ref_sha(ref)
        parent = before or git.ref_sha(f"refs/heads/{repo.default_branch}")
        base_tree = git.read_commit(parent).tree if parent else None
        tree = git.build_tree(base_tree, _changes(files))
        sig = signature(user)
        sha = git.commit_tree(
            tree, [parent] if parent else [], message.rstrip("\n") + "\n", sig, sig
        )
        git.update_ref(ref, sha, before or ZERO_SHA)
    return sha, ref_moved(hub, repo, ref, before, sha, user, forced=False)


def ref_moved(
    hub: Hub,
    repo: Repo,
    ref: str,
    before: str | None,
    after: str | None,
    sender: User,
    forced: bool,
) -> list[Delivery]:
    """Deliver `push`, then `pull_request` synchronize (or closed) for PRs from that branch."""
    with hub.state.lock:
        repo.pushed_at = repo.updated_at = now()
    payload = push_payload(hub, repo, ref, before, after, sender, forced)
    deliveries = hub.webhooks.emit(repo, "push", payload)
    if not ref.startswith("refs/heads/"):
        return deliveries
    branch = ref[len("refs/heads/") :]
    with hub.state.lock:
        heads = [
            i
            for i in hub.state.issues.values()
            if i.repo_id == repo.id
            and i.pull
            and i.state == "open"
            and i.pull.head_ref == branch
            and i.pull.fork_ref is None
        ]
    for issue in heads:
        if after is None:
            assert issue.pull is not None
            with hub.state.lock:
                issue.state, issue.closed_at = "closed", now()
                issue.pull.closed_head_sha = before
                issue.pull.closed_base_sha = hub.git(repo).ref_sha(
                    f"refs/heads/{issue.pull.base_ref}"
                )
            event = pull_event(hub, repo, issue, "closed", sender)
        else:
            event = pull_event(hub, repo, issue, "synchronize", sender, before=before, after=after)
        deliveries += hub.webhooks.emit(repo, "pull_request", event)
    if after is not None:
        deliveries += _fork_head_moved(hub, repo, branch, before, after, sender)
    return deliveries


def _fork_head_moved(
    hub: Hub, fork: Repo, branch: str, before: str | None, after: str, sender: User
) -> list[Delivery]:
    """A push to a fork's branch moves the base repository's copy of it (GitHub's
    `refs/pull/{n}/head`) and delivers `synchronize` there, for each open PR from it."""
    with hub.state.lock:
        pulls = [
            i
            for i in hub.state.issues.values()
            if i.pull
            and i.state == "open"
            and i.pull.head_repo_id == fork.id
            and i.pull.head_ref == branch
            and i.pull.fork_ref is not None
        ]
    deliveries: list[Delivery] = []
    for issue in pulls:
        assert issue.pull is not None and issue.pull.fork_ref is not None
        with hub.state.lock:
            base = hub.state.repo_by_id(issue.repo_id)
        if base is None:
            continue
        git = hub.git(base)
        with git.lock:
            ref = f"+refs/heads/{branch}:{issue.pull.fork_ref}"
            git.run("fetch", "--quiet", str(fork.path), ref, ok=(0, 1, 128))
        event = pull_event(hub, base, issue, "synchronize", sender, before=before, after=after)
        deliveries += hub.webhooks.emit(base, "pull_request", event)
    return deliveries


def _commit_entry(hub: Hub, git: GitRepo, repo: Repo, sha: str) -> dict[str, Any]:
    info = git.read_commit(sha)
    paths = git.changed_paths(sha)
    html = f"{hub.state.html_url}/{repo.full_name}"
    return {
        "id": sha,
        "tree_id": info.tree,
        "distinct": True,
        "message": info.message.rstrip("\n"),
        "timestamp": info.author.date.isoformat(),
        "url": f"{html}/commit/{sha}",
        "author": {"name": info.author.name, "email": info.author.email},
        "committer": {"name": info.committer.name, "email": info.committer.email},
        **paths,
    }


def push_payload(
    hub: Hub,
    repo: Repo,
    ref: str,
    before: str | None,
    after: str | None,
    sender: User,
    forced: bool,
) -> dict[str, Any]:
    """A `push` payload for `ref` moving from `before` to `after` (None: absent)."""
    git = hub.git(repo)
    with git.lock:
        if after is None:
            shas: list[str] = []
        else:
            exclude = before
            if before is None and ref != f"refs/heads/{repo.default_branch}":
                # A new branch lists only the commits the default branch does not have.
                exclude = git.ref_sha(f"refs/heads/{repo.default_branch}")
            shas = git.commits_between(exclude, after)[-MAX_PUSH_COMMITS:]
        commits = [_commit_entry(hub, git, repo, sha) for sha in shas]
        head_commit = commits[-1] if commits else None
        if head_commit is None and after is not None:
            head_commit = _commit_entry(hub, git, repo, after)
    html = f"{hub.state.html_url}/{repo.full_name}"
    before_sha, after_sha = before or ZERO_SHA, after or ZERO_SHA
    with hub.state.lock:
        payload = repo_event(
            hub.state,
            repo,
            sender,
            ref=ref,
            before=before_sha,
            after=after_sha,
            created=before is None,
            deleted=after is None,
            forced=forced,
            base_ref=None,
            compare=f"{html}/compare/{before_sha[:12]}...{after_sha[:12]}",
            commits=commits,
            head_commit=head_commit,
            pusher={"name": sender.login, "email": sender.email},
        )
    # Push payloads carry the repository with epoch timestamps and two legacy keys.
    repository = payload["repository"]
    repository["created_at"] = int(repo.created_at.timestamp())
    repository["pushed_at"] = int(repo.pushed_at.timestamp())
    repository["stargazers"] = 0
    repository["master_branch"] = repo.default_branch
    order = ["ref", "before", "after", "repository", "pusher", "organization", "sender"]
    return {k: payload[k] for k in order if k in payload} | payload


def create_ref(hub: Hub, repo: Repo, ref: str, sha: str, sender: User) -> list[Delivery]:
    """POST /git/refs: 422 when the ref exists or the sha is not an object."""
    git = hub.git(repo)
    with git.lock:
        if not git.valid_ref_name(ref) or ref.count("/") < 2:
            raise unprocessable(f"{ref} is not a valid ref name.", f"{REF_DOCS}#create-a-reference")
        if git.object_type(sha) is None:
            raise unprocessable("Object does not exist", f"{REF_DOCS}#create-a-reference")
        if not git.update_ref(ref, sha, ZERO_SHA):
            raise unprocessable("Reference already exists", f"{REF_DOCS}#create-a-reference")
    return ref_moved(hub, repo, ref, None, sha, sender, forced=False)


def update_ref(
    hub: Hub, repo: Repo, ref: str, sha: str, force: bool, sender: User
) -> list[Delivery]:
    """PATCH /git/refs/{ref}: fast-forward only unless `force`."""
    git = hub.git(repo)
    with git.lock:
        before = git.ref_sha(ref)
        if before is None:
            raise unprocessable("Reference does not exist", f"{REF_DOCS}#update-a-reference")
        if git.object_type(sha) != "commit":
            raise unprocessable("Object does not exist", f"{REF_DOCS}#update-a-reference")
        fast_forward = git.is_ancestor(before, sha)
        if not fast_forward and not force:
            raise unprocessable("Update is not a fast forward", f"{REF_DOCS}#update-a-reference")
        if before == sha:
            return []
        if not git.update_ref(ref, sha, before):
            raise ApiError(409, "Reference update failed")
    return ref_moved(hub, repo, ref, before, sha, sender, forced=not fast_forward)


def delete_ref(hub: Hub, repo: Repo, ref: str, sender: User) -> list[Delivery]:
    """DELETE /git/refs/{ref}: 422 "Reference does not exist" when missing."""
    git = hub.git(repo)
    with git.lock:
        before = git.ref_sha(ref)
        if before is None or not git.delete_ref(ref):
            raise unprocessable("Reference does not exist", f"{REF_DOCS}#delete-a-reference")
    return ref_moved(hub, repo, ref, before, None, sender, forced=False)
