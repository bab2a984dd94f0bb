"""The write side: chapter files, file names, labels and `myst.yml` edits.

`myst.yml` is edited as text, one key of `project:` at a time, so the author's comments and
layout survive; when the file is laid out in a way the text edit cannot follow (flow style,
no `project:` block), it falls back to a plain YAML dump and the result is still correct.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import yaml

from bot.book.chapters import Chapter
from bot.book.config import BookConfig
from bot.book.markdown import escape_mentions
from bot.book.model import BACK_PAGES, ROOT_PAGE_NAMES
from bot.book.paths import safe_book_path
from bot.book.settings_file import render_config

__all__ = [
    "chapter_path",
    "render_chapter",
    "render_config",
    "set_project_title",
    "set_toc",
    "slugify",
]

MAX_SLUG_LENGTH = 50


class _IndentedDumper(yaml.SafeDumper):
    """Indents lists under their key (`toc:\\n  - file: x`), as MyST's own files do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump_yaml(data: Any) -> str:
    """YAML the way people write it: keys in order, unicode as is, lists indented."""
    return yaml.dump(data, Dumper=_IndentedDumper, sort_keys=False, allow_unicode=True, width=4096)


def slugify(title: str) -> str:
    """`Bayes' Rule & Priors` → `bayes-rule-priors`; ASCII, at most 50 characters."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower().replace("'", "")).strip("-")
    if len(slug) > MAX_SLUG_LENGTH:
        slug = slug[:MAX_SLUG_LENGTH].rsplit("-", 1)[0]
    return slug or "chapter"


def chapter_path(config: BookConfig, number: int, title: str) -> str:
    """Where chapter `number` titled `title` lives: `chapters/03-bayes-rule.md`.

    The number only sorts files for people browsing the repository; the order that counts
    is the toc's, and MyST drops the prefix from URLs, which is why chapters carry labels.
    """
    return safe_book_path(f"{config.chapters_dir}/{number:02d}-{slugify(title)}.md")


def render_chapter(chapter: Chapter, body: str | None = None) -> str:
    """A chapter file: front matter (title, label, summary, objectives, the author's other
    keys) and the body. A missing label is derived from the title so `{ref}` works."""
    meta: dict[str, Any] = {
        "title": chapter.title,
        "label": chapter.label or slugify(chapter.title),
    }
    if chapter.summary:
        # MyST renders `summary` as Markdown, so a stray `@name` would become a citation.
        meta["summary"] = escape_mentions(chapter.summary)[0]
    extra = dict(chapter.extra)
    options = dict(extra.pop("options", None) or {})
    meta.update(extra)
    if chapter.objectives:
        options["objectives"] = list(chapter.objectives)
    if options:
        meta["options"] = options
    text = chapter.body if body is None else body
    return f"---\n{dump_yaml(meta)}---\n\n{text.strip()}\n"


def set_toc(
    myst_yml_text: str,
    chapter_paths: list[str],
    root_file: str | None = None,
    *,
    keep_root: bool = True,
    parts: list[str] | None = None,
    back: list[str] | None = None,
    keep_back: bool = True,
) -> str:
    """Rewrite `project.toc` as the root page followed by `chapter_paths`; keep the rest.

    The existing root page entry (first entry named intro/index/readme) is kept first
    (unless `keep_root` is False); `root_file` adds one when there is none. Sections of the
    old toc are flattened; `parts` (one title per chapter, "" for none) groups consecutive
    chapters of one part under a `title:` entry with `children`, as a book's parts. Back
    pages (the glossary) the old toc lists (unless `keep_back` is False), and those in
    `back`, come last, each once.
    """
    data = _load(myst_yml_text)
    toc = (data.get("project") or {}).get("toc")
    entries: list[dict[str, Any]] = []
    first = toc[0] if isinstance(toc, list) and toc else None
    if keep_root and isinstance(first, dict) and isinstance(first.get("file"), str):
        if first["file"].rsplit("/", 1)[-1].split(".")[0].lower() in ROOT_PAGE_NAMES:
            entries.append({k: v for k, v in first.items() if k != "children"})
    if not entries and root_file:
        entries.append({"file": root_file})
    root = {entry["file"] for entry in entries}
    chapters = [(path, (parts or [])[i : i + 1]) for i, path in enumerate(chapter_paths)]
    for path, part in chapters:
        if path in root:
            continue
        title = part[0] if part else ""
        if not title:
            entries.append({"file": path})
        elif entries and entries[-1].get("title") == title and "children" in entries[-1]:
            entries[-1]["children"].append({"file": path})
        else:
            entries.append({"title": title, "children": [{"file": path}]})
    old = _flat(toc) if keep_back else []
    listed = [entry["file"] for entry in old if entry.get("file") in BACK_PAGES]
    for path in dict.fromkeys([*listed, *(back or [])]):
        if path not in root and path not in chapter_paths:
            entries.append({"file": path})
    return set_project_key(myst_yml_text, "toc", entries)


def _flat(toc: Any) -> list[dict[str, Any]]:
    """Every entry of a toc, children included, in order."""
    found: list[dict[str, Any]] = []
    for entry in toc if isinstance(toc, list) else []:
        if isinstance(entry, dict):
            found.append(entry)
            found.extend(_flat(entry.get("children")))
    return found


def set_project_title(myst_yml_text: str, title: str) -> str:
    """Set `project.title`, keeping everything else as written."""
    return set_project_key(myst_yml_text, "title", title)


def set_project_key(text: str, key: str, value: Any) -> str:
    """Replace or add `project.<key>` in place; fall back to a full dump if needed."""
    data = _load(text)
    expected = dict(data)
    project = dict(expected.get("project") or {})
    project[key] = value
    expected["project"] = project
    edited = _edit_in_place(text, key, value)
    if edited is not None and _load(edited) == expected:
        return edited
    return dump_yaml(expected)


def _load(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text) if text.strip() else {}
    return data if isinstance(data, dict) else {}


def _edit_in_place(text: str, key: str, value: Any) -> str | None:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next(
        (i for i, line in enumerate(lines) if re.match(r"^project:\s*(#.*)?$", line)), None
    )
    if start is None:
        return None
    content = [i for i in range(start + 1, len(lines)) if lines[i].strip()]
    block: list[int] = []
    for i in content:
        if not lines[i].startswith((" ", "\t")) and not lines[i].startswith("#"):
            break
        if not lines[i].lstrip().startswith("#"):
            block.append(i)
    if not block:
        indent, insert_at = "  ", start + 1
    else:
        indent = re.match(r"^[ \t]*", lines[block[0]]).group(0)  # type: ignore[union-attr]
        insert_at = block[-1] + 1
    rendered = [indent + line + "\n" for line in dump_yaml({key: value}).splitlines()]
    key_line = next(
        (i for i in block if re.match(rf"^{indent}{re.escape(key)}:(\s|$)", lines[i])), None
    )
    if key_line is None:
        return "".join(lines[:insert_at] + rendered + lines[insert_at:])
    last = key_line
    for i in block:
        if i <= key_line:
            continue
        current = re.match(r"^[ \t]*", lines[i]).group(0)  # type: ignore[union-attr]
        if len(current) > len(indent) or lines[i].startswith(indent + "-"):
            last = i
        else:
            break
    return "".join(lines[:key_line] + rendered + lines[last + 1 :])
