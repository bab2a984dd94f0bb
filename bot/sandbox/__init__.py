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
writes chapter 2 of the merged outline. `--config FILE` puts FILE on the default branch as the
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
from bot.sandbox.report import build_verdict
from bot.sandbox.run import cmd_sandbox, prepare_workdir, read_comments
from bot.sandbox.session import Sandbox

__all__ = [
    "STATUS_MARKER",
    "AppChild",
    "CommentResult",
    "ModelChoice",
    "Sandbox",
    "SandboxError",
    "build_verdict",
    "cmd_sandbox",
    "is_final",
    "is_success",
    "offline_model_choice",
    "prepare_workdir",
    "read_comments",
    "real_model",
    "register",
    "say",
]

DEFAULT_TIMEOUT = 300.0


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
        action="append",
        default=[],
        metavar="TEXT",
        help="a comment to post as the author (repeatable, in order); "
        "without it, comments are read from stdin (a blank line ends one; EOF or `quit` stops)",
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
