"""Deterministic repairs of a model-written chapter body, each one listed for the PR body.

Models wrap answers in fences, repeat the title as `# Title`, add front matter, mention
`@people` (a citation in MyST), invent cross-reference labels, and use directives and roles
from Sphinx that MyST does not have. None of that needs another model call: it is fixed here,
and what was changed is said, so a reviewer can trust the diff. A directive that reads a file
(`{include}`, `{literalinclude}`, `{figure}`, `{image}`, a `:file:` option) from outside the
book is never kept: a model answer must not be able to publish the worker's files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from rapidfuzz import fuzz

from bot.book.chapters import Chapter
from bot.book.guard import Place, guard, outside
from bot.book.markdown import code_mask, escape_mentions, find_labels
from bot.book.model import Book

_OUTER_FENCE = re.compile(r"^(`{3,}|~{3,})[ \t]*(markdown|md|myst|mystmd)?[ \t]*$", re.I)
_HEADING = re.compile(r"^(#{1,6})(\s+.*)$")
_REF = re.compile(r"\{(ref|numref)\}`([^`]*)`")
_LINK = re.compile(r"\[([^\]]*)\]\(#([^)\s]+)\)")
_DIRECTIVE = re.compile(
    r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})\{(?P<name>[^{}\s]+)\}(?P<arg>.*)$"
)
_OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):(?P<value>.*)$")
_ROLE = re.compile(
    r"(?<![\w`\\])\{(?P<name>[A-Za-z][\w:.+-]*)\}(?P<ticks>`+)(?P<content>.+?)(?P=ticks)"
)

# The directives and roles jupyter-book 2.1.7 knows: each name was built in a page, and
# these are the ones it did not answer with `unknown directive` / `unknown role`.
KNOWN_DIRECTIVES = frozenset(
    """admonition attention caution danger error hint important note seealso tip warning
    aside margin sidebar topic blockquote epigraph pull-quote bibliography code code-block
    sourcecode code-cell csv-table list-table table div dropdown card grid grid-item
    grid-item-card tab-set tab-item tabSet tabItem tab embed figure image iframe include
    literalinclude glossary math mdast myst mermaid raw raw:latex raw:tex raw:typst raw:typ
    exercise exercise-start exercise-end solution solution-start solution-end proof
    prf:proof prf:axiom prf:theorem prf:lemma prf:algorithm prf:definition prf:remark
    prf:conjecture prf:corollary prf:criterion prf:example prf:property prf:observation
    prf:proposition prf:assumption index genindex show-index toc anywidget""".split()
)
KNOWN_ROLES = frozenset(
    """abbr sub subscript sup superscript u underline del strike delete smallcaps sc kbd
    keyboard math eq ref numref doc download term cite cite:p cite:t cite:ps cite:ts
    cite:year cite:author cite:alp cite:yearpar button span chem si index prf:ref eval
    raw:latex raw:typst""".split()
)
# Sphinx directives whose content is code, not prose: kept as a code block.
_CODE_DIRECTIVES = {
    "jupyter-execute": "python",
    "ipython": "python",
    "plot": "python",
    "doctest": "python",
    "testcode": "python",
    "testoutput": "text",
    "graphviz": "text",
    "digraph": "text",
    "highlight": "text",
    "program-output": "text",
    "command-output": "text",
}
# C0 controls but tab, newline and carriage return; DEL. Terminals and editors act on them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


def strip_control(text: str) -> tuple[str, int]:
    """`text` without control characters other than tab and line breaks, and how many went."""
    stripped, count = _CONTROL.subn("", text)
    return stripped, count


def outside_book(path: str, chapter_path: str) -> bool:
    """True when a file path written in `chapter_path` names something outside the book
    (the guard's rule without a book on disk). URLs are not files."""
    return outside(path, Place(chapter_path))


def _closing(lines: list[str], start: int, fence: str) -> int:
    """The index of the line closing the directive opened at `start` (the end if none)."""
    closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    for index in range(start + 1, len(lines)):
        if closing.match(lines[index]):
            return index
    return len(lines)


def repair_directives(text: str) -> tuple[str, list[str]]:
    """Turn unknown directives into a note (`{admonition}`) or, for Sphinx's code
    directives, a plain code block. (Files outside the book are the guard's business.)"""
    lines = text.split("\n")
    mask = code_mask(lines)
    out: list[str] = []
    fixes: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        match = None if mask[index] else _DIRECTIVE.match(line)
        if match is None:
            out.append(line)
            index += 1
            continue
        indent, fence, name = match["indent"], match["fence"], match["name"]
        argument = match["arg"].strip()
        end = _closing(lines, index, fence)
        inside = lines[index + 1 : end]
        count = 0
        while count < len(inside) and _OPTION.match(inside[count]):
            count += 1
        body = inside[count:]
        if name in KNOWN_DIRECTIVES:
            out.append(line)
            index += 1
            continue
        language = _CODE_DIRECTIVES.get(name.lower())
        if language is not None:
            longest = max((len(run) for run in re.findall(r"`+", "\n".join(body))), default=0)
            ticks = "`" * max(3, longest + 1)
            out += [f"{indent}{ticks}{language}", *body, f"{indent}{ticks}"]
            fixes.append(
                f"Turned the `{{{name}}}` directive, which jupyter-book does not have, into a "
                "code block."
            )
            index = end + 1
            continue
        title = argument or name.replace("-", " ").replace(":", " ").strip().capitalize()
        out.append(f"{indent}{fence}{{admonition}} {title}")
        fixes.append(
            f"Turned the `{{{name}}}` directive, which jupyter-book does not have, into a note."
        )
        index += 1 + count  # its options belonged to the unknown directive
    return "\n".join(out), list(dict.fromkeys(fixes))


def repair_roles(text: str) -> tuple[str, list[str]]:
    """Turn roles jupyter-book does not have (`{func}`x``) into inline code."""
    unknown: list[str] = []

    def role(match: re.Match[str]) -> str:
        if match["name"] in KNOWN_ROLES:
            return match.group(0)
        unknown.append(match["name"])
        ticks = match["ticks"]
        return f"{ticks}{match['content']}{ticks}"

    lines = text.split("\n")
    for i, in_code in enumerate(code_mask(lines)):
        if not in_code and "{" in lines[i]:
            lines[i] = _ROLE.sub(role, lines[i])
    fixes = [
        f"Turned the `{{{name}}}` role, which jupyter-book does not have, into inline code."
        for name in dict.fromkeys(unknown)
    ]
    return "\n".join(lines), fixes


def clean_chapter_body(model_text: str, book: Book | None, chapter: Chapter) -> CleanResult:
    """Repair what a model typically gets wrong in a chapter body; list every repair."""
    fixes: list[str] = []
    text, controls = strip_control(model_text.replace("\r\n", "\n"))
    if controls:
        fixes.append(f"Removed {controls} control character(s) (such as NUL or ESC).")
    text, unwrapped = _unwrap_fence(text)
    if unwrapped:
        fixes.append("Removed the code fence around the whole answer.")
    text, stripped = _strip_front_matter(text.lstrip("\n"))
    if stripped:
        fixes.append("Removed front matter the model added; the chapter keeps its own.")
    text, heading_fixes = _fix_headings(text, chapter.title)
    fixes += heading_fixes
    text, directive_fixes = repair_directives(text)
    fixes += directive_fixes
    text, role_fixes = repair_roles(text)
    fixes += role_fixes
    keep = book.citation_keys() if book else set()
    text, escaped = escape_mentions(text, keep)
    if escaped:
        fixes.append(f"Escaped {escaped} `@name` mention(s) so they are not read as citations.")
    known = (book.labels(except_path=chapter.path) if book else set()) | find_labels(text)
    known |= {chapter.label} if chapter.label else set()
    text, ref_fixes = drop_unknown_refs(text, known)
    fixes += ref_fixes
    guarded = guard(text, Place(chapter.path, book.directory if book else None))
    return CleanResult(guarded.text.strip() + "\n", fixes + guarded.fixes)
