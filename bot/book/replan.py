"""How a new outline meets the book already there.

An author shapes a book over many sessions: a second `/outline` must not cost them what they
wrote. Each planned chapter continues an existing chapter file when the model named that file
or kept its title (a renamed chapter keeps its file); a written chapter the plan forgot stays
in the toc, after the chapter it followed, unless the author's own description asks for it
to go; a stub the plan no longer has leaves the toc (its file stays). What changed is listed
for the pull request body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

from rapidfuzz import fuzz

from bot.book.chapters import Chapter

if TYPE_CHECKING:
    from bot.book.outline import OutlineChapter

TITLE_MATCH = 90  # rapidfuzz ratio from which a planned title continues an existing one


@dataclass
class Placed:
    """One toc entry of the new plan: the planned chapter (None for a written chapter kept
    although the plan left it out) and the existing chapter it continues (None: a new stub)."""

    planned: OutlineChapter | None
    match: Chapter | None
    revived: bool = False  # the match was off the toc (a disabled chapter brought back)


@dataclass
class OutlineChanges:
    """What a new outline does to the toc, chapter by chapter, for the PR body."""

    added: list[str] = field(default_factory=list)
    revived: list[tuple[str, str]] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)

    def markdown(self) -> str:
        """The changes as Markdown lists; empty when the book had no chapters to change."""
        parts: list[str] = []

        def section(heading: str, lines: list[str]) -> None:
            if lines:
                parts.append(heading + "\n" + "\n".join(f"- {line}" for line in lines))

        section("Chapters added:", [f"**{title}**" for title in self.added])
        section(
            "Chapters brought back into the toc:",
            [f"**{title}** (`{path}`)" for title, path in self.revived],
        )
        section("Chapters moved:", [f"**{title}** (`{path}`)" for title, path in self.moved])
        section(
            "Chapters renamed (their files and text kept):",
            [f"**{old}** → **{new}** (`{path}`)" for old, new, path in self.renamed],
        )
        section(
            "Written chapters kept although the new plan left them out (the description did "
            "not ask to remove them):",
            [f"**{title}** (`{path}`)" for title, path in self.kept],
        )
        section(
            "Chapters left out of the toc (their files are kept; add them back to `myst.yml` "
            "to publish them again):",
            [f"**{title}** (`{path}`)" for title, path in self.left_out],
        )
        return "\n\n".join(parts)


def is_written(chapter: Chapter) -> bool:
    """A chapter someone wrote (a person or an earlier `/generate`), not a planned stub.
    Notebooks are always written: their text is their cells."""
    return not chapter.missing and (not chapter.is_markdown or not chapter.is_stub)


def asked_to_drop(chapter: Chapter, description: str) -> bool:
    """Whether the author's description names this chapter (its title, its file or "chapter
    N"), which is the only way a written chapter may leave the toc."""
    text = " ".join(description.casefold().split())
    title = " ".join(chapter.title.casefold().split())
    if title and (title in text or fuzz.partial_ratio(title, text) >= TITLE_MATCH):
        return True
    if chapter.path.casefold() in text:
        return True
    return re.search(rf"\bchapter\s+{chapter.number}\b", text) is not None


def place(
    planned: list[OutlineChapter],
    existing: list[Chapter],
    disabled: list[Chapter],
    may_drop: Callable[[Chapter], bool],
) -> tuple[list[Placed], OutlineChanges]:
    """The new toc's entries in order, and what changed.

    `existing` are the toc's chapters (in toc order), `disabled` the chapter files off the
    toc; `may_drop` says whether a written chapter the plan left out may leave the toc."""
    remaining = list(existing)
    placed: list[Placed | None] = [None] * len(planned)
    # By file first, so a fuzzy title match of an earlier chapter cannot take a file the
    # model gave to a later one.
    for index, plan in enumerate(planned):
        found = _take_file(plan.file, remaining)
        if found is not None:
            placed[index] = Placed(plan, found)
    for index, plan in enumerate(planned):
        if placed[index] is None:
            found = _take_title(plan.title, remaining)
            if found is not None:
                placed[index] = Placed(plan, found)
    for index, plan in enumerate(planned):
        if placed[index] is None:
            found = _take_file(plan.file, disabled) or _take_same_title(plan.title, disabled)
            placed[index] = Placed(plan, found, revived=found is not None)
    entries = [entry for entry in placed if entry is not None]
    changes = OutlineChanges()
    order = [c.path for c in existing]
    for chapter in remaining:  # in toc order
        if is_written(chapter) and not may_drop(chapter):
            _insert_after_predecessor(entries, chapter, order)
            changes.kept.append((chapter.title, chapter.path))
        else:
            changes.left_out.append((chapter.title, chapter.path))
    for entry in entries:
        if entry.match is None:
            changes.added.append(entry.planned.title if entry.planned else "")
        elif entry.revived:
            changes.revived.append((entry.match.title, entry.match.path))
        elif entry.planned is not None and entry.planned.title != entry.match.title:
            changes.renamed.append((entry.match.title, entry.planned.title, entry.match.path))
    changes.moved = _moved(existing, entries)
    return entries, changes


def _take_file(path: str, chapters: list[Chapter]) -> Chapter | None:
    """The chapter at `path`, removed from `chapters`."""
    found = next((c for c in chapters if path and c.path == path), None)
    if found is not None:
        chapters.remove(found)
    return found


def _take_same_title(title: str, chapters: list[Chapter]) -> Chapter | None:
    """The chapter with exactly this title (any case), removed from `chapters`."""
    wanted = title.strip().casefold()
    found = next((c for c in chapters if c.title.strip().casefold() == wanted), None)
    if found is not None:
        chapters.remove(found)
    return found


def _take_title(title: str, chapters: list[Chapter]) -> Chapter | None:
    """The existing chapter this planned title continues (same title in any case, else the
    closest from `TITLE_MATCH`), removed from `chapters`."""
    wanted = title.casefold()
    best = next((c for c in chapters if c.title.casefold() == wanted), None)
    if best is None and chapters:
        score, candidate = max(
            ((fuzz.ratio(wanted, c.title.casefold()), c) for c in chapters), key=lambda p: p[0]
        )
        best = candidate if score >= TITLE_MATCH else None
    if best is not None:
        chapters.remove(best)
    return best


def _insert_after_predecessor(entries: list[Placed], chapter: Chapter, order: list[str]) -> None:
    """Put a kept chapter right after the nearest chapter that preceded it in the old toc
    and is in the new one; first when none is."""
    position = order.index(chapter.path)
    where = {e.match.path: i for i, e in enumerate(entries) if e.match is not None}
    for earlier in reversed(order[:position]):
        if earlier in where:
            entries.insert(where[earlier] + 1, Placed(None, chapter))
            return
    entries.insert(0, Placed(None, chapter))


def _moved(existing: list[Chapter], entries: list[Placed]) -> list[tuple[str, str]]:
    """Chapters of the old toc whose place among the others changed: those outside the
    longest run of chapters that kept their relative order."""
    new = [e.match.path for e in entries if e.match is not None and not e.revived]
    old = [c.path for c in existing if c.path in set(new)]
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    steady = {old[b.a + k] for b in matcher.get_matching_blocks() for k in range(b.size)}
    titles = {
        e.match.path: (e.planned.title if e.planned else e.match.title)
        for e in entries
        if e.match is not None
    }
    return [(titles[path], path) for path in new if path not in steady]
