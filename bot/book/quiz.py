"""A chapter's quiz: JupyterQuiz's JSON format, checked, sanitised and rendered as MyST.

`quizzes/<chapter-file-stem>.json` is the source of truth: an array of questions in the
format of JupyterQuiz (`multiple_choice` / `many_choice` with `answers[].answer/correct/
feedback`, `numeric` with `precision` and `value` / `range` / `default` answers, `string`
with `match_case` / `fuzzy_threshold`). A model writes it, so `parse_quiz` refuses what
a learner could not answer (no correct answer, a range whose ends are reversed, the same
answer twice) and returns the questions with their HTML passed through an allow-list
sanitizer (`nh3`): whatever the model wrote, no script, event handler or link scheme
outside http(s)/mailto reaches the page.

The chapter shows the quiz in its `## Self-check` section as native MyST `exercise` and
`solution` directives (the solution collapsed): the static site, the PDF and a reader
without JavaScript all get the questions and, on request, the answers with their feedback.
No plugin and no shared file are needed, so a quiz PR touches only its chapter and its
quiz file.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

import nh3
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from bot.book.genre import QUIZ_HEADING
from bot.book.markdown import code_mask

MAX_QUESTIONS = 30
MAX_ANSWERS = 12
MAX_TEXT = 2000  # characters of one question, answer or feedback
QUIZ_DIR = "quizzes"

# What a question may hold: inline formatting, code, lists, line breaks; links to the web.
_TAGS = {
    "b", "strong", "i", "em", "u", "sub", "sup", "code", "pre", "br", "p", "ul", "ol", "li",
    "span", "a", "kbd", "small", "mark", "del", "ins", "blockquote",
}  # fmt: skip
_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}}


def sanitise(html: str) -> str:
    """The HTML with only the allow-listed tags and attributes (nh3, linear time)."""
    return nh3.clean(
        html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https", "mailto"}
    )


def plain_text(html: str) -> str:
    """What a piece of quiz HTML says, without any tag: for the static rendering."""
    text = nh3.clean(html.replace("<br>", " ").replace("<br/>", " "), tags=set())
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'")):
        text = text.replace(entity, char)
    return " ".join(text.replace("&amp;", "&").split())


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Feedback = Annotated[str, Field(max_length=MAX_TEXT)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ChoiceAnswer(_Strict):
    answer: Text
    correct: bool
    feedback: Feedback = ""


class StringAnswer(ChoiceAnswer):
    match_case: bool = False
    fuzzy_threshold: float | None = Field(default=None, ge=0, le=1)


class NumericValue(_Strict):
    type: Literal["value"]
    value: float
    correct: bool
    feedback: Feedback = ""

    @model_validator(mode="after")
    def _finite(self) -> NumericValue:
        if not math.isfinite(self.value):
            raise ValueError("a numeric answer's value must be a finite number")
        return self


class NumericRange(_Strict):
    type: Literal["range"]
    range: tuple[float, float]
    correct: bool
    feedback: Feedback = ""

    @model_validator(mode="after")
    def _ordered(self) -> NumericRange:
        low, high = self.range
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError("a range's ends must be finite numbers")
        if low > high:
            raise ValueError(f"the range [{low}, {high}] has its ends reversed")
        return self


class NumericDefault(_Strict):
    type: Literal["default"]
    feedback: Feedback = ""


NumericAnswer = Annotated[NumericValue | NumericRange | NumericDefault, Field(discriminator="type")]


def _check_answers(answers: list[Any], kind: str) -> None:
    if not any(getattr(answer, "correct", False) for answer in answers):
        raise ValueError(f"a {kind} question needs at least one correct answer")
    seen: set[str] = set()
    for answer in answers:
        key = _answer_key(answer)
        if key in seen:
            raise ValueError(f"the answer {key!r} is given twice")
        seen.add(key)


def _answer_key(answer: Any) -> str:
    if isinstance(answer, NumericValue):
        return repr(answer.value)
    if isinstance(answer, NumericRange):
        return repr(answer.range)
    if isinstance(answer, NumericDefault):
        return "default"
    text = " ".join(answer.answer.split())
    return text if getattr(answer, "match_case", False) else text.casefold()


class ChoiceQuestion(_Strict):
    type: Literal["multiple_choice", "many_choice"]
    question: Text
    answers: list[ChoiceAnswer] = Field(min_length=2, max_length=MAX_ANSWERS)
    answer_cols: int | None = Field(default=None, ge=1, le=4)

    @model_validator(mode="after")
    def _answers(self) -> ChoiceQuestion:
        _check_answers(self.answers, self.type)
        if self.type == "multiple_choice" and sum(a.correct for a in self.answers) > 1:
            raise ValueError(
                "a multiple_choice question has one correct answer (many_choice has several)"
            )
        return self


class NumericQuestion(_Strict):
    type: Literal["numeric"]
    question: Text
    precision: int | None = Field(default=None, ge=1, le=15)
    answers: list[NumericAnswer] = Field(min_length=1, max_length=MAX_ANSWERS)

    @model_validator(mode="after")
    def _answers(self) -> NumericQuestion:
        _check_answers(self.answers, self.type)
        if sum(isinstance(a, NumericDefault) for a in self.answers) > 1:
            raise ValueError("a numeric question has at most one default answer")
        return self


class StringQuestion(_Strict):
    type: Literal["string"]
    question: Text
    answers: list[StringAnswer] = Field(min_length=1, max_length=MAX_ANSWERS)

    @model_validator(mode="after")
    def _answers(self) -> StringQuestion:
        _check_answers(self.answers, self.type)
        return self


Question = Annotated[ChoiceQuestion | NumericQuestion | StringQuestion, Field(discriminator="type")]
_QUIZ = TypeAdapter(list[Question])


class QuizError(ValueError):
    """A quiz that cannot be committed; `problems` are sentences for the model or a person."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Quiz:
    questions: list[ChoiceQuestion | NumericQuestion | StringQuestion]

    def json(self) -> str:
        """The file's text: JupyterQuiz JSON, sanitised, stable (same quiz, same bytes)."""
        data = [q.model_dump(exclude_none=True) for q in self.questions]
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


_FENCED_JSON = re.compile(r"```[ \t]*(?:json)?[ \t]*\n(.*?)\n[ \t]*```", re.S | re.I)


def parse_quiz(text: str) -> Quiz:
    """A model's answer (JSON, possibly in a ```json fence) as a checked, sanitised quiz;
    raise `QuizError` with every problem found."""
    stripped = text.strip()
    fenced = _FENCED_JSON.search(stripped) if not stripped.startswith("[") else None
    if fenced is not None:
        stripped = fenced.group(1).strip()
    try:
        data = json.loads(stripped)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise QuizError([f"the answer is not JSON ({exc})"]) from None
    if isinstance(data, dict) and isinstance(data.get("questions"), list):
        data = data["questions"]
    if not isinstance(data, list) or not data:
        raise QuizError(["the answer must be a JSON array of questions with at least one question"])
    if len(data) > MAX_QUESTIONS:
        raise QuizError([f"the quiz has {len(data)} questions; at most {MAX_QUESTIONS}"])
    try:
        questions = _QUIZ.validate_python(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:20]:
            where = _where(error["loc"])
            problems.append(f"{where}: {error['msg']}")
        raise QuizError(problems) from None
    return Quiz([_sanitised(q) for q in questions])


def _where(loc: tuple[Any, ...]) -> str:
    parts = []
    for i, part in enumerate(loc):
        if i == 0 and isinstance(part, int):
            parts.append(f"question {part + 1}")
        elif part == "answers" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            continue
        elif isinstance(part, int) and i > 0 and loc[i - 1] == "answers":
            parts.append(f"answer {part + 1}")
        elif part not in ("multiple_choice", "many_choice", "numeric", "string", "value",
                          "range", "default"):  # fmt: skip
            parts.append(str(part))
    return " ".join(parts) or "the quiz"


def _sanitised(question: Any) -> Any:
    update: dict[str, Any] = {"question": sanitise(question.question)}
    answers = []
    for answer in question.answers:
        fields: dict[str, Any] = {"feedback": sanitise(answer.feedback)}
        if hasattr(answer, "answer"):
            fields["answer"] = sanitise(answer.answer)
        answers.append(answer.model_copy(update=fields))
    update["answers"] = answers
    return question.model_copy(update=update)


def quiz_path(chapter_path: str) -> str:
    """`quizzes/<chapter file stem>.json`: the chapter's quiz, its source of truth."""
    return f"{QUIZ_DIR}/{PurePosixPath(chapter_path).stem}.json"


# -- the chapter's Self-check section ------------------------------------------------------


def _escape(text: str) -> str:
    """Plain text safe as a MyST paragraph: no directive, role, target or comment starts."""
    text = text.replace("\\", "\\\\")
    for char in "`*_{}[]<>|":
        text = text.replace(char, "\\" + char)
    if text[:1] in "%#+-=:>!":
        text = "\\" + text
    return text


def _number(value: float) -> str:
    return f"{value:g}"


WIDGET_PATH = "_static/liquidbook-quiz.mjs"


def widget_block(quiz: Quiz, chapter_path: str) -> str:
    """The interactive quiz: MyST's `{anywidget}` with our module and the quiz as its model
    (one line of JSON: no line of it can close the directive)."""
    depth = chapter_path.count("/")
    module = "../" * depth + WIDGET_PATH if depth else "./" + WIDGET_PATH
    data = json.dumps({"quiz": json.loads(quiz.json())}, ensure_ascii=False)
    return f"::::{{anywidget}} {module}\n{data}\n::::\n"


def render_self_check(quiz: Quiz, chapter_label: str, source: str, widget: str = "") -> str:
    """The body of `## Self-check`: the interactive widget when the book has its module
    (`widget`, from `widget_block`), then each question a numbered exercise with its answers
    and their feedback in a collapsed solution: what the PDF and a reader without
    JavaScript get. `source` is the quiz file, named in a comment."""
    base = re.sub(r"[^a-z0-9-]+", "-", chapter_label.lower()).strip("-") or "chapter"
    lines = [f"% liquidbook: quiz from {source}; edit that file, not this section.", ""]
    if widget:
        lines += [widget.rstrip(), "", "The same questions, with their answers to unfold:", ""]
    for number, question in enumerate(quiz.questions, start=1):
        label = f"{base}-quiz-{number}"
        lines += [
            ":::{exercise}",
            f":label: {label}",
            "",
            _escape(plain_text(question.question)),
            "",
        ]
        if isinstance(question, ChoiceQuestion):
            how = "Choose one." if question.type == "multiple_choice" else "Choose all that apply."
            lines += [how, ""]
            lines += [f"- {_escape(plain_text(a.answer))}" for a in question.answers]
            lines.append("")
        elif isinstance(question, NumericQuestion):
            lines += ["Answer with a number.", ""]
        else:
            lines += ["Answer with a word or a short phrase.", ""]
        lines += [":::", "", f":::{{solution}} {label}", ":class: dropdown", ""]
        for answer in question.answers:
            lines += [f"- {_solution_line(answer)}"]
        lines += ["", ":::", ""]
    return "\n".join(lines).rstrip() + "\n"


def _solution_line(answer: Any) -> str:
    feedback = plain_text(answer.feedback)
    tail = f" — {_escape(feedback)}" if feedback else ""
    if isinstance(answer, NumericDefault):
        return f"Any other answer{tail}"
    mark = "**Correct:**" if answer.correct else "Not right:"
    if isinstance(answer, NumericValue):
        return f"{mark} {_number(answer.value)}{tail}"
    if isinstance(answer, NumericRange):
        low, high = answer.range
        return f"{mark} between {_number(low)} and {_number(high)}{tail}"
    return f"{mark} {_escape(plain_text(answer.answer))}{tail}"


def with_self_check(body: str, section: str) -> str:
    """The chapter body with its `## Self-check` section's content replaced by `section`
    (up to the next heading of level 1 or 2 outside code), or the section added at the end."""
    lines = body.split("\n")
    mask = code_mask(lines)
    start = next(
        (i for i, line in enumerate(lines) if not mask[i] and line.strip() == QUIZ_HEADING), None
    )
    if start is None:
        return body.rstrip() + f"\n\n{QUIZ_HEADING}\n\n{section.rstrip()}\n"
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if not mask[i] and re.match(r"#{1,2}\s", lines[i])
        ),
        len(lines),
    )
    after = "\n".join(lines[end:]).strip()
    before = "\n".join(lines[: start + 1]).rstrip()
    text = f"{before}\n\n{section.rstrip()}\n"
    return text + (f"\n{after}\n" if after else "")
