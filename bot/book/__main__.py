"""`python -m bot.book check FOLDER`: the same as `liquidbook check FOLDER`."""

from __future__ import annotations

import argparse
import sys

from bot.book import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.book")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
