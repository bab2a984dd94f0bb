"""Build a book with the real `jupyter-book` CLI and report what it found.

`--strict` misses whole classes of problems (unknown directives, missing toc files, invalid
front matter all exit 0), so the report is read from the output: lines starting with `⛔️`
are errors, `⚠️` warnings, each `<file>[:line[:col]] <message>`. The site theme would be
downloaded from the internet, so the build runs in a temporary copy whose `myst.yml` points
`site.template` at a two-line stub template: all content is still parsed and checked. A job
checks its change by having it written into that copy (`files`), never into the checkout.

The book is the author's, but the worker is ours: MyST runs a config's `project.plugins`
(JavaScript modules and any executable) and follows `extends` to other configs, from any
`myst.yml` it reads, subfolders included. The copy's configs lose those keys (and
`site.projects` paths outside the book) before the build, and the report says what was
skipped; the Actions workflow, on GitHub's machines, runs them.

The text is untrusted too (a model wrote it): the build runs in a sandbox that cannot reach
the app's secrets (`bot.book.sandbox_build`), and its output is read only for problems in
the book's own files (`bot.book.build_output.sanitize_output`), so no line of a file outside
the book reaches a PR or a status comment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.book.build_output import BuildIssue, parse_build_output, sanitize_output
from bot.book.sandbox_build import give_to_builder, sandbox_mode, sandboxed, tool_roots
from bot.node import path_with_node

__all__ = ["BuildIssue", "BuildReport", "check_book", "parse_build_output", "plural"]

STUB_TEMPLATE_DIR = "_liquidbook_stub_template"
CONFIG_FILES = ("myst.yml", "myst.yaml")  # the names MyST reads configs from
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_TAIL_LINES = 40
_MAX_OUTPUT_BYTES = 5 * 1024 * 1024


@dataclass
class BuildReport:
    """The outcome of one build: `ok` only when the CLI succeeded and printed no `⛔️`."""

    ok: bool
    errors: list[BuildIssue] = field(default_factory=list)
    warnings: list[BuildIssue] = field(default_factory=list)
    seconds: float = 0.0
    output_tail: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No errors and no warnings: what a generated chapter should achieve."""
        return self.ok and not self.warnings

    def markdown(self, limit: int = 30) -> str:
        """A section for a PR body or a status comment: verdict, issues, and the raw tail."""
        notes = "".join(f"\n\n⚠️ {note}" for note in self.notes)
        if self.clean:
            return f"✅ The book builds cleanly ({self.seconds:.1f} s).{notes}"
        counts = f"{plural(len(self.errors), 'error')} and {plural(len(self.warnings), 'warning')}"
        verdict = "⚠️ The book builds, with" if self.ok else "❌ The book build failed, with"
        lines = [f"{verdict} {counts} ({self.seconds:.1f} s):", ""]
        issues = [*self.errors, *self.warnings]
        lines += [f"- {issue.markdown()}" for issue in issues[:limit]]
        if len(issues) > limit:
            lines.append(f"- … and {len(issues) - limit} more")
        lines += [line for note in self.notes for line in ("", f"⚠️ {note}")]
        if self.output_tail:
            fence = "````" if "```" in self.output_tail else "```"
            lines += ["", "<details><summary>Build output</summary>", "", f"{fence}text"]
            lines += [self.output_tail, fence, "", "</details>"]
        return "\n".join(lines)


def plural(count: int, noun: str) -> str:
    """`1 error`, `2 errors`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _failure(message: str, started: float, tail: str = "") -> BuildReport:
    issue = BuildIssue("error", None, None, message)
    return BuildReport(False, [issue], [], time.monotonic() - started, tail)


def _prepare(
    source: Path, work: Path, notes: list[str], files: Mapping[str, str | bytes | None]
) -> str | None:
    """Copy the book with `files` written over it, make its configs safe to build and point
    its theme at the stub; return a problem sentence or None. What was left out is added to
    `notes`."""
    shutil.copytree(
        source, work, symlinks=True, ignore=shutil.ignore_patterns("_build", ".git", "node_modules")
    )
    _contain_links(work, source)
    for path, text in files.items():
        target = work / path
        if text is None:  # the change deletes this file
            if target.is_symlink() or target.is_file():
                target.unlink()
            continue
        if target.is_symlink():
            target.unlink()  # the change replaces the link, never writes through it
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):  # an image or a clip
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
    config = work / "myst.yml"
    if not config.is_file():
        return "There is no `myst.yml` at the top of the book."
    skipped = _Skipped()
    for file in _config_files(work):
        name = file.relative_to(work).as_posix()
        top = name == "myst.yml"
        try:
            text = file.read_text("utf-8", errors="replace")
            data = yaml.safe_load(text)
        except OSError:
            file.unlink()  # a dangling link: MyST would not read it either
            continue
        except yaml.YAMLError as error:
            return f"`{name}` is not valid YAML: {error}"
        if top and not isinstance(data, dict):
            return "`myst.yml` must be a mapping with `version: 1` and a `project:` section."
        if isinstance(data, dict):
            _make_safe(data, name, work, skipped)
            if top:
                site = data.get("site")
                data["site"] = {
                    **(site if isinstance(site, dict) else {}),
                    "template": f"./{STUB_TEMPLATE_DIR}",
                }
        # Always written back as a plain file from what was parsed: a link is replaced, never
        # written through, and MyST reads exactly what was checked here.
        file.unlink()
        file.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    notes.extend(skipped.sentences())
    stub = work / STUB_TEMPLATE_DIR
    stub.mkdir(exist_ok=True)
    (stub / "template.yml").write_text("jtex: v1\ntitle: stub\n", "utf-8")
    return None


@dataclass
class _Skipped:
    """Which configs had plugins, `extends` or outside projects taken out of the copy."""

    plugins: list[str] = field(default_factory=list)
    extends: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)

    def sentences(self) -> list[str]:
        def where(names: list[str]) -> str:
            return ", ".join(f"`{name}`" for name in dict.fromkeys(names))

        found = []
        if self.plugins:
            found.append(
                f"The plugins in {where(self.plugins)} are not run by the check; "
                "the Actions workflow runs them."
            )
        if self.extends:
            found.append(
                f"The `extends` of {where(self.extends)} is not followed by the check; "
                "the Actions workflow follows it."
            )
        if self.projects:
            found.append(
                f"`site.projects` paths outside the book in {where(self.projects)} are not "
                "built by the check."
            )
        return found


def _config_files(work: Path) -> list[Path]:
    """Every file MyST could read as a project or site config, the top one first. Links
    were contained first, so the real files under `work` are all MyST can reach."""
    found = []
    for folder, _, names in os.walk(work):
        found += [Path(folder) / name for name in sorted(names) if name in CONFIG_FILES]
    return sorted(found, key=lambda path: (path.parent != work, path.as_posix()))


def _make_safe(data: dict[str, Any], name: str, work: Path, skipped: _Skipped) -> None:
    """Remove what would run code or read configs from elsewhere: MyST loads the modules and
    executables of `project.plugins` (also when nested under the deprecated
    `project.frontmatter` or `project.biblio`, which it spreads into `project`), follows the
    top-level `extend`/`extends` (paths or URLs), and reads the config of every
    `site.projects` path."""
    for key in ("extend", "extends"):
        if data.pop(key, None) is not None:
            skipped.extends.append(name)
    project = data.get("project")
    if isinstance(project, dict):
        for holder in (project, project.get("frontmatter"), project.get("biblio")):
            if isinstance(holder, dict) and holder.pop("plugins", None) is not None:
                skipped.plugins.append(name)
    site = data.get("site")
    for holder in (site, site.get("frontmatter") if isinstance(site, dict) else None):
        if not isinstance(holder, dict) or not isinstance(holder.get("projects"), list):
            continue
        base = (work / name).parent
        kept = [p for p in holder["projects"] if _project_inside(p, base, work)]
        if len(kept) != len(holder["projects"]):
            skipped.projects.append(name)
            holder["projects"] = kept


def _project_inside(project: Any, base: Path, work: Path) -> bool:
    """A `site.projects` entry whose `path`, if any, is a folder of the book's copy."""
    if not isinstance(project, dict) or project.get("path") is None:
        return True
    path = project["path"]
    if not isinstance(path, str) or path.startswith(("/", "~")) or "://" in path:
        return False
    real = os.path.realpath(base / path)
    return real == os.path.realpath(work) or real.startswith(os.path.realpath(work) + os.sep)


# Loaded into the sandboxed build's Node (`NODE_OPTIONS=--require`): the sandbox has no
# network, and mystmd asks npm for its latest version on every run, a lookup its HTTP client
# retries for about 3 s after the build is done (EAI_AGAIN is retried; EAI_FAIL is not). Here
# a name lookup fails at once, for good.
_NO_NETWORK_JS = """\
'use strict';
const dns = require('node:dns');
function refused(hostname) {
  return Object.assign(
    new Error(`getaddrinfo EAI_FAIL ${hostname} (the build has no network)`),
    { code: 'EAI_FAIL', syscall: 'getaddrinfo', hostname },
  );
}
dns.lookup = function lookup(hostname, options, callback) {
  const done = typeof options === 'function' ? options : callback;
  process.nextTick(done, refused(hostname));
};
dns.promises.lookup = async function lookup(hostname) {
  throw refused(hostname);
};
"""


def _build_environment(home: Path) -> dict[str, str]:
    """A minimal environment: the book's content must never see the worker's secrets
    (a chapter can `{literalinclude}` any file, `/proc/self/environ` included)."""
    return {
        "PATH": path_with_node(),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "CI": "1",
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
    }


def _contain_links(work: Path, source: Path) -> None:
    """Links copied verbatim may point anywhere. Those into the author's folder are pointed
    at the same place in the copy (nothing here may write to the author's folder, nor may
    the build read a config that was not made safe); all others into the copy are kept and
    the rest removed."""
    real_work, real_source = os.path.realpath(work), os.path.realpath(source)
    for path in list(work.rglob("*")):
        if not path.is_symlink():
            continue
        target = os.path.realpath(path)
        if target == real_work or target.startswith(real_work + os.sep):
            continue
        path.unlink()
        if target == real_source or target.startswith(real_source + os.sep):
            path.symlink_to(Path(real_work, os.path.relpath(target, real_source)))


def _sandbox_path(command: Sequence[str]) -> str:
    """PATH inside the sandbox: the tool chain's folders only (the worker's PATH may name
    folders the sandbox does not show)."""
    folders = [str(Path(command[0]).parent)] if os.sep in command[0] else []
    folders += [f"{root}/bin" for root in tool_roots(command)]
    folders += [p for p in path_with_node().split(os.pathsep) if p.startswith(("/usr/", "/bin"))]
    return os.pathsep.join(dict.fromkeys([*folders, "/usr/local/bin", "/usr/bin", "/bin"]))


async def _run(command: Sequence[str], cwd: Path, seconds: float) -> tuple[int | None, str]:
    """Run the CLI in the sandbox; on timeout kill its whole process group and return `None`
    as the code."""
    home, new_root = cwd.parent / "home", cwd.parent / "root"
    home.mkdir(exist_ok=True)
    new_root.mkdir(exist_ok=True)
    env = _build_environment(home)
    mode = await asyncio.to_thread(sandbox_mode)
    if mode != "none":
        env["PATH"] = _sandbox_path(command)
        preload = home / "liquidbook-no-network.cjs"
        preload.write_text(_NO_NETWORK_JS, "utf-8")
        env["NODE_OPTIONS"] = f"--require={preload}"
        await asyncio.to_thread(give_to_builder, [cwd, home], mode)
    argv = sandboxed(command, cwd, env, [cwd, home], new_root, mode)
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    chunks: list[bytes] = []

    async def drain() -> None:
        # Read as it comes, so the output before a timeout is kept for the report.
        assert process.stdout is not None
        size = 0
        while chunk := await process.stdout.read(65536):
            size += len(chunk)
            if size <= _MAX_OUTPUT_BYTES:
                chunks.append(chunk)
        await process.wait()

    try:
        await asyncio.wait_for(drain(), seconds)
    except TimeoutError:
        return None, b"".join(chunks).decode("utf-8", errors="replace")
    finally:
        # Timed out, or the job cancelled (`/cancel`, a worker stopping): the build and
        # everything it started go too, never left running with nobody reading.
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(process.wait())
    return process.returncode, b"".join(chunks).decode("utf-8", errors="replace")


async def check_book(
    directory: Path,
    timeout: float = 180,  # noqa: ASYNC109 - a budget for the subprocess, not for the caller
    command: Sequence[str] | None = None,
    files: Mapping[str, str | bytes | None] | None = None,
) -> BuildReport:
    """Build the book at `directory` strictly, offline, and report every error and warning.
    `files` (book-relative paths that passed `safe_book_path`) are written over the copy
    that is built (None deletes one): the change a job proposes, checked without touching
    `directory`.

    Never raises for build problems: a missing CLI, a timeout or a crash is an error in the
    report, so callers can always post it. `command` replaces the CLI (tests, other paths).
    """
    started = time.monotonic()
    cli = list(command) if command else [shutil.which("jupyter-book") or ""]
    if not cli[0]:
        return _failure(
            "The `jupyter-book` command is not installed on the build machine.", started
        )
    if shutil.which(cli[0]) is None:
        return _failure(f"Could not start `jupyter-book`: no program at {cli[0]}", started)
    with tempfile.TemporaryDirectory(prefix="liquidbook-check-") as temporary:
        work = Path(temporary) / "book"
        notes: list[str] = []
        problem = await asyncio.to_thread(_prepare, directory, work, notes, files or {})
        if problem is not None:
            return _failure(problem, started)
        try:
            code, output = await _run([*cli, "build", "--site", "--strict"], work, timeout)
        except OSError as error:
            return _failure(f"Could not start `jupyter-book`: {error}", started)
    output = _ANSI.sub("", output).replace(f"{work}/", "").replace(str(work), ".")
    output = sanitize_output(output)
    tail = "\n".join(output.rstrip().splitlines()[-_TAIL_LINES:])
    issues = parse_build_output(output)
    errors = [issue for issue in issues if issue.level == "error"]
    warnings = [issue for issue in issues if issue.level == "warning"]
    if code is None:
        errors.append(
            BuildIssue(
                "error", None, None, f"The build took longer than {timeout:g} s and was stopped."
            )
        )
    elif code != 0 and not errors:
        errors.append(
            BuildIssue("error", None, None, f"`jupyter-book build` exited with code {code}.")
        )
    ok = code == 0 and not errors
    return BuildReport(ok, errors, warnings, time.monotonic() - started, tail, notes)
