"""Memory of `liquidbook serve` and its worker children over many deliveries (not a test).

For each case, a fresh default `serve` configured against the stand-in of GitHub (in a
process of its own, `bench/github_world.py`) receives `--first` deliveries of real `/help`
comments, then more up to `--second`, 16 in flight; after each step every job has run
(queues drained) and the RSS of the server and of its workers is printed. Cases: jobs
succeeding (👀, role, answer on the stand-in) and jobs failing (GitHub refuses every
installation token with 403). The bar: RSS after `--second` within 10 % of after `--first`.

    python bench/memory.py --first 10000 --second 100000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.github_world import GitHubWorld  # noqa: E402
from bench.webhooks import SECRET, Connections, drained, prebuilt, process_rss, redis_url  # noqa: E402
from tests.servers import AppProcess  # noqa: E402


async def closed_loop(port: int, requests: list[bytes], in_flight: int = 16) -> int:
    """Send every request with `in_flight` at a time; the number not answered 200."""
    errors = 0
    queue = iter(requests)

    async def sender() -> None:
        nonlocal errors
        pool = Connections(port)
        for raw in queue:
            if await pool.send(raw) != 200:
                errors += 1
        pool.close()

    await asyncio.gather(*(sender() for _ in range(in_flight)))
    return errors


def run_case(name: str, first: int, second: int, bound: float) -> None:
    import redis

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        world = stack.enter_context(GitHubWorld(second + 100, SECRET))
        if name == "failing":
            world.refuse()
        url, embedded = redis_url(tmp)
        client = redis.Redis.from_url(url)
        client.flushdb()
        env = {
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "REDIS_URL": url,
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "LOG_LEVEL": "WARNING",
            **world.env,
        }
        began = time.monotonic()
        with AppProcess(tmp, env, ("serve",)) as app:
            assert app.process is not None
            sent = 0
            figures = []
            for target in (first, second):
                # Built in slices: a hundred thousand signed bodies at once would be the
                # bench's memory, not the server's.
                while sent < target:
                    size = min(5000, target - sent)
                    batch = prebuilt(size, 1, 100 + sent, world.comments)
                    errors = asyncio.run(closed_loop(app.port, batch))
                    if errors:
                        print(f"  {errors} deliveries not answered 200")
                    sent += size
                    del batch
                    gc.collect()
                left = bound - (time.monotonic() - began)
                drained(client, max(left, 1))
                server, children = process_rss(app.process.pid)
                figures.append((server, children))
                print(
                    f"{name}: after {target} deliveries ({time.monotonic() - began:.0f} s): "
                    f"server {server:.1f} MB, worker children {children:.1f} MB",
                    flush=True,
                )
            (s1, c1), (s2, c2) = figures
            print(
                f"{name}: growth from {first} to {second}: server {100 * (s2 / s1 - 1):+.1f} %, "
                f"workers {100 * (c2 / c1 - 1):+.1f} % (bar: within 10 %)",
                flush=True,
            )
        client.flushdb()
        if embedded is not None:
            embedded.stop()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--first", type=int, default=10_000)
    parser.add_argument("--second", type=int, default=100_000)
    parser.add_argument("--case", choices=("succeeding", "failing", "both"), default="both")
    parser.add_argument(
        "--minutes", type=float, default=60, help="bound on each case (its queues drained)"
    )
    args = parser.parse_args()
    cases = ("succeeding", "failing") if args.case == "both" else (args.case,)
    for case in cases:
        run_case(case, args.first, args.second, args.minutes * 60)


if __name__ == "__main__":
    main()
