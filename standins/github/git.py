"""Real git storage: one bare repository per GitHub repository, driven through the git CLI."""

from __future__ import annotations

import os
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ZERO_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
BLOB_MODES = ("100644", "100755", "120000")
MODES = {"100644": "blob", "100755": "blob", "120000": "blob", "040000": "tree", "160000": "commit"}


class GitError(Exception):
    """A git command failed, or an object or path is not what the caller said it is."""


@dataclass(frozen=True)
class Signature:
    """Who made a commit, and when."""

    name: str
    email: str
    date: datetime

    def ident(self) -> str:
        """The signature as git writes it (`Name <email> 1700000000 +0000`)."""
        return f"{self.name} <{self.email}> {int(self.date.timestamp())} +0000"


@dataclass(frozen=True)
class CommitInfo:
    """A parsed commit object."""

    sha: str
    tree: str
    parents: list[str]
    author: Signature
    committer: Signature
    message: str


@dataclass(frozen=True)
class TreeEntry:
    """One line of `git ls-tree -l`."""

    mode: str
    type: str
    sha: str
    size: int | None
    path: str


@dataclass(frozen=True)
class TreeChange:
    """One entry of a create-tree request: set a path, or delete it (`sha` and `content` None)."""

    path: str
    mode: str
    type: str
    sha: str | None = None
    content: bytes | None = None


@dataclass(frozen=True)
class FileChange:
    """A file that differs between the base and the head of a pull request."""

    status: str  # added | modified | removed | renamed
    filename: str
    previous_filename: str | None
    sha: str | None
    additions: int
    deletions: int
    patch: str | None


def _parse_signature(text: str) -> Signature:
    head, _, stamp = text.rpartition("> ")
    name, _, email = head.partition(" <")
    seconds, _, zone = stamp.partition(" ")
    sign = -1 if zone.startswith("-") else 1
    offset = timedelta(hours=int(zone[1:3] or 0), minutes=int(zone[3:5] or 0)) * sign
    date = datetime.fromtimestamp(int(seconds), timezone(offset)).astimezone(UTC)
    return Signature(name=name, email=email, date=date)


def valid_path(path: str) -> bool:
    """Whether a path may appear in a tree (no empty, `.`, `..` or `.git` segments)."""
    parts = path.split("/")
    return bool(path) and all(p and p not in (".", "..", ".git") for p in parts)


# git commands that never move a ref: anything else run here (update-ref, fetch) forgets
# what `resolve` and `refs` remembered.
_KEEPS_REFS = frozenset(
    (
        "archive",
        "cat-file",
        "commit-tree",
        "diff",
        "diff-tree",
        "for-each-ref",
        "hash-object",
        "log",
        "ls-tree",
        "merge-base",
        "merge-tree",
        "mktree",
        "rev-list",
        "rev-parse",
        "show",
    )
)
# Objects are immutable: what was read by sha is kept (a bounded number, small blobs only),
# so the reads a job repeats (its settings file, a path's entry) spawn no `git`.
_KEPT_OBJECTS = 4096
_KEPT_BLOB_BYTES = 256 * 1024


class GitRepo:
    """A bare repository. Callers hold `lock` around sequences that must not interleave.

    Reads by object sha, and refs between two commands that could move them, are answered
    from memory: a `git` process per read made the stand-in, not the app, the limit of every
    bench whose jobs read a file (`bench/probot_side_by_side.py --drain`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._objects: OrderedDict[tuple[str, ...], Any] = OrderedDict()
        self._refs: dict[str, Any] = {}
        self._generation = 0

    def _kept(self, key: tuple[str, ...]) -> Any:
        found = self._objects.get(key)
        if found is not None:
            self._objects.move_to_end(key)
        return found

    def _keep(self, key: tuple[str, ...], value: Any) -> None:
        self._objects[key] = value
        while len(self._objects) > _KEPT_OBJECTS:
            self._objects.popitem(last=False)

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        ok: tuple[int, ...] = (0,),
    ) -> subprocess.CompletedProcess[bytes]:
        """Run `git` in this repository; raise GitError on an unexpected exit code."""
        if args[0] not in _KEEPS_REFS:
            self._generation += 1
            self._refs.clear()
        full_env = {
            **os.environ,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            **(env or {}),
        }
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            input=input,
            capture_output=True,
            env=full_env,
            check=False,
        )
        if proc.returncode not in ok:
            raise GitError(f"git {args[0]}: {proc.stderr.decode(errors='replace').strip()}")
        return proc

    def out(self, *args: str, input: bytes | None = None) -> str:
        """Stdout of a git command, stripped."""
        return self.run(*args, input=input).stdout.decode().strip()

    def init(self, default_branch: str) -> None:
        """Create the bare repository on disk."""
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--quiet", "--bare", "-b", default_branch, str(self.path)],
            check=True,
            capture_output=True,
        )

    # objects

    def write_blob(self, data: bytes) -> str:
        """Store a blob; return its sha."""
        return self.out("hash-object", "-w", "--stdin", input=data)

    def object_types(self, shas: list[str]) -> dict[str, str | None]:
        """The type of each object (None when missing), in one `cat-file --batch-check`."""
        if not shas:
            return {}
        text = self.run("cat-file", "--batch-check", input="\n".join(shas).encode() + b"\n")
        result: dict[str, str | None] = {}
        for sha, line in zip(shas, text.stdout.decode().splitlines(), strict=False):
            words = line.split()
            result[sha] = None if len(words) < 2 or words[1] == "missing" else words[1]
        return result

    def object_type(self, sha: str) -> str | None:
        """The type of one object, or None when it does not exist."""
        if not _is_hex(sha):
            return None
        return self.object_types([sha]).get(sha)

    def read_blob(self, sha: str) -> bytes:
        """The content of a blob."""
        if (data := self._kept(("blob", sha))) is not None:
            return data
        data = self.run("cat-file", "blob", sha).stdout
        if _is_hex(sha) and len(data) <= _KEPT_BLOB_BYTES:
            self._keep(("blob", sha), data)
        return data

    def read_commit(self, sha: str) -> CommitInfo:
        """Parse a commit object."""
        raw = self.run("cat-file", "commit", sha).stdout.decode(errors="replace")
        header, _, message = raw.partition("\n\n")
        tree, parents = "", []
        author = committer = Signature("", "", datetime.now(UTC))
        for line in header.splitlines():
            key, _, value = line.partition(" ")
            if key == "tree":
                tree = value
            elif key == "parent":
                parents.append(value)
            elif key == "author":
                author = _parse_signature(value)
            elif key == "committer":
                committer = _parse_signature(value)
        return CommitInfo(sha, tree, parents, author, committer, message)

    def commit_tree(
        self, tree: str, parents: list[str], message: str, author: Signature, committer: Signature
    ) -> str:
        """Write a commit object; return its sha."""
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": f"{int(author.date.timestamp())} +0000",
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": f"{int(committer.date.timestamp())} +0000",
        }
        return self.run(*args, input=message.encode(), env=env).stdout.decode().strip()

    # trees

    def ls_tree(
        self, treeish: str, recursive: bool = False, path: str | None = None
    ) -> list[TreeEntry]:
        """Entries of a tree (with trees too when recursive), or the entry at `path`."""
        key = ("ls-tree", treeish, str(recursive), "" if path is None else f"/{path}")
        if (kept := self._kept(key)) is not None:
            return list(kept)
        args = ["ls-tree", "-l", "-z"]
        if recursive:
            args += ["-r", "-t"]
        args.append(treeish)
        if path is not None:
            args += ["--", path]
        raw = self.run(*args).stdout.decode(errors="surrogateescape")
        entries = []
        for record in filter(None, raw.split("\0")):
            meta, _, name = record.partition("\t")
            mode, kind, sha, size = meta.split()
            entries.append(TreeEntry(mode, kind, sha, None if size == "-" else int(size), name))
        if _is_hex(treeish):
            self._keep(key, tuple(entries))
        return entries

    def entry_at(self, commit: str, path: str) -> TreeEntry | None:
        """The tree entry at `path` in a commit, or None."""
        if not valid_path(path):
            return None
        found = self.ls_tree(commit, path=path)
        return next((e for e in found if e.path == path), None)

    def build_tree(self, base_tree: str | None, changes: list[TreeChange]) -> str:
        """Apply create-tree changes on top of `base_tree` and write the resulting tree."""
        flat: dict[str, tuple[str, str, str]] = {}
        if base_tree:
            for e in self.ls_tree(base_tree, recursive=True):
                if e.type != "tree":
                    flat[e.path] = (e.mode, e.type, e.sha)
        wanted = [c.sha for c in changes if c.sha is not None]
        types = self.object_types(wanted)
        for change in changes:
            if not valid_path(change.path):
                raise GitError(f"tree.path contains a malformed path component: {change.path}")
            if MODES.get(change.mode) != change.type:
                raise GitError(f"tree.mode {change.mode} is not valid for type {change.type}")
            _remove(flat, change.path)
            if change.sha is None and change.content is None:
                continue
            sha = change.sha
            if change.content is not None:
                sha = self.write_blob(change.content)
            assert sha is not None
            if change.type == "commit":
                if not _is_hex(sha):
                    raise GitError(f"tree.sha {sha} is not a valid commit")
            elif change.content is None and types.get(sha) != change.type:
                raise GitError(f"tree.sha {sha} is not a valid {change.type}")
            for prefix in _prefixes(change.path):
                flat.pop(prefix, None)
            if change.type == "tree":
                for e in self.ls_tree(sha, recursive=True):
                    if e.type != "tree":
                        flat[f"{change.path}/{e.path}"] = (e.mode, e.type, e.sha)
            else:
                flat[change.path] = (change.mode, change.type, sha)
        return self._write_nested(flat)

    def _write_nested(self, flat: dict[str, tuple[str, str, str]]) -> str:
        root: dict[str, object] = {}
        for path, leaf in flat.items():
            *dirs, name = path.split("/")
            node = root
            for d in dirs:
                node = node.setdefault(d, {})  # type: ignore[assignment]
            node[name] = leaf
        return self._mktree(root)

    def _mktree(self, node: dict[str, object]) -> str:
        lines = []
        for name, child in node.items():
            if isinstance(child, dict):
                lines.append(f"040000 tree {self._mktree(child)}\t{name}")
            else:
                leaf: tuple[str, str, str] = child  # type: ignore[assignment]
                lines.append(f"{leaf[0]} {leaf[1]} {leaf[2]}\t{name}")
        data = "".join(line + "\0" for line in lines).encode(errors="surrogateescape")
        return self.out("mktree", "-z", input=data)

    # refs

    def resolve(self, rev: str) -> str | None:
        """The commit a branch, tag or sha names, or None."""
        if not rev or rev.startswith("-") or ".." in rev:
            return None
        key = f"resolve {rev}"
        if key in self._refs:
            return self._refs[key]
        generation = self._generation
        proc = self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", ok=(0, 1, 128))
        sha = (proc.stdout.decode().strip() or None) if proc.returncode == 0 else None
        if generation == self._generation:  # no ref moved meanwhile (another thread)
            self._refs[key] = sha
        return sha

    def ref_sha(self, name: str) -> str | None:
        """The sha a full ref (`refs/heads/main`) points at, or None."""
        found = self.refs(name)
        return next((sha for ref, sha in found if ref == name), None)

    def refs(self, prefix: str = "refs/") -> list[tuple[str, str]]:
        """(ref, sha) pairs of refs whose name starts with `prefix`, sorted by name."""
        generation = self._generation
        pairs = self._refs.get("for-each-ref")
        if pairs is None:
            raw = self.out("for-each-ref", "--format=%(refname) %(objectname)")
            pairs = [tuple(line.split(" ", 1)) for line in raw.splitlines() if line]
            if generation == self._generation:
                self._refs["for-each-ref"] = pairs
        return sorted((r, s) for r, s in pairs if r.startswith(prefix))

    def update_ref(self, name: str, new: str, old: str | None = None) -> bool:
        """Point `name` at `new` if it still points at `old` (ZERO_SHA: must not exist)."""
        args = ["update-ref", name, new] + ([old] if old is not None else [])
        return self.run(*args, ok=(0, 1, 128)).returncode == 0

    def delete_ref(self, name: str) -> bool:
        """Delete a ref; False when it did not exist."""
        if self.ref_sha(name) is None:
            return False
        self.run("update-ref", "-d", name)
        return True

    def valid_ref_name(self, name: str) -> bool:
        """Whether git accepts `name` as a full ref name."""
        proc = subprocess.run(["git", "check-ref-format", name], capture_output=True, check=False)
        return proc.returncode == 0 and name.startswith("refs/")

    # history

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether `ancestor` is reachable from `descendant`."""
        proc = self.run("merge-base", "--is-ancestor", ancestor, descendant, ok=(0, 1))
        return proc.returncode == 0

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two commits."""
        proc = self.run("merge-base", a, b, ok=(0, 1))
        return proc.stdout.decode().strip() or None

    def commits_between(self, exclude: str | None, include: str) -> list[str]:
        """Commits reachable from `include` but not from `exclude`, oldest first."""
        args = ["rev-list", "--reverse", include] + ([f"^{exclude}"] if exclude else [])
        return self.out(*args).split()

    def merge_tree(self, ours: str, theirs: str) -> str | None:
        """The tree of a three-way merge, or None when it conflicts."""
        proc = self.run("merge-tree", "--write-tree", "--no-messages", ours, theirs, ok=(0, 1))
        return proc.stdout.decode().split()[0] if proc.returncode == 0 else None

    def changed_paths(self, sha: str) -> dict[str, list[str]]:
        """Paths a commit added, removed and modified, against its first parent."""
        raw = self.out("diff-tree", "-r", "--root", "--no-commit-id", "--name-status", "-z", sha)
        parts = raw.split("\0")
        result: dict[str, list[str]] = {"added": [], "removed": [], "modified": []}
        names = {"A": "added", "D": "removed"}
        for status, path in zip(parts[::2], parts[1::2], strict=False):
            if status:
                result[names.get(status[0], "modified")].append(path)
        return result

    def diff(self, base: str, head: str) -> list[FileChange]:
        """Files changed from `base` to `head` with line counts and patches."""
        status_raw = self.out("diff", "--name-status", "-M", "-z", base, head).split("\0")
        numstat = self.out("diff", "--numstat", "-M", "-z", base, head)
        patches = _split_patches(self.run("diff", "-M", base, head).stdout.decode(errors="replace"))
        counts = _parse_numstat(numstat)
        changes: list[FileChange] = []
        i = 0
        while i < len(status_raw) and status_raw[i]:
            code = status_raw[i]
            if code.startswith("R"):
                old, new = status_raw[i + 1], status_raw[i + 2]
                i += 3
            else:
                old, new = None, status_raw[i + 1]
                i += 2
            status = {"A": "added", "D": "removed", "R": "renamed"}.get(code[0], "modified")
            entry = self.entry_at(head, new) if status != "removed" else None
            adds, dels = counts[len(changes)] if len(changes) < len(counts) else (0, 0)
            patch = patches[len(changes)] if len(changes) < len(patches) else None
            changes.append(
                FileChange(status, new, old, entry.sha if entry else None, adds, dels, patch)
            )
        return changes

    def diff_stat(self, base: str, head: str) -> list[tuple[int, int]]:
        """(additions, deletions) per changed file from `base` to `head`."""
        return _parse_numstat(self.out("diff", "--numstat", "-M", "-z", base, head))

    def archive(self, sha: str, prefix: str) -> bytes:
        """A gzip tarball of a commit's tree, every path under `prefix`."""
        return self.run("archive", "--format=tar.gz", f"--prefix={prefix}", sha).stdout


def _is_hex(sha: str) -> bool:
    return len(sha) == 40 and all(c in "0123456789abcdef" for c in sha)


def _remove(flat: dict[str, tuple[str, str, str]], path: str) -> None:
    flat.pop(path, None)
    for key in [k for k in flat if k.startswith(path + "/")]:
        del flat[key]


def _prefixes(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:n]) for n in range(1, len(parts))]


def _parse_numstat(raw: str) -> list[tuple[int, int]]:
    # With -z a rename is "adds\tdels\t\0old\0new\0", anything else "adds\tdels\tpath\0".
    parts = raw.split("\0")
    counts, i = [], 0
    while i < len(parts) and parts[i]:
        adds, dels, path = parts[i].split("\t", 2)
        counts.append((int(adds) if adds != "-" else 0, int(dels) if dels != "-" else 0))
        i += 3 if path == "" else 1
    return counts


def _split_patches(raw: str) -> list[str | None]:
    patches: list[str | None] = []
    for chunk in raw.split("\ndiff --git "):
        if not chunk.strip():
            continue
        start = chunk.find("\n@@")
        patches.append(chunk[start + 1 :].rstrip("\n") if start >= 0 else None)
    return patches
