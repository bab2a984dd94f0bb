"""What the models are asked. Prompts are data: plain text assembled from the book.

`Prompt.user` always starts with `Prompt.stable_prefix`, the part that is identical for every
chapter of a book (the outline and the writing rules), so providers that cache prompt
prefixes pay for it once per book rather than once per chapter.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.book.chapters import Chapter
from bot.book.config import BookConfig
from bot.book.genre import CHAPTER_RULES, OUTLINE_EXTRAS
from bot.book.model import Book
from bot.book.replan import is_written

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


def _outline_text(book: Book) -> str:
    lines = [f"The book: {book.title} ({book.config.type}). Its chapters, in order:"]
    for chapter in book.toc:
        lines.append(f"{chapter.number}. {chapter.title} (label `{chapter.label or '-'}`)")
        if chapter.summary:
            lines.append(f"   {chapter.summary}")
    return "\n".join(lines)


def _neighbour(book: Book, number: int, role: str) -> list[str]:
    if not 1 <= number <= len(book.toc):
        return []
    chapter = book.toc[number - 1]
    return [f"The {role} chapter, {number}. {chapter.title}: {chapter.summary or '(no summary)'}"]


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


def chapter_prompt(book: Book, chapter: Chapter, instructions: str = "") -> Prompt:
    """Ask for one chapter's body with the outline, its neighbours and its objectives in view."""
    # All of the book's labels, not "all but this chapter's": the prefix must not vary.
    labels = sorted(book.labels())
    prefix = "\n\n".join(
        part
        for part in [
            _outline_text(book),
            MYST_RULES,
            CHAPTER_RULES[book.config.type],
            "Labels you may reference: " + (", ".join(f"`{x}`" for x in labels) or "none yet"),
        ]
        if part
    )
    task = [f"Write chapter {chapter.number}, {chapter.title}."]
    if chapter.summary:
        task.append(f"What it covers: {chapter.summary}")
    if chapter.objectives:
        task.append("After reading it, readers should be able to:")
        task += [f"- {item}" for item in chapter.objectives]
    task += _type_details(book.config.type, chapter)
    task += _neighbour(book, chapter.number - 1, "previous")
    task += _neighbour(book, chapter.number + 1, "next")
    if not chapter.is_stub and chapter.body.strip():
        task += ["", "The current text of the chapter, to improve on:", "", chapter.body.strip()]
    if instructions.strip():
        task += ["", f"The author's instructions for this chapter: {instructions.strip()}"]
    user = f"{prefix}\n\n" + "\n".join(task) + "\n"
    return Prompt(system_prompt(book.config), user, prefix)


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
