"""`python -m bot.book check FOLDER`: build a book offline and report what the build found.

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

from bot.book.check import check_book


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.book",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="build a book offline and list its errors and warnings")
    check.add_argument("folder", type=Path, help="the book's folder (where myst.yml is)")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"python -m bot.book check: {args.folder} is not a folder", file=sys.stderr)
        return 2
    report = asyncio.run(check_book(args.folder))
    print(report.markdown())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
