"""`liquidbook sandbox --tick TEXT`: the author ticks a box of the Book Dashboard.

The dashboard is the issue the app opens once the book is on the default branch (the setup
PR's skeleton is one). A tick waits (bounded) for that issue, ticks the first unticked box
whose label contains TEXT by editing the issue's body as the author (GitHub delivers
`issues` edited with `changes.body.from`), then waits for the app's answers on the dashboard
like a comment's, and for the box to be unticked again once its jobs ended.
"""

from __future__ import annotations

import time
from typing import Any

from bot.book import dashboard
from bot.sandbox.answers import POLL_SECONDS, CommentResult, final_answers, wait_for
from bot.sandbox.console import say
from bot.sandbox.world import AUTHOR, REPOSITORY, pull_heads

# How long to wait for the dashboard issue when it is not there yet: the app opens it a
# short delay (LIQUIDBOOK_DASHBOARD_DELAY_SECONDS, 1 s in the sandbox) after a push.
DASHBOARD_WAIT_SECONDS = 30.0
# Once it is there, how long a box may take to appear on it (a refresh after a merge).
BOX_WAIT_SECONDS = 10.0


def find_dashboard(gh: Any) -> dict[str, Any] | None:
    """The app's dashboard issue (opened by a bot, holding the marker), if there is one."""
    for issue in gh.issues(REPOSITORY):
        if (
            dashboard.MARKER in (issue.get("body") or "")
            and (issue.get("user") or {}).get("type") == "Bot"
        ):
            return issue
    return None


def await_dashboard(gh: Any, app: Any, timeout: float) -> None:
    """After the setup PR's merge: wait (bounded) for the app to open the dashboard, so it is
    always issue #2 and the numbers of the issues and PRs that follow do not race with it."""
    issue = find_dashboard(gh) or _poll(lambda: find_dashboard(gh), timeout, app)
    if issue is None:
        say(f"(The app opened no Book Dashboard issue within {timeout:g} s.)")
    else:
        say(f"The app opened the Book Dashboard: issue #{issue['number']}.")


def tick_unticked(body: str, text: str) -> tuple[str, str] | None:
    """(`body` with a box ticked, its box id): the unticked box labelled `text`, else the
    first unticked box whose line contains `text`; None when there is none."""
    lines = body.split("\n")
    found = [
        (index, line)
        for index, line in enumerate(lines)
        if "- [ ] " in line and text in line and dashboard.all_boxes(line)
    ]
    exact = [(i, line) for i, line in found if _label(line) == text.strip()]
    if not (exact or found):
        return None
    index, line = (exact or found)[0]
    lines[index] = line.replace("- [ ] ", "- [x] ", 1)
    return "\n".join(lines), next(iter(dashboard.all_boxes(line)))


def _label(line: str) -> str:
    return line.split("- [ ] ", 1)[-1].split("<!--", 1)[0].strip()


def unticked_labels(body: str) -> list[str]:
    """The visible labels of the unticked boxes, to say what could be ticked."""
    labels = []
    for line in body.splitlines():
        if "- [ ] " in line and dashboard.all_boxes(line):
            labels.append(_label(line))
    return labels


def run_tick(sandbox: Any, text: str, hold: bool = False) -> bool:
    """Tick the box, wait for what it runs, show it and merge the PRs (as a comment does)."""
    from bot.commands import parse_commands
    from bot.jobs.acknowledge import expected_answers

    gh = sandbox.gh
    record: dict[str, Any] = {"kind": "tick", "text": text, "posted_on": None, "answers": []}
    sandbox.posted.append(record)
    record["ok"] = False

    def with_box() -> tuple[dict[str, Any], tuple[str, str]] | None:
        issue = find_dashboard(gh)
        ticked = tick_unticked(issue.get("body") or "", text) if issue else None
        return (issue, ticked) if issue is not None and ticked is not None else None

    # The dashboard follows the default branch a moment after each push or merge: wait
    # (bounded) for it to exist, then for the box to be on it, then say what is there instead.
    wait = min(DASHBOARD_WAIT_SECONDS, sandbox.timeout)
    found = with_box()
    if found is None:
        say(f"\nWaiting for a box “{text}” on the Book Dashboard…")
        if find_dashboard(gh) is not None or _poll(lambda: find_dashboard(gh), wait, sandbox.app):
            found = _poll(with_box, min(BOX_WAIT_SECONDS, sandbox.timeout), sandbox.app)
    if found is None:
        issue = find_dashboard(gh)
        if issue is None:
            say(f"❌ --tick {text!r}: the app opened no Book Dashboard issue within {wait:g} s "
                "(it opens one once a readable book is on the default branch).")  # fmt: skip
            return False
        boxes = ", ".join(f"“{label}”" for label in unticked_labels(issue.get("body") or ""))
        say(f"❌ --tick {text!r}: no unticked box of the Book Dashboard #{issue['number']} "
            f"contains it (unticked boxes: {boxes or 'none'}).")  # fmt: skip
        record["posted_on"] = {"issue": issue["number"]}
        return False
    issue, ticked = found
    number = int(issue["number"])
    body = issue.get("body") or ""
    new_body, box = ticked
    record["posted_on"] = {"issue": number, "box": box}
    before = pull_heads(gh)
    last_id = max((int(c["id"]) for c in gh.comments(REPOSITORY, number)), default=0)
    say(f"\n{AUTHOR} ticks “{text}” on the Book Dashboard #{number} ({box}).")
    delivery = gh.edit_issue(REPOSITORY, number, AUTHOR, new_body)
    if delivery.status_code != 200:
        say(f"❌ The app did not accept the webhook: {delivery.status_code or delivery.error}")
        return False
    stubs = sorted(
        int(b.partition(":")[2]) for b in dashboard.all_boxes(body) if b.startswith("write:")
    )
    command = dashboard.command_for(box, stubs)
    result: CommentResult | None = CommentResult()
    if command is None:
        say("  (this box runs no command: the app refreshes the dashboard)")
    else:
        expected = expected_answers(parse_commands(command))
        result = wait_for(
            lambda: final_answers(gh, number, last_id, expected),
            f"the answers to the tick of {box} on #{number}",
            sandbox.timeout,
            sandbox.app,
        )
    ok = sandbox.finish_step(result, before, record, hold)
    if result is not None:
        # The app unticks the box once the box's jobs ended (a refresh of the dashboard).
        wait_for(
            lambda: _unticked(gh, box),
            f"the box {box} unticked on #{number}",
            min(sandbox.timeout, DASHBOARD_WAIT_SECONDS),
            sandbox.app,
        )
    return ok


def _poll(probe: Any, timeout: float, app: Any) -> Any:
    """`probe()` once it returns something, or None after `timeout` (no log: the caller
    says what is missing) or when the app exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (app is not None and app.exited()):
        found = probe()
        if found is not None:
            return found
        time.sleep(POLL_SECONDS)
    return None


def _unticked(gh: Any, box: str) -> bool | None:
    issue = find_dashboard(gh)
    if issue is None or box in dashboard.ticked_boxes(issue.get("body")):
        return None
    return True


def show_dashboard(gh: Any) -> None:
    """The dashboard issue's body, as the last thing the sandbox prints."""
    issue = find_dashboard(gh)
    if issue is None:
        say("\n(The app opened no Book Dashboard issue.)")
        return
    say(f"\nBook Dashboard #{issue['number']}: {issue['title']}")
    text = (issue.get("body") or "").replace(dashboard.MARKER, "").strip()
    say("\n".join(f"  {line}" for line in text.splitlines()))


def dashboard_entry(gh: Any) -> dict[str, Any] | None:
    """The JSON report's "dashboard": number, title and body, or None."""
    issue = find_dashboard(gh)
    if issue is None:
        return None
    return {"number": issue["number"], "title": issue["title"], "body": issue.get("body") or ""}
