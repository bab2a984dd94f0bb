"""The path guard: every file a chapter refers to must be inside the book.

MyST copies what a page refers to into the site: `{include}`/`{literalinclude}` read a file
into the page, figures, images, `{download}` roles and links to local files are copied to
`_build/`. A model answer (or an outline's summary) that names `/etc/passwd` or
`../../.env` would publish the build machine's files. So before anything is built, the text
is parsed (markdown-it with MyST's fences, colon fences, roles, math and front matter), every
reference is collected at any depth (lists, blockquotes, directive bodies parsed again as
Markdown, reference definitions, HTML `<img src>`), resolved against the chapter's folder
(and the book root for `/`-paths), and anything outside the book is removed: a directive
wholly, an inline reference by rewriting its block without it. The result is parsed again
until nothing escapes, with a bounded number of rounds; a text that cannot be checked
(nesting beyond what the parser follows) is replaced by a note, never passed on.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.myst_blocks import myst_block_plugin
from mdit_py_plugins.myst_role import myst_role_plugin

# Directives whose argument is a file (or, for `embed`, a page) they read or copy.
FILE_DIRECTIVES = frozenset(
    """include literalinclude figure image embed csv-table anywidget iframe mdast
    bibliography glossary card grid-item-card""".split()
)
# Options whose value names a file (MyST's `:file:`, cards' images, a figure's placeholder).
FILE_OPTIONS = frozenset(
    "file img-top img-bottom img-background placeholder src path data poster link".split()
)
# Roles whose content (or `<target>`) is a file or page.
FILE_ROLES = frozenset({"download", "doc", "include", "file"})
# Directive bodies that are code, not Markdown: their text is never a reference.
CODE_DIRECTIVES = frozenset(
    """code code-block sourcecode code-cell math mermaid raw raw:latex raw:tex raw:typst
    raw:typ""".split()
)
HTML_ATTRIBUTES = frozenset({"src", "href", "srcset", "poster", "data", "xlink:href"})
MAX_DEPTH = 16  # directive bodies inside directive bodies
MAX_NESTING = 200  # containers markdown-it follows; deeper text could not be checked
_MAX_ROUNDS = 12
REMOVED_NOTE = "*(removed: it referred to a file outside the book)*"
UNCHECKABLE_NOTE = (
    "*(This text was removed: it is nested too deeply to check what files it refers to.)*"
)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.I)
_FILE_SCHEMES = frozenset({"file", "path"})
_OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):(?P<value>.*)$")
_PREFIX = re.compile(r"^(?:[ \t]*(?:>|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t])))*[ \t]*")
_EXPLICIT_TARGET = re.compile(r"<([^<>]*)>\s*$")


class UncheckableError(ValueError):
    """The text nests deeper than the parser follows, so its references cannot be known."""


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING, "html": True})
    md.use(front_matter_plugin).use(colon_fence_plugin).use(myst_role_plugin)
    md.use(myst_block_plugin).use(dollarmath_plugin).enable("table")
    return md


_MD = _parser()


@dataclass(frozen=True)
class Reference:
    """A path the text refers to, where (lines of the whole text), and how."""

    kind: str  # `{include}`, `image`, `link`, `{download}`, `<img src>`, `definition`
    target: str
    lines: tuple[int, int]
    directive: bool = False  # the whole block at `lines` is the directive that reads it


@dataclass
class GuardResult:
    """The guarded text and one sentence per removed reference."""

    text: str
    fixes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    """Where a text lives: its book-relative path and, when known, the book on disk."""

    path: str
    root: Path | None = None


def _candidate(value: str) -> str | None:
    """The filesystem path a reference names, or None for URLs and in-page anchors."""
    value = value.strip().strip("\"'").strip()
    for _ in range(3):  # `%252e` decodes twice; MyST decodes at least once
        decoded = unquote(value)
        if decoded == value:
            break
        value = decoded
    value = value.replace("\\", "/")
    if not value or value.startswith(("#", "?")):
        return None
    scheme = _SCHEME.match(value)
    if scheme and not re.match(r"^[A-Za-z]:/", value):
        if scheme.group(1).lower() not in _FILE_SCHEMES:
            return None  # https:, mailto:, xref:, doi:… name no file here
        value = value[scheme.end() :].removeprefix("//")
    return value.split("#", 1)[0].split("?", 1)[0] or None


def _looks_like_path(value: str) -> bool:
    """For values that are not declared paths: only what would leave the book counts."""
    text = value.strip().replace("\\", "/")
    return text.startswith(("/", "~", "../", "file:", "path:")) or "/../" in text


def outside(value: str, place: Place) -> bool:
    """True when `value`, written in the file at `place`, names something outside the book.

    Relative paths resolve from the file's folder, `/`-paths from the book root (MyST's
    rule), and must stay inside; a `/`-path that exists at that absolute place on this
    machine is refused too, since some directives read it as absolute. With a book on disk
    links are followed: a link pointing out of the book is outside."""
    path = _candidate(value)
    if path is None:
        return False
    if path.startswith("~") or re.match(r"^[A-Za-z]:/", path) or "\x00" in path:
        return True
    if path.startswith("/"):
        if os.path.lexists(path):
            return True
        joined = posixpath.normpath(path.lstrip("/") or ".")
    else:
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(place.path), path))
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        return True
    if place.root is None:
        return False
    root = os.path.realpath(place.root)
    real = os.path.realpath(os.path.join(root, joined))
    return not (real == root or real.startswith(root + os.sep))


class _Attributes(HTMLParser):
    """The URL-bearing attribute values of every tag in an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.lower() in HTML_ATTRIBUTES and value:
                parts = value.split(",") if name.lower() == "srcset" else [value]
                self.values += [part.strip().split(" ")[0] for part in parts]

    handle_startendtag = handle_starttag


def html_targets(fragment: str) -> list[str]:
    """Paths in `src`, `href`, `srcset`… of the HTML in `fragment`."""
    parser = _Attributes()
    parser.feed(fragment)
    parser.close()
    return parser.values


def _directive(info: str) -> tuple[str, str] | None:
    match = re.match(r"^\{([^{}\s]+)\}(.*)$", info.strip())
    return (match.group(1).lower(), match.group(2).strip()) if match else None


def _split_options(content: str) -> tuple[list[tuple[str, str]], int]:
    """A directive body's options (`:key: value` lines or a `---` YAML block) and how many
    lines they take."""
    lines = content.split("\n")
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            block = lines[1:end]
            try:
                return list(_leaves("", yaml.safe_load("\n".join(block)))), end + 1
            except yaml.YAMLError:
                # MyST's parser may read what PyYAML refuses: every `key: value` line counts.
                pairs = [line.partition(":") for line in block]
                return [(k.strip().lower(), v.strip()) for k, _, v in pairs], end + 1
    options = []
    count = 0
    while count < len(lines) and (match := _OPTION.match(lines[count])):
        options.append((match["key"].lower(), match["value"].strip()))
        count += 1
    return options, count


_PAGE_FILES = frozenset({"thumbnail", "banner", "bibliography", "file", "url", "output"})


def _front_matter(text: str) -> list[tuple[str, str]]:
    try:
        return list(_leaves("", yaml.safe_load(text)))
    except yaml.YAMLError:
        pairs = [line.partition(":") for line in text.split("\n")]
        return [(k.strip().lower(), v.strip()) for k, _, v in pairs]


def _leaves(key: str, data: object) -> Iterator[tuple[str, str]]:
    if isinstance(data, dict):
        for name, value in data.items():
            yield from _leaves(str(name).lower(), value)
    elif isinstance(data, list):
        for item in data:
            yield from _leaves(key, item)
    elif data is not None:
        yield key, str(data)


def _role_target(content: str) -> str:
    explicit = _EXPLICIT_TARGET.search(content)
    return explicit.group(1) if explicit else content


def _inline_targets(token: Token) -> Iterator[tuple[str, str]]:
    for child in token.children or []:
        if child.type == "link_open":
            yield "link", str(child.attrs.get("href", ""))
        elif child.type == "image":
            yield "image", str(child.attrs.get("src", ""))
            yield from _inline_targets(child)
        elif child.type == "html_inline":
            yield from (("<html>", value) for value in html_targets(child.content))
        elif child.type == "myst_role":
            name = str(child.meta.get("name", "")).lower()
            target = _role_target(child.content)
            if name in FILE_ROLES or _looks_like_path(target):
                yield f"{{{name}}}", target


def references(text: str, place: Place) -> list[Reference]:
    """Every reference in `text` that leaves the book, with the lines to remove it from."""
    found: list[Reference] = []
    _collect(text, place, 0, 0, found)
    return found


def _collect(text: str, place: Place, offset: int, depth: int, found: list[Reference]) -> None:
    env: dict[str, object] = {}
    try:
        tokens = _MD.parse(text, env)
    except RecursionError as error:
        raise UncheckableError("nested too deeply") from error
    if any(token.level >= MAX_NESTING - 2 for token in tokens):
        raise UncheckableError("nested too deeply")
    references_ = env.get("references")
    for definition in references_.values() if isinstance(references_, dict) else []:
        target, where = str(definition.get("href", "")), definition.get("map") or [0, 1]
        if outside(target, place):
            found.append(Reference("definition", target, (offset + where[0], offset + where[1])))
    heading_or_block: tuple[int, int] | None = None
    for token in tokens:
        if token.map is not None:
            heading_or_block = (offset + token.map[0], offset + token.map[1])
        if token.type == "inline" and heading_or_block is not None:
            for kind, target in _inline_targets(token):
                if outside(target, place):
                    found.append(Reference(kind, target, heading_or_block))
        elif token.type in {"html_block"} and token.map is not None:
            for target in html_targets(token.content):
                if outside(target, place):
                    found.append(Reference("<html>", target, heading_or_block or (0, 1), True))
        elif token.type == "front_matter" and token.map is not None:
            if any(
                outside(v, place)
                for k, v in _front_matter(token.content)
                if k in FILE_OPTIONS or k in _PAGE_FILES or _looks_like_path(v)
            ):
                found.append(
                    Reference("front matter", token.content[:60], heading_or_block or (0, 1), True)
                )
        elif token.type in {"fence", "colon_fence"} and token.map is not None:
            _collect_directive(token, place, offset, depth, found)


def _collect_directive(
    token: Token, place: Place, offset: int, depth: int, found: list[Reference]
) -> None:
    assert token.map is not None
    lines = (offset + token.map[0], offset + token.map[1])
    parsed = _directive(token.info)
    if parsed is None:
        return  # a code block
    name, argument = parsed
    options, skipped = _split_options(token.content)
    checks = [("", argument)] if name in FILE_DIRECTIVES else []
    checks += [("", argument)] if name not in FILE_DIRECTIVES and _looks_like_path(argument) else []
    checks += [
        (key, value) for key, value in options if key in FILE_OPTIONS or _looks_like_path(value)
    ]
    escaping = next((value for _, value in checks if value and outside(value, place)), None)
    if escaping is not None:
        found.append(Reference(f"{{{name}}}", escaping, lines, True))
        return
    if name in CODE_DIRECTIVES:
        return
    if depth >= MAX_DEPTH:
        found.append(Reference(f"{{{name}}}", "(nested too deeply)", lines, True))
        return
    body = "\n".join(token.content.split("\n")[skipped:])
    _collect(body, place, lines[0] + 1 + skipped, depth + 1, found)


def _prefix(line: str, first: bool) -> str:
    prefix = _PREFIX.match(line)
    text = prefix.group(0) if prefix else ""
    return text if first else re.sub(r"[-*+]|\d{1,9}[.)]", lambda m: " " * len(m.group(0)), text)


_ESCAPE = re.compile(r"([\\`*_\[\]<>{}|!#$])")


def _rebuild_inline(token: Token, place: Place) -> str:
    """Markdown for an inline token with every reference out of the book replaced by text."""
    out: list[str] = []
    links: list[str | None] = []  # for each open link: its target if kept
    for child in token.children or []:
        kind = child.type
        if kind == "text":
            out.append(_ESCAPE.sub(r"\\\1", child.content))
        elif kind == "code_inline":
            out.append(f"{child.markup} {child.content} {child.markup}")
        elif kind == "math_inline":
            out.append(f"${child.content}$")
        elif kind == "softbreak":
            out.append("\n")
        elif kind == "hardbreak":
            out.append("\\\n")
        elif kind in {"em_open", "em_close", "strong_open", "strong_close", "s_open", "s_close"}:
            out.append(child.markup)
        elif kind == "link_open":
            href = str(child.attrs.get("href", ""))
            links.append(None if outside(href, place) else href)
            out.append("" if links[-1] is None else "[")
        elif kind == "link_close":
            kept = links.pop() if links else None
            out.append(" " + REMOVED_NOTE if kept is None else f"](<{kept}>)")
        elif kind == "image":
            src = str(child.attrs.get("src", ""))
            alt = _ESCAPE.sub(r"\\\1", child.content)
            out.append(f"![{alt}](<{src}>)" if not outside(src, place) else f"{alt} {REMOVED_NOTE}")
        elif kind == "html_inline":
            bad = any(outside(t, place) for t in html_targets(child.content))
            out.append(REMOVED_NOTE if bad else child.content)
        elif kind == "myst_role":
            name = str(child.meta.get("name", ""))
            target = _role_target(child.content)
            bad = (name.lower() in FILE_ROLES or _looks_like_path(target)) and outside(
                target, place
            )
            ticks = "`" * (max(map(len, re.findall("`+", child.content)), default=0) + 1)
            # Only a role's title is kept: its target names the file outside the book.
            title = _EXPLICIT_TARGET.sub("", child.content) if target != child.content else ""
            title = _ESCAPE.sub(r"\\\1", title.strip())
            kept = f"{title} {REMOVED_NOTE}".lstrip()
            out.append(kept if bad else f"{{{name}}}{ticks}{child.content}{ticks}")
        else:
            out.append(_ESCAPE.sub(r"\\\1", child.content))
    return "".join(out)


def _rebuild_blocks(
    text: str, place: Place, lines_to_fix: set[tuple[int, int]], keep_lines: bool = False
) -> str:
    """Rewrite the paragraphs and headings at `lines_to_fix` from their parse (padded with
    blank lines to their old length when `keep_lines`)."""
    lines = text.split("\n")
    replacements: dict[tuple[int, int], list[str]] = {}
    for start, end in lines_to_fix:
        segment = "\n".join(lines[start:end])
        prefix_first = _prefix(lines[start], True) if start < len(lines) else ""
        rest = _prefix(lines[start], False) if start < len(lines) else ""
        stripped = "\n".join(
            line[len(_prefix(line, i == 0)) :] for i, line in enumerate(segment.split("\n"))
        )
        tokens = _MD.parse(stripped)
        blocks = [t for t in tokens if t.type == "inline"]
        heading = next((t for t in tokens if t.type == "heading_open"), None)
        simple = len(blocks) == 1 and all(
            t.type in {"paragraph_open", "paragraph_close", "heading_open", "heading_close"}
            or t.type == "inline"
            for t in tokens
        )
        if not simple:
            replacements[(start, end)] = [prefix_first + REMOVED_NOTE]
            continue
        # Links are rebuilt with their (URL-encoded) target where kept.
        body = _rebuild_inline(blocks[0], place)
        marker = "#" * int(heading.tag[1]) + " " if heading is not None else ""
        rebuilt = (marker + body).split("\n")
        replacements[(start, end)] = [
            (prefix_first if i == 0 else rest) + line for i, line in enumerate(rebuilt)
        ]
    for (start, end), new in sorted(replacements.items(), reverse=True):
        if keep_lines and start < len(lines):
            new += [_prefix(lines[start], False).rstrip()] * (end - start - len(new))
        lines[start:end] = new
    return "\n".join(lines)


def _remove(text: str, found: list[Reference], place: Place, keep_lines: bool = False) -> str:
    """One round of removal: whole directives and definitions first (outermost wins), then
    the blocks whose inline references escape. With `keep_lines`, what is removed leaves
    blank lines, so every later line keeps its number."""
    lines = text.split("\n")
    wholes = sorted({r.lines for r in found if r.directive or r.kind == "definition"})
    merged: list[tuple[int, int]] = []
    for start, end in wholes:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    inline = {
        r.lines
        for r in found
        if not (r.directive or r.kind == "definition")
        and not any(s <= r.lines[0] < e for s, e in merged)
    }
    if inline:
        text = _rebuild_blocks(text, place, inline, keep_lines)
        return text  # line numbers changed: directives go in the next round
    for start, end in reversed(merged):
        first = lines[start] if start < len(lines) else ""
        kept = [_prefix(first, True) + REMOVED_NOTE]
        if keep_lines:
            kept += [_prefix(first, False).rstrip()] * (end - start - 1)
        lines[start:end] = kept
    return "\n".join(lines)


def describe(reference: Reference) -> str:
    """One sentence for the PR's list of repairs."""
    target = re.sub(r"[`\x00-\x1f\x7f]", "", reference.target)[:100]
    names = {"definition": "a link definition", "image": "an image", "link": "a link"}
    what = names.get(reference.kind, f"a `{reference.kind}`")
    return f"Removed {what} of `{target}`: it refers to a file outside the book."


def guard(text: str, place: Place, *, keep_lines: bool = False) -> GuardResult:
    """`text` with every reference to a file outside the book removed, and what was removed.
    `keep_lines`: each removal leaves as many lines as it took (blank after the note), so
    the build's line numbers still point at the author's lines (the check of a fork's PR).

    Linear in the text per round (one parse, directive bodies parsed again up to
    `MAX_DEPTH` levels), at most a dozen rounds; never returns a text that still escapes."""
    fixes: list[str] = []
    for _ in range(_MAX_ROUNDS):
        try:
            found = references(text, place)
        except UncheckableError:
            return GuardResult(UNCHECKABLE_NOTE + "\n", [*fixes, _UNCHECKABLE_FIX])
        if not found:
            return GuardResult(text, list(dict.fromkeys(fixes)))
        fixes += [describe(r) for r in found]
        text = _remove(text, found, place, keep_lines)
    return GuardResult(REMOVED_NOTE + "\n", [*dict.fromkeys(fixes), _UNCHECKABLE_FIX])


_UNCHECKABLE_FIX = (
    "Replaced the text with a note: its references to files could not all be checked."
)
