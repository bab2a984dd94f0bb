"""The slash-command grammar of comments: `/outline …`, `/generate chapter 3`, `/help`.

Rules, in the author's terms:
- A command is a line that starts with `/` (up to three spaces before it are fine; four make
  it a Markdown code block). Names are case-insensitive; several commands may share a comment.
- Lines inside fenced code blocks, quoted lines (`> /generate …` in a reply) and HTML comments
  never trigger anything, and a `/` in the middle of a line is just prose.
- `/outline` and `/generate chapter` take the lines after them (up to the next command) as more
  description or instructions.
- An unknown `/word` is reported only when it is a likely typo of a command: a small edit
  distance that counts two swapped letters as one edit (`/genrate`, `/hepl`, `/usgae`) and
  allows more edits in longer words, a prefix that names one command (`/gen`), a colon after
  it (`/outline: …`) or words joined by a dash (`/generate-chapter 1`). Such a line gets a
  suggestion and never runs; anything else (`/usr/bin/env`, `/shrug`) is prose and ignored.
  A likely typo on a line below `/outline` or `/generate chapter` is reported too, not sent
  to the model as part of the description or instructions.
- Words after a command that takes none (`/help me`) are ignored, and the answer says so.

Commands are data (`COMMANDS`): a new one (`/generate quiz chapter N`, `/revise`, `/publish`)
is one `CommandSpec` with its builder, and `help_text` lists it automatically.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from bot.book.markdown import code_mask
from bot.book.selector import ChapterSelector, SelectorError, split_selector

__all__ = [
    "COMMANDS",
    "ChapterSelector",
    "Command",
    "CommandError",
    "CommandSpec",
    "GenerateChapter",
    "Help",
    "Init",
    "Outline",
    "Usage",
    "help_text",
    "parse_commands",
]


@dataclass(frozen=True)
class Help:
    """`/help`: answer with the table of commands. `ignored`: words typed after it."""

    ignored: str = ""


@dataclass(frozen=True)
class Init:
    """`/init`: open the setup PR (skeleton book, settings, workflow)."""

    ignored: str = ""


@dataclass(frozen=True)
class Outline:
    """`/outline <description>`: plan the book and open a PR with the toc and stubs."""

    description: str


@dataclass(frozen=True)
class GenerateChapter:
    """`/generate chapter <selector>`: write the selected chapters in one PR."""

    selector: ChapterSelector
    instructions: str = ""


@dataclass(frozen=True)
class Usage:
    """`/usage`: this month's tokens and cost."""

    ignored: str = ""


Command = Help | Init | Outline | GenerateChapter | Usage


@dataclass(frozen=True)
class CommandError:
    """A line meant as a command that cannot run; `suggestion` is a corrected command line."""

    line: str
    message: str
    suggestion: str | None = None
    lineno: int = 0

    def markdown(self) -> str:
        """One reply paragraph: the line, what is wrong, and the fix when there is one."""
        text = f"`{self.line.strip()}`: {self.message}"
        if self.suggestion:
            text += f" Did you mean `{self.suggestion}`?"
        return text


class _Invalid(Exception):
    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message, self.suggestion = message, suggestion


@dataclass(frozen=True)
class CommandSpec:
    """One command: its words, argument syntax, help text, and how to build it."""

    words: tuple[str, ...]
    argument: str
    summary: str
    example: str
    build: Callable[[str, str], Command]  # (text after the words, following lines)
    continues: bool = False

    @property
    def name(self) -> str:
        return "/" + " ".join(self.words)


def _join(*parts: str) -> str:
    return "\n".join(part.strip("\n") for part in parts if part.strip()).strip()


def _outline(argument: str, more: str) -> Command:
    description = _join(argument, more)
    if not description:
        raise _Invalid("`/outline` needs a description of the book, e.g. `/outline A course on …`.")
    return Outline(description)


def _generate_chapter(argument: str, more: str) -> Command:
    listed = _LEADING_NUMBERS.match(argument)
    numbers = re.findall(r"\d+", listed.group(1)) if listed else []
    joined = listed is not None and (
        listed.end() == len(argument) or re.search(r",|&|\band\b", listed.group(1), re.I)
    )
    if len(numbers) > 1 and joined:
        # `/generate chapter 2, 3` or `3 4`: not chapter 2 with ", 3" as instructions.
        raise _several_chapters(numbers, argument[listed.end() :] if listed else "")
    try:
        selector, rest = split_selector(argument)
    except SelectorError as error:
        range_match = re.fullmatch(r"\s*(\d+)\s*[-–—]\s*(\d+)(.*)", argument)
        fixed = None
        if range_match and int(range_match.group(1)) > int(range_match.group(2)) > 0:
            fixed = f"/generate chapter {range_match.group(2)}-{range_match.group(1)}{range_match.group(3)}"
        raise _Invalid(error.sentence(), fixed) from None
    if selector.kind != "title" and _MORE_NUMBERS.match(rest):
        # `/generate chapter 2-4, 6`: a range and more numbers.
        raise _several_chapters([str(selector), *re.findall(r"\d+", rest)])
    return GenerateChapter(selector, _join(rest, more))


def _several_chapters(parts: list[str], tail: str = "") -> _Invalid:
    """One command, several chapters (`2`, `5`, `2-4`): suggest the range they make, or one
    line per chapter."""
    parts = list(dict.fromkeys(parts))
    ordered = sorted(int(part) for part in parts if part.isdigit())
    if len(ordered) == len(parts) > 1 and all(b == a + 1 for a, b in itertools.pairwise(ordered)):
        return _Invalid(
            "One command names one chapter, a range or `all`; these chapters make a range.",
            f"/generate chapter {ordered[0]}-{ordered[-1]} {tail.strip()}".strip(),
        )
    lines = " and ".join(f"`/generate chapter {part}`" for part in parts[:4])
    more = ", …" if len(parts) > 4 else ""
    return _Invalid(
        "One command names one chapter, a range or `all`. Put each chapter on its own "
        f"line ({lines}{more}), or write a range."
    )


# A run of chapter numbers at the start of the argument: `2, 3`, `3 4`, `2 and 5`.
_LEADING_NUMBERS = re.compile(r"^\s*((?:\d+(?![\d–—.-])\s*(?:,|&|\band\b)?\s*)+)", re.I)
_MORE_NUMBERS = re.compile(r"^(?:,\s*|and\s+|&\s*)?\d+(?:\s*(?:,|and|&)?\s*\d+)*\s*$", re.I)


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(("help",), "", "List the commands.", "/help", lambda a, m: Help(a)),
    CommandSpec(
        ("init",),
        "",
        "Set the repository up as a book: skeleton, settings, build workflow.",
        "/init",
        lambda a, m: Init(a),
    ),
    CommandSpec(
        ("outline",),
        "<description>",
        "Plan the book: a PR with the table of contents and one stub per chapter. "
        "Lines below the command add to the description.",
        "/outline An introductory course on Bayesian statistics for biologists, 10 chapters",
        _outline,
        continues=True,
    ),
    CommandSpec(
        ("generate", "chapter"),
        '<N | N-M | all | "title">',
        "Write chapters in a PR. Lines below the command are extra instructions.",
        "/generate chapter 3",
        _generate_chapter,
        continues=True,
    ),
    CommandSpec(
        ("usage",),
        "",
        "This month's AI tokens and cost for this installation.",
        "/usage",
        lambda a, m: Usage(a),
    ),
)

# `/word`, then a colon (a typo: `/outline: …`) or a space or the end of the line.
_COMMAND_LINE = re.compile(r"^/([A-Za-z][\w-]*)(:?)(?=\s|$)(.*)$")
_MIN_PREFIX = 3


def _allowed_edits(word: str) -> int:
    """How many edits still make `word` a typo of a command: more in longer words."""
    if len(word) < 3:
        return 0
    if len(word) <= 5:
        return 1
    return 2 if len(word) <= 8 else 3


def _near(word: str, choices: list[str], min_prefix: int = _MIN_PREFIX) -> str | None:
    """The one choice `word` is a typo of: within `_allowed_edits` (a transposition of two
    neighbouring letters counts as one edit, so `/hepl` is one edit from `/help`), or the
    only choice it is a prefix of (`/gen`). None when no choice, or two, are that close."""
    allowed = _allowed_edits(word)
    if allowed:
        scored = sorted((OSA.distance(word, choice), choice) for choice in choices)
        best = [choice for distance, choice in scored if distance == scored[0][0]]
        if scored and scored[0][0] <= allowed and len(best) == 1:
            return best[0]
    if len(word) >= min_prefix:
        prefixed = [choice for choice in choices if choice.startswith(word)]
        if len(prefixed) == 1:
            return prefixed[0]
    return None


def _firsts() -> list[str]:
    return list(dict.fromkeys(spec.words[0] for spec in COMMANDS))


def _resolve(text: str) -> tuple[CommandSpec, str] | None:
    """Match a command line to a spec and its argument; raise `_Invalid`, or None if prose."""
    match = _COMMAND_LINE.match(text)
    if match is None:
        return None
    typed, colon, rest = match.group(1), match.group(2), match.group(3).strip()
    word = typed.lower()
    firsts = _firsts()
    if word in firsts and not colon:
        return _resolve_words(word, rest)
    why = "."
    if colon and word in firsts:
        fixed: str | None = word
        why = ": write it without the colon."
    elif re.search(r"[-_]", word):
        head, *tail = re.split(r"[-_]+", word)
        near = head if head in firsts else _near(head, firsts)
        fixed = " ".join([near, *tail]) if near else None
        why = ": the words of a command are separated by spaces."
    else:
        fixed = _near(word, firsts)
    if fixed is None:
        return None
    suggestion, problem = _suggest(f"/{fixed} {rest}".strip())
    message = f"`/{typed}{colon}` is not a command{why}"
    if suggestion is None and problem:
        message = f"{message} {problem}"
    raise _Invalid(message, suggestion)


def _resolve_words(word: str, rest: str) -> tuple[CommandSpec, str]:
    """The command starting with the (correct) first word `word`."""
    specs = [spec for spec in COMMANDS if spec.words[0] == word]
    for spec in specs:
        if len(spec.words) == 1:
            return spec, rest
    sub, after = ([*re.split(r"\s+", rest.strip(), maxsplit=1), ""])[:2]
    subs = {spec.words[1]: spec for spec in specs}
    if sub.lower() in subs:
        return subs[sub.lower()], after.strip()
    options = ", ".join(f"`{spec.name} {spec.argument}`" for spec in specs)
    bare = sub.lower().rstrip(":")
    near = bare if bare in subs else _near(bare, list(subs), min_prefix=2)
    if near is not None:
        suggestion, _ = _suggest(f"/{word} {near} {after}".strip())
        raise _Invalid(f"`/{word} {sub}` is not a command.", suggestion)
    guess = f"{specs[0].name} {rest}" if rest and rest[0].isdigit() else None
    if guess is not None:
        guess = _suggest(guess)[0] or guess
    what = f"`/{word} {sub}` is not a command" if sub else f"`/{word}` needs more"
    raise _Invalid(f"{what}; write {options}.", guess)


def _suggest(line: str) -> tuple[str | None, str]:
    """A corrected line as it would run (`/generate chapter 2-3`), or None and what is still
    wrong with it."""
    try:
        resolved = _resolve(line)
        if resolved is None:
            return None, ""
        spec, argument = resolved
        spec.build(argument, "")
    except _Invalid as error:
        return error.suggestion, error.message
    return _canonical(spec, argument), ""


def _canonical(spec: CommandSpec, argument: str) -> str:
    return f"{spec.name} {argument}".strip()


def _finish(
    spec: CommandSpec, argument: str, more: list[str], line: str, lineno: int
) -> Command | CommandError:
    try:
        return spec.build(argument, "\n".join(more))
    except _Invalid as error:
        usage = f" Usage: `{spec.name} {spec.argument}`." if not argument and spec.argument else ""
        return CommandError(line, error.message + usage, error.suggestion, lineno)


def _opens_comment(line: str) -> bool:
    """True when `line` leaves an HTML comment open."""
    return line.rfind("<!--") > line.rfind("-->")


def parse_commands(body: str) -> list[Command | CommandError]:
    """Every command in a comment body, in order; mistyped ones as `CommandError`."""
    lines = body.replace("\r\n", "\n").split("\n")
    in_code = code_mask(lines)
    results: list[Command | CommandError] = []
    pending: tuple[CommandSpec, str, list[str], str, int] | None = None
    in_comment = False
    for lineno, line in enumerate(lines, start=1):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if in_comment:
            in_comment = "-->" not in line or _opens_comment(line)
            continue
        if not in_code[lineno - 1]:
            # An HTML comment hides what follows it, also when it opens after some text.
            hidden_from_here = stripped.startswith("<!--")
            in_comment = _opens_comment(line)
            if hidden_from_here:
                continue
        if not in_code[lineno - 1] and indent <= 3 and not stripped.startswith(("\t",)):
            if stripped.startswith(">"):
                continue  # a quoted line belongs to someone else's comment
            try:
                resolved = _resolve(stripped.rstrip())
            except _Invalid as error:
                resolved = None
                if pending is not None:
                    results.append(_finish(*pending))
                    pending = None
                results.append(CommandError(line, error.message, error.suggestion, lineno))
                continue
            if resolved is not None:
                if pending is not None:
                    results.append(_finish(*pending))
                spec, argument = resolved
                pending = (spec, argument, [], line, lineno) if spec.continues else None
                if not spec.continues:
                    results.append(_finish(spec, argument, [], line, lineno))
                continue
        if pending is not None:
            pending[2].append(line)
    if pending is not None:
        results.append(_finish(*pending))
    return results


def help_text() -> str:
    """The `/help` answer: a Markdown table of every command with an example."""
    rows = ["| Command | What it does | Example |", "| --- | --- | --- |"]
    for spec in COMMANDS:
        syntax = f"{spec.name} {spec.argument}".strip().replace("|", "\\|")
        rows.append(f"| `{syntax}` | {spec.summary} | `{spec.example}` |")
    rows += [
        "",
        "Put each command on its own line. Commands inside code blocks or quotes are ignored. "
        "Chapters are named by number (`3`), range (`2-5`), `all`, or title in quotes.",
    ]
    return "\n".join(rows)
