"""The offline stand-in model's answers to a reviewer: a revision and a suggested change.

The sandbox lets a person try the review loop without a key (`--pr-comment "/revise …"`,
`--review-comment "PATH:LINE /suggest …"`), so the stand-in must answer both requests with a
change one can see, in the shape the app expects, and that still builds:

- a revision (`bot.book.revision.revision_prompt`) gets the chapter body back with a note at
  its top that names the instructions and says it is placeholder text;
- a suggestion (`bot.book.suggestion.suggestion_prompt`) gets the marked lines back with the
  last line of prose among them marked as revised; lines that are all markup (fences,
  directives, headings, math, tables) come back unchanged, so the answer never unbalances a
  block.

Answers are a pure function of the request, like the rest of the stand-in.
"""

from __future__ import annotations

import re

REVISION_TASK = re.compile(r"^Revise chapter \d+, .+, as a reviewer asked\.$", re.M)
BODY_START = "The chapter's current text (its body, after the front matter):\n\n"
INSTRUCTIONS = "\n\nThe reviewer's instructions: "
SUGGESTION_TASK = re.compile(r"^A reviewer of chapter \d+, .+, asks for a change to ", re.M)
MARKED = re.compile(r"^> +\d+\| ?(.*)$", re.M)
# Lines a suggestion leaves alone: their syntax, not their words, is what they are.
MARKUP = re.compile(r"^\s*(?:`{3,}|~{3,}|:{3,}|#|\$\$|\||[-*+] |\d+\. |>|\{|<|!\[|\[\^|$)")
NOTE_WORDS = 120


def is_revision(text: str) -> bool:
    return REVISION_TASK.search(text) is not None and BODY_START in text


def is_suggestion(text: str) -> bool:
    return SUGGESTION_TASK.search(text) is not None


def _instructions(text: str) -> str:
    asked = text.rsplit(INSTRUCTIONS, 1)[1] if INSTRUCTIONS in text else ""
    words = " ".join(asked.split("\n\n", 1)[0].split())
    return words if len(words) <= NOTE_WORDS else words[: NOTE_WORDS - 1] + "…"


def revision_answer(text: str) -> str:
    """The chapter body with a note naming the reviewer's instructions at its top."""
    body = text.split(BODY_START, 1)[1].split(INSTRUCTIONS, 1)[0].strip()
    asked = _instructions(text).replace("`", "'")
    note = (
        "```{note}\n"
        f"Revised by Liquid Book's offline stand-in model as a reviewer asked: “{asked}”. "
        "It is placeholder text, not AI output.\n```"
    )
    return f"{note}\n\n{body}\n" if body and body != "(empty)" else f"{note}\n"


def suggestion_answer(text: str) -> str:
    """The marked lines, the last line of prose among them visibly revised."""
    lines = MARKED.findall(text)
    asked = _instructions(text).replace("`", "'")
    for index in range(len(lines) - 1, -1, -1):
        if not MARKUP.match(lines[index]):
            lines[index] = f"{lines[index].rstrip()} (Revised offline as asked: {asked}.)"
            break
    return "\n".join(lines)
