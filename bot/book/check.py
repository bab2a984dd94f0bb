"""Build a book with the real `jupyter-book` CLI and report what it found.

`--strict` misses whole classes of problems (unknown directives, missing toc files, invalid
front matter all exit 0), so the report is read from the output: lines starting with `⛔️`
are errors, `⚠️` warnings, each `<file>[:line[:col]] <message>`. The site theme would be
downloaded from the internet, so the build runs in a temporary copy whose `myst.yml` points
`site.template` at a two-line stub template: all content is still parsed and checked.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.book.build_output import BuildIssue, parse_build_output

__all__ = ["BuildIssue", "BuildReport", "check_book", "parse_build_output"]

STUB_TEMPLATE_DIR = "_liquidbook_stub_template"
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

    @property
    def clean(self) -> bool:
        """No errors and no warnings: what a generated chapter should achieve."""
        return self.ok and not self.warnings

    def markdown(self, limit: int = 30) -> str:
        """A section for a PR body or a status comment: verdict, issues, and the raw tail."""
        if self.clean:
            return f"✅ The book builds cleanly ({self.seconds:.1f} s)."
        counts = (
            f"{_plural(len(self.errors), 'error')} and {_plural(len(self.warnings), 'warning')}"
        )
        verdict = "⚠️ The book builds, with" if self.ok else "❌ The book build failed, with"
        lines = [f"{verdict} {counts} ({self.seconds:.1f} s):", ""]
        issues = [*self.errors, *self.warnings]
        lines += [f"- {issue.markdown()}" for issue in issues[:limit]]
        if len(issues) > limit:
            lines.append(f"- … and {len(issues) - limit} more")
        if self.output_tail:
            fence = "````" if "```" in self.output_tail else "```"
            lines += ["", "<details><summary>Build output</summary>", "", f"{fence}text"]
            lines += [self.output_tail, fence, "", "</details>"]
        return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _failure(message: str, started: float, tail: str = "") -> BuildReport:
    issue = BuildIssue("error", None, None, message)
    return BuildReport(False, [issue], [], time.monotonic() - started, tail)


def _prepare(source: Path, work: Path) -> str | None:
    """Copy the book and point its theme at the stub; return a problem sentence or None."""
    shutil.copytree(
        source, work, symlinks=True, ignore=shutil.ignore_patterns("_build", ".git", "node_modules")
    )
    _drop_escaping_links(work, source)
    config = work / "myst.yml"
    if not config.is_file():
        return "There is no `myst.yml` at the top of the book."
    try:
        data = yaml.safe_load(config.read_text("utf-8"))
    except yaml.YAMLError as error:
        return f"`myst.yml` is not valid YAML: {error}"
    if not isinstance(data, dict):
        return "`myst.yml` must be a mapping with `version: 1` and a `project:` section."
    site = data.get("site")
    data["site"] = {
        **(site if isinstance(site, dict) else {}),
        "template": f"./{STUB_TEMPLATE_DIR}",
    }
    config.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    stub = work / STUB_TEMPLATE_DIR
    stub.mkdir(exist_ok=True)
    (stub / "template.yml").write_text("jtex: v1\ntitle: stub\n", "utf-8")
    return None


def _build_environment(home: Path) -> dict[str, str]:
    """A minimal environment: the book's content must never see the worker's secrets
    (a chapter can `{literalinclude}` any file, `/proc/self/environ` included)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "CI": "1",
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
    }


def _drop_escaping_links(work: Path, source: Path) -> None:
    """Links copied verbatim may point anywhere; keep only those into the book."""
    allowed = (os.path.realpath(work) + os.sep, os.path.realpath(source) + os.sep)
    for path in list(work.rglob("*")):
        if path.is_symlink() and not os.path.realpath(path).startswith(allowed):
            path.unlink()


async def _run(command: Sequence[str], cwd: Path, seconds: float) -> tuple[int | None, str]:
    """Run the CLI; on timeout kill its whole process group and return `None` as the code."""
    env = _build_environment(cwd.parent)
    process = await asyncio.create_subprocess_exec(
        *command,
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
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return None, b"".join(chunks).decode("utf-8", errors="replace")
    return process.returncode, b"".join(chunks).decode("utf-8", errors="replace")


async def check_book(
    directory: Path,
    timeout: float = 180,  # noqa: ASYNC109 - a budget for the subprocess, not for the caller
    command: Sequence[str] | None = None,
) -> BuildReport:
    """Build the book at `directory` strictly, offline, and report every error and warning.

    Never raises for build problems: a missing CLI, a timeout or a crash is an error in the
    report, so callers can always post it. `command` replaces the CLI (tests, other paths).
    """
    started = time.monotonic()
    cli = list(command) if command else [shutil.which("jupyter-book") or ""]
    if not cli[0]:
        return _failure(
            "The `jupyter-book` command is not installed on the build machine.", started
        )
    with tempfile.TemporaryDirectory(prefix="liquidbook-check-") as temporary:
        work = Path(temporary) / "book"
        problem = await asyncio.to_thread(_prepare, directory, work)
        if problem is not None:
            return _failure(problem, started)
        try:
            code, output = await _run([*cli, "build", "--site", "--strict"], work, timeout)
        except OSError as error:
            return _failure(f"Could not start `jupyter-book`: {error}", started)
    output = _ANSI.sub("", output).replace(f"{work}/", "").replace(str(work), ".")
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
    return BuildReport(ok, errors, warnings, time.monotonic() - started, tail)
