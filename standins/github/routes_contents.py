"""Reading a repository: its metadata, files, branches and tarballs."""

from __future__ import annotations

from urllib.parse import quote

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import ApiError, not_found
from .git import EMPTY_TREE, GitRepo
from .payloads import open_issue_count
from .render_core import repo_json
from .render_git import branch_json, commit_json, content_file_json, content_item_json
from .render_pulls import file_json
from .state import Repo

CODELOAD_PREFIX = "/_codeload"


def resolve_ref(git: GitRepo, repo: Repo, ref: str | None) -> str:
    """The commit a ref names (the default branch when None); 404 like GitHub otherwise."""
    sha = git.resolve(ref or repo.default_branch)
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    return sha


def get_repo(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}."""
    repo = call.repo()
    call.require("metadata:read")
    with call.state.lock:
        return Reply(repo_json(call.state, repo, open_issue_count(call.state, repo)))


def get_content(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/contents/{path} — a file (base64) or a directory listing."""
    repo = call.repo()
    call.require("contents:read")
    path = call.params["path"].strip("/")
    git = call.hub.git(repo)
    ref = call.query.get("ref") or repo.default_branch
    with git.lock:
        commit = resolve_ref(git, repo, ref)
        if not path:
            entries = git.ls_tree(commit)
            return Reply([content_item_json(call.state, repo, ref, e, e.path) for e in entries])
        entry = git.entry_at(commit, path)
        if entry is None:
            raise not_found()
        if entry.type == "tree":
            items = git.ls_tree(entry.sha)
            return Reply(
                [content_item_json(call.state, repo, ref, e, f"{path}/{e.path}") for e in items]
            )
        if entry.type == "commit":
            body = content_item_json(call.state, repo, ref, entry, path)
            body["submodule_git_url"] = ""
            return Reply(body)
        data = git.read_blob(entry.sha)
    return Reply(content_file_json(call.state, repo, ref, entry, path, data))


def get_tarball(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/tarball/{ref} — 302 to the archive download."""
    repo = call.repo()
    call.require("contents:read")
    git = call.hub.git(repo)
    with git.lock:
        sha = resolve_ref(git, repo, call.params["ref"])
    location = f"{call.state.api_url}{CODELOAD_PREFIX}/{quote(repo.owner.login)}/{quote(repo.name)}/legacy.tar.gz/{sha}"
    return Reply(None, 302, {"Location": location})


def download_tarball(call: Call) -> Reply:
    """The download the tarball redirect points at; no auth, like codeload's signed links."""
    with call.state.lock:
        repo = call.state.repo(f"{call.params['owner']}/{call.params['repo']}")
    if repo is None:
        raise not_found()
    git = call.hub.git(repo)
    sha = call.params["sha"]
    with git.lock:
        if git.object_type(sha) != "commit":
            raise not_found()
        prefix = f"{repo.owner.login}-{repo.name}-{sha[:7]}/"
        data = git.archive(sha, prefix)
    filename = f"{repo.owner.login}-{repo.name}-{sha[:7]}.tar.gz"
    return Reply(
        raw=data,
        media_type="application/x-gzip",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


def get_commit(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/commits/{ref} — the commit with its stats and files."""
    repo = call.repo()
    call.require("contents:read")
    git = call.hub.git(repo)
    with git.lock:
        sha = resolve_ref(git, repo, call.params["ref"])
        info = git.read_commit(sha)
        changes = git.diff(info.parents[0] if info.parents else EMPTY_TREE, sha)
    body = commit_json(call.state, repo, info)
    adds, dels = sum(c.additions for c in changes), sum(c.deletions for c in changes)
    body["stats"] = {"additions": adds, "deletions": dels, "total": adds + dels}
    body["files"] = [file_json(call.state, repo, sha, c) for c in changes]
    return Reply(body)


def get_branch(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/branches/{branch}."""
    repo = call.repo()
    call.require("metadata:read")
    git = call.hub.git(repo)
    name = call.params["branch"]
    with git.lock:
        sha = git.ref_sha(f"refs/heads/{name}")
        if sha is None:
            raise ApiError(404, "Branch not found")
        info = git.read_commit(sha)
    return Reply(branch_json(call.state, repo, name, info))


routes: list[Route] = [
    api("GET", "/repos/{owner}/{repo}", get_repo),
    api("GET", "/repos/{owner}/{repo}/contents/{path:path}", get_content),
    api("GET", "/repos/{owner}/{repo}/tarball/{ref:path}", get_tarball),
    api("GET", "/repos/{owner}/{repo}/commits/{ref:path}", get_commit),
    api("GET", "/repos/{owner}/{repo}/branches/{branch:path}", get_branch),
    api(
        "GET",
        CODELOAD_PREFIX + "/{owner}/{repo}/legacy.tar.gz/{sha}",
        download_tarball,
        auth="none",
    ),
]
