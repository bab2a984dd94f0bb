"""What the models are asked. Prompts are data: plain text assembled from the book.

`Prompt.user` always starts with `Prompt.stable_prefix`, the part that is identical for every
chapter of a book (the outline and the writing rules), so providers that cache prompt
prefixes pay for it once per book rather than once per chapter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.book.chapters import Chapter, read_chapter
from bot.book.config import BookConfig
from bot.book.genre import CHAPTER_RULES, OUTLINE_EXTRAS
from bot.book.markdown import find_labels
from bot.book.model import Book
from bot.book.replan import is_written
from bot.providers.tokens import estimate_tokens

if TYPE_CHECKING:
    from bot.book.digest import Digest

GLOSSARY_PATH = "glossary.md"
# The chapter prompt's budget for the rest of the book, in estimated tokens (about 1.3 real
# tokens each): fixed, whatever the number of chapters.
OUTLINE_BUDGET = 1200
TERMS_BUDGET = 200
WINDOW = 2  # chapters each side shown with what they say
EXCERPT_CHARS = 1500  # of the previous chapter's end and of the next one's start
MAX_LABELS = 60

DEFAULT_STYLE_GUIDE = (
    "You are an expert author and teacher writing a book that is published with Jupyter Book. "
    "Write clearly and accurately for the stated audience, define terms on first use, prefer "
    "concrete examples to abstractions, and never invent facts, quotations or references."
)

OUTLINE_SCHEMA = """\
{
  "title": "string: the book's title",
  "description": "string: two or three sentences on what the book covers and for whom",
  "type": "article | book | course | research",
  "chapters": [
    {
      "title": "string: the chapter title, without a number",
      "summary": "string: two to four sentences on what the chapter covers",
      "objectives": ["string: one thing a reader can do after the chapter, starting with a verb"],
      "file": "string: only for a chapter the book already has, its file",
      "part": "string, optional: the title of the part this chapter belongs to (books)",
      "minutes": "number, optional: the time a learner needs for this module (courses)"
    }
  ]
}"""

# What each type is called in a sentence ("Plan an article", "Plan a research paper").
TYPE_NOUNS = {
    "article": "an article",
    "book": "a book",
    "course": "a course",
    "research": "a research paper",
}

_TYPE_GUIDANCE = {
    "article": "An article is one focused piece: plan 3 to 6 sections as chapters.",
    "book": "A book develops a subject from the ground up: plan 6 to 14 chapters.",
    "course": (
        "A course is taught in modules: plan 6 to 12 chapters, each with 3 to 5 measurable "
        "learning objectives, building on the previous one, ending with practice."
    ),
    "research": (
        "A research text follows the scientific structure: introduction, background and "
        "related work, methods, results, discussion, conclusion (add chapters where needed)."
    ),
}

MYST_RULES = """\
Write MyST Markdown for Jupyter Book 2, following these rules exactly:
- The chapter title comes from the front matter: do not write a `# Title` heading and do not
  write front matter. Sections start at `##`, subsections at `###`.
- Admonitions are directives: ```{note} on its own line, the text, then ``` to close. Use
  note, tip, important, warning or seealso.
- Math uses KaTeX: inline `$...$`, display `$$` on its own lines. Use only KaTeX-supported
  commands (no \\newcommand, no align environments outside display math).
- Code blocks always name their language: ```python, ```r, ```bash.
- Cross-references: {ref}`label` only to labels from the list given below; to give a
  section of this chapter a label, put `(label)=` on the line before its heading.
- Do not write `@name`: MyST reads it as a citation. Do not invent citations or links.
- Answer with the Markdown body of the chapter only: no preamble, no closing remarks, no
  surrounding code fence."""


@dataclass(frozen=True)
class Prompt:
    """One model request: `system`, `user`, and the cacheable start of `user`."""

    system: str
    user: str
    stable_prefix: str


def system_prompt(config: BookConfig) -> str:
    """The style guide, with the audience and language the whole book is written for."""
    parts = [config.style_guide.strip() or DEFAULT_STYLE_GUIDE]
    if config.audience.strip():
        parts.append(f"The readers: {config.audience.strip()}")
    parts.append(f"Write in the language with code `{config.language}`.")
    return "\n\n".join(parts)


def outline_prompt(config: BookConfig, description: str, existing_book: Book | None) -> Prompt:
    """Ask for an outline as JSON of `OUTLINE_SCHEMA`, fitted to the book type."""
    lines = [
        f"Plan {TYPE_NOUNS[config.type]} from the author's description below.",
        _TYPE_GUIDANCE[config.type],
        OUTLINE_EXTRAS[config.type],
        "If the description asks for a number of chapters, plan exactly that many.",
        "",
        "Answer with one JSON object of this shape and nothing else:",
        OUTLINE_SCHEMA,
    ]
    if existing_book is not None and existing_book.toc:
        lines += [
            "",
            "The book already has these chapters. Keep every written chapter: put it in your "
            "plan with its `file` (you may retitle or move it); leave a written chapter out "
            "only when the author's description asks for that. Chapters not written yet may "
            "be kept (with their `file`), renamed, moved or dropped.",
        ]
        lines += [
            f"{c.number}. {c.title} (file `{c.path}`, "
            f"{'written' if is_written(c) else 'not written yet'}): {c.summary}".rstrip(": ")
            for c in existing_book.toc
        ]
    prefix = "\n".join(lines)
    user = f"{prefix}\n\nThe author's description:\n\n{description.strip()}\n"
    return Prompt(system_prompt(config), user, prefix)


def _book_line(book: Book) -> str:
    return (
        f"The book: {book.title} ({book.config.type}). "
        f"It has {len(book.toc)} chapter{'s' if len(book.toc) != 1 else ''}."
    )


def _summary(chapter: Chapter, memory: Mapping[str, Digest]) -> str:
    """What a chapter says: its digest when written (what it actually says), else the
    summary planned for it."""
    digest = memory.get(chapter.path)
    return digest.summary if digest is not None and digest.summary else chapter.summary


def _outline_near(book: Book, chapter: Chapter, memory: Mapping[str, Digest]) -> str:
    """The outline seen from `chapter`: the nearest chapters first, those within `WINDOW`
    with what they say, the others by title, until `OUTLINE_BUDGET` tokens are spent; then
    the count of chapters left out, so the model knows the book goes on."""
    shown: dict[int, str] = {}
    spent = 0
    for other in sorted(book.toc, key=lambda c: (abs(c.number - chapter.number), c.number)):
        distance = abs(other.number - chapter.number)
        line = f"{other.number}. {other.title} (label `{other.label or '-'}`)"
        about = _summary(other, memory) if distance <= WINDOW else ""
        if about and distance:
            line += f"\n   {about}"
        cost = estimate_tokens(line)
        if spent + cost > OUTLINE_BUDGET and distance > 1:
            break
        shown[other.number] = line
        spent += cost
    lines = ["The outline near this chapter (farther chapters by title only):"]
    before = min(shown) - 1
    after = len(book.toc) - max(shown)
    if before:
        lines.append(f"… {before} earlier chapter{'s' if before != 1 else ''} not shown")
    lines += [shown[number] for number in sorted(shown)]
    if after:
        lines.append(f"… {after} later chapter{'s' if after != 1 else ''} not shown")
    return "\n".join(lines)


def glossary_terms(book: Book) -> list[str]:
    """The terms of the book's `glossary.md` (MyST `glossary` directive: a term is a line
    at the directive's own indentation, its definition indented below)."""
    file = book.directory / GLOSSARY_PATH
    if not file.is_file() or file.is_symlink():
        return []
    terms: list[str] = []
    inside = False
    for line in file.read_text("utf-8", errors="replace").splitlines():
        stripped = line.strip()
        if re.match(r"^(`{3,}|:{3,})\{glossary\}", stripped):
            inside = True
        elif inside and re.match(r"^(`{3,}|:{3,})$", stripped):
            inside = False
        elif inside and stripped and not line[:1].isspace() and not stripped.startswith(":"):
            terms.append(stripped)
    return terms


def _likely_terms(book: Book, chapter: Chapter, memory: Mapping[str, Digest]) -> list[str]:
    """Glossary and key terms the chapter is likely to use, those sharing a word with its
    title, summary or objectives first, then the nearest chapters' terms, within
    `TERMS_BUDGET` tokens."""
    nearby = sorted(memory.items(), key=lambda item: _distance(book, chapter, item[0]))
    pool = list(dict.fromkeys([*glossary_terms(book), *(t for _, d in nearby for t in d.terms)]))
    words = set(
        re.findall(
            r"\w{4,}", " ".join([chapter.title, chapter.summary, *chapter.objectives]).casefold()
        )
    )
    ranked = sorted(pool, key=lambda t: not (set(re.findall(r"\w{4,}", t.casefold())) & words))
    chosen: list[str] = []
    spent = 0
    for term in ranked:
        spent += estimate_tokens(term) + 1
        if spent > TERMS_BUDGET:
            break
        chosen.append(term)
    return chosen


def _distance(book: Book, chapter: Chapter, path: str) -> int:
    number = next((c.number for c in book.toc if c.path == path), 0)
    return abs(number - chapter.number) if number else len(book.toc) + 1


def _excerpt(chapter: Chapter, end: bool) -> str:
    """The end (or start) of a written chapter, cut at a paragraph when one is near."""
    body = chapter.body.strip()
    if len(body) <= EXCERPT_CHARS:
        return body
    if end:
        cut = body[-EXCERPT_CHARS:]
        return cut[cut.find("\n\n") + 2 :] if "\n\n" in cut[: EXCERPT_CHARS // 2] else cut
    cut = body[:EXCERPT_CHARS]
    return cut[: cut.rfind("\n\n")] if "\n\n" in cut[EXCERPT_CHARS // 2 :] else cut


def _neighbour(book: Book, number: int, role: str, memory: Mapping[str, Digest]) -> list[str]:
    if not 1 <= number <= len(book.toc):
        return []
    chapter = book.toc[number - 1]
    about = _summary(chapter, memory) or "(no summary)"
    return [f"The {role} chapter, {number}. {chapter.title}: {about}"]


def _type_details(book_type: str, chapter: Chapter) -> list[str]:
    """What the outline planned for this chapter that only its type has: a module's time,
    an article's sections, the chapter's label (which a course's exercise labels start with)."""
    options = chapter.extra.get("options")
    options = options if isinstance(options, dict) else {}
    lines: list[str] = []
    if book_type == "course":
        lines.append(f"This chapter's label: `{chapter.label or 'module'}`.")
        minutes = options.get("minutes")
        if isinstance(minutes, int) and not isinstance(minutes, bool):
            lines.append(f"Estimated time: {minutes} minutes.")
    sections = options.get("sections")
    if book_type == "article" and isinstance(sections, list):
        lines.append("The sections planned, in order:")
        for item in sections:
            if isinstance(item, dict) and item.get("title"):
                about = f": {item['summary']}" if item.get("summary") else ""
                lines.append(f"- {item['title']}{about}")
    return lines


def chapter_prompt(
    book: Book,
    chapter: Chapter,
    instructions: str = "",
    memory: Mapping[str, Digest] | None = None,
) -> Prompt:
    """Ask for one chapter's body with the book around it in view, within a fixed budget.

    `memory` holds digests (what a chapter as written says, its key terms) of written
    chapters near this one. The prompt carries the outline near the chapter (`WINDOW`
    chapters each side with what they say, the rest by title, `OUTLINE_BUDGET` tokens), the
    glossary and key terms it is likely to use, the end of the previous chapter and the start
    of the next when they are written, the labels it may reference (of the chapters shown)
    and the style guide: its size does not grow with the number of chapters.
    """
    memory = memory or {}
    prefix = "\n\n".join(
        part for part in [_book_line(book), MYST_RULES, CHAPTER_RULES[book.config.type]] if part
    )
    context = [_outline_near(book, chapter, memory)]
    terms = _likely_terms(book, chapter, memory)
    if terms:
        context.append(
            "Terms of the book this chapter is likely to use (link a glossary term with "
            "{term}`name` only if `glossary.md` defines it): " + "; ".join(terms)
        )
    shown = set(re.findall(r"\(label `([^`]+)`\)", context[0]))
    labels = sorted(_labels_near(book, chapter, shown))
    context.append(
        "Labels you may reference: " + (", ".join(f"`{x}`" for x in labels) or "none yet")
    )
    for number, end in (
        (chapter.number - 1, True),
        (chapter.number + 1, False),
    ):
        if 1 <= number <= len(book.toc):
            other = book.toc[number - 1]
            if not other.is_stub and other.is_markdown and other.body.strip():
                where = "How the previous chapter ends" if end else "How the next chapter starts"
                context.append(f"{where} ({other.title}):\n\n{_excerpt(other, end)}")
    task = [f"Write chapter {chapter.number}, {chapter.title}."]
    if chapter.summary:
        task.append(f"What it covers: {chapter.summary}")
    if chapter.objectives:
        task.append("After reading it, readers should be able to:")
        task += [f"- {item}" for item in chapter.objectives]
    task += _type_details(book.config.type, chapter)
    task += _neighbour(book, chapter.number - 1, "previous", memory)
    task += _neighbour(book, chapter.number + 1, "next", memory)
    if not chapter.is_stub and chapter.body.strip():
        task += ["", "The current text of the chapter, to improve on:", "", chapter.body.strip()]
    if instructions.strip():
        task += ["", f"The author's instructions for this chapter: {instructions.strip()}"]
    user = f"{prefix}\n\n" + "\n\n".join(context) + "\n\n" + "\n".join(task) + "\n"
    return Prompt(system_prompt(book.config), user, prefix)


def _labels_near(book: Book, chapter: Chapter, shown: set[str]) -> set[str]:
    """Labels the chapter may reference: those of the chapters shown and of the root pages,
    and the section labels of this chapter and its neighbours, at most `MAX_LABELS`."""
    found = {label for label in shown if label != "-"}
    for root in book.root_files:
        root_chapter, _ = read_chapter(book.directory, root, 0, None)
        found |= {root_chapter.label} if root_chapter.label else set()
    for other in book.toc:
        if abs(other.number - chapter.number) <= 1:
            found |= find_labels(other.body)
    return set(sorted(found)[:MAX_LABELS])


def repair_request(problems: list[str]) -> str:
    """The follow-up turn after a chapter failed the build check: what the build said about
    the answer just given (line numbers counted in that answer), and what to send back."""
    listed = "\n".join(f"- {problem}" for problem in problems)
    return (
        "The book's build check (`jupyter-book build --strict`) found these problems in "
        "the chapter you wrote (line numbers count from the first line of your answer):\n\n"
        f"{listed}\n\n"
        "Answer with the whole corrected chapter body, following the same rules; change only "
        "what these problems need."
    )
