"""An outline: what `/outline` asks the model for, and the files its pull request writes."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.book.bundled import skeleton_files
from bot.book.chapters import Chapter, read_chapter
from bot.book.clean import drop_unknown_refs, strip_control
from bot.book.config import BookConfig, BookType
from bot.book.genre import QUIZ_SLOT
from bot.book.glossary import GLOSSARY_PATH
from bot.book.glossary import INTRO as GLOSSARY_INTRO
from bot.book.guard import Place, guard
from bot.book.markdown import STUB_MARKER, escape_mentions, find_labels
from bot.book.model import Book
from bot.book.paths import CONFIG_PATH
from bot.book.render import (
    chapter_path,
    render_chapter,
    set_project_key,
    set_project_title,
    set_toc,
    slugify,
)
from bot.book.replan import OutlineChanges, asked_to_drop, place
from bot.book.settings_file import render_config

PLACEHOLDER_TITLE = "My Liquid Book"
_BOOK_TYPES = ("article", "book", "course", "research")
_CHAPTER_SUFFIXES = (".md", ".ipynb")
_MAX_OFF_TOC_FILES = 2000
_NUMBERED = re.compile(r"^(?:chapter|module|section|part|unit|lesson)\s+\d+\s*[:.\-–—]\s*", re.I)


class OutlineError(Exception):
    """The model's answer holds no usable outline; the message says what was wrong."""


class OutlineChapter(BaseModel):
    """One planned chapter: what it is called, what it covers, what readers will be able to do."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(default="", max_length=3000)
    objectives: list[str] = Field(default_factory=list, max_length=20)
    # The existing chapter file this one continues, when the model kept one (re-outlining).
    file: str = Field(default="", max_length=300)
    part: str = Field(default="", max_length=200)  # a book's part title
    minutes: int | None = Field(default=None, ge=1, le=10000)  # a course module's time

    @field_validator("minutes", mode="before")
    @classmethod
    def _a_number(cls, value: Any) -> Any:
        # "45 minutes", "1.5 hours", 45.0: models write time every way; unreadable is None.
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int | float):
            return max(1, round(value)) if 0 < value < 10000 else None
        found = re.search(r"(\d+(?:\.\d+)?)\s*(h|hours?)?", str(value), re.I)
        if found is None:
            return None
        number = float(found.group(1)) * (60 if found.group(2) else 1)
        return max(1, round(number)) if 0 < number < 10000 else None

    @field_validator("file", "part", mode="before")
    @classmethod
    def _text_or_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("title")
    @classmethod
    def _plain_title(cls, value: str) -> str:
        # Models like to write "Chapter 3: Priors"; the number is the toc's business.
        return _NUMBERED.sub("", " ".join(value.split())) or value

    @field_validator("objectives", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [line.strip(" -*•\t") for line in value.splitlines()]
        if isinstance(value, list):
            return [item for item in value if not isinstance(item, str) or item.strip()]
        return value


class Outline(BaseModel):
    """A whole book's plan; `book_type` is None when the model named no known type."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=300)
    description: str = ""
    book_type: BookType | None = Field(
        default=None, validation_alias=AliasChoices("type", "book_type")
    )
    chapters: list[OutlineChapter] = Field(min_length=1, max_length=100)

    @field_validator("book_type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        text = str(value or "").strip().lower()
        return text if text in _BOOK_TYPES else None


def parse_outline(model_text: str) -> Outline:
    """Find and validate the outline JSON in a model answer (fenced, bare or amid prose)."""
    problems: list[str] = []
    found_json = False
    for candidate in _json_objects(model_text):
        found_json = True
        try:
            return Outline.model_validate(candidate)
        except ValidationError as error:
            problems = [
                f"`{'.'.join(str(p) for p in e['loc']) or 'outline'}`: {e['msg']}"
                for e in error.errors()
            ]
    if not found_json:
        raise OutlineError("The model's answer contains no JSON object with an outline.")
    raise OutlineError("The model's outline is incomplete: " + "; ".join(problems[:5]))


def _json_objects(text: str) -> Iterator[dict[str, Any]]:
    """JSON objects in `text`: fenced blocks first, then any `{...}` that parses."""
    blocks = re.findall(r"```[ \t]*(?:json|JSON|json5)?[ \t]*\n(.*?)\n[ \t]*```", text, re.S)
    decoder = json.JSONDecoder(strict=False)  # models put raw newlines inside strings
    for source in [*blocks, text]:
        for repaired in (source, re.sub(r",\s*([}\]])", r"\1", source)):
            starts = [m.start() for m in re.finditer(r"\{", repaired)][:200]
            for start in starts:
                try:
                    value, _ = decoder.raw_decode(repaired, start)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict) and "chapters" in value:
                    yield value
                    break


def guard_outline(outline: Outline, book: Book | None) -> tuple[Outline, list[str]]:
    """The outline with control characters stripped from every text and every reference to
    a file outside the book removed from what becomes Markdown (summaries, objectives, titles,
    the description): stubs and front matter are built from these, and MyST reads them."""
    fixes: list[str] = []
    root = book.directory if book else None
    stub = f"{book.config.chapters_dir if book else 'chapters'}/stub.md"

    def clean(text: str, where: str = stub) -> str:
        text, _ = strip_control(text)
        guarded = guard(text, Place(where, root))
        fixes.extend(guarded.fixes)
        return guarded.text.strip() if guarded.fixes else text

    chapters = [
        chapter.model_copy(
            update={
                "title": clean(chapter.title),
                "summary": clean(chapter.summary),
                "objectives": [clean(item) for item in chapter.objectives],
            }
        )
        for chapter in outline.chapters
    ]
    updated = outline.model_copy(
        update={
            "title": clean(outline.title, "intro.md"),
            "description": clean(outline.description, "intro.md"),
            "chapters": chapters,
        }
    )
    return updated, list(dict.fromkeys(fixes))


def stub_body(number: int, chapter: Chapter, book_type: str = "book") -> str:
    """A placeholder that builds cleanly and tells readers and authors what comes next, in
    the shape of its type: an article's planned sections, a module's time and quiz slot."""
    noun = {"article": "article", "course": "module", "research": "section"}.get(
        book_type, "chapter"
    )
    lines = [
        STUB_MARKER,
        "",
        "```{note} To be written",
        f"This {noun} is planned but not written yet. Comment `/generate chapter {number}` "
        "on an issue to draft it.",
        "```",
    ]
    options = chapter.extra.get("options")
    options = options if isinstance(options, dict) else {}
    if chapter.summary and book_type != "article":
        lines += ["", escape_mentions(chapter.summary)[0]]
    if chapter.objectives:
        lines += ["", f"After this {noun}, readers will be able to:", ""]
        lines += [f"- {escape_mentions(item)[0]}" for item in chapter.objectives]
    if book_type == "course" and isinstance(options.get("minutes"), int):
        lines += ["", f"Estimated time: {options['minutes']} minutes."]
    for section in options.get("sections") or [] if book_type == "article" else []:
        lines += ["", f"## {escape_mentions(section['title'])[0]}"]
        if section.get("summary"):
            lines += ["", escape_mentions(section["summary"])[0]]
    if book_type == "course":
        lines += ["", QUIZ_SLOT.rstrip()]
    return "\n".join(lines) + "\n"


def intro_text(outline: Outline) -> str:
    """The landing page of a new book: its description and a pointer to the first chapter."""
    description = escape_mentions(outline.description or outline.title)[0]
    return f"---\ntitle: Welcome\nlabel: intro\n---\n\n{description}\n"


@dataclass
class OutlinePlan:
    """What an `/outline` pull request writes (`files`; None deletes a file) and what it
    changes in the toc (`changes`, for its body)."""

    files: dict[str, str | None]
    changes: OutlineChanges


def outline_files(
    book: Book | None, outline: Outline, config: BookConfig, description: str = ""
) -> dict[str, str | None]:
    """Every file an `/outline` pull request writes, as `{path: text}` (see `plan_outline`)."""
    return plan_outline(book, outline, config, description).files


def plan_outline(
    book: Book | None, outline: Outline, config: BookConfig, description: str = ""
) -> OutlinePlan:
    """Every file an `/outline` pull request writes, and what it changes.

    Planned chapters continue the existing chapter the model named by file or whose title
    they keep (only their front matter changes; a notebook's file is never rewritten); new
    chapters get a stub. A written chapter the plan leaves out stays in the toc after the
    chapter it followed, unless `description` (the author's words) names it; stubs the plan
    drops leave the toc but stay on disk, which is how a chapter is disabled. A disabled
    chapter with the planned title comes back to the toc as it is, and a stub never takes
    the name of a file already on disk. The setup PR's starter chapter, unchanged, is not
    the author's work: the first outline removes it.
    """
    files: dict[str, str | None] = {}
    outline, _ = guard_outline(outline, book)
    skeleton = skeleton_files()
    new_config = config.model_copy(update={"type": outline.book_type or config.type})
    starters = _starter_chapters(book, skeleton)
    existing = [c for c in book.toc if not c.missing and c.path not in starters] if book else []
    disabled = _chapters_off_the_toc(book) if book else []
    taken_paths = ({c.path for c in book.toc} | set(book.root_files)) - starters if book else set()
    labels = book.labels() if book else {"intro"}
    if book is not None:
        labels -= {
            x for c in book.toc if c.path in starters for x in {c.label, *find_labels(c.body)}
        }
    # Labels of disabled chapters stay reserved: the author may bring them back.
    taken_labels = labels | {x for c in disabled for x in {c.label, *find_labels(c.body)} if x}
    exists = _exists_in(book)

    def on_disk(path: str) -> bool:
        return path not in starters and exists(path)

    article = new_config.type == "article"
    planned_chapters = [_article_page(outline, existing)] if article else outline.chapters
    entries, changes = place(
        planned_chapters, existing, disabled, lambda c: asked_to_drop(c, description)
    )
    for chapter in [*existing, *disabled]:
        if any(e.match is chapter and e.revived for e in entries):
            labels |= {x for x in {chapter.label, *find_labels(chapter.body)} if x}
    paths: list[str] = []
    parts: list[str] = []
    for number, entry in enumerate(entries, start=1):
        planned, match = entry.planned, entry.match
        parts.append(planned.part if planned else (parts[-1] if parts else ""))
        if match is not None:
            paths.append(match.path)
            if planned is None or not match.is_markdown:
                continue  # kept as written; a notebook's JSON is left alone
            updated = replace(
                match,
                number=number,
                title=planned.title,
                summary=planned.summary or match.summary,
                objectives=planned.objectives or match.objectives,
                extra=_type_extra(new_config.type, planned, outline, match.extra),
            )
            if updated != replace(match, number=number):
                files[match.path] = render_chapter(updated)
            continue
        assert planned is not None
        wanted = ARTICLE_PAGE if article else chapter_path(new_config, number, planned.title)
        path = _unique(wanted, taken_paths, on_disk)
        label = _unique(slugify(planned.title), taken_labels)
        labels.add(label)
        chapter = Chapter(
            number,
            path,
            planned.title,
            planned.summary,
            planned.objectives,
            label,
            extra=_type_extra(new_config.type, planned, outline, {}),
        )
        files[path] = render_chapter(chapter, stub_body(number, chapter, new_config.type))
        paths.append(path)
    with_parts = new_config.type == "book" and any(parts)
    for path in starters:
        files.setdefault(path, None)
    myst = book.myst_yml if book else skeleton["myst.yml"]
    if book is None or _is_starter(book, skeleton):
        myst = set_project_title(myst, outline.title)
        if outline.description:
            myst = set_project_key(myst, "description", " ".join(outline.description.split()))
    starter_intro = skeleton.get("intro.md")
    intro_is_starter = (
        book is not None
        and "intro.md" in book.root_files
        and starter_intro is not None
        and (book.directory / "intro.md").read_text("utf-8") == starter_intro
    )
    if article and (book is None or intro_is_starter):
        # An article is its one page: the setup PR's welcome page goes, the toc is the page.
        myst = set_toc(myst, [], root_file=None, keep_root=False)
        if intro_is_starter:
            files["intro.md"] = None
        root_file = None
    else:
        root_file = "intro.md"
    # The glossary page comes from the setup PR; a book set up before it gets it here (the
    # outline PR owns `myst.yml`). Only the standing glossary PR writes it after that. An
    # article is one page: the setup's glossary, still without entries, goes.
    has_glossary = book is not None and os.path.lexists(book.directory / GLOSSARY_PATH)
    drop_glossary = article and (not has_glossary or _starter_glossary(book))
    files["myst.yml"] = set_toc(
        myst,
        paths,
        root_file=root_file,
        parts=parts if with_parts else None,
        back=[] if drop_glossary else [GLOSSARY_PATH],
        keep_back=not drop_glossary,
    )
    if drop_glossary and has_glossary:
        files[GLOSSARY_PATH] = None
    elif not drop_glossary and not has_glossary:
        files[GLOSSARY_PATH] = GLOSSARY_INTRO
    if intro_is_starter and not article:
        # The setup PR's welcome page talks about the starter chapter: describe this book.
        files["intro.md"] = intro_text(outline)
    if book is not None:
        # Chapters leaving the toc take their labels along: the pages that stay must not
        # point at them (the build warns about every dangling reference).
        leaving = [c for c in book.toc if c.path in starters or c.path not in paths]
        gone = {c.label for c in leaving} | {x for c in leaving for x in find_labels(c.body)}
        for root in book.root_files if gone else []:
            if root in files:
                continue
            text = (book.directory / root).read_text("utf-8")
            fixed, _ = drop_unknown_refs(text, labels - gone)
            if fixed != text:
                files[root] = fixed
    has_root = book is not None and (book.root_files or (book.directory / "intro.md").exists())
    if not has_root and not article:
        files["intro.md"] = intro_text(outline)
    if book is None:
        files[".gitignore"] = skeleton[".gitignore"]
    if book is None or new_config != book.config or not (book.directory / CONFIG_PATH).exists():
        files[CONFIG_PATH] = render_config(new_config)
    cleaned = {p: None if t is None else strip_control(t)[0] for p, t in files.items()}
    return OutlinePlan(cleaned, changes)


ARTICLE_PAGE = "article.md"


def _article_page(outline: Outline, existing: list[Chapter]) -> OutlineChapter:
    """An article's plan as its one page: the outline's title, its description as the
    abstract; the planned chapters are its sections (see `_type_extra`)."""
    page = next((c.path for c in existing if c.path == ARTICLE_PAGE), "")
    return OutlineChapter(title=outline.title, summary=outline.description, file=page)


def _type_extra(
    book_type: str, planned: OutlineChapter, outline: Outline, extra: dict[str, Any]
) -> dict[str, Any]:
    """The front matter a type adds to a chapter: an article's abstract and sections, a
    module's estimated time; the author's other keys are kept."""
    extra = dict(extra)
    options = dict(extra.get("options") or {})
    if book_type == "article":
        if outline.description:
            extra["abstract"] = escape_mentions(" ".join(outline.description.split()))[0]
        options["sections"] = [
            {"title": c.title, **({"summary": c.summary} if c.summary else {})}
            for c in outline.chapters
        ]
    if book_type == "course" and planned.minutes:
        options["minutes"] = planned.minutes
    if options:
        extra["options"] = options
    return extra


def _starter_chapters(book: Book | None, skeleton: dict[str, str]) -> set[str]:
    """The toc's chapters that are still the setup PR's placeholder, word for word."""
    if book is None:
        return set()
    found = set()
    for chapter in book.toc:
        starter = skeleton.get(chapter.path)
        file = book.directory / chapter.path
        if starter is not None and file.is_file() and file.read_text("utf-8") == starter:
            found.add(chapter.path)
    return found


def _is_starter(book: Book, skeleton: dict[str, str]) -> bool:
    """True while `myst.yml` still has the setup PR's placeholder title or description, which
    the first outline replaces with the book's own."""
    starter = yaml.safe_load(skeleton["myst.yml"]).get("project", {})
    try:
        project = (yaml.safe_load(book.myst_yml) or {}).get("project", {}) or {}
    except yaml.YAMLError:
        return False
    return book.title == PLACEHOLDER_TITLE or (
        bool(starter.get("description"))
        and project.get("description") == starter.get("description")
    )


def _chapters_off_the_toc(book: Book) -> list[Chapter]:
    """Chapter files in the chapters folder that the toc does not list (disabled chapters)."""
    folder = book.directory / book.config.chapters_dir
    if not folder.is_dir():
        return []
    listed = {c.path for c in book.toc} | set(book.root_files)
    found: list[Chapter] = []
    for file in sorted(folder.rglob("*"))[:_MAX_OFF_TOC_FILES]:
        if not file.name.endswith(_CHAPTER_SUFFIXES) or not file.is_file():
            continue
        path = file.relative_to(book.directory).as_posix()
        if path not in listed:
            chapter, _ = read_chapter(book.directory, path, 0, None)
            if not chapter.missing:
                found.append(chapter)
    return found


def _exists_in(book: Book | None) -> Callable[[str], bool]:
    """Whether a path is already a file (or link, or folder) in the book's checkout."""
    if book is None:
        return lambda path: False
    directory = book.directory
    return lambda path: os.path.lexists(directory / path)


def _unique(name: str, taken: set[str], exists: Callable[[str], bool] | None = None) -> str:
    """`name`, or `name-2`, `name-3`… (before any extension) if already taken or, when
    `exists` is given, already on disk; records the choice in `taken`."""
    stem, dot, suffix = name.rpartition(".") if name.endswith(".md") else (name, "", "")
    candidate, counter = name, 2
    while candidate in taken or (exists is not None and exists(candidate)):
        candidate = f"{stem}-{counter}{dot}{suffix}"
        counter += 1
    taken.add(candidate)
    return candidate


def _starter_glossary(book: Book | None) -> bool:
    """Whether the book's glossary is still the setup PR's, with no entries."""
    file = book.directory / GLOSSARY_PATH if book else None
    if file is None or file.is_symlink() or not file.is_file():
        return False
    return file.read_text("utf-8", errors="replace") == GLOSSARY_INTRO
