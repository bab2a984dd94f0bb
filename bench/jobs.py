"""GitHub calls and wall time of a whole command, from the comment to the final status.

Runs the whole app (server + in-process worker) against the stand-in of GitHub and counts,
from the stand-in's request log, every REST call the app makes as the installation for one
comment: the acknowledgement's (👀 reaction, the author's permission, the book's settings
file, the status comment) and the job's (reading the book, writing the commit and the PR,
the stage edits of the status comment and its final answer). The tarball's redirect is a
REST call and counted; the download it redirects to (the archive host) is shown apart.

Scenarios: `/generate chapter 1` (one file) and `/outline …, 20 chapters` (23 files in one
commit: 20 chapter stubs, myst.yml, intro.md, the settings), each run first and then again
(a re-run updates the same branch and PR), with a
stand-in model that answers at once and with one that takes `--slow` seconds (so the status
comment's stages show: a stage is written once it has lasted 3 s). The author has the
write role; an admin's acknowledgement skips the settings file (one call fewer), measured
once at the end.

    python bench/jobs.py [--repeat 3] [--slow 5] [--show-calls]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from standins.providers.behaviour import Behaviour  # noqa: E402
from tests.world import REPO, World, scripted_answer  # noqa: E402

STATUS_EDIT = "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"


@dataclass
class Run:
    ack: list[str]
    job: list[str]
    downloads: int
    seconds: float
    files: int

    @property
    def stages(self) -> int:
        """Status edits before the final one."""
        return self.job.count(STATUS_EDIT) - 1


def redis_url(tmp: Path) -> tuple[str, object | None]:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return "redis://127.0.0.1:6379/15", None
    except OSError:
        from bot.embedded_redis import EmbeddedRedis

        server = EmbeddedRedis(tmp / "redis", persist=False).start()
        return server.url, server


def run(world: World, body: str, author: str = "alice") -> Run:
    """Post `body` on a new issue and count the calls until its status comment is final."""
    gh = world.github
    issue = gh.open_issue(REPO, author, "bench")
    start_index = len(gh.requests)
    started = time.perf_counter()
    gh.comment(REPO, issue, author, body)
    [status] = world.wait_final(issue, timeout=300)
    seconds = time.perf_counter() - started
    calls = [r for r in gh.requests[start_index:] if r.auth_kind == "installation"]
    rest = [r for r in calls if not r.path.startswith("/_codeload/")]
    created = next(
        i
        for i, r in enumerate(rest)
        if r.method == "POST" and r.path.endswith(f"/issues/{issue}/comments")
    )
    tree = next((r for r in rest if r.method == "POST" and r.path.endswith("/git/trees")), None)
    assert "✅" in status["body"] or "⚠️" in status["body"], status["body"]
    names = [f"{r.method} {r.route or r.path}" for r in rest]
    return Run(
        ack=names[: created + 1],
        job=names[created + 1 :],
        downloads=len(calls) - len(rest),
        seconds=seconds,
        files=len(tree.json_body["tree"]) if tree else 0,
    )


def line(model: str, label: str, which: str, runs: list[Run]) -> str:
    ack = max(len(r.ack) for r in runs)
    job = max(len(r.job) for r in runs)
    stages = max(r.stages for r in runs)
    secs = statistics.median(r.seconds for r in runs)
    return (
        f"| {model} | {label} | {which} | {ack} | {job} ({stages}) | {ack + job} "
        f"| {max(r.downloads for r in runs)} | {secs:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="re-runs per scenario")
    parser.add_argument("--slow", type=float, default=5.0, help="the slow model's seconds")
    parser.add_argument("--show-calls", action="store_true", help="list each run's calls")
    args = parser.parse_args()
    import redis

    scenarios = (
        ("`/generate chapter 1` (1 file)", "/generate chapter 1"),
        (
            "`/outline …, 20 chapters` (23 files)",
            "/outline A field guide to tide pools, 20 chapters",
        ),
    )
    print(
        "| model answers | command | run | acknowledgement | job (of which stage edits) "
        "| whole command | + downloads | wall s (median) |\n"
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url, embedded = redis_url(tmp)
        try:
            for model, delay in (("at once", 0.0), (f"in {args.slow:g} s", args.slow)):
                redis.Redis.from_url(url).flushdb()
                world = World(tmp / f"world-{delay}", url, f"sqlite:///{tmp / f'{delay}.db'}")
                try:
                    world.start_app(LOG_LEVEL="WARNING")
                    world.install()
                    time.sleep(1)  # the setup check at install is not counted
                    world.model.default = Behaviour(text=scripted_answer, delay=delay)
                    for label, body in scenarios:
                        first = run(world, body)
                        again = [run(world, body) for _ in range(args.repeat)]
                        print(line(model, label, "first", [first]))
                        print(line(model, label, "re-run", again))
                        if args.show_calls:
                            for which, shown in (("first", first), ("re-run", again[0])):
                                print(f"    {which} ({shown.files} files in the commit's tree):")
                                for call in shown.ack + shown.job:
                                    print(f"      {call}")
                    if delay == 0.0:
                        world.github.set_permission(REPO, "alice", "admin")
                        admin = run(world, "/generate chapter 1")
                        world.github.set_permission(REPO, "alice", "write")
                        print(
                            line(model, "`/generate chapter 1`, author is admin", "re-run", [admin])
                        )
                finally:
                    world.close()
        finally:
            redis.Redis.from_url(url).flushdb()
            if embedded is not None:
                embedded.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
