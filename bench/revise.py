"""GitHub calls and wall time of one `/revise` on a one-file chapter PR, and of a `/suggest`.

Runs the whole app against the stand-in of GitHub with a model that answers at once: a
`/generate chapter 1` opens the PR (not counted), then each `/revise …` comment on it is
counted from the stand-in's request log, split into the acknowledgement (👀, the author's
role, the settings file, the status comment) and the job (the PR, its files, the branch,
the tarball, tree, commit, ref, status edits and the final answer). The aim is at most 8
job calls for a one-file PR. The archive download the tarball redirects to is shown apart.

    python bench/revise.py [--repeat 3] [--show-calls]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.jobs import redis_url  # noqa: E402
from standins.providers.behaviour import Behaviour  # noqa: E402
from tests.world import REPO, World, scripted_answer  # noqa: E402

STATUS_EDIT = "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"
FINAL = re.compile(r"^(✅|⚠️|❌|ℹ️)", re.MULTILINE)


def changing(request: dict) -> str:
    """An instant model whose every revision differs from the text before it."""
    prompt = "\n".join(str(m.get("content")) for m in request.get("messages", []))
    if "The reviewer's instructions:" not in prompt:
        return scripted_answer(request)
    return f"## Why this matters\n\nRevision {time.monotonic_ns()}: tide pools, shorter.\n"


def revise_once(world: World, pr: int, body: str) -> tuple[list[str], list[str], int, float]:
    gh = world.github
    before = len([c for c in world.status_comments(pr) if FINAL.search(c["body"])])
    start_index = len(gh.requests)
    started = time.perf_counter()
    gh.comment(REPO, pr, "alice", body)
    world.wait_for(
        lambda: len([c for c in world.status_comments(pr) if FINAL.search(c["body"])]) > before,
        timeout=300,
        what="the revision's final status",
    )
    seconds = time.perf_counter() - started
    gh.settle()
    calls = [r for r in gh.requests[start_index:] if r.auth_kind == "installation"]
    rest = [
        f"{r.method} {r.route or r.path}" for r in calls if not r.path.startswith("/_codeload/")
    ]
    created = rest.index("POST /repos/{owner}/{repo}/issues/{issue_number}/comments")
    return rest[: created + 1], rest[created + 1 :], len(calls) - len(rest), seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="revisions measured")
    parser.add_argument("--show-calls", action="store_true", help="list the first run's calls")
    args = parser.parse_args()
    import redis

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url, embedded = redis_url(tmp)
        redis.Redis.from_url(url).flushdb()
        world = World(tmp / "world", url, f"sqlite:///{tmp / 'bench.db'}")
        try:
            world.start_app(LOG_LEVEL="WARNING")
            world.install()
            world.model.default = Behaviour(text=changing)
            issue = world.github.open_issue(REPO, "alice", "bench")
            world.github.comment(REPO, issue, "alice", "/generate chapter 1")
            world.wait_final(issue, timeout=300)
            [pull] = world.github.pulls(REPO)
            runs = [
                revise_once(world, pull["number"], f"/revise Shorter, take {n}")
                for n in range(args.repeat)
            ]
        finally:
            world.close()
            redis.Redis.from_url(url).flushdb()
            if embedded is not None:
                embedded.stop()  # type: ignore[attr-defined]
    print(
        "| command | acknowledgement | job (of which stage edits) | + downloads "
        "| wall s (median) |\n| --- | ---: | ---: | ---: | ---: |"
    )
    ack = max(len(r[0]) for r in runs)
    job = max(len(r[1]) for r in runs)
    stages = max(r[1].count(STATUS_EDIT) - 1 for r in runs)
    seconds = statistics.median(r[3] for r in runs)
    print(
        f"| `/revise` on a one-file PR, instant model | {ack} | {job} ({stages}) "
        f"| {max(r[2] for r in runs)} | {seconds:.2f} |"
    )
    if args.show_calls:
        for call in runs[0][0] + runs[0][1]:
            print(f"    {call}")


if __name__ == "__main__":
    main()
