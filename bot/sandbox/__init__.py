"""`liquidbook sandbox`: the whole story on this machine, from installing the app to a book.

An operator (or a reviewer of this project) wants to see what authors see without a GitHub
account, a public URL or a model key. The sandbox starts, all on loopback:

- the stand-in of GitHub (`standins.github`), with the app registered, a user `author` who
  is admin of `author/book`, a repository holding only a README;
- the real app, `python -m bot serve`, as a child process with an environment built from
  scratch (embedded Redis and SQLite under `<workdir>/app`), so nothing of the operator's
  settings or Redis leaks in;
- a model: the operator's own when `LIQUIDBOOK_MODEL` and that provider's key are set,
  otherwise the offline stand-in model (`standins.offline_model`), whose every text says it
  is placeholder text, not AI output.

Then it plays the author: installs the app, waits for the setup PR and merges it, opens the
issue "Write the book" and posts each comment on it, waits until every status comment of that
comment is final, prints them and the pull requests the comment's jobs opened, and merges
those PRs (`--no-merge` keeps every PR open), so `/outline …` then `/generate chapter 2`
writes chapter 2 of the merged outline. It can play a reviewer too: `--pr-comment TEXT` posts
TEXT in the conversation of the newest PR the app opened, `--review-comment "PATH:LINE[-LINE]
TEXT"` comments on those lines of it; the PRs a reviewer's comment follows stay open until
it is answered, then are merged as usual. `--tick TEXT` ticks the first unticked box of
the Book Dashboard issue whose line contains TEXT, as the author; the run ends by printing
the dashboard. `--report FILE` writes the run as JSON (comments
and answers, PRs, issues, check runs, where the repository and the book are). `--config FILE` puts FILE on the default branch as the
book's `.github/liquidbook.yml` once the setup PR is merged (try an invalid one to see the
answer an author gets). At the end the book's default branch is cloned into `<workdir>/book`
and checked offline; `jupyter-book build --html` there needs the internet (it downloads the
site theme).

Exit status: 0 when every command ended ✅, ⚠️ or ℹ️ (nothing changed), 1 otherwise, 130 when
interrupted.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.sandbox.answers import STATUS_MARKER, CommentResult, is_final, is_success
from bot.sandbox.app import AppChild
from bot.sandbox.console import SandboxError, say
from bot.sandbox.model import ModelChoice, offline_model_choice, real_model
from bot.sandbox.pushes import parse_push
from bot.sandbox.report import build_verdict
from bot.sandbox.reviewer import LineSpec, parse_line_spec
from bot.sandbox.run import cmd_sandbox, prepare_workdir, read_comments
from bot.sandbox.session import Sandbox

__all__ = [
    "STATUS_MARKER",
    "AppChild",
    "CommentResult",
    "LineSpec",
    "ModelChoice",
    "Sandbox",
    "SandboxError",
    "build_verdict",
    "cmd_sandbox",
    "is_final",
    "is_success",
    "offline_model_choice",
    "parse_line_spec",
    "prepare_workdir",
    "read_comments",
    "real_model",
    "register",
    "say",
]

DEFAULT_TIMEOUT = 300.0


class StepAction(argparse.Action):
    """Keeps `--comment`, `--pr-comment` and `--review-comment` in one list, in the order
    given, as (kind, value) steps; a bad `--review-comment` is a usage error."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        kind = (option_string or "--comment").lstrip("-")
        value: Any = values
        if kind == "review-comment":
            try:
                value = parse_line_spec(str(values))
            except ValueError as exc:
                parser.error(f"--review-comment: {exc}")
        if kind == "push":
            try:
                value = parse_push(str(values))
            except ValueError as exc:
                parser.error(f"--push: {exc}")
        steps = list(getattr(namespace, self.dest, None) or [])
        setattr(namespace, self.dest, [*steps, (kind, value)])


def register(subparsers: Any) -> None:
    """Add `liquidbook sandbox` to the CLI (called by `bot.cli`)."""
    parser = subparsers.add_parser(
        "sandbox",
        help="run the whole story on this machine: stand-in GitHub, the app, a model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--comment",
        action=StepAction,
        dest="steps",
        default=[],
        metavar="TEXT",
        help="a comment to post as the author on the issue (repeatable, in order with the "
        "reviewer's comments); without any, comments are read from stdin (a blank line ends "
        "one; EOF or `quit` stops)",
    )
    parser.add_argument(
        "--pr-comment",
        action=StepAction,
        dest="steps",
        metavar="TEXT",
        help="as a reviewer, post TEXT in the conversation of the newest pull request the app "
        "opened, e.g. '/revise shorter' (that PR is merged only after this is answered)",
    )
    parser.add_argument(
        "--review-comment",
        action=StepAction,
        dest="steps",
        metavar="PATH:LINE[-LINE] TEXT",
        help="as a reviewer, comment TEXT on those lines of the newest pull request the app "
        "opened, e.g. 'chapters/01-intro.md:12-14 /suggest use the active voice'",
    )
    parser.add_argument(
        "--push",
        action=StepAction,
        dest="steps",
        metavar="PATH=FILE",
        help="as the author, commit FILE as PATH on the default branch (in order with the "
        'comments), then print the "Liquid Book" check run and its annotations',
    )
    parser.add_argument(
        "--tick",
        action=StepAction,
        dest="steps",
        metavar="TEXT",
        help="as the author, tick the first unticked box of the Book Dashboard issue whose "
        "line contains TEXT, e.g. 'write chapter 1' (in order with the comments), and wait "
        "for what it runs",
    )
    parser.add_argument(
        "--pages",
        choices=("on", "off"),
        default=None,
        help="GitHub Pages on (Source: GitHub Actions) or off before the first step, for "
        "/publish (default: off)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="FILE",
        help="write a JSON report of the run to FILE: the comments and the app's answers, the "
        "pull requests, issues, check runs, and where the repository and the book are",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="an empty or new folder for everything (default: a new temporary folder, kept)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="the book's settings (.github/liquidbook.yml) to start from, pushed by the author "
        "after the setup PR; an invalid file shows the answer an author gets",
    )
    parser.add_argument(
        "--no-merge",
        action="store_true",
        help="leave every pull request open (by default the setup PR and each comment's PRs "
        "are merged as the author before the next comment, as an author would)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for each comment's answers (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="the app's port (default: a free one)"
    )
    parser.set_defaults(func=cmd_sandbox)
