"""GitHub calls and wall time per job, with a stand-in model that answers at once.

Runs the whole app (server + in-process worker) against the stand-in of GitHub and counts REST
from the stand-in's request log, the calls each job makes as the installation after its
status comment exists (the job's own budget: reading, writing, the PR, status edits), and
those of the acknowledgement before it. Scenarios: `/generate chapter 1` (one file) and
`/outline …, 20 chapters` (22 files in one commit).

    python bench/jobs.py --repeat 5
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.world import REPO, World  # noqa: E402

SHOW_CALLS = False


def redis_url(tmp: Path) -> tuple[str, object | None]:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return "redis://127.0.0.1:6379/15", None
    except OSError:
        from bot.embedded_redis import EmbeddedRedis

        server = EmbeddedRedis(tmp / "redis", persist=False).start()
        return server.url, server


def run(world: World, body: str) -> tuple[int, int, float, int]:
    """Post `body`; return (ack calls, job calls, seconds to the final status, files changed)."""
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "bench")
    start_index = len(gh.requests)
    started = time.perf_counter()
    gh.comment(REPO, issue, "alice", body)
    [status] = world.wait_final(issue, timeout=300)
    seconds = time.perf_counter() - started
    # The tarball's redirect target is GitHub's download host, not the REST API: not a call.
    calls = [
        r
        for r in gh.requests[start_index:]
        if r.auth_kind == "installation" and not r.path.startswith("/_codeload/")
    ]
    created = next(
        i
        for i, r in enumerate(calls)
        if r.method == "POST" and r.path.endswith(f"/issues/{issue}/comments")
    )
    commit = next((r for r in calls if r.method == "POST" and r.path.endswith("/git/trees")), None)
    files = len(commit.json_body["tree"]) if commit else 0
    assert "✅" in status["body"] or "⚠️" in status["body"], status["body"]
    if SHOW_CALLS:
        for r in calls[created + 1 :]:
            print(f"    {r.method} {r.route or r.path} -> {r.status}")
    return created + 1, len(calls) - created - 1, seconds, files


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--show-calls", action="store_true", help="list each job's GitHub calls")
    args = parser.parse_args()
    global SHOW_CALLS
    SHOW_CALLS = args.show_calls
    import redis

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url, embedded = redis_url(tmp)
        redis.Redis.from_url(url).flushdb()
        world = World(tmp, url, f"sqlite:///{tmp / 'bench.db'}")
        try:
            world.start_app(LOG_LEVEL="WARNING")
            world.install()
            # Let the setup job (run at install) finish so its calls are not counted.
            world.wait_for(
                lambda: any(
                    r.path.endswith("/git/trees/" + r.path.rsplit("/", 1)[-1]) and r.method == "GET"
                    for r in world.github.requests
                ),
                what="the setup job",
            )
            time.sleep(1)
            for label, body in (
                ("generate chapter 1 (1 file)", "/generate chapter 1"),
                (
                    "outline, 20 chapters (22 files)",
                    "/outline A field guide to tide pools, 20 chapters",
                ),
            ):
                results = [run(world, body) for _ in range(args.repeat)]
                ack = max(r[0] for r in results)
                job = [r[1] for r in results]
                secs = [r[2] for r in results]
                print(
                    f"{label}: files in the commit {results[0][3]}; GitHub calls: acknowledgement {ack}, "
                    f"job max {max(job)} (min {min(job)}) plus 1 tarball download; wall time to final status "
                    f"median {statistics.median(secs):.2f} s, max {max(secs):.2f} s"
                )
        finally:
            world.close()
            redis.Redis.from_url(url).flushdb()
            if embedded is not None:
                embedded.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
