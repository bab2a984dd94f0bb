"""What each type of text asks of a chapter: an article, a book, a course, a research text.

The type (`.github/liquidbook.yml`'s `type`) shapes more than a word of the prompt: the
outline asks for different fields (a course's modules carry their time, a book's chapters
their part), the chapter prompt gives different rules (a module's worked example and
exercises, a research text's citations and BibTeX), and the files written differ (a course
module always ends with its `## Self-check` quiz slot; a research chapter's references go to
a `.bib` file of its own beside it, since chapter PRs run in parallel and mystmd loads every
`.bib` in the project, so no two PRs edit one shared file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

QUIZ_HEADING = "## Self-check"
QUIZ_SLOT = (
    f"{QUIZ_HEADING}\n\n% liquidbook: quiz slot. `/generate quiz` fills this section with "
    "questions on the module.\n"
)
NEEDS_SOURCE = "Needs a source: no DOI, ISBN or URL was given, so check this reference"

OUTLINE_EXTRAS = {
    "article": (
        "An article is one page: its chapters in this plan are the page's sections (3 to 6), "
        "and the description is its abstract."
    ),
    "book": (
        "When the book has 8 chapters or more, group them into parts: give each chapter a "
        '"part", the title of the part it belongs to (a part\'s chapters are consecutive).'
    ),
    "course": (
        'Each chapter is a module: give it "minutes", the time a learner needs for it '
        "(reading, the worked example and the exercises), and 3 to 5 objectives."
    ),
    "research": (
        "The chapters are the sections of a research text: background and related work, "
        "methods, results and discussion at least, in that order."
    ),
}

CHAPTER_RULES = {
    "article": (
        "This is the whole article, one page. Its abstract is already in the front matter; "
        "write the sections planned below as `##` sections, in that order, and nothing else."
    ),
    "book": "",
    "course": (
        "This chapter is one module of a course. Write, in this order: `## Learning "
        "objectives` (the objectives below as a list) followed by a line `Estimated time: N "
        "minutes`; the teaching sections; `## Worked example`, one complete example solved "
        "step by step; `## Exercises`, two to four exercises, each a ```{exercise} directive "
        "with `:label: LABEL-ex-N` (LABEL is this chapter's label, N counts from 1) followed "
        "by its ```{solution} LABEL-ex-N directive with `:class: dropdown`. Do not write a "
        f"`{QUIZ_HEADING}` section: the app adds the module's quiz slot."
    ),
    "research": (
        "Cite the works you rely on with {cite}`key` (keys like `smith2020`). After the "
        "chapter body, add one ```bibtex fenced block with an entry for every key you cited, "
        "and only real works you are sure of. Never invent a DOI, ISBN or URL: give one only "
        "when you know it is that work's own; an entry without one is marked as needing a "
        "source for the author to check."
    ),
}

_BIBTEX_BLOCK = re.compile(
    r"^(`{3,}|~{3,})[ \t]*(?:bibtex|bib|biblatex)[ \t]*\n(.*?)\n\1[ \t]*$", re.M | re.S | re.I
)
_ENTRY_START = re.compile(r"@(\w+)\s*\{\s*([^,\s{}]+)\s*,")
_CITE_ROLE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]*)`")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_IDENTIFIERS = ("doi", "isbn", "url", "eprint", "issn")


@dataclass
class Finished:
    """A chapter body with its type's requirements met, and the other files it brings."""

    body: str
    files: dict[str, str] = field(default_factory=dict)
    fixes: list[str] = field(default_factory=list)


def bib_path(chapter_path: str) -> str:
    """Where a chapter's own references live: `chapters/03-methods.md` → `…/03-methods.bib`."""
    return str(PurePosixPath(chapter_path).with_suffix(".bib"))


def split_references(answer: str) -> tuple[str, str]:
    """The answer without its ```bibtex blocks, and the blocks' entries joined."""
    blocks = [match.group(2).strip() for match in _BIBTEX_BLOCK.finditer(answer)]
    return _BIBTEX_BLOCK.sub("", answer).rstrip() + "\n", "\n\n".join(b for b in blocks if b)


def bib_entries(text: str) -> list[tuple[str, str]]:
    """`(key, entry text)` for each BibTeX entry, read by balancing braces (no parser needed
    for what models write; an entry whose braces never close is dropped)."""
    entries: list[tuple[str, str]] = []
    position = 0
    while (match := _ENTRY_START.search(text, position)) is not None:
        depth, end = 0, None
        for index in range(text.index("{", match.start()), len(text)):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    end = index + 1
                    break
        if end is None:
            break
        if match.group(1).lower() not in {"comment", "preamble", "string"}:
            entries.append((match.group(2), text[match.start() : end]))
        position = end
    return entries


def _fields(entry: str) -> dict[str, str]:
    return {
        name.lower(): value.strip().strip('{}"').strip()
        for name, value in re.findall(
            r"(\w+)\s*=\s*(\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|\"[^\"]*\"|\w+)", entry
        )
    }


def checked_entry(entry: str) -> tuple[str, bool]:
    """The entry with a DOI that is not shaped like one removed, and a note added when it
    has no identifier a reader could follow; True when it was marked."""
    fields = _fields(entry)
    doi = fields.get("doi", "")
    if doi and not _DOI.match(doi.removeprefix("https://doi.org/")):
        entry = re.sub(r"\n?\s*doi\s*=\s*(\{[^{}]*\}|\"[^\"]*\"|\S+?)\s*,?", "", entry, flags=re.I)
        fields.pop("doi")
    if any(fields.get(name) for name in _IDENTIFIERS):
        return entry, False
    if NEEDS_SOURCE in entry:
        return entry, True
    closing = entry.rstrip().rstrip("}").rstrip().rstrip(",")
    return f"{closing},\n  note = {{{NEEDS_SOURCE}}}\n}}", True


def resolve_citations(body: str, known: set[str]) -> tuple[str, list[str]]:
    """Citations of keys no `.bib` holds become "(source needed)" text instead of a build
    warning; a role citing several keys keeps the known ones."""
    missing: list[str] = []

    def cite(match: re.Match[str]) -> str:
        keys = [key.strip() for key in match.group(1).split(",") if key.strip()]
        kept = [key for key in keys if key in known]
        missing.extend(key for key in keys if key not in known)
        if kept == keys:
            return match.group(0)
        if kept:
            return match.group(0).replace(match.group(1), ",".join(kept))
        return "(source needed)"

    fixed = _CITE_ROLE.sub(cite, body)
    if not missing:
        return body, []
    listed = ", ".join(f"`{key}`" for key in dict.fromkeys(missing))
    return fixed, [f'Citations of keys with no BibTeX entry ({listed}) now say "(source needed)".']


def finish_chapter(
    book_type: str, body: str, chapter_path: str, references: str, other_keys: set[str]
) -> Finished:
    """Meet the type's requirements on a cleaned chapter body. `references` is the BibTeX
    the model gave (see `split_references`); `other_keys` the keys of the book's other
    `.bib` files, which the chapter may cite too."""
    if book_type == "course":
        if not re.search(rf"^{re.escape(QUIZ_HEADING)}\s*$", body, re.M):
            return Finished(body.rstrip() + "\n\n" + QUIZ_SLOT, fixes=[])
        return Finished(body)
    if book_type != "research":
        return Finished(body)
    fixes: list[str] = []
    entries: dict[str, str] = {}
    marked = 0
    for key, entry in bib_entries(references):
        if key in entries or key in other_keys:
            continue  # one entry per key in the whole book: mystmd warns about duplicates
        entries[key], was_marked = checked_entry(entry)
        marked += was_marked
    if marked:
        fixes.append(f"Marked {marked} reference(s) with no DOI, ISBN or URL as needing a source.")
    body, cite_fixes = resolve_citations(body, set(entries) | other_keys)
    fixes += cite_fixes
    cited = {k.strip() for m in _CITE_ROLE.finditer(body) for k in m.group(1).split(",")}
    used = {key: entry for key, entry in entries.items() if key in cited}
    files = {bib_path(chapter_path): "\n\n".join(used.values()) + "\n"} if used else {}
    return Finished(body, files, fixes)
