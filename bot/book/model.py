"""The book as the repository holds it: `myst.yml`'s toc, the settings and the chapter files.

Toc conventions (decided here, relied on everywhere):
- Chapters are the `file:` entries of `project.toc`, depth first, in order; `title:`-only
  sections contribute their children, `url:` entries are skipped, `pattern:` entries expand
  to the matching files in sorted order (as MyST does).
- The first toc entry is the book's root page, not a chapter, when its file is named
  `intro`, `index` or `readme` (any extension, any case). MyST renders it as the landing page.
- A book without a toc takes the Markdown files under `chapters_dir`, sorted, as chapters.
- A chapter listed in the toc but missing on disk is kept (`missing=True`) and reported in
  `Book.problems`: a later `/generate` can write it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from bot.book.chapters import Chapter, read_chapter
from bot.book.config import BookConfig, parse_config
from bot.book.markdown import find_labels
from bot.book.paths import CONFIG_PATH
from bot.book.selector import ChapterSelector, SelectorError, parse_selector

ROOT_PAGE_NAMES = frozenset({"intro", "index", "readme"})
# Pages listed after the chapters that are not chapters: the glossary, which one standing PR
# keeps (`bot.jobs.glossary`). A chapter number or `/generate chapter all` never names it.
BACK_PAGES = frozenset({"glossary.md"})
_CHAPTER_SUFFIXES = (".md", ".ipynb", ".myst.md")
_TITLES_LISTED = 30  # chapter titles named when a title matches none of them


class BookError(Exception):
    """The book cannot be read, or a selector names no chapter; the message is for authors."""


@dataclass
class Book:
    """A book read from a directory; `toc` holds the chapters in reading order."""

    directory: Path
    config: BookConfig
    title: str
    toc: list[Chapter]
    root_files: list[str] = field(default_factory=list)
    myst_yml: str = ""
    problems: list[str] = field(default_factory=list)
    back_files: list[str] = field(default_factory=list)

    @classmethod
    def from_directory(cls, path: Path) -> Book:
        """Read the book at `path`; raises `BookError` (bad `myst.yml`) or `ConfigError`."""
        myst_text, project = _read_project(path)
        config_file = path / CONFIG_PATH
        config = parse_config(config_file.read_text("utf-8") if config_file.is_file() else None)
        problems: list[str] = []
        files = _entries(project.get("toc"), path, config.chapters_dir, problems)
        root_files = []
        if files and _is_root_page(files[0][0]):
            root_files.append(files.pop(0)[0])
        back_files = [file for file, _ in files if file in BACK_PAGES]
        files = [(file, title) for file, title in files if file not in BACK_PAGES]
        chapters = []
        for number, (file, toc_title) in enumerate(files, start=1):
            chapter, chapter_problems = read_chapter(path, file, number, toc_title)
            problems.extend(chapter_problems)
            chapters.append(chapter)
        title = str(project.get("title") or config.title or path.name)
        return cls(path, config, title, chapters, root_files, myst_text, problems, back_files)

    def chapter(self, selector: ChapterSelector | int | str) -> list[Chapter]:
        """The chapters a selector names, or a `BookError` an author can act on."""
        if isinstance(selector, int):
            selector = ChapterSelector("number", start=selector, end=selector)
        elif isinstance(selector, str):
            try:
                selector = parse_selector(selector)
            except SelectorError as error:
                raise BookError(error.sentence()) from None
        count = len(self.toc)
        if count == 0:
            raise BookError(
                "This book has no chapters yet; comment `/outline <description>` first."
            )
        if selector.kind == "all":
            return list(self.toc)
        if selector.kind == "title":
            return [self._by_title(selector.title or "")]
        start, end = selector.start or 1, selector.end or selector.start or 1
        if end > count:
            noun = "chapter" if count == 1 else "chapters"
            wanted = f"chapter {start}" if start == end else f"chapters {start}-{end}"
            raise BookError(f"This book has {count} {noun}; there is no {wanted}.")
        return self.toc[start - 1 : end]

    def _by_title(self, title: str) -> Chapter:
        wanted = title.strip().casefold()
        for chapter in self.toc:
            if chapter.title.casefold() == wanted:
                return chapter
        titles = [chapter.title for chapter in self.toc]
        match = process.extractOne(title, titles, scorer=fuzz.WRatio, score_cutoff=60)
        if match is not None:
            hint = f' Did you mean "{match[0]}" (chapter {match[2] + 1})?'
        else:
            shown = "; ".join(f"{c.number}. {c.title}" for c in self.toc[:_TITLES_LISTED])
            more = (
                f"; and {len(self.toc) - _TITLES_LISTED} more"
                if len(titles) > _TITLES_LISTED
                else ""
            )
            hint = f" The chapters are: {shown}{more}."
        raise BookError(f'No chapter is titled "{_short(title)}".{hint}')

    def labels(self, except_path: str | None = None) -> set[str]:
        """Every cross-reference target in the book: page labels and `(label)=` targets.

        `except_path` leaves out the targets inside that chapter's body (not its page label),
        for checking a rewrite of it against the rest of the book.
        """
        found = {chapter.label for chapter in self.toc if chapter.label}
        for chapter in self.toc:
            if chapter.path != except_path:
                found |= find_labels(chapter.body)
        for file in self.root_files:
            root, _ = read_chapter(self.directory, file, 0, None)
            found |= find_labels(root.body) | ({root.label} if root.label else set())
        return found

    def citation_keys(self, except_path: str | None = None) -> set[str]:
        """Keys of the book's BibTeX entries (every `.bib` file: mystmd loads them all, and
        a research text keeps one per chapter), so real citations are not mistaken for
        mentions; `except_path` leaves one file out (a chapter's own, being rewritten)."""
        keys: set[str] = set()
        for bib in sorted(self.directory.rglob("*.bib"))[:_MAX_BIB_FILES]:
            relative = bib.relative_to(self.directory)
            if relative.as_posix() == except_path or "_build" in relative.parts:
                continue
            if bib.is_symlink() or not bib.is_file():
                continue
            text = bib.read_text("utf-8", errors="replace")
            keys |= set(re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,", text))
        return keys


_MAX_BIB_FILES = 500


def _short(text: str, limit: int = 120) -> str:
    """A title typed in a comment, short enough to quote back."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_root_page(file: str) -> bool:
    return PurePosixPath(file).name.split(".")[0].lower() in ROOT_PAGE_NAMES


def _entries(
    toc: Any, root: Path, chapters_dir: str, problems: list[str]
) -> list[tuple[str, str | None]]:
    """The toc's files with their toc titles; without a toc, what MyST would find."""
    if toc is None:
        pages = [name for name in ("intro.md", "index.md") if (root / name).is_file()]
        found = sorted(p.relative_to(root).as_posix() for p in (root / chapters_dir).rglob("*.md"))
        return [(file, None) for file in pages[:1] + found]
    if not isinstance(toc, list):
        raise BookError(
            "`project.toc` in myst.yml must be a list of entries like `- file: intro.md`."
        )
    return list(_toc_files(toc, root, problems))


def _read_project(path: Path) -> tuple[str, dict[str, Any]]:
    file = path / "myst.yml"
    if not file.is_file():
        raise BookError(
            "There is no `myst.yml` at the top of the repository; comment `/init` to start a book."
        )
    text = file.read_text("utf-8", errors="replace")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise BookError(
            f"`myst.yml` is not valid YAML{where}: {getattr(error, 'problem', error)}."
        ) from None
    if not isinstance(data, dict):
        raise BookError("`myst.yml` must be a mapping with `version: 1` and a `project:` section.")
    project = data.get("project") or {}
    if not isinstance(project, dict):
        raise BookError(
            "`project` in myst.yml must be a mapping of settings such as `title` and `toc`."
        )
    return text, project


def _inside_book(root: Path, file: str) -> bool:
    """A toc entry must name a file in the book: a worker must never read `/proc/self/environ`
    or `../secrets` into a prompt or a pull request because a `myst.yml` said so."""
    if file.startswith("/") or "\\" in file or ".." in PurePosixPath(file).parts:
        return False
    real, base = os.path.realpath(root / file), os.path.realpath(root)
    return real.startswith(base + os.sep)


def _toc_files(
    entries: list[Any], root: Path, problems: list[str]
) -> Iterator[tuple[str, str | None]]:
    for entry in entries:
        if not isinstance(entry, dict):
            problems.append(f"A toc entry in myst.yml is not understood: `{entry}`.")
            continue
        file = entry.get("file")
        if isinstance(file, str):
            path = PurePosixPath(file.strip()).as_posix().removeprefix("./")
            if _inside_book(root, path):
                yield path, entry.get("title")
            else:
                problems.append(f"The toc entry `{file}` points outside the book; it was ignored.")
        pattern = entry.get("pattern")
        if pattern is not None:
            yield from _pattern_files(pattern, root, problems)
        children = entry.get("children")
        if isinstance(children, list):
            yield from _toc_files(children, root, problems)


def _pattern_files(pattern: Any, root: Path, problems: list[str]) -> Iterator[tuple[str, None]]:
    """The chapter files a toc `pattern:` matches, sorted; a pattern that cannot name files
    in the book (empty, absolute, `..`, not a string) is a problem for the author, never a
    crash of the job."""
    if not isinstance(pattern, str) or not pattern.strip():
        problems.append(
            f"A toc `pattern:` must be a non-empty text such as `chapters/*.md`, "
            f"not `{pattern!r}`; it was ignored."
        )
        return
    shown = f"`{pattern}`"
    text = pattern.strip()
    while text.startswith("./"):
        text = text[2:]
    unusable = f"The toc pattern {shown} is not a pattern of book files; it was ignored."
    if text.startswith("/") or ".." in PurePosixPath(text).parts:
        problems.append(f"The toc pattern {shown} points outside the book; it was ignored.")
        return
    if not text or text == "." or "\\" in text or "\x00" in text:
        problems.append(unusable)
        return
    try:
        matches = sorted(root.glob(text))
    except (ValueError, NotImplementedError, IndexError, OSError):
        problems.append(unusable)
        return
    for match in matches:
        relative = match.relative_to(root).as_posix() if match.is_relative_to(root) else ""
        if relative and _inside_book(root, relative) and match.is_file():
            if match.name.endswith(_CHAPTER_SUFFIXES):
                yield relative, None
