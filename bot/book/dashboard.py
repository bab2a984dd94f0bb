"""The Book Dashboard's body, and which of its boxes a person ticked (pure functions).

The dashboard is one issue per book repository, found again by `MARKER`. Its body is
rendered from a `DashboardState` (gathered by `bot.jobs.dashboard` from one read of the book,
the app's records in Redis and the usage table); each box carries a hidden id
(`<!-- lb:ACTION:ARG -->`) so a tick is read back whatever the line's text says.

`ticked_boxes` reads a body in one pass over its lines with a bounded, anchored pattern per
line (linear in the body's length; a hostile body costs no more than its size), and
`newly_ticked` compares the body before and after an edit (`changes.body.from`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MARKER = "<!-- liquidbook:dashboard -->"
TITLE = "📖 Book dashboard"
# The label the dashboard is opened with, so it is found again on GitHub in one call when
# Redis has lost its number (`bot.jobs.dashboard.find_dashboard`).
LABEL = "book dashboard"
MAX_BODY_CHARS = 60_000

# `- [ ] label <!-- lb:write:2 -->`: GitHub toggles `[ ]` ↔ `[x]` in the raw Markdown.
_BOX = re.compile(
    r"^\s{0,8}[-*] \[([ xX])\] ([^\n]{0,300}?)\s*<!-- lb:([a-z]{1,12}):([0-9]{1,5}|all) -->\s*$"
)
ACTIONS = ("write", "rewrite", "quiz", "stubs", "refresh")


@dataclass(frozen=True)
class ChapterState:
    number: int
    title: str
    path: str
    stub: bool
    pr_number: int | None = None
    pr_check: str | None = None  # the last check's conclusion on the PR's head, when known
    merged_pr: int | None = None  # a PR of the app's that was merged into this chapter
    quizzes: int = 0
    figures: int = 0
    last_check: str | None = None


@dataclass(frozen=True)
class DashboardState:
    full_name: str
    default_branch: str
    title: str
    book_type: str
    chapters: list[ChapterState]
    disabled: list[str] = field(default_factory=list)  # chapter files out of the toc
    live_url: str | None = None
    deploy: str | None = None  # "success at 2026-…" / "failure …"; None: no deploy known
    spent_usd: str = "$0.00"
    budget_usd: str = "$0.00"
    server_url: str = "https://github.com"


def box(action: str, arg: str | int, label: str, ticked: bool = False) -> str:
    mark = "x" if ticked else " "
    return f"- [{mark}] {label} <!-- lb:{action}:{arg} -->"


def _chapter_state(chapter: ChapterState) -> str:
    if chapter.pr_number is not None:
        check = f", build {chapter.pr_check}" if chapter.pr_check else ""
        return f"🔀 open PR #{chapter.pr_number}{check}"
    if chapter.stub:
        return "📝 stub from the outline"
    if chapter.merged_pr is not None:
        return f"✅ written (merged #{chapter.merged_pr})"
    return "✅ written"


def _chapter_boxes(chapter: ChapterState) -> list[tuple[str, str]]:
    """(action, label) of the boxes this chapter's line carries."""
    n = chapter.number
    if chapter.stub and chapter.pr_number is None:
        return [("write", f"write chapter {n}")]
    return [("rewrite", f"rewrite chapter {n}"), ("quiz", f"quiz for chapter {n}")]


def _plain(text: str, limit: int = 120) -> str:
    """A title as one safe line: no Markdown structure, no HTML comment that could forge a box."""
    text = " ".join(text.split())[:limit]
    return re.sub(r"[<>\[\]`*_|#\\]", " ", text).strip() or "untitled"


def render(state: DashboardState, ticked: frozenset[str] = frozenset()) -> str:
    """The dashboard's body; `ticked` holds box ids (`write:2`) shown ticked (a job running,
    or a tick the app has not acted on yet). Capped at `MAX_BODY_CHARS` with a note."""
    repo_url = f"{state.server_url}/{state.full_name}"
    settings_url = f"{repo_url}/blob/{state.default_branch}/.github/liquidbook.yml"
    head = [
        MARKER,
        f"# {_plain(state.title)}",
        "",
        f"Type: **{_plain(state.book_type, 40)}**"
        + (f" · Live: {state.live_url}" if state.live_url else " · Not published yet"),
        f"Last deploy: {state.deploy}" if state.deploy else "Last deploy: none recorded yet",
        f"This month's AI spend: **{state.spent_usd}** of the **{state.budget_usd}** budget",
        "",
        "Tick a box to run its command as yourself (the same permission and budget rules as a "
        "typed command; the answer comes as a comment here). Comment `/help` for every command; "
        f"settings: [`.github/liquidbook.yml`]({settings_url}).",
        "",
        box("stubs", "all", "write every stub", "stubs:all" in ticked),
        box("refresh", "all", "refresh this dashboard", "refresh:all" in ticked),
        "",
        f"## Chapters ({len(state.chapters)})",
        "",
    ]
    tail = []
    if state.disabled:
        tail += ["", "## Out of the toc (disabled)", ""]
        tail += [f"- `{_plain(path, 200)}`" for path in state.disabled[:200]]
        if len(state.disabled) > 200:
            tail.append(f"- … and {len(state.disabled) - 200} more")
    tail += ["", "<sub>Kept current by Liquid Book; edits other than ticks are overwritten.</sub>"]
    size = sum(len(line) + 1 for line in head + tail) + 400
    lines: list[str] = []
    shown = 0
    for chapter in state.chapters:
        check = f" · last check: {chapter.last_check}" if chapter.last_check else ""
        entry = [
            f"- **{chapter.number}. {_plain(chapter.title)}** (`{_plain(chapter.path, 200)}`): "
            f"{_chapter_state(chapter)} · {chapter.quizzes} quiz · {chapter.figures} fig.{check}"
        ]
        for action, label in _chapter_boxes(chapter):
            entry.append(
                "  " + box(action, chapter.number, label, f"{action}:{chapter.number}" in ticked)
            )
        cost = sum(len(line) + 1 for line in entry)
        if size + cost > MAX_BODY_CHARS:
            break
        size += cost
        lines += entry
        shown += 1
    if shown < len(state.chapters):
        toc_url = f"{repo_url}/blob/{state.default_branch}/myst.yml"
        lines += [
            "",
            f"… {len(state.chapters) - shown} more chapters are not shown: the book is larger "
            f"than a dashboard holds. See the toc in [`myst.yml`]({toc_url}).",
        ]
    return "\n".join(head + lines + tail) + "\n"


def ticked_boxes(body: str | None) -> set[str]:
    """The ids of the ticked boxes in a dashboard body (`write:2`, `stubs:all`)."""
    found: set[str] = set()
    if not body:
        return found
    for line in body[: MAX_BODY_CHARS * 2].splitlines():
        if len(line) > 600 or "<!-- lb:" not in line:
            continue
        match = _BOX.match(line)
        if match and match.group(1) in "xX" and match.group(3) in ACTIONS:
            found.add(f"{match.group(3)}:{match.group(4)}")
    return found


def all_boxes(body: str | None) -> set[str]:
    """The ids of every box in a body, ticked or not."""
    found: set[str] = set()
    for line in (body or "")[: MAX_BODY_CHARS * 2].splitlines():
        if len(line) <= 600 and "<!-- lb:" in line:
            match = _BOX.match(line)
            if match and match.group(3) in ACTIONS:
                found.add(f"{match.group(3)}:{match.group(4)}")
    return found


def newly_ticked(before: str | None, after: str | None) -> list[str]:
    """Boxes unticked in `before` (or absent) and ticked in `after`, in a stable order."""
    return sorted(ticked_boxes(after) - ticked_boxes(before))


def box_label_line(body: str, text: str) -> int | None:
    """The index of the box line whose visible label is `text` (else the first containing
    it), for the sandbox's `--tick`."""
    lines = body.splitlines()
    candidates = [(i, _BOX.match(line)) for i, line in enumerate(lines)]
    boxes = [(i, m) for i, m in candidates if m]
    for i, m in boxes:
        if m.group(2).strip() == text.strip():
            return i
    for i, m in boxes:
        if text in m.group(2):
            return i
    return None


def tick(body: str, text: str) -> str | None:
    """`body` with the box labelled `text` ticked, or None when there is no such box."""
    index = box_label_line(body, text)
    if index is None:
        return None
    lines = body.split("\n")
    lines[index] = lines[index].replace("[ ]", "[x]", 1)
    return "\n".join(lines)


def command_for(box_id: str, stubs: list[int]) -> str | None:
    """The command a ticked box runs (as typed), or None for boxes that run no command."""
    action, _, arg = box_id.partition(":")
    if action in ("write", "rewrite"):
        return f"/generate chapter {arg}"
    if action == "quiz":
        return f"/generate quiz chapter {arg}"
    if action == "stubs":
        if not stubs:
            return None
        return "\n".join(f"/generate chapter {r}" for r in _ranges(sorted(stubs)))
    return None


def _ranges(numbers: list[int]) -> list[str]:
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return out
