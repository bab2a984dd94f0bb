"""Small facts about MyST Markdown text that several modules need to agree on."""

from __future__ import annotations

import re

# A MyST comment line: invisible on the site, and how a stub chapter is recognised.
STUB_MARKER = "% liquidbook: stub"

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_TARGET = re.compile(r"^ {0,3}\(([^()\s]+)\)=\s*$")
_LABEL_OPTION = re.compile(r"^\s*:(?:label|name):\s*(\S+)\s*$")


def code_mask(lines: list[str]) -> list[bool]:
    """For each line, True when it belongs to a fenced code block (fences included).

    Directive fences (```` ```{note} ````) are tracked but are not code: their content is
    Markdown, so a command or a label inside a note still counts.
    """
    mask: list[bool] = []
    open_fences: list[tuple[str, bool]] = []  # (fence, is_code), innermost last
    for line in lines:
        match = _FENCE.match(line)
        in_code = bool(open_fences) and open_fences[-1][1]
        if match is None:
            mask.append(in_code)
            continue
        fence, info = match.group(1), match.group(2).strip()
        top = open_fences[-1][0] if open_fences else None
        closes = top is not None and not info and fence[0] == top[0] and len(fence) >= len(top)
        if closes:
            open_fences.pop()
            mask.append(in_code)
        elif in_code:
            mask.append(True)
        elif fence[0] == "`" and "`" in info:
            mask.append(False)  # an inline code span at the start of a line, not a fence
        else:
            is_code = not info.startswith("{")
            open_fences.append((fence, is_code))
            mask.append(is_code)
    return mask


def find_labels(body: str) -> set[str]:
    """Cross-reference targets a page defines: `(label)=` lines and `:label:` options."""
    lines = body.splitlines()
    labels: set[str] = set()
    for line, in_code in zip(lines, code_mask(lines), strict=True):
        if in_code:
            continue
        match = _TARGET.match(line) or _LABEL_OPTION.match(line)
        if match:
            labels.add(match.group(1))
    return labels


# `@name` after start, space or punctuation is a MyST citation; `a@b.com` is not.
_MENTION = re.compile(r"(?<![\w\\`@.])@([A-Za-z_][\w.:-]*)")
_CODE_SPAN = re.compile(r"(`+).*?\1|\$[^$\s][^$]*\$|\]\([^)]*\)|<[a-z]+:[^>]*>")


def escape_mentions(text: str, keep: set[str] | frozenset[str] = frozenset()) -> tuple[str, int]:
    """Escape `@name` outside code as `\\@name` so MyST does not read it as a citation.

    Keys in `keep` (real `references.bib` entries) stay citations. Returns the new text and
    how many mentions were escaped.
    """
    escaped = 0

    def escape(match: re.Match[str]) -> str:
        nonlocal escaped
        if match.group(1).rstrip(".:-") in keep:
            return match.group(0)
        escaped += 1
        return "\\" + match.group(0)

    lines = text.split("\n")
    for index, (line, in_code) in enumerate(zip(lines, code_mask(lines), strict=True)):
        if in_code or "@" not in line:
            continue
        out, last = [], 0
        for span in _CODE_SPAN.finditer(line):
            out += [_MENTION.sub(escape, line[last : span.start()]), span.group(0)]
            last = span.end()
        out.append(_MENTION.sub(escape, line[last:]))
        lines[index] = "".join(out)
    return "\n".join(lines), escaped
