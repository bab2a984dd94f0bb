"""`python -m standins.github --port 8765 --root DIR`: serve a stand-in until interrupted.

Drive it through `/_standin/...` (see `control.py`) and point the app at the printed URL.
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import threading
from pathlib import Path

from .standin import GitHubStandIn


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, start the stand-in, print its URL, and wait for Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m standins.github", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--root", type=Path, default=None, help="where bare repos live")
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="github-standin-"))
    gh = GitHubStandIn(root, host=args.host, port=args.port).start()
    print(gh.api_url, flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        gh.stop()


if __name__ == "__main__":
    main()
