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
- A command repeated in one comment counts once (100 `/help` lines are one `/help`).

Whatever a comment holds, reading it is linear in its length and bounded: lines are read by
hand-written scanners that only move forward (no regular expression with nested or
overlapping repetition, which a crafted line can make backtrack for hours), the first
`MAX_COMMENT_CHARS` characters and `MAX_COMMANDS` different commands are read, and a comment
cut by either bound gets an error that says so. Digits are ASCII digits (`²` and `①` pass
`str.isdigit`, and `int` refuses them): anything else in a chapter number is an error with a
sentence, never an exception.

Commands are data (`COMMANDS`): a new one (`/generate quiz chapter N`, `/revise`, `/publish`)
is one `CommandSpec` with its builder, and `help_text` lists it automatically.
"""

from __future__ import annotations

import functools
import itertools
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from bot.book.markdown import code_mask
from bot.book.selector import (
    ChapterSelector,
    SelectorError,
    chapter_number,
    digits_end,
    is_ascii_digit,
    is_number,
    range_at,
    spaces_end,
    split_selector,
)

__all__ = [
    "COMMANDS",
    "Cancel",
    "ChapterSelector",
    "Command",
    "CommandError",
    "CommandSpec",
    "Confirm",
    "GenerateChapter",
    "GenerateFigure",
    "GenerateQuiz",
    "GenerateVideo",
    "Help",
    "Init",
    "Outline",
    "Publish",
    "Revise",
    "Usage",
    "help_text",
    "may_hold_commands",
    "parse_commands",
]

# GitHub's own limit on a comment's body: a longer body (a forged or future payload) is read
# up to it, never further.
MAX_COMMENT_CHARS = 65_536
# Different commands one comment may run or be answered for; repeats of one count once.
MAX_COMMANDS = 10


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


@dataclass(frozen=True)
class Revise:
    """`/revise <instructions>`: revise the book files a pull request changes, as one new
    commit on its branch; `/revise chapter N <instructions>` on an issue names the chapter."""

    instructions: str
    chapter: ChapterSelector | None = None


@dataclass(frozen=True)
class Publish:
    """`/publish`: make the book live on GitHub Pages and answer with its address."""

    ignored: str = ""


@dataclass(frozen=True)
class Confirm:
    """`/confirm`: run the commands of this issue that wait for confirmation (their
    worst-case cost is over the book's `budget.confirm_above_usd`)."""

    ignored: str = ""


@dataclass(frozen=True)
class Cancel:
    """`/cancel`: stop the queued and running jobs started from this issue or PR."""

    ignored: str = ""


@dataclass(frozen=True)
class GenerateQuiz:
    """`/generate quiz chapter <selector>`: a JupyterQuiz file per chapter, one PR each."""

    selector: ChapterSelector
    instructions: str = ""


@dataclass(frozen=True)
class GenerateFigure:
    """`/generate figure chapter N "<prompt>" [--after "<heading>"] [--aspect 16:9]`."""

    selector: ChapterSelector
    prompt: str
    after: str = ""
    aspect: str = "1:1"


ASPECTS = ("1:1", "16:9", "3:2", "4:3", "2:3", "3:4", "9:16")


@dataclass(frozen=True)
class GenerateVideo:
    """`/generate video chapter N "<prompt>" [--from <figure label>] [--seconds 5|10]`."""

    selector: ChapterSelector
    prompt: str
    start: str = ""  # the label of the chapter's figure the clip starts from
    seconds: int = 5


CLIP_SECONDS = (5, 10)

Command = (
    Help
    | Init
    | Outline
    | GenerateChapter
    | Usage
    | Revise
    | Publish
    | GenerateQuiz
    | GenerateFigure
    | GenerateVideo
    | Confirm
    | Cancel
)


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
    numbers, run_end, joined = _leading_numbers(argument)
    if len(numbers) > 1 and (joined or run_end == len(argument)):
        # `/generate chapter 2, 3` or `3 4`: not chapter 2 with ", 3" as instructions.
        raise _several_chapters(numbers, argument[run_end:])
    try:
        selector, rest = split_selector(argument)
    except SelectorError as error:
        raise _Invalid(error.sentence(), _reversed_range(argument)) from None
    others = _only_numbers(rest) if selector.kind != "title" else None
    if others:
        # `/generate chapter 2-4, 6`: a range and more numbers.
        raise _several_chapters([str(selector), *others])
    return GenerateChapter(selector, _join(rest, more))


def _generate_quiz(argument: str, more: str) -> Command:
    word, _, rest = argument.strip().partition(" ")
    if word.lower() != "chapter":
        raise _Invalid(
            "`/generate quiz` names its chapters: `/generate quiz chapter <N | N-M | all>`.",
            f"/generate quiz chapter {argument.strip()}"
            if argument.strip()[:1].isdigit()
            else None,
        )
    try:
        selector, tail = split_selector(rest)
    except SelectorError as error:
        raise _Invalid(error.sentence()) from None
    return GenerateQuiz(selector, _join(tail, more))


def _generate_figure(argument: str, more: str) -> Command:
    usage = '`/generate figure chapter N "<what to draw>"` (optional `--after "<heading>"`, `--aspect 16:9`)'
    try:
        words = shlex.split(argument[:4000])
    except ValueError:
        raise _Invalid(f"A quote is not closed; write {usage}.") from None
    if len(words) < 3 or words[0].lower() != "chapter":
        raise _Invalid(f"Write {usage}.")
    try:
        selector = ChapterSelector(
            "number", start=chapter_number(words[1]), end=chapter_number(words[1])
        )
    except SelectorError as error:
        raise _Invalid(error.sentence()) from None
    prompt, after, aspect = "", "", "1:1"
    rest = words[2:]
    while rest:
        word = rest.pop(0)
        if word in ("--after", "--aspect"):
            if not rest:
                raise _Invalid(f"`{word}` needs a value; write {usage}.")
            value = rest.pop(0)
            if word == "--after":
                after = value
            elif value not in ASPECTS:
                raise _Invalid(f"`--aspect {_shown(value)}` is not one of {', '.join(ASPECTS)}.")
            else:
                aspect = value
        elif word.startswith("--"):
            raise _Invalid(f"`{_shown(word)}` is not an option; write {usage}.")
        else:
            prompt = f"{prompt} {word}".strip()
    prompt = _join(prompt, more)
    if not prompt:
        raise _Invalid(f"Say what to draw: {usage}.")
    return GenerateFigure(selector, prompt[:2000], after[:200], aspect)


def _generate_video(argument: str, more: str) -> Command:
    usage = (
        '`/generate video chapter N "<what happens>"` (optional `--from <figure label>`, '
        "`--seconds 5` or `10`)"
    )
    try:
        words = shlex.split(argument[:4000])
    except ValueError:
        raise _Invalid(f"A quote is not closed; write {usage}.") from None
    if len(words) < 3 or words[0].lower() != "chapter":
        raise _Invalid(f"Write {usage}.")
    try:
        selector = ChapterSelector(
            "number", start=chapter_number(words[1]), end=chapter_number(words[1])
        )
    except SelectorError as error:
        raise _Invalid(error.sentence()) from None
    prompt, start, seconds = "", "", CLIP_SECONDS[0]
    rest = words[2:]
    while rest:
        word = rest.pop(0)
        if word in ("--from", "--seconds"):
            if not rest:
                raise _Invalid(f"`{word}` needs a value; write {usage}.")
            value = rest.pop(0)
            if word == "--from":
                start = value.strip()
            elif value not in {str(s) for s in CLIP_SECONDS}:
                raise _Invalid(f"`--seconds {_shown(value)}` is not 5 or 10.")
            else:
                seconds = int(value)
        elif word.startswith("--"):
            raise _Invalid(f"`{_shown(word)}` is not an option; write {usage}.")
        else:
            prompt = f"{prompt} {word}".strip()
    prompt = _join(prompt, more)
    if not prompt:
        raise _Invalid(f"Say what happens in the clip: {usage}.")
    return GenerateVideo(selector, prompt[:1000], start[:200], seconds)


def _reversed_range(argument: str) -> str | None:
    """`/generate chapter 2-5 …` for a typed `5-2 …`; None when the argument is no such range."""
    start = spaces_end(argument, 0)
    found = range_at(argument, start)
    if found is None:
        return None
    first, last, after = found
    try:
        low, high = chapter_number(last), chapter_number(first)
    except SelectorError:
        return None
    return f"/generate chapter {low}-{high}{argument[after:]}" if high > low else None


def _several_chapters(parts: list[str], tail: str = "") -> _Invalid:
    """One command, several chapters (`2`, `5`, `2-4`): suggest the range they make, or one
    line per chapter. A number that names no chapter (`0`, `5000`) is reported instead."""
    parts = list(dict.fromkeys(parts))
    try:
        ordered = sorted(chapter_number(part) for part in parts if is_number(part))
    except SelectorError as error:
        return _Invalid(error.sentence())
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


def _revise(argument: str, more: str) -> Command:
    chapter: ChapterSelector | None = None
    word, _, rest = argument.partition(" ")
    if word.lower() == "chapter":
        try:
            chapter, rest = split_selector(rest)
        except SelectorError as error:
            raise _Invalid(error.sentence()) from None
        if chapter.kind in ("range", "all"):
            raise _Invalid("`/revise chapter` names one chapter: a number or a title in quotes.")
        argument = rest
    instructions = _join(argument, more)
    if not instructions:
        raise _Invalid(
            "`/revise` needs instructions, e.g. `/revise Make it half as long and add a worked "
            "example`."
        )
    return Revise(instructions, chapter)


def _planned(words: tuple[str, ...], what: str) -> Callable[[str, str], Command]:
    """The builder of a command that is planned but not built: it never runs, and says so."""

    def build(argument: str, more: str) -> Command:
        raise _Invalid(f"`/{' '.join(words)}` is not available yet: {what} is still to come.")

    return build


# The numbers after `/generate chapter` are read by the scanners below rather than by
# regular expressions: a pattern such as `\d+(?:\s*,?\s*\d+)*` can split a run of digits
# in exponentially many ways before it fails on a trailing letter, and a comment is written
# by anyone. Each scanner moves forward only, so its time is linear in the argument.


def _shown(text: str, limit: int = 40) -> str:
    """A piece of a person's line inside a message: whole when short, else its start."""
    return text if len(text) <= limit else text[:limit] + "…"


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _separator_end(text: str, at: int) -> int | None:
    """The index after a `,`, `&` or the word `and` (any case) at `at`, or None."""
    if at < len(text) and text[at] in ",&":
        return at + 1
    end = at + 3
    if (
        text[at:end].lower() == "and"
        and (at == 0 or not _is_word_char(text[at - 1]))
        and (end == len(text) or not _is_word_char(text[end]))
    ):
        return end
    return None


def _leading_numbers(argument: str) -> tuple[list[str], int, bool]:
    """The run of chapter numbers at the start of the argument (`2, 3`, `3 4`, `2 and 5`):
    the numbers, the index where the run ends (after its spaces and separators), and whether
    a separator joined them. A number followed by a dash or a dot starts a range or a
    decimal (`2-4`, `2.5`) and is not part of the run."""
    numbers: list[str] = []
    joined = False
    at = spaces_end(argument, 0)
    run_end = 0
    while True:
        stop = digits_end(argument, at)
        if stop == at or (stop < len(argument) and argument[stop] in "-–—."):
            return numbers, run_end, joined
        numbers.append(argument[at:stop])
        at = spaces_end(argument, stop)
        separator = _separator_end(argument, at)
        if separator is not None:
            joined = True
            at = spaces_end(argument, separator)
        run_end = at


def _only_numbers(text: str) -> list[str] | None:
    """The numbers of a text made only of numbers and separators (`, 6`, `and 7 8`), else
    None: what follows a range that names more chapters."""
    numbers: list[str] = []
    at = 0
    separator = _separator_end(text, at)
    if separator is not None:
        at = spaces_end(text, separator)
    while True:
        stop = digits_end(text, at)
        if stop == at:
            return None
        numbers.append(text[at:stop])
        at = spaces_end(text, stop)
        if at == len(text):
            return numbers
        separator = _separator_end(text, at)
        if separator is not None:
            at = spaces_end(text, separator)


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
        ("generate", "quiz"),
        "chapter <N | N-M | all>",
        "Write a self-check quiz (JupyterQuiz JSON in `quizzes/`) for each chapter, shown in "
        "its `## Self-check` section, one PR per chapter. Lines below are instructions.",
        "/generate quiz chapter 3",
        _generate_quiz,
        continues=True,
    ),
    CommandSpec(
        ("generate", "figure"),
        'chapter N "<what to draw>" [--after "<heading>"] [--aspect 16:9]',
        "Draw a figure with the book's image model and add it to the chapter (WebP, alt text, "
        "caption), one PR per figure.",
        '/generate figure chapter 2 "A labelled diagram of the tide zones"',
        _generate_figure,
    ),
    CommandSpec(
        ("generate", "video"),
        'chapter N "<what happens>" [--from <figure label>] [--seconds 5|10]',
        "Make a short clip (MP4, at most 15 s and 10 MB) with the server's video model, "
        "starting from one of the chapter's figures (`--from`) or from a new image, and add "
        "it to the chapter with a poster, one PR per clip.",
        '/generate video chapter 2 "The tide comes in" --from fig-02-tides-tide-zones',
        _generate_video,
    ),
    CommandSpec(
        ("revise",),
        "[chapter N] <instructions>",
        "In a pull request: revise the chapters it changes as one new commit on its branch. "
        "On an issue, `chapter N` revises that chapter on its open pull request, or in a new "
        "one. Lines below the command are more instructions.",
        "/revise Make it half as long and add a worked example",
        _revise,
        continues=True,
    ),
    CommandSpec(
        ("usage",),
        "",
        "This month's AI tokens and cost for this installation.",
        "/usage",
        lambda a, m: Usage(a),
    ),
    CommandSpec(
        ("publish",),
        "",
        "Make the book live on GitHub Pages (deploys the default branch) and answer with its "
        "address.",
        "/publish",
        lambda a, m: Publish(a),
    ),
    CommandSpec(
        ("confirm",),
        "",
        "Run the commands of this issue that wait for confirmation (their worst-case cost is "
        "over the book's `budget.confirm_above_usd`).",
        "/confirm",
        lambda a, m: Confirm(a),
    ),
    CommandSpec(
        ("cancel",),
        "",
        "Stop the queued and running jobs started from this issue or pull request.",
        "/cancel",
        lambda a, m: Cancel(a),
    ),
)

# Command words people will type before those commands exist: each gets one line saying
# so (never silence), and none is listed by `/help`.
# (`/generate video` was one; none is planned now.) Build them with `_planned`.
PLANNED: tuple[CommandSpec, ...] = ()

_MIN_PREFIX = 3
# The letters of a `/word` after its first: one class repeated once, a linear pass in C.
_WORD_RUN = re.compile(r"[\w-]*")


def _command_line(text: str) -> tuple[str, str, str] | None:
    """`/word`, then a colon (a typo: `/outline: …`) and a space or the end of the line:
    the word, the colon (or ""), and the rest of the line; None for anything else."""
    if len(text) < 2 or text[0] != "/" or not (text[1].isascii() and text[1].isalpha()):
        return None
    found = _WORD_RUN.match(text, 2)
    end = 2 if found is None else found.end()
    colon = ":" if text.startswith(":", end) else ""
    after = end + len(colon)
    if after < len(text) and not text[after].isspace():
        return None  # `/usr/bin/env`, `/tmp/notes.txt`: a path, not a command
    return text[1:end], colon, text[after:]


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
    # A choice whose length differs by more than `allowed` is farther than that: skip it, so
    # a 60,000-letter `/word` costs no distance computation.
    close = [choice for choice in choices if abs(len(choice) - len(word)) <= allowed]
    if allowed and close:
        scored = sorted((OSA.distance(word, choice), choice) for choice in close)
        best = [choice for distance, choice in scored if distance == scored[0][0]]
        if scored[0][0] <= allowed and len(best) == 1:
            return best[0]
    if len(word) >= min_prefix:
        prefixed = [choice for choice in choices if choice.startswith(word)]
        if len(prefixed) == 1:
            return prefixed[0]
    return None


@functools.cache
def _firsts() -> list[str]:
    return list(dict.fromkeys(spec.words[0] for spec in (*COMMANDS, *PLANNED)))


def _resolve(text: str) -> tuple[CommandSpec, str] | None:
    """Match a command line to a spec and its argument; raise `_Invalid`, or None if prose."""
    found = _command_line(text)
    if found is None:
        return None
    typed, colon, rest = found[0], found[1], found[2].strip()
    word = typed.lower()
    firsts = _firsts()
    if word in firsts and not colon:
        return _resolve_words(word, rest)
    why = "."
    if colon and word in firsts:
        fixed: str | None = word
        why = ": write it without the colon."
    elif "-" in word or "_" in word:
        head, *tail = [part for part in word.replace("_", "-").split("-") if part]
        near = head if head in firsts else _near(head, firsts)
        fixed = " ".join([near, *tail]) if near else None
        why = ": the words of a command are separated by spaces."
    else:
        fixed = _near(word, firsts)
    if fixed is None:
        return None
    suggestion, problem = _suggest(f"/{fixed} {rest}".strip())
    message = f"`/{_shown(typed)}{colon}` is not a command{why}"
    if suggestion is None and problem:
        message = f"{message} {problem}"
    raise _Invalid(message, suggestion)


def _resolve_words(word: str, rest: str) -> tuple[CommandSpec, str]:
    """The command starting with the (correct) first word `word`."""
    every = [spec for spec in (*COMMANDS, *PLANNED) if spec.words[0] == word]
    for spec in every:
        if len(spec.words) == 1:
            return spec, rest
    sub, after = ([*rest.split(None, 1), "", ""])[:2]
    subs = {spec.words[1]: spec for spec in every}
    specs = [spec for spec in every if spec not in PLANNED]
    if sub.lower() in subs:
        return subs[sub.lower()], after.strip()
    options = ", ".join(f"`{spec.name} {spec.argument}`" for spec in specs)
    bare = sub.lower().rstrip(":")
    near = bare if bare in subs else _near(bare, list(subs), min_prefix=2)
    if near is not None:
        suggestion, _ = _suggest(f"/{word} {near} {after}".strip())
        raise _Invalid(f"`/{word} {_shown(sub)}` is not a command.", suggestion)
    what = f"`/{word} {_shown(sub)}` is not a command" if sub else f"`/{word}` needs more"
    message = f"{what}; write {options}."
    guess = None
    if rest and is_ascii_digit(rest[0]):
        # `/generate 3`: the command with its missing word, when that line would run.
        guess, problem = _suggest(f"{specs[0].name} {rest}")
        if guess is None and problem:
            message = f"{message} {problem}"
    raise _Invalid(message, guess)


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


def _scan(lines: list[str]) -> Iterator[tuple[Command | CommandError, str, int]]:
    """Each command of the lines, in order, with its line and line number."""
    in_code = code_mask(lines)
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
                if pending is not None:
                    yield _finish(*pending), pending[3], pending[4]
                    pending = None
                yield CommandError(line, error.message, error.suggestion, lineno), line, lineno
                continue
            if resolved is not None:
                if pending is not None:
                    yield _finish(*pending), pending[3], pending[4]
                spec, argument = resolved
                pending = (spec, argument, [], line, lineno) if spec.continues else None
                if not spec.continues:
                    yield _finish(spec, argument, [], line, lineno), line, lineno
                continue
        if pending is not None:
            pending[2].append(line)
    if pending is not None:
        yield _finish(*pending), pending[3], pending[4]


def _lines_read(body: str) -> tuple[list[str], str | None]:
    """The lines of the body the grammar reads, and the start of the first line left unread
    when the body is longer than `MAX_COMMENT_CHARS` (a line cut in two is not read: half
    an instruction is worse than none)."""
    if len(body) <= MAX_COMMENT_CHARS:
        return body.replace("\r\n", "\n").split("\n"), None
    cut = body.rfind("\n", 0, MAX_COMMENT_CHARS + 1)
    lines = body[:cut].replace("\r\n", "\n").split("\n") if cut > 0 else []
    return lines, body[cut + 1 : cut + 81].split("\n", 1)[0].rstrip("\r")


def _same(item: Command | CommandError) -> object:
    """What makes two commands of one comment the same: their arguments (words ignored after
    `/help` do not make another `/help`), or an error's line and message."""
    if isinstance(item, CommandError):
        return ("error", item.line.strip(), item.message, item.suggestion)
    if isinstance(item, Help | Init | Usage | Publish):
        return type(item)
    return item


# A line that starts, after up to three spaces, with `/` and an ASCII letter: every command
# line does. One pass of the regular-expression engine, no nested or overlapping repetition.
_SLASH_WORD_LINE = re.compile(r"^ {0,3}/[A-Za-z]", re.MULTILINE)


def may_hold_commands(body: str) -> bool:
    """False when the body certainly holds no command (nor a typo of one): the webhook
    handler's check, one linear pass in C over at most `MAX_COMMENT_CHARS` characters.
    True for every body `parse_commands` finds something in, and for some it does not
    (`/usr/bin/env`, a `/word` inside a code block): the grammar itself runs in the job."""
    return _SLASH_WORD_LINE.search(body, 0, MAX_COMMENT_CHARS + 1) is not None


def parse_commands(body: str) -> list[Command | CommandError]:
    """Every command in a comment body, in order and each once; mistyped ones as
    `CommandError`.

    Bounded whatever the comment: the first `MAX_COMMENT_CHARS` characters are read, and at
    most `MAX_COMMANDS` different commands. A comment cut by either bound ends with a
    `CommandError` that says from which line on nothing was read.
    """
    lines, unread = _lines_read(body)
    results: list[Command | CommandError] = []
    seen: set[object] = set()
    for item, line, lineno in _scan(lines):
        key = _same(item)
        if key in seen:
            continue
        if len(results) == MAX_COMMANDS:
            return [
                *results,
                CommandError(
                    line,
                    f"A comment runs at most {MAX_COMMANDS} different commands; this one and "
                    f"everything after it (from line {lineno} on) was not read. Put them in "
                    "another comment.",
                    lineno=lineno,
                ),
            ]
        seen.add(key)
        results.append(item)
    if unread is not None and (results or _SLASH_WORD_LINE.match(unread)):
        lineno = len(lines) + 1
        results.append(
            CommandError(
                unread,
                f"This comment is longer than {MAX_COMMENT_CHARS:,} characters, so only its "
                f"first {lineno - 1:,} lines were read; nothing from line {lineno:,} on runs. "
                "Put those commands in another comment.",
                lineno=lineno,
            )
        )
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
