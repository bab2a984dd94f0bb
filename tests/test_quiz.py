"""bot/book/quiz.py: JupyterQuiz JSON checked, sanitised and rendered into a chapter."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.book.quiz import _TAGS, QuizError, parse_quiz, render_self_check, sanitise, with_self_check

CHOICE = {
    "type": "multiple_choice",
    "question": "Q?",
    "answers": [
        {"answer": "A", "correct": True, "feedback": "yes"},
        {"answer": "B", "correct": False, "feedback": "no"},
    ],
}


def _problems(data: object) -> str:
    with pytest.raises(QuizError) as caught:
        parse_quiz(json.dumps(data))
    return str(caught.value)


def test_a_valid_quiz_round_trips_and_is_stable() -> None:
    quiz = parse_quiz("Here it is:\n```json\n" + json.dumps([CHOICE]) + "\n```")
    assert json.loads(quiz.json()) == [CHOICE]
    assert parse_quiz(quiz.json()).json() == quiz.json()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            [{**CHOICE, "answers": [{**a, "correct": False} for a in CHOICE["answers"]]}],
            "at least one correct answer",
        ),
        (
            [
                {
                    **CHOICE,
                    "answers": [CHOICE["answers"][0], {**CHOICE["answers"][0], "answer": " a "}],
                }
            ],
            "given twice",
        ),
        (
            [
                {
                    "type": "numeric",
                    "question": "n?",
                    "answers": [{"type": "range", "range": [5, 1], "correct": True}],
                }
            ],
            "reversed",
        ),
        (
            [
                {
                    "type": "numeric",
                    "question": "n?",
                    "answers": [{"type": "value", "value": "two", "correct": True}],
                }
            ],
            "question 1",
        ),
        (
            [{**CHOICE, "answers": [{**a, "correct": True} for a in CHOICE["answers"]]}],
            "one correct answer",
        ),
        ([{**CHOICE, "type": "essay"}], "question 1"),
        ([], "at least one question"),
        ({"title": "x"}, "JSON array"),
    ],
)
def test_invalid_quizzes_are_refused_with_a_reason(data: object, problem: str) -> None:
    assert problem in _problems(data)


def test_not_json_is_refused() -> None:
    with pytest.raises(QuizError, match="not JSON"):
        parse_quiz("Sure! Here are some questions: 1. What …")


def test_html_is_sanitised() -> None:
    hostile = {
        **CHOICE,
        "question": 'Q <script>alert(1)</script><a href="javascript:x()" onclick="y()">l</a><em>e</em>',
    }
    text = parse_quiz(json.dumps([hostile])).json()
    assert "script" not in text and "javascript" not in text and "onclick" not in text
    assert "<em>e</em>" in text


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_sanitise_never_leaves_a_tag_outside_the_allow_list(html: str) -> None:
    seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            seen.append((tag, attrs))

    Tags().feed(sanitise(html + '<script>x</script><b onclick="y">z</b><a href="javascript:q">'))
    for tag, attrs in seen:
        assert tag in _TAGS
        for name, value in attrs:
            assert name in {"href", "title", "rel"} and not (value or "").startswith("javascript")


@given(st.text(max_size=400))
@settings(max_examples=200, deadline=None)
def test_parse_quiz_answers_any_text_with_a_quiz_or_a_quiz_error(text: str) -> None:
    try:
        parse_quiz(text)
    except QuizError as error:
        assert error.problems


def test_self_check_section_is_replaced_not_repeated() -> None:
    quiz = parse_quiz(json.dumps([CHOICE]))
    body = "## Intro\n\nText.\n\n## Self-check\n\n% slot\n\n## After\n\nMore.\n"
    once = with_self_check(body, render_self_check(quiz, "ch", "quizzes/ch.json"))
    twice = with_self_check(once, render_self_check(quiz, "ch", "quizzes/ch.json"))
    assert once == twice and once.count("## Self-check") == 1 and "% slot" not in once
    assert once.index("## Self-check") < once.index(":::{exercise}") < once.index("## After")
    fenced = "```\n## Self-check\n```\n"
    added = with_self_check(fenced, "X\n")
    assert added.startswith(fenced) and added.endswith("## Self-check\n\nX\n")
