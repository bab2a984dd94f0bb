"""`/revise` on a pull request from a fork: the revision offered as suggested changes.

The app cannot push to a fork's branch, so the revision (drafted exactly as for a PR of this
repository: the file at the PR's head, the model, cleaning, build check) is posted as one
review whose line comments hold ```` ```suggestion ```` blocks (`bot.book.fork_suggestions`),
which the PR's author applies with a click. GitHub refuses the whole review (422) when one
comment is on a line outside the PR's diff, so only hunks wholly inside it are suggested;
the others are listed in the status as not suggestible. The review carries a hidden marker
of the command comment, so a retried job finds its review instead of posting a second one.
"""

from __future__ import annotations

from typing import Any

from githubkit import GitHub

from bot.book.chapters import Chapter
from bot.book.check import BuildReport
from bot.book.fork_suggestions import Hunk, hunks, inside, right_lines
from bot.jobs.proposal import build_problems, usage_line
from bot.providers import TextResult
from bot.status import StatusComment


def _span(hunk: Hunk) -> str:
    return f"line {hunk.start}" if hunk.start == hunk.end else f"lines {hunk.start}–{hunk.end}"


def review_comments(
    files: list[dict[str, Any]], texts: dict[str, tuple[str, str]]
) -> tuple[list[dict[str, Any]], dict[str, list[Hunk]]]:
    """The review's line comments (one per hunk inside the diff), and per file the hunks
    outside it."""
    patches = {str(f.get("filename")): f.get("patch") for f in files}
    comments: list[dict[str, Any]] = []
    outside: dict[str, list[Hunk]] = {}
    for path, (old, new) in texts.items():
        shown = right_lines(patches.get(path))
        for hunk in hunks(old, new):
            if not inside(hunk, shown):
                outside.setdefault(path, []).append(hunk)
                continue
            comment: dict[str, Any] = {
                "path": path,
                "line": hunk.end,
                "side": "RIGHT",
                "body": f"Suggested by `/revise`:\n\n{hunk.block()}",
            }
            if hunk.start != hunk.end:
                comment |= {"start_line": hunk.start, "start_side": "RIGHT"}
            comments.append(comment)
    return comments, outside


async def _existing_review(gh: GitHub, full_name: str, number: int, marker: str) -> str | None:
    """The link of a review an earlier try of this job already posted."""
    owner, _, repo = full_name.partition("/")
    response = await gh.arequest(
        "GET", f"/repos/{owner}/{repo}/pulls/{number}/reviews", params={"per_page": 100}
    )
    for review in response.json():
        if isinstance(review, dict) and marker in str(review.get("body") or ""):
            return str(review.get("html_url") or "")
    return None


async def offer_suggestions(
    gh: GitHub,
    status: StatusComment,
    request: dict[str, Any],
    pull: dict[str, Any],
    files: list[dict[str, Any]],
    texts: dict[str, tuple[str, str]],
    outcome: tuple[list[TextResult], list[str], list[tuple[Chapter, BuildReport]]],
    seconds: float,
) -> str:
    """Post the changed files' hunks as one review of suggestions and finish the status."""
    results, notes, reports = outcome
    full_name, number = request["repository"], request["issue_number"]
    fork = (pull["head"].get("repo") or {}).get("full_name")
    changed = {path: pair for path, pair in texts.items() if pair[0] != pair[1]}
    comments, outside = review_comments(files, changed)
    marker = f"<!-- liquidbook-revise:{request['comment_id']} -->"
    link = None
    if comments:
        await status.progress("📬 Posting the revision as suggested changes…")
        link = await _existing_review(gh, full_name, number, marker)
        if link is None:
            owner, _, repo = full_name.partition("/")
            response = await gh.arequest(
                "POST",
                f"/repos/{owner}/{repo}/pulls/{number}/reviews",
                json={
                    "commit_id": pull["head"]["sha"],
                    "event": "COMMENT",
                    "body": f"The revision asked for in the conversation, as suggested "
                    f"changes to apply.\n{marker}",
                    "comments": comments,
                },
            )
            link = str(response.json().get("html_url") or "")
    broken = [(c, r) for c, r in reports if r.errors]
    mark = "⚠️" if outside or broken or any(n.startswith("❌") for n in notes) else "✅"
    lines = [
        f"{mark} This pull request comes from `{fork}`, a fork: Liquid Book cannot push to "
        "it, so nothing was committed."
    ]
    if link:
        lines.append(f"The revision is offered as {len(comments)} suggested change(s): {link}")
    for path, skipped in outside.items():
        spans = ", ".join(_span(h) for h in skipped)
        lines.append(
            f"- `{path}`: {len(skipped)} change(s) could not be suggested (outside the PR's "
            f"changes): {spans}. Make them by hand, or push the branch to this repository."
        )
    for chapter, report in broken:
        lines.append(
            f"- ⚠️ The build of chapter {chapter.number} with the revision has errors:\n"
            f"{build_problems(report)}"
        )
    lines += [f"- {note}" for note in notes]
    lines.append(f"\nModel: {usage_line(results, seconds)}")
    await status.finish("\n".join(lines))
    return "suggested on a fork" if link else "outside the diff on a fork"
