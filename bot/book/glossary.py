"""The book's glossary (`glossary.md`, MyST's `glossary` directive): read, merged, written.

One standing PR (`liquidbook/glossary`) keeps the file, so no chapter PR ever needs to touch
it: chapter PRs run in parallel, and two open PRs changing one shared file would conflict.
The merge never drops or rewrites an entry already in the file (a person may have written
or edited it); it only adds terms the file lacks, each term once (case-insensitively), all
sorted. A directive with no entries is a build error in mystmd ("required body not
provided"), so a glossary with no terms is written as its introduction alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.book.digest import plain
from bot.book.prompts import Prompt

GLOSSARY_PATH = "glossary.md"
INTRO = (
    "# Glossary\n\n"
    "The terms this book uses, each with a one-line definition. Liquid Book adds the key "
    "terms of merged chapters here; edit or add entries freely, they are never removed.\n"
)
MAX_DEFINITION = 300
_OPEN = re.compile(r"^(`{3,}|:{3,})\{glossary\}[ \t]*$")
# A term a definition list reads as a term: it starts with a letter or digit and holds
# no markup that would make it something else (a list item, a role, a directive).
_TERM = re.compile(r"^[^\W_][\w .,'’()/+&-]{0,58}[\w.)’']$|^[^\W_]$")


@dataclass(frozen=True)
class Entry:
    """One glossary entry: its term and its lines exactly as the file has them."""

    term: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Glossary:
    """`glossary.md` split into what surrounds the directive and the entries inside it."""

    before: str
    entries: tuple[Entry, ...]
    after: str = ""

    def terms(self) -> list[str]:
        return [entry.term for entry in self.entries]


def read_glossary(text: str | None) -> Glossary:
    """The glossary in `text` (None or empty: a new one). The first `glossary` directive's
    entries are read; everything before and after it is kept as it is."""
    if not text or not text.strip():
        return Glossary(INTRO, ())
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _OPEN.match(line.strip())), None)
    if start is None:
        return Glossary(text.rstrip("\n") + "\n", ())
    fence = _OPEN.match(lines[start].strip()).group(1)  # type: ignore[union-attr]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == fence), len(lines))
    entries: list[Entry] = []
    current: list[str] = []
    for line in lines[start + 1 : end]:
        starts_entry = line.strip() and not line[:1].isspace() and not line.startswith(":")
        # Several term lines before one definition are one entry (terms sharing it).
        if starts_entry and (not current or any(x.startswith(":") for x in current)):
            if current:
                entries.append(_entry(current))
            current = [line]
        elif current or line.strip():
            current.append(line)
    if current:
        entries.append(_entry(current))
    before = "\n".join(lines[:start]).rstrip("\n") + "\n"
    after = "\n".join(lines[end + 1 :]).strip("\n")
    return Glossary(before, tuple(e for e in entries if e.term), after + "\n" if after else "")


def _entry(lines: list[str]) -> Entry:
    while lines and not lines[-1].strip():
        lines.pop()
    return Entry(lines[0].strip() if lines else "", tuple(lines))


def clean_term(term: str) -> str | None:
    """`term` as a glossary term (plain, one line), or None when it cannot be one."""
    term = plain(term).strip(" .,;:")
    return term if _TERM.match(term) else None


def merge(glossary: Glossary, new: Mapping[str, str]) -> tuple[Glossary, list[str]]:
    """The glossary with the terms of `new` (term → one-line definition) it lacks, and the
    terms added. Existing entries stay exactly as they are; terms that are not plain words
    are skipped; everything is sorted by term, each term once, case-insensitively."""
    seen = {entry.term.casefold() for entry in glossary.entries}
    entries = list(glossary.entries)
    added: list[str] = []
    for raw, definition in new.items():
        term = clean_term(raw)
        if term is None or term.casefold() in seen:
            continue
        text = plain(definition)[:MAX_DEFINITION].strip() or "A key term of this book."
        entries.append(Entry(term, (term, f": {text}")))
        seen.add(term.casefold())
        added.append(term)
    entries.sort(key=lambda entry: (entry.term.casefold(), entry.term))
    return Glossary(glossary.before, tuple(entries), glossary.after), added


def render(glossary: Glossary) -> str:
    """`glossary.md`'s text: the introduction, then the directive when it has entries."""
    text = glossary.before.rstrip("\n") + "\n"
    if glossary.entries:
        body = "\n\n".join("\n".join(entry.lines) for entry in glossary.entries)
        text += f"\n:::{{glossary}}\n{body}\n:::\n"
    if glossary.after:
        text += "\n" + glossary.after
    return text


def definition_from_text(term: str, texts: Iterable[str]) -> str:
    """A one-line definition of `term` read from the chapters: the first sentence that
    names it, plain (used when no model gives one)."""
    pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.I)
    for text in texts:
        for block in re.split(r"\n\s*\n", text):
            if block.lstrip().startswith(("#", "```", ":::", "$$", "%", "|")):
                continue
            for sentence in re.split(r"(?<=[.!?])\s+", plain(block)):
                if pattern.search(sentence) and 20 <= len(sentence) <= MAX_DEFINITION:
                    return sentence
    return ""


def definitions_prompt(terms: list[str], excerpts: Mapping[str, str]) -> Prompt:
    """Ask for one-line definitions of `terms` as JSON, each with the sentence of the book
    that names it (`excerpts`) as context, so the definition says what the book means."""
    system = (
        "You write a book's glossary. Answer with one JSON object and nothing else, mapping "
        "each term to a one-sentence definition in plain text, as the book uses the term."
    )
    lines = [
        f"- {term}: {excerpts.get(term) or '(no sentence of the book names it)'}" for term in terms
    ]
    user = (
        "Define these terms of the book (each with a sentence of the book that names it):\n"
        + "\n".join(lines)
    )
    return Prompt(system, user, "")


def parse_definitions(answer: str) -> dict[str, str] | None:
    """`{term: definition}` from a model answer (terms matched case-insensitively later),
    or None when the answer holds no such JSON object."""
    start, end = answer.find("{"), answer.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(answer[start : end + 1], strict=False)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    found = {str(k): plain(str(v))[:MAX_DEFINITION] for k, v in data.items() if isinstance(v, str)}
    return {k: v for k, v in found.items() if v} or None
