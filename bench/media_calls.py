"""GitHub calls and wall time of a quiz job and a figure job (`bot.jobs.quiz`, `bot.jobs.figure`).

Starts the stand-in of GitHub and the real app (`tests.world.World`: `liquidbook serve` with
its worker, the Redis of `--redis`, SQLite) with the offline stand-in model
(`standins.offline_model`: valid JupyterQuiz answers, placeholder images drawn locally,
served as the OpenAI chat and Images APIs), installs it on the skeleton book (one written
chapter), then runs, `--rounds` times each:

- `/generate quiz chapter 1` (the first round opens the quiz PR, later rounds update it);
- `/generate figure chapter 1 "<a new prompt each round>"` (each a new figure: its own PR).

For each job it prints the wall time from the comment to the final status and the GitHub
calls the job made after posting its status comment, by kind, counted as
`tests.world.World.job_calls` does (the installation's REST calls, without the tarball's
download host and without progress edits, ending with the final status edit).

    uv run --extra test python bench/media_calls.py --rounds 3

Aim (issue 11): at most 8 calls per job, measured before every PR got its "Liquid Book"
check run (issue 12); with that run, 9.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from standins.offline_model import IMAGE_MODEL_NAME, MODEL_NAME, start_offline_model
from tests.world import REPO, World


def run(world: World, issue: int, comment: str, count: int) -> tuple[float, list[str]]:
    gh = world.github
    gh.settle()
    before = len(gh.requests)
    started = time.monotonic()
    gh.comment(REPO, issue, "alice", comment)
    [*_, final] = world.wait_final(issue, count=count, timeout=300)
    seconds = time.monotonic() - started
    body = final["body"]
    if "✅" not in body:
        raise SystemExit(f"{comment!r} did not succeed:\n{body}")
    return seconds, world.job_calls(before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    model = start_offline_model()
    with tempfile.TemporaryDirectory(prefix="bench-media-calls-") as tmp:
        root = Path(tmp)
        world = World(root, args.redis, f"sqlite:///{root / 'liquidbook.db'}")
        try:
            world.start_app(
                LIQUIDBOOK_MODEL=MODEL_NAME,
                LIQUIDBOOK_IMAGE_MODEL=IMAGE_MODEL_NAME,
                OPENAI_BASE_URL=model.base_url,
                OPENAI_API_KEY=model.api_key,
            )
            world.install()
            issue = world.github.open_issue(REPO, "alice", "Quizzes and figures")
            figures = iter(
                ["a labelled diagram of the tides", "a map of a shore", "a rock pool at dawn"]
                + [f"a diagram number {n}" for n in range(4, 100)]
            )
            results: dict[str, list[tuple[float, list[str]]]] = {"quiz": [], "figure": []}
            done = 0
            for round_ in range(args.rounds):
                for kind, comment in (
                    ("quiz", "/generate quiz chapter 1"),
                    ("figure", f'/generate figure chapter 1 "{next(figures)}"'),
                ):
                    done += 1
                    seconds, calls = run(world, issue, comment, done)
                    results[kind].append((seconds, calls))
                    kinds = Counter(calls)
                    print(
                        f"round {round_} {kind}: {seconds:.2f} s, {len(calls)} GitHub calls, "
                        f"load {os.getloadavg()[0]:.1f}: {dict(kinds)}"
                    )
            for kind, rows in results.items():
                print(
                    f"{kind}: median {statistics.median(s for s, _ in rows):.2f} s, "
                    f"{statistics.median(len(c) for _, c in rows):g} GitHub calls per job "
                    f"(first {len(rows[0][1])}, max {max(len(c) for _, c in rows)}; "
                    f"{os.cpu_count()} CPUs)"
                )
        finally:
            world.close()
            model.stop()


if __name__ == "__main__":
    main()
