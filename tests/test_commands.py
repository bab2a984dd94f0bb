"""The comment grammar: what triggers a command, what is ignored, and helpful errors."""

from __future__ import annotations

import pytest

from bot.commands import (
    COMMANDS,
    ChapterSelector,
    CommandError,
    GenerateChapter,
    GenerateVideo,
    Help,
    Init,
    Outline,
    Publish,
    Usage,
    help_text,
    may_hold_commands,
    parse_commands,
)
from bot.jobs.acknowledge import Answer, answer_body, expected_answers, role_of


def one(body: str) -> object:
    (result,) = parse_commands(body)
    return result


def error(body: str) -> CommandError:
    result = one(body)
    assert isinstance(result, CommandError), result
    return result


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("/help", Help()),
        ("/HELP", Help()),
        ("  /help  ", Help()),
        ("/init", Init()),
        ("/usage", Usage()),
        ("/Usage please", Usage("please")),
        ("/help me", Help("me")),
        ("/init now", Init("now")),
        ("/outline A book on moths", Outline("A book on moths")),
        ("/generate chapter 3", GenerateChapter(ChapterSelector("number", 3, 3))),
        ("/Generate Chapter 3", GenerateChapter(ChapterSelector("number", 3, 3))),
        ("/generate chapter 2-5", GenerateChapter(ChapterSelector("range", 2, 5))),
        ("/generate chapter 2 - 5", GenerateChapter(ChapterSelector("range", 2, 5))),
        ("/generate chapter 2–5", GenerateChapter(ChapterSelector("range", 2, 5))),
        ("/generate chapter 4-4", GenerateChapter(ChapterSelector("number", 4, 4))),
        ("/generate chapter all", GenerateChapter(ChapterSelector("all"))),
        ("/generate chapter ALL", GenerateChapter(ChapterSelector("all"))),
        (
            '/generate chapter "Bayes\' rule"',
            GenerateChapter(ChapterSelector("title", title="Bayes' rule")),
        ),
        (
            "/generate chapter “Bayes rule”",
            GenerateChapter(ChapterSelector("title", title="Bayes rule")),
        ),
        (
            "/generate chapter Bayes rule",
            GenerateChapter(ChapterSelector("title", title="Bayes rule")),
        ),
        (
            "/generate chapter 3 with more examples",
            GenerateChapter(ChapterSelector("number", 3, 3), "with more examples"),
        ),
        (
            '/generate chapter "Priors" shorter please',
            GenerateChapter(ChapterSelector("title", title="Priors"), "shorter please"),
        ),
    ],
)
def test_commands(body: str, command: object) -> None:
    assert parse_commands(body) == [command]


def test_following_lines_extend_outline_and_generate() -> None:
    body = (
        "Thanks for installing!\n\n"
        "/outline An introductory course on Bayesian statistics,\n"
        "for biologists, 10 chapters.\n\n"
        "Each chapter ends with exercises.\n"
        "/generate chapter 3\n"
        "Use a worked example with real numbers.\n"
        "```python\n/not a command\n```\n"
        "/help\n"
        "this line belongs to nothing\n"
    )
    assert parse_commands(body) == [
        Outline(
            "An introductory course on Bayesian statistics,\nfor biologists, 10 chapters.\n\n"
            "Each chapter ends with exercises."
        ),
        GenerateChapter(
            ChapterSelector("number", 3, 3),
            "Use a worked example with real numbers.\n```python\n/not a command\n```",
        ),
        Help(),
    ]


def test_outline_description_may_start_on_the_next_line() -> None:
    assert parse_commands("/outline\nA field guide to moths") == [Outline("A field guide to moths")]


@pytest.mark.parametrize(
    "body",
    [
        "> /generate chapter 3",
        ">/generate chapter 3",
        "> > /help",
        "```\n/generate chapter 3\n```",
        "~~~\n/help\n~~~",
        "````markdown\n```\n/help\n```\n````",
        "    /help",
        "\t/help",
        "Please run /generate chapter 3 later",
        "see `/help`",
        "<!-- /help -->",
        "<!--\n/generate chapter 1\n-->",
        "/usr/bin/env python3",
        "/home/me/book",
        "/shrug",
        "/hello",
        "/use",
        "/in",
        "/tmp/notes.txt",
        "/s",
        "/",
        "/ help",
        "/3",
        "",
    ],
)
def test_ignored(body: str) -> None:
    assert parse_commands(body) == []


def test_commands_inside_a_directive_still_count() -> None:
    # A `{note}` directive holds Markdown, not code.
    assert parse_commands("```{note}\n/help\n```") == [Help()]


def test_a_quoted_reply_does_not_trigger_but_the_new_line_does() -> None:
    body = "> /generate chapter 3\n> (from the bot)\n\n/generate chapter 4"
    assert parse_commands(body) == [GenerateChapter(ChapterSelector("number", 4, 4))]


@pytest.mark.parametrize(
    ("body", "suggestion"),
    [
        ("/genrate chapter 3", "/generate chapter 3"),
        ("/generat chapter 2-4", "/generate chapter 2-4"),
        ("/genrate chapters 3", "/generate chapter 3"),
        ("/generate chapters 3", "/generate chapter 3"),
        ("/generate chaptr all", "/generate chapter all"),
        ("/generate 3", "/generate chapter 3"),
        ("/halp", "/help"),
        ("/outlin A book", "/outline A book"),
        ("/usge", "/usage"),
        ("/int", "/init"),
        ("/generate chapter 5-2", "/generate chapter 2-5"),
        # Two neighbouring letters swapped count as one edit.
        ("/hepl", "/help"),
        ("/inti", "/init"),
        ("/usgae", "/usage"),
        ("/uasge", "/usage"),
        ("/genreate chapter 1", "/generate chapter 1"),
        # Longer words allow more edits.
        ("/genrat chapter 1", "/generate chapter 1"),
        ("/outlien A book", "/outline A book"),
        # A colon, joined words, an unambiguous prefix.
        ("/outline: tide pools", "/outline tide pools"),
        ("/help:", "/help"),
        ("/generate-chapter 1", "/generate chapter 1"),
        ("/generate_chapter 1", "/generate chapter 1"),
        ("/gen chapter 1", "/generate chapter 1"),
        ("/gen-chapter all", "/generate chapter all"),
        ("/out A book on moths", "/outline A book on moths"),
        ("/generate ch 3", "/generate chapter 3"),
        ("/Generate Chapter: 3", "/generate chapter 3"),
        # Several chapters in one command: the range they make.
        ("/generate chapter 2, 3", "/generate chapter 2-3"),
        ("/generate chapters 2, 3", "/generate chapter 2-3"),
        ("/generate chapter 2, 3 shorter", "/generate chapter 2-3 shorter"),
    ],
)
def test_typos_get_the_nearest_valid_command(body: str, suggestion: str) -> None:
    found = error(body)
    assert found.suggestion == suggestion
    assert found.line == body
    assert f"Did you mean `{suggestion}`?" in found.markdown()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("/generate chapter", 'Usage: `/generate chapter <N | N-M | all | "title">`'),
        ("/generate chapter 0", "Chapters are numbered from 1; there is no chapter 0."),
        ("/generate chapter -2", "chapters are numbered from 1"),
        ("/generate chapter 5-2", "A range goes from the lower to the higher number"),
        ("/generate chapter 1000", "no chapter 1000; books here stop at 999"),
        ('/generate chapter "unterminated', "has no closing"),
        ('/generate chapter ""', "title is empty"),
        ("/generate chapter 3,5", "(`/generate chapter 3` and `/generate chapter 5`)"),
        ("/generate chapter 2-4, 6", "(`/generate chapter 2-4` and `/generate chapter 6`)"),
        ("/gen", "`/generate` needs more"),
        ("/outline: ", "write it without the colon"),
        ("/generate", "`/generate` needs more"),
        ("/generate quiz 3", "`/generate quiz` names its chapters"),
        ("/generate quiz chapter 0", "chapter"),
        ("/generate figure 2", '`/generate figure chapter N "<what to draw>"`'),
        ('/generate figure chapter 1 "open', "A quote is not closed"),
        ('/generate figure chapter 1 "x" --aspect 5:1', "`--aspect 5:1` is not one of"),
        ("/generate video 2", '`/generate video chapter N "<what happens>"`'),
        ("/generate video chapter 2", '`/generate video chapter N "<what happens>"`'),
        ('/generate video chapter 1 "x" --seconds 7', "`--seconds 7` is not 5 or 10"),
        ('/generate video chapter 1 "x" --from', "`--from` needs a value"),
        ("/generate video chapter 1 --from fig-a", "Say what happens in the clip"),
        ('/generate video chapter 1 "x" --loop', "`--loop` is not an option"),
        ("/publish now", None),
        ("/generate quizz chapter 3", "`/generate quizz` is not a command"),
        ("/revise", "`/revise` needs instructions"),
        ("/revise chapter 2-4 shorter", "names one chapter"),
        ("/generate nonsense", "write `/generate chapter"),
        ("/outline", "needs a description"),
    ],
)
def test_errors_explain_themselves(body: str, fragment: str | None) -> None:
    if fragment is None:  # a command now: words after it are ignored, not an error
        assert parse_commands(body) == [Publish("now")]
        return
    assert fragment in error(body).message


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("/generate chapter 1\n/usgae", GenerateChapter(ChapterSelector("number", 1, 1))),
        (
            "/generate chapter 1\nShorter.\n/hepl",
            GenerateChapter(ChapterSelector("number", 1, 1), "Shorter."),
        ),
        ("/outline Moths\n/generate-chapter 1", Outline("Moths")),
    ],
)
def test_a_near_miss_below_a_command_is_reported_not_sent_to_the_model(
    body: str, command: object
) -> None:
    first, second = parse_commands(body)
    assert first == command
    assert isinstance(second, CommandError) and second.suggestion is not None
    assert second.line == body.splitlines()[-1]


def test_prose_lines_below_a_command_stay_instructions() -> None:
    found = one("/generate chapter 1\n/shrug, make it short\n/usr/bin/env is fine")
    assert isinstance(found, GenerateChapter)
    assert found.instructions == "/shrug, make it short\n/usr/bin/env is fine"


def test_errors_carry_their_line_number_and_do_not_stop_parsing() -> None:
    results = parse_commands("hello\n/genrate chapter 1\n/help")
    assert isinstance(results[0], CommandError) and results[0].lineno == 2
    assert results[1] == Help()


def test_crlf_bodies() -> None:
    assert parse_commands("/outline A\r\nmore\r\n/help\r\n") == [Outline("A\nmore"), Help()]


def test_generate_video_reads_its_options() -> None:
    assert parse_commands(
        '/generate video chapter 2 "The tide comes in" --from fig-shore --seconds 10'
    ) == [GenerateVideo(ChapterSelector("number", 2, 2), "The tide comes in", "fig-shore", 10)]
    assert parse_commands("/generate video chapter 3 Waves at dusk") == [
        GenerateVideo(ChapterSelector("number", 3, 3), "Waves at dusk", "", 5)
    ]
    assert "/generate video chapter N" in help_text()


def test_help_text_lists_every_command() -> None:
    text = help_text()
    assert text.startswith("| Command | What it does | Example |")
    for spec in COMMANDS:
        assert f"`{spec.name}" in text
        assert spec.example in text
    assert "\\|" in text  # pipes in syntax are escaped so the table holds
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == len(COMMANDS)
    assert all(row.count(" | ") == 2 for row in rows)


def test_selector_round_trips_as_text() -> None:
    assert [str(s) for s in (ChapterSelector("number", 3, 3), ChapterSelector("range", 2, 4))] == [
        "3",
        "2-4",
    ]
    assert str(ChapterSelector("all")) == "all"
    assert str(ChapterSelector("title", title="Priors")) == '"Priors"'


def test_tabs_separate_like_spaces() -> None:
    found = one("/generate chapter\t3\tshorter")
    assert found == GenerateChapter(ChapterSelector("number", start=3, end=3), "shorter")


@pytest.mark.parametrize(
    ("body", "suggestion"),
    [
        ("/generate chapter 3 4", "/generate chapter 3-4"),
        ("/generate chapter 2 and 3", "/generate chapter 2-3"),
        ("/generate chapter 2 3 4", "/generate chapter 2-4"),
        ("/generate chapter 2 & 5", None),
        ("/generate chapter 2, 5", None),
        ("/generate chapter 4 3", "/generate chapter 3-4"),
    ],
)
def test_several_chapter_numbers_are_an_error_not_instructions(
    body: str, suggestion: str | None
) -> None:
    found = error(body)
    assert "one chapter, a range or `all`" in found.message
    assert found.suggestion == suggestion


@pytest.mark.parametrize(
    ("body", "instructions"),
    [
        ("/generate chapter 3 with 2 worked examples", "with 2 worked examples"),
        ("/generate chapter 1 2024 edition", "2024 edition"),
    ],
)
def test_numbers_inside_instructions_are_instructions(body: str, instructions: str) -> None:
    found = one(body)
    assert isinstance(found, GenerateChapter) and found.instructions == instructions


@pytest.mark.parametrize(
    ("answer", "role"),
    [
        ({"permission": "write", "role_name": "write"}, "write"),
        ({"permission": "write", "role_name": "maintain"}, "maintain"),
        ({"permission": "read", "role_name": "triage"}, "triage"),
        # An organisation's custom role is named as the organisation likes; its base counts.
        ({"permission": "write", "role_name": "docs-writer"}, "write"),
        ({"permission": "none"}, "none"),
        ({}, "none"),
    ],
)
def test_the_role_from_githubs_permission_answer(answer: dict[str, str], role: str) -> None:
    assert role_of(answer) == role


@pytest.mark.parametrize(
    "body",
    [
        "Some notes <!--\n/init\n-->\n/help",
        "<!-- hidden\n/init\n-->\n/help",
        "<!-- one line --> text\n/help",
        "a --> b <!-- c\n/init\nstill hidden -->\n/help",
    ],
)
def test_html_comments_hide_commands_wherever_they_open(body: str) -> None:
    assert parse_commands(body) == [Help()]


@pytest.mark.parametrize(
    ("argument", "fragment"),
    [
        ("²", "`²` is not a chapter number: write numbers with the digits 0-9"),
        ("①", "`①` is not a chapter number"),
        ("٣", "`٣` is not a chapter number"),
        ("3²", "`3²` is not a chapter number"),
        ("2-３", "`2-３` is not a chapter number"),
        ("9" * 5000, "no chapter 999999… (a number of 5,000 digits); books here stop at 999"),
        ("1-" + "9" * 5000, "(a number of 5,000 digits)"),
        ("0001", None),
        ("1000", "no chapter 1000; books here stop at 999"),
    ],
)
def test_chapter_numbers_are_ascii_digits_of_a_sensible_length(
    argument: str, fragment: str | None
) -> None:
    found = one(f"/generate chapter {argument}")
    if fragment is None:
        assert found == GenerateChapter(ChapterSelector("number", 1, 1))
    else:
        assert isinstance(found, CommandError) and fragment in found.message, found


def test_an_odd_line_does_not_stop_the_others() -> None:
    results = parse_commands("/generate chapter ²\n/help\n/generate chapter 2\nShorter.")
    assert isinstance(results[0], CommandError) and results[0].lineno == 1
    assert results[1:] == [Help(), GenerateChapter(ChapterSelector("number", 2, 2), "Shorter.")]


def test_repeats_count_once_whatever_follows_a_command_without_arguments() -> None:
    assert parse_commands("/help\n/help me\n/HELP\n/usage\n/usage") == [Help(), Usage()]
    # Different instructions are different commands.
    assert len(parse_commands("/generate chapter 1\nA\n/generate chapter 1\nB")) == 2


@pytest.mark.parametrize(
    ("body", "may"),
    [
        ("/help", True),
        ("text\n   /hepl", True),
        ("text\r\n/generate chapter 1", True),
        ("/usr/bin/env", True),  # the grammar decides it is prose, in the job
        ("thanks!", False),
        ("a/b and 1/2", False),
        ("    /help", False),  # four spaces: a code block
        ("/ help", False),
        ("/3", False),
        ("\t/help", False),
    ],
)
def test_the_handlers_check_is_a_superset_of_command_lines(body: str, may: bool) -> None:
    assert may_hold_commands(body) is may
    if not may:
        assert parse_commands(body) == []


def test_one_answer_holds_every_immediate_answer() -> None:
    items = parse_commands("/generate chapter ²\n/hepl\n/generate chapter 1\n/outline Moths")
    assert expected_answers(items) == 3  # two jobs, and one answer for the two odd lines
    assert expected_answers(parse_commands("/help\n" * 100)) == 1
    errors = [Answer("`a`", "`a`", "⚠️ bad", points_to_help=True)]
    helped = [*errors, Answer("`/help`", "`/help`", "✅ What I can do", is_help=True)]
    heading, text, _ = answer_body(errors, "alice")
    assert heading == "`a`" and text == "⚠️ bad\n\nComment `/help` for every command."
    heading, text, _ = answer_body(helped, "alice")
    assert heading == "2 answers to the comment of @alice"
    assert text.startswith("⚠️ 1 of 2 lines of the comment could not run")
    assert "#### `a`\n\n⚠️ bad" in text and "Comment `/help`" not in text
    worst = [Answer("x", "x", "✅ fine"), Answer("y", "y", "❌ refused")]
    assert answer_body(worst, "alice")[1].startswith("❌ 1 of 2 lines")


def test_generate_quiz_takes_chapters_and_instructions() -> None:
    from bot.commands import GenerateQuiz

    [command] = parse_commands("/generate quiz chapter 2-4\n8 questions, mostly numeric")
    assert isinstance(command, GenerateQuiz)
    assert (command.selector.kind, command.selector.start, command.selector.end) == ("range", 2, 4)
    assert command.instructions == "8 questions, mostly numeric"
    assert "/generate quiz chapter <N \\| N-M" in help_text()
    wrong = error("/generate quiz 3")
    assert wrong.suggestion == "/generate quiz chapter 3"
