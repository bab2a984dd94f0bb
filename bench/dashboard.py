"""GitHub calls and time of one Book Dashboard refresh, for a book of 10 and of 400 chapters.

Runs the whole app against the stand-in of GitHub: the chapters are pushed to the default
branch (that push schedules the refresh), and the installation's REST calls from the push
until the dashboard issue shows the last chapter are counted from the stand-in's log (the
archive download the tarball redirects to is shown apart). Then a second push (one more
chapter) measures a refresh that edits the existing issue. Also: the body's size and the
time to render it and read its ticks back.

    python bench/dashboard.py [--sizes 10 400]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.jobs import redis_url  # noqa: E402
from bot.book import dashboard  # noqa: E402
from tests.world import REPO, World  # noqa: E402


def dashboard_issue(world: World) -> dict | None:
    found = [i for i in world.github.issues(REPO) if dashboard.MARKER in (i.get("body") or "")]
    return found[0] if found else None


def calls_since(world: World, start: int) -> Counter[str]:
    return Counter(
        f"{r.method} {r.route or r.path}"
        for r in world.github.requests[start:]
        if r.auth_kind == "installation" or "_codeload" in r.path
    )


def measure(size: int, tmp: Path, url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()
    world = World(tmp / f"w{size}", url, f"sqlite:///{tmp / f'db{size}.sqlite'}")
    try:
        world.start_app(LIQUIDBOOK_DASHBOARD_DELAY_SECONDS="0.5")
        world.install()
        start = len(world.github.requests)
        began = time.perf_counter()
        world.add_chapters([(f"Topic {n}", f"About {n}.") for n in range(2, size + 1)])
        world.wait_for(
            lambda: (
                ((i := dashboard_issue(world)) and f"Topic {size}" in i["body"])
                or (i and "more chapters are not shown" in i["body"])
            ),
            300,
            "the dashboard",
        )
        first = time.perf_counter() - began
        world.github.settle()
        opened = calls_since(world, start)
        start = len(world.github.requests)
        began = time.perf_counter()
        world.github.push(
            REPO,
            "main",
            {
                "chapters/01-getting-started.md": "---\ntitle: Getting started\n---\n\n% liquidbook: stub\n"
            },
            user="alice",
        )
        world.wait_for(
            lambda: calls_since(world, start).get(
                "PATCH /repos/{owner}/{repo}/issues/{issue_number}"
            ),
            300,
            "the edit",
        )
        second = time.perf_counter() - began
        world.github.settle()
        edited = calls_since(world, start)
        body = dashboard_issue(world)["body"]  # type: ignore[index]
        print(f"\n{size} chapters: body {len(body):,} characters")
        for what, calls, seconds in (("opening", opened, first), ("editing", edited, second)):
            rest = sum(n for c, n in calls.items() if "_codeload" not in c)
            print(
                f"  {what}: {rest} REST calls (+ archive download), {seconds:.1f} s incl. the 0.5 s window"
            )
            for call, n in sorted(calls.items()):
                print(f"    {n} × {call}")
    finally:
        world.close()


def render_figures(size: int) -> None:
    chapters = [
        dashboard.ChapterState(n, f"Chapter {n}", f"chapters/{n:03d}.md", stub=n % 2 == 0)
        for n in range(1, size + 1)
    ]
    state = dashboard.DashboardState("o/r", "main", "A book", "book", chapters)
    began = time.perf_counter()
    for _ in range(20):
        body = dashboard.render(state)
    render = (time.perf_counter() - began) / 20
    began = time.perf_counter()
    for _ in range(20):
        dashboard.ticked_boxes(body)
    parse = (time.perf_counter() - began) / 20
    print(
        f"render {size} chapters: {render * 1000:.2f} ms, {len(body):,} chars; ticks read back: {parse * 1000:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 400])
    args = parser.parse_args()
    for size in args.sizes:
        render_figures(size)
    with tempfile.TemporaryDirectory() as tmp:
        url, server = redis_url(Path(tmp))
        try:
            for size in args.sizes:
                measure(size, Path(tmp), url)
        finally:
            if server is not None:
                server.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
