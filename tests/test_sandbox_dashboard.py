"""`liquidbook sandbox --tick TEXT`: the author ticks a box of the Book Dashboard.

One sandbox run, as a person runs it (a child process, the offline model): the outline is
merged, the dashboard lists its stubs, a tick of "write chapter 2" opens and merges that
chapter's PR, the printed summary ends with the dashboard, and the JSON report lists it.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.book import dashboard
from bot.sandbox.ticks import tick_unticked
from tests.test_sandbox import needs_cli, processes_mentioning, run_sandbox


@needs_cli
def test_sandbox_ticks_a_dashboard_box(tmp_path: Path) -> None:
    workdir = tmp_path / "sandbox"
    report_path = tmp_path / "report.json"
    result = run_sandbox(
        workdir,
        "--comment",
        "/outline A short book on tide pools, 3 chapters",
        "--tick",
        "write chapter 2",
        "--tick",
        "no such box",
        "--report",
        str(report_path),
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # the second tick finds no box
    assert "author ticks “write chapter 2” on the Book Dashboard" in output
    assert "no unticked box of the Book Dashboard" in output and "“rewrite chapter 2”" in output
    report = json.loads(report_path.read_text("utf-8"))
    board = report["dashboard"]
    assert board["title"] == dashboard.TITLE and dashboard.MARKER in board["body"]
    assert "## Chapters (3)" in board["body"]
    kinds = [(c["kind"], c["text"]) for c in report["comments"]]
    assert kinds[1:] == [("tick", "write chapter 2"), ("tick", "no such box")]
    tick, missing = report["comments"][1:]
    assert tick["ok"] and tick["posted_on"] == {"issue": board["number"], "box": "write:2"}
    [answer] = tick["answers"]
    assert "/generate chapter 2" in answer and "@author" in answer
    assert missing["ok"] is False
    [chapter_pr] = [p for p in report["pull_requests"] if p["title"].startswith("Write chapter 2")]
    assert chapter_pr["state"] == "merged" and chapter_pr["branch"].startswith(
        "liquidbook/chapter-"
    )
    assert f"#{chapter_pr['number']}" in board["body"]  # its open PR, or written (merged #n)
    # The printed summary ends with the dashboard's body.
    last = output[output.rindex("Book Dashboard #") :]
    assert "## Chapters (3)" in last and "the JSON report" not in last
    assert processes_mentioning(str(workdir)) == []


def test_a_tick_takes_the_first_unticked_box_with_the_text() -> None:
    body = "\n".join(
        [
            dashboard.MARKER,
            dashboard.box("rewrite", 1, "rewrite chapter 1", ticked=True),
            dashboard.box("rewrite", 2, "rewrite chapter 2"),
            dashboard.box("write", 3, "write chapter 3"),
        ]
    )
    ticked = tick_unticked(body, "chapter")
    assert ticked is not None and ticked[1] == "rewrite:2"
    assert dashboard.ticked_boxes(ticked[0]) == {"rewrite:1", "rewrite:2"}
    exact = tick_unticked(body, "write chapter 3")
    assert exact is not None and exact[1] == "write:3"
    assert tick_unticked(body, "rewrite chapter 1") is None  # already ticked
    assert tick_unticked(body, "nothing like it") is None
