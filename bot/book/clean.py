"""Deterministic repairs of a model-written chapter body, each one listed for the PR body.

Models wrap answers in fences, repeat the title as `# Title`, add front matter, mention
`@people` (a citation in MyST) and invent cross-reference labels. None of that needs another
model call: it is fixed here, and what was changed is said, so a reviewer can trust the diff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from rapidfuzz import fuzz

from bot.book.chapters import Chapter
from bot.book.markdown import code_mask, escape_mentions, find_labels
from bot.book.model import Book

_OUTER_FENCE = re.compile(r"^(`{3,}|~{3,})[ \t]*(markdown|md|myst|mystmd)?[ \t]*$", re.I)
_HEADING = re.compile(r"^(#{1,6})(\s+.*)$")
_REF = re.compile(r"\{(ref|numref)\}`([^`]*)`")
_LINK = re.compile(r"\[([^\]]*)\]\(#([^)\s]+)\)")


@dataclass
class CleanResult:
    """The repaired body and one sentence per kind of repair made."""

    body: str
    fixes: list[str] = field(default_factory=list)


def _unwrap_fence(text: str) -> tuple[str, bool]:
    """Remove a fence around the whole answer, with at most a short preamble before it.

    A fence labelled markdown/md/myst is removed even when inner fences would close it
    early by CommonMark's rules (models nest them anyway); a bare fence only when it really
    spans the whole answer, so a body that starts and ends with code blocks is left alone.
    """
    lines = text.strip().split("\n")
    for start in range(min(3, len(lines))):
        opening = _OUTER_FENCE.match(lines[start].strip())
        if opening is None:
            continue
        fence, closing = opening.group(1), lines[-1].strip()
        closes = closing == fence[0] * len(closing) and len(closing) >= len(fence)
        if not closes or len(lines) - start <= 2:
            return text, False
        if opening.group(2) is None and not all(code_mask(lines[start:])):
            return text, False
        return "\n".join(lines[start + 1 : -1]), True
    return text, False


def _strip_front_matter(text: str) -> tuple[str, bool]:
    match = re.match(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", text, re.S)
    if match is None:
        return text, False
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return text, False
    if not isinstance(data, dict):
        return text, False
    return text[match.end() :], True


def _fix_headings(text: str, title: str) -> tuple[str, list[str]]:
    """Drop a leading `# Title`, and shift headings down when the body still uses `#`."""
    fixes = []
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None:
        heading = _HEADING.match(lines[first])
        if heading and len(heading.group(1)) == 1:
            if fuzz.ratio(heading.group(2).strip().casefold(), title.casefold()) >= 80:
                del lines[first]
                fixes.append("Removed a `# title` heading that repeated the chapter title.")
    mask = code_mask(lines)
    top_level = [i for i, line in enumerate(lines) if not mask[i] and re.match(r"^#\s", line)]
    if top_level:
        for i, line in enumerate(lines):
            heading = _HEADING.match(line)
            if heading and not mask[i]:
                lines[i] = "#" * min(len(heading.group(1)) + 1, 6) + heading.group(2)
        fixes.append("Moved headings down one level: sections start at `##` under the title.")
    return "\n".join(lines), fixes


def drop_unknown_refs(text: str, known: set[str]) -> tuple[str, list[str]]:
    """Turn `{ref}`s and `(#label)` links to labels not in `known` into plain text."""
    dropped: list[str] = []

    def ref(match: re.Match[str]) -> str:
        content = match.group(2).strip()
        explicit = re.match(r"^(.*?)\s*<([^<>]+)>$", content)
        text, label = (explicit.group(1), explicit.group(2)) if explicit else ("", content)
        if label in known:
            return match.group(0)
        dropped.append(label)
        return re.sub(r"%s|\{number\}", "", text).strip() or label.replace("-", " ")

    def link(match: re.Match[str]) -> str:
        if match.group(2) in known:
            return match.group(0)
        dropped.append(match.group(2))
        return match.group(1) or match.group(2).replace("-", " ")

    lines = text.split("\n")
    for i, in_code in enumerate(code_mask(lines)):
        if not in_code:
            lines[i] = _LINK.sub(link, _REF.sub(ref, lines[i]))
    fixes = [
        f"Turned a cross-reference to the unknown label `{label}` into plain text."
        for label in dict.fromkeys(dropped)
    ]
    return "\n".join(lines), fixes


def clean_chapter_body(model_text: str, book: Book | None, chapter: Chapter) -> CleanResult:
    """Repair what a model typically gets wrong in a chapter body; list every repair."""
    fixes: list[str] = []
    text, unwrapped = _unwrap_fence(model_text.replace("\r\n", "\n"))
    if unwrapped:
        fixes.append("Removed the code fence around the whole answer.")
    text, stripped = _strip_front_matter(text.lstrip("\n"))
    if stripped:
        fixes.append("Removed front matter the model added; the chapter keeps its own.")
    text, heading_fixes = _fix_headings(text, chapter.title)
    fixes += heading_fixes
    keep = book.citation_keys() if book else set()
    text, escaped = escape_mentions(text, keep)
    if escaped:
        fixes.append(f"Escaped {escaped} `@name` mention(s) so they are not read as citations.")
    known = (book.labels(except_path=chapter.path) if book else set()) | find_labels(text)
    known |= {chapter.label} if chapter.label else set()
    text, ref_fixes = drop_unknown_refs(text, known)
    fixes += ref_fixes
    return CleanResult(text.strip() + "\n", fixes)
