"""Reading one chapter file: front matter (title, summary, objectives, label) and body.

Objectives are written under `options.objectives` because MyST warns about unknown top-level
front-matter keys and accepts anything under `options`; a hand-written top-level
`objectives:` is read too.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import frontmatter
import yaml

from bot.book.markdown import STUB_MARKER
from bot.visible import blank, visible

_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass
class Chapter:
    """One chapter: its place in the toc, its front matter and its Markdown body.

    `extra` keeps the front-matter keys this app does not manage, so rewriting a chapter
    never drops an author's settings.
    """

    number: int
    path: str
    title: str
    summary: str = ""
    objectives: list[str] = field(default_factory=list)
    label: str = ""
    body: str = ""
    is_stub: bool = False
    missing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_markdown(self) -> bool:
        """Only Markdown chapters may be rewritten as front matter + body; a notebook's
        file is JSON, which `render_chapter` would destroy."""
        return self.path.endswith(".md")


# A block of front matter at the start of a text: `---`, YAML (possibly none), `---` or `...`.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?:.*?\n)??(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
# What renders as nothing in MyST (`%` comment lines, HTML comments) or as nothing but a
# rule (`---`, `***`, `___` alone on a line).
_COMMENT_LINE = re.compile(r"^[ \t]*(?:%.*|([-*_])(?:[ \t]*\1){2,}[ \t]*)$", re.MULTILINE)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)


def body_of(text: str) -> str:
    """What a chapter's text shows below its front matter: every block of front matter at
    its start removed (a model may write several), then the comments MyST renders as
    nothing (`%` lines, `<!-- -->`) and lines that are only a rule."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    while True:
        text = _lstrip_blank(text)
        match = _FRONT_MATTER.match(text)
        if match is None:
            break
        text = text[match.end() :]
    text = _HTML_COMMENT.sub("", text)
    return _COMMENT_LINE.sub("", text)


def has_body(text: str) -> bool:
    """Whether a chapter's text (as a model answered it, or as cleaned) has a body that
    shows something. An answer without one (empty, blank, front matter or comments only)
    must never replace a chapter: committed, it would delete the chapter's text."""
    return not blank(body_of(text))


def _lstrip_blank(text: str) -> str:
    """`text` without the characters at its start that show nothing (spaces, a BOM...)."""
    for index, ch in enumerate(text):
        if visible(ch):
            return text[index:]
    return ""


def title_from_path(path: str) -> str:
    """`chapters/03-bayes-rule.md` → `Bayes rule`: a readable stand-in for a missing title."""
    stem = PurePosixPath(path).name.split(".")[0]
    words = re.sub(r"^\d+[a-z]?[-_ ]+", "", stem).replace("-", " ").replace("_", " ").strip()
    words = words or stem
    return words[:1].upper() + words[1:]


def read_chapter(
    root: Path, path: str, number: int, toc_title: str | None
) -> tuple[Chapter, list[str]]:
    """Read `root/path`; return the chapter and the problems worth telling the author."""
    fallback_title = str(toc_title or title_from_path(path))
    file = root / path
    base = os.path.realpath(root)
    if not os.path.realpath(file).startswith(base + os.sep):
        # A link inside the book that points out of it: never read it.
        problem = f"`{path}` points outside the book; it was ignored."
        return Chapter(number, path, fallback_title, is_stub=True, missing=True), [problem]
    if not file.is_file():
        problem = f"The toc lists `{path}`, but there is no such file."
        return Chapter(number, path, fallback_title, is_stub=True, missing=True), [problem]
    text = file.read_text("utf-8", errors="replace")
    if path.endswith(".ipynb"):
        return _read_notebook(text, number, path, toc_title, fallback_title), []
    problems: list[str] = []
    try:
        post = frontmatter.loads(text)
        meta: dict[str, Any] = dict(post.metadata)
        body = post.content
    except (yaml.YAMLError, ValueError, TypeError):
        problems.append(f"The front matter of `{path}` is not valid YAML; it was ignored.")
        meta, body = {}, re.sub(r"\A---\n.*?\n---\n?", "", text, count=1, flags=re.DOTALL)
    heading = _HEADING.search(body)
    title = str(
        meta.pop("title", "") or toc_title or (heading and heading.group(1)) or fallback_title
    )
    options = meta.get("options")
    objectives = meta.pop("objectives", None)
    if isinstance(options, dict) and "objectives" in options:
        options = dict(options)
        objectives = options.pop("objectives")
        if options:
            meta["options"] = options
        else:
            meta.pop("options")
    chapter = Chapter(
        number=number,
        path=path,
        title=title.strip(),
        summary=str(meta.pop("summary", "") or "").strip(),
        objectives=_as_list(objectives),
        label=str(meta.pop("label", "") or "").strip(),
        body=body,
        is_stub=STUB_MARKER in body or not body.strip(),
        extra=meta,
    )
    return chapter, problems


def _read_notebook(
    text: str, number: int, path: str, toc_title: str | None, fallback_title: str
) -> Chapter:
    """A notebook chapter: title, summary, label and objectives from the front matter of its
    first Markdown cell (where MyST reads it) or its first heading. The body stays empty:
    nothing here ever writes a notebook back."""
    meta: dict[str, Any] = {}
    heading = None
    try:
        cells = json.loads(text).get("cells") or []
        first = next(c for c in cells if isinstance(c, dict) and c.get("cell_type") == "markdown")
        source = first.get("source") or ""
        source = "".join(source) if isinstance(source, list) else str(source)
        post = frontmatter.loads(source)
        meta, heading = dict(post.metadata), _HEADING.search(post.content)
    except (ValueError, TypeError, AttributeError, StopIteration, yaml.YAMLError):
        pass
    title = str(meta.get("title") or toc_title or (heading and heading.group(1)) or fallback_title)
    options = meta.get("options")
    objectives = meta.get("objectives")
    if isinstance(options, dict) and "objectives" in options:
        objectives = options["objectives"]
    return Chapter(
        number=number,
        path=path,
        title=title.strip(),
        summary=str(meta.get("summary") or "").strip(),
        objectives=_as_list(objectives),
        label=str(meta.get("label") or "").strip(),
    )


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return [str(value).strip()] if str(value).strip() else []
