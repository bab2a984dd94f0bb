"""`liquidbook check FOLDER`: build a book offline and report what the build found.

`jupyter-book build --html` and `--site` download the site theme, so they need the internet.
This runs the check every job runs before it opens a pull request: `jupyter-book build
--site --strict` on a copy whose theme is a local stub, reading the ⛔️/⚠️ lines (the exit
code misses whole classes of errors). Exit status: 0 when the book builds without errors,
1 otherwise, 2 when the folder is not there.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.book.check import check_book


def register(subparsers: Any) -> None:
    """Add the `check` subcommand to `liquidbook`'s parser."""
    parser = subparsers.add_parser(
        "check",
        help="build a book offline and list its errors and warnings",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", type=Path, help="the book's folder (where myst.yml is)")
    parser.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    if not args.folder.is_dir():
        print(f"liquidbook check: {args.folder} is not a folder", file=sys.stderr)
        return 2
    report = asyncio.run(check_book(args.folder))
    print(report.markdown())
    return 0 if report.ok else 1
