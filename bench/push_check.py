"""GitHub calls and wall time of the "Liquid Book" check run of a push (`bot.jobs.check`).

Starts the stand-in of GitHub and the real app (`tests.world.World`: `liquidbook serve` with
its workers, embedded nothing: the Redis of REDIS_URL, SQLite), installs the app on the
skeleton book (one chapter), then pushes `--pushes` commits one at a time to the default
branch and, for each, waits for its completed check run. The check delay is 0, so the time
is the job's own: the tarball, the settings and toc validation, the strict offline build
and the check run. It prints, per push and as a median: the wall time from push to the
completed check run, and the GitHub requests the app made meanwhile (by kind).

    uv run --extra test python bench/push_check.py --pushes 5

Aim (issue 12): at most 5 GitHub calls, and under 3 s for a one-chapter book on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.world import REPO, World


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-push-check-") as tmp:
        root = Path(tmp)
        world = World(root, args.redis, f"sqlite:///{root / 'liquidbook.db'}")
        try:
            world.start_app(LIQUIDBOOK_CHECK_DELAY_SECONDS="0")
            world.install()
            times, calls = [], []
            gh = world.github
            for number in range(args.pushes):
                gh.settle()
                before = len(gh.requests)
                started = time.monotonic()
                sha = gh.push(
                    REPO,
                    "main",
                    {"notes.md": f"# Notes\n\nPush {number}.\n"},
                    user="alice",
                    message=f"Push {number}",
                )

                def done(sha: str = sha) -> bool:
                    return any(
                        r["head_sha"] == sha and r["status"] == "completed"
                        for r in gh.check_runs(REPO)
                    )

                world.wait_for(done, timeout=300, what=f"the check run of push {number}")
                seconds = time.monotonic() - started
                gh.settle()
                made = [r for r in gh.requests[before:] if r.auth_kind != "none" or r.route]
                kinds = Counter(f"{r.method} {r.route}" for r in made)
                times.append(seconds)
                calls.append(len(made))
                print(f"push {number}: {seconds:.2f} s, {len(made)} GitHub requests: {dict(kinds)}")
            print(
                f"median: {statistics.median(times):.2f} s per push check, "
                f"{statistics.median(calls):g} GitHub requests (of {args.pushes} pushes)"
            )
        finally:
            world.close()


if __name__ == "__main__":
    main()
