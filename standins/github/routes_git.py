"""The Git Database API: refs, commits, trees and blobs, all real git objects."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import ApiError, not_found, unprocessable
from .git import MODES, GitError, Signature, TreeChange
from .ops_git import create_ref, delete_ref, signature, update_ref
from .render_git import blob_json, git_commit_json, ref_json, tree_json

DOCS = "https://docs.github.com/rest/git"


def get_ref(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/git/ref/{ref} — exact match or 404."""
    repo = call.repo()
    call.require("contents:read")
    git = call.hub.git(repo)
    name = "refs/" + call.params["ref"]
    with git.lock:
        sha = git.ref_sha(name)
        kind = git.object_type(sha) if sha else None
    if sha is None:
        raise not_found()
    return Reply(ref_json(call.state, repo, name, sha, kind or "commit"))


def matching_refs(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/git/matching-refs/{ref} — refs starting with the prefix."""
    repo = call.repo()
    call.require("contents:read")
    git = call.hub.git(repo)
    with git.lock:
        found = git.refs("refs/" + call.params["ref"])
    return call.page([ref_json(call.state, repo, name, sha) for name, sha in found])


def post_ref(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/git/refs — 422 "Reference already exists"."""
    repo = call.repo()
    call.require("contents:write")
    ref = call.field("ref", str, required=True)
    sha = call.field("sha", str, required=True)
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise unprocessable(
            "Reference name must start with 'refs/' and have at least two slashes.",
            f"{DOCS}/refs#create-a-reference",
        )
    create_ref(call.hub, repo, ref, sha, call.actor())
    return Reply(ref_json(call.state, repo, ref, sha), 201)


def patch_ref(call: Call) -> Reply:
    """PATCH /repos/{owner}/{repo}/git/refs/{ref} — fast-forward unless `force`."""
    repo = call.repo()
    call.require("contents:write")
    name = "refs/" + call.params["ref"]
    sha = call.field("sha", str, required=True)
    update_ref(
        call.hub, repo, name, sha, bool(call.field("force", bool, default=False)), call.actor()
    )
    return Reply(ref_json(call.state, repo, name, sha))


def remove_ref(call: Call) -> Reply:
    """DELETE /repos/{owner}/{repo}/git/refs/{ref}."""
    repo = call.repo()
    call.require("contents:write")
    delete_ref(call.hub, repo, "refs/" + call.params["ref"], call.actor())
    return Reply(None, 204)


def get_commit(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/git/commits/{commit_sha}."""
    repo = call.repo()
    call.require("contents:read")
    git = call.hub.git(repo)
    sha = call.params["commit_sha"]
    with git.lock:
        if git.object_type(sha) != "commit":
            raise not_found()
        info = git.read_commit(sha)
    return Reply(git_commit_json(call.state, repo, info))


def _signature(value: Any, fallback: Signature, name: str) -> Signature:
    if value is None:
        return fallback
    if not isinstance(value, dict) or not value.get("name") or not value.get("email"):
        raise ApiError(422, f'Invalid request.\n\n"name", "email" weren\'t supplied for {name}.')
    date = fallback.date
    if value.get("date"):
        try:
            date = datetime.fromisoformat(str(value["date"]).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ApiError(
                422, f"Invalid request.\n\nFor '{name}.date', {value['date']!r} is not a date."
            ) from exc
    return Signature(str(value["name"]), str(value["email"]), date)


def post_commit(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/git/commits — author defaults to the app's bot."""
    repo = call.repo()
    call.require("contents:write")
    message = call.field("message", str, required=True)
    tree = call.field("tree", str, required=True)
    parents = call.field("parents", list, default=[])
    bot = signature(call.actor())
    author = _signature(call.field("author", dict), bot, "author")
    committer = _signature(call.field("committer", dict), author, "committer")
    git = call.hub.git(repo)
    with git.lock:
        if git.object_type(tree) != "tree":
            raise unprocessable("Tree SHA does not exist", f"{DOCS}/commits#create-a-commit")
        types = git.object_types([str(p) for p in parents])
        if any(types.get(str(p)) != "commit" for p in parents):
            raise unprocessable(
                "Parent SHA does not exist or is not a commit object",
                f"{DOCS}/commits#create-a-commit",
            )
        sha = git.commit_tree(tree, [str(p) for p in parents], message, author, committer)
        info = git.read_commit(sha)
    return Reply(git_commit_json(call.state, repo, info), 201)


def get_tree(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/git/trees/{tree_sha} (`recursive` set to anything recurses)."""
    repo = call.repo()
    call.require("contents:read")
    git = call.hub.git(repo)
    wanted = call.params["tree_sha"]
    with git.lock:
        kind = git.object_type(wanted)
        if kind == "tree":
            sha = wanted
        else:
            commit = wanted if kind == "commit" else git.resolve(wanted)
            if commit is None:
                raise not_found()
            sha = git.read_commit(commit).tree
        entries = git.ls_tree(sha, recursive="recursive" in call.query)
    return Reply(tree_json(call.state, repo, sha, entries))


def _tree_changes(items: Any) -> list[TreeChange]:
    if not isinstance(items, list):
        raise ApiError(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
    changes = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise ApiError(422, "Invalid tree info")
        mode = str(item.get("mode", ""))
        kind = item.get("type") or MODES.get(mode)
        if mode not in MODES or kind not in ("blob", "tree", "commit"):
            raise ApiError(
                422, f"Invalid request.\n\nFor 'properties/mode', \"{mode}\" is not a valid mode."
            )
        has_sha, content = "sha" in item, item.get("content")
        if has_sha and content is not None:
            raise ApiError(
                422, "Invalid request.\n\nOnly one of 'sha' or 'content' may be supplied."
            )
        if not has_sha and content is None:
            raise ApiError(422, "Must supply either tree.sha or tree.content")
        if content is not None and not isinstance(content, str):
            raise ApiError(422, "Invalid request.\n\nFor 'properties/content', it is not a string.")
        data = content.encode() if isinstance(content, str) else None
        changes.append(TreeChange(item["path"], mode, str(kind), item.get("sha"), data))
    return changes


def post_tree(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/git/trees — applied on `base_tree`; `sha: null` deletes."""
    repo = call.repo()
    call.require("contents:write")
    changes = _tree_changes(call.field("tree", list, required=True))
    base_tree = call.field("base_tree", str)
    git = call.hub.git(repo)
    with git.lock:
        if base_tree is not None:
            kind = git.object_type(base_tree)
            if kind == "commit":
                base_tree = git.read_commit(base_tree).tree
            elif kind != "tree":
                raise unprocessable(
                    "base_tree is not a valid tree oid", f"{DOCS}/trees#create-a-tree"
                )
        try:
            sha = git.build_tree(base_tree, changes)
        except GitError as exc:
            raise unprocessable(str(exc), f"{DOCS}/trees#create-a-tree") from exc
        entries = git.ls_tree(sha)
    return Reply(tree_json(call.state, repo, sha, entries), 201)


def post_blob(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/git/blobs — content as utf-8 or base64."""
    repo = call.repo()
    call.require("contents:write")
    content = call.field("content", str, required=True)
    encoding = call.field("encoding", str, default="utf-8")
    if encoding == "base64":
        try:
            data = base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise unprocessable("Invalid base64 content", f"{DOCS}/blobs#create-a-blob") from exc
    elif encoding in ("utf-8", "utf8"):
        data = content.encode()
    else:
        raise unprocessable(
            f"encoding must be utf-8 or base64, not {encoding}", f"{DOCS}/blobs#create-a-blob"
        )
    git = call.hub.git(repo)
    with git.lock:
        sha = git.write_blob(data)
    url = f"{call.state.api_url}/repos/{repo.full_name}/git/blobs/{sha}"
    return Reply({"url": url, "sha": sha}, 201)


def get_blob(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/git/blobs/{file_sha} — base64 content."""
    repo = call.repo()
    call.require("contents:read")
    git = call.hub.git(repo)
    sha = call.params["file_sha"]
    with git.lock:
        if git.object_type(sha) != "blob":
            raise not_found()
        data = git.read_blob(sha)
    return Reply(blob_json(call.state, repo, sha, data))


R = "/repos/{owner}/{repo}/git"
routes: list[Route] = [
    api("GET", R + "/ref/{ref:path}", get_ref),
    api("GET", R + "/matching-refs/{ref:path}", matching_refs),
    api("POST", R + "/refs", post_ref),
    api("PATCH", R + "/refs/{ref:path}", patch_ref),
    api("DELETE", R + "/refs/{ref:path}", remove_ref),
    api("GET", R + "/commits/{commit_sha}", get_commit),
    api("POST", R + "/commits", post_commit),
    api("GET", R + "/trees/{tree_sha:path}", get_tree),
    api("POST", R + "/trees", post_tree),
    api("POST", R + "/blobs", post_blob),
    api("GET", R + "/blobs/{file_sha}", get_blob),
]
