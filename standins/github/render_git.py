"""JSON shapes of git objects, refs, branches and repository contents."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from .git import CommitInfo, Signature, TreeEntry
from .state import Repo, State, iso, node_id


def _api(state: State, repo: Repo) -> str:
    return f"{state.api_url}/repos/{repo.full_name}"


def _html(state: State, repo: Repo) -> str:
    return f"{state.html_url}/{repo.full_name}"


def wrapped_base64(data: bytes) -> str:
    """Base64 in 60-character lines, the way GitHub returns file and blob content."""
    text = base64.b64encode(data).decode()
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))


def signature_json(sig: Signature) -> dict[str, Any]:
    """A `git-user`: name, email, date."""
    return {"name": sig.name, "email": sig.email, "date": iso(sig.date)}


def verification_json() -> dict[str, Any]:
    """Every stand-in commit is unsigned."""
    return {
        "verified": False,
        "reason": "unsigned",
        "signature": None,
        "payload": None,
        "verified_at": None,
    }


def git_commit_json(state: State, repo: Repo, info: CommitInfo) -> dict[str, Any]:
    """A `git-commit` (GET/POST /git/commits)."""
    api, html = _api(state, repo), _html(state, repo)
    return {
        "sha": info.sha,
        "node_id": node_id("Commit", info.sha),
        "url": f"{api}/git/commits/{info.sha}",
        "html_url": f"{html}/commit/{info.sha}",
        "author": signature_json(info.author),
        "committer": signature_json(info.committer),
        "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
        "message": info.message,
        "parents": [
            {"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in info.parents
        ],
        "verification": verification_json(),
    }


def commit_json(state: State, repo: Repo, info: CommitInfo) -> dict[str, Any]:
    """A `commit` (the REST commit object branches embed)."""
    api, html = _api(state, repo), _html(state, repo)
    return {
        "sha": info.sha,
        "node_id": node_id("Commit", info.sha),
        "url": f"{api}/commits/{info.sha}",
        "html_url": f"{html}/commit/{info.sha}",
        "comments_url": f"{api}/commits/{info.sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{info.sha}",
            "author": signature_json(info.author),
            "committer": signature_json(info.committer),
            "message": info.message,
            "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
            "verification": verification_json(),
        },
        "author": None,
        "committer": None,
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in info.parents
        ],
    }


def ref_json(state: State, repo: Repo, ref: str, sha: str, kind: str = "commit") -> dict[str, Any]:
    """A `git-ref`."""
    api = _api(state, repo)
    return {
        "ref": ref,
        "node_id": node_id("Ref", f"{repo.id}:{ref}"),
        "url": f"{api}/git/{quote(ref)}",
        "object": {"type": kind, "sha": sha, "url": f"{api}/git/{kind}s/{sha}"},
    }


def tree_json(
    state: State, repo: Repo, sha: str, entries: list[TreeEntry], truncated: bool = False
) -> dict[str, Any]:
    """A `git-tree`."""
    api = _api(state, repo)
    items = []
    for e in entries:
        item: dict[str, Any] = {"path": e.path, "mode": e.mode, "type": e.type, "sha": e.sha}
        if e.type == "blob":
            item["size"] = e.size
            item["url"] = f"{api}/git/blobs/{e.sha}"
        elif e.type == "tree":
            item["url"] = f"{api}/git/trees/{e.sha}"
        items.append(item)
    return {"sha": sha, "url": f"{api}/git/trees/{sha}", "tree": items, "truncated": truncated}


def blob_json(state: State, repo: Repo, sha: str, data: bytes) -> dict[str, Any]:
    """A `blob` (GET /git/blobs/{file_sha})."""
    return {
        "sha": sha,
        "node_id": node_id("Blob", sha),
        "size": len(data),
        "url": f"{_api(state, repo)}/git/blobs/{sha}",
        "content": wrapped_base64(data),
        "encoding": "base64",
    }


_CONTENT_TYPES = {"blob": "file", "tree": "dir", "commit": "submodule"}


def content_item_json(
    state: State, repo: Repo, ref: str, entry: TreeEntry, path: str
) -> dict[str, Any]:
    """One item of a directory listing (no content)."""
    api, html = _api(state, repo), _html(state, repo)
    kind = "symlink" if entry.mode == "120000" else _CONTENT_TYPES[entry.type]
    quoted = quote(path)
    self_url = f"{api}/contents/{quoted}?ref={quote(ref)}"
    git_url = f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}"
    html_url = f"{html}/{'tree' if kind == 'dir' else 'blob'}/{quote(ref)}/{quoted}"
    return {
        "type": kind,
        "size": entry.size or 0,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": entry.sha,
        "url": self_url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": (
            f"https://raw.github.test/{repo.full_name}/{quote(ref)}/{quoted}"
            if kind == "file"
            else None
        ),
        "_links": {"self": self_url, "git": git_url, "html": html_url},
    }


def content_file_json(
    state: State, repo: Repo, ref: str, entry: TreeEntry, path: str, data: bytes
) -> dict[str, Any]:
    """A `content-file` (or a symlink with its target)."""
    body = content_item_json(state, repo, ref, entry, path)
    if body["type"] == "symlink":
        body["target"] = data.decode(errors="replace")
    body.update({"size": len(data), "content": wrapped_base64(data), "encoding": "base64"})
    return body


def branch_json(state: State, repo: Repo, name: str, info: CommitInfo) -> dict[str, Any]:
    """A `branch-with-protection` for an unprotected branch."""
    api, html = _api(state, repo), _html(state, repo)
    return {
        "name": name,
        "commit": commit_json(state, repo, info),
        "_links": {"self": f"{api}/branches/{quote(name)}", "html": f"{html}/tree/{quote(name)}"},
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{api}/branches/{quote(name)}/protection",
    }
