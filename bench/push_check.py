"""GitHub calls and wall time of the "Liquid Book" check run of a push (`bot.jobs.check`).

Starts the stand-in of GitHub and the real app (`tests.world.World`: `liquidbook serve` with
its workers, embedded nothing: the Redis of REDIS_URL, SQLite), installs the app on the
skeleton book (one chapter), then pushes `--pushes` commits one at a time to the default
branch and, for each, waits for its completed check run. The check delay is 0, so the time
is the job's own: the tarball, the settings and toc validation, the strict offline build
and the check run. It prints, per push and as a median: the wall time from push to the
completed check run, the part of it the build took (from the check run's summary), the CPU
time the app's processes (server, workers, the builds they ran) used meanwhile, the load
average, and the GitHub requests the app made (by kind). On a shared machine the wall time
follows the load; the CPU time is what one check costs.

    uv run --extra test python bench/push_check.py --pushes 5

Aim (issue 12): at most 5 GitHub calls, and under 3 s for a one-chapter book on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from tests.world import REPO, World


def cpu_seconds(pid: int) -> float:
    """CPU time of the process tree at `pid`, its children ended and waited for included."""
    total = 0.0
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            t = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


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
            times, calls, builds, cpus = [], [], [], []
            gh = world.github
            assert world.app_process is not None and world.app_process.process is not None
            pid = world.app_process.process.pid
            for number in range(args.pushes):
                gh.settle()
                before = len(gh.requests)
                cpu_before = cpu_seconds(pid)
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
                cpu = cpu_seconds(pid) - cpu_before
                [run] = [r for r in gh.check_runs(REPO) if r["head_sha"] == sha]
                found = re.search(r"in (\d+\.\d) s\.", run["output"]["summary"] or "")
                build = float(found.group(1)) if found else float("nan")
                gh.settle()
                made = [r for r in gh.requests[before:] if r.auth_kind != "none" or r.route]
                kinds = Counter(f"{r.method} {r.route}" for r in made)
                times.append(seconds)
                calls.append(len(made))
                builds.append(build)
                cpus.append(cpu)
                print(
                    f"push {number}: {seconds:.2f} s (build {build:.1f} s), app CPU {cpu:.2f} s, "
                    f"load {os.getloadavg()[0]:.1f}, {len(made)} GitHub requests: {dict(kinds)}"
                )
            print(
                f"median: {statistics.median(times):.2f} s per push check (build "
                f"{statistics.median(builds):.1f} s), app CPU {statistics.median(cpus):.2f} s, "
                f"{statistics.median(calls):g} GitHub requests (of {args.pushes} pushes; "
                f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})"
            )
        finally:
            world.close()


if __name__ == "__main__":
    main()
