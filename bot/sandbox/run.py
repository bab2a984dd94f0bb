"""One run of the sandbox: its folder, the comments (given or typed), the exit status.

Exit status: 0 when every command ended ✅ or ⚠️, 1 otherwise, 130 when interrupted; every
server and child process is stopped however the run ends.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from bot.sandbox.console import SandboxError, say
from bot.sandbox.pushes import run_push, set_pages
from bot.sandbox.session import Sandbox
from bot.sandbox.ticks import run_tick


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Run the sandbox; stop every server and child process however it ends."""
    try:
        config = read_config(args.config)
        workdir = prepare_workdir(args.workdir)
    except SandboxError as exc:
        print(f"liquidbook sandbox: {exc}", file=sys.stderr)
        return 2
    # Given steps are known in advance, so each knows whether a reviewer's comment follows;
    # typed comments run as soon as they are typed.
    steps: Iterator[tuple[Step, str | None]] = (
        _with_next(iter(args.steps))
        if args.steps
        else ((("comment", c), None) for c in read_comments(sys.stdin))
    )
    sandbox = Sandbox(workdir, args.port, args.timeout, merge=not args.no_merge, config=config)
    started = time.monotonic()
    with _sigterm_as_interrupt():
        try:
            sandbox.start()
            if getattr(args, "pages", None):
                set_pages(sandbox.gh, args.pages)
            ok = True
            for step, following in steps:
                ok = run_step(sandbox, step, hold=following in REVIEWER_STEPS) and ok
            sandbox.report(time.monotonic() - started, args.report)
            return 0 if ok else 1
        except SandboxError as exc:
            print(f"liquidbook sandbox: {exc}", file=sys.stderr)
            sandbox.report(time.monotonic() - started, args.report)
            return 1
        except KeyboardInterrupt:
            print("\nliquidbook sandbox: interrupted; stopping everything", file=sys.stderr)
            return 130
        finally:
            sandbox.close()


Step = tuple[str, Any]  # ("comment" | "pr-comment" | "review-comment" | "tick", its value)
# Steps that comment on the app's newest PR: the PRs before them wait for them to be answered.
REVIEWER_STEPS = ("pr-comment", "review-comment")


def run_step(sandbox: Sandbox, step: Step, hold: bool) -> bool:
    """One comment of the author (on the issue) or of a reviewer (on the newest PR)."""
    kind, value = step
    if kind == "pr-comment":
        return sandbox.run_pr_comment(value, hold=hold)
    if kind == "review-comment":
        return sandbox.run_review_comment(value, hold=hold)
    if kind == "push":
        return run_push(sandbox.gh, value, sandbox.timeout, sandbox.app)
    if kind == "tick":
        return run_tick(sandbox, value, hold=hold)
    return sandbox.run_comment(value, hold=hold)


def _with_next(steps: Iterator[Step]) -> Iterator[tuple[Step, str | None]]:
    """Each step with the kind of the one after it (None for the last)."""
    previous: Step | None = None
    for step in steps:
        if previous is not None:
            yield previous, step[0]
        previous = step
    if previous is not None:
        yield previous, None


def read_config(given: Path | None) -> str | None:
    """The text of `--config FILE` (not checked: an invalid file is worth trying too)."""
    if given is None:
        return None
    try:
        return given.expanduser().read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SandboxError(f"--config {given}: cannot read it ({exc})") from None


def prepare_workdir(given: Path | None) -> Path:
    """The folder everything lives in; a given one must be empty (it holds fresh state)."""
    if given is None:
        return Path(tempfile.mkdtemp(prefix="liquidbook-sandbox-")).resolve()
    workdir = given.expanduser().resolve()
    if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise SandboxError(f"--workdir {workdir} must be an empty folder or not exist yet")
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def read_comments(stream: TextIO) -> Iterator[str]:
    """Comments typed by a person: lines up to a blank line; `quit` or EOF ends the session."""
    interactive = stream.isatty()
    if interactive:
        say("Type a comment (a blank line posts it; `quit` or Ctrl-D ends).")
    lines: list[str] = []
    while True:
        if interactive:
            print("comment> " if not lines else "       > ", end="", flush=True)
        line = stream.readline()
        if not line:
            if lines:
                yield "\n".join(lines)
            return
        text = line.rstrip("\n")
        if not lines and text.strip().lower() in ("quit", "exit"):
            return
        if text.strip():
            lines.append(text)
        elif lines:
            yield "\n".join(lines)
            lines = []


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM cleans up like Ctrl-C does, so no child process outlives the sandbox."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
