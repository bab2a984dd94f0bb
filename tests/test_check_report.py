"""The pure parts of the "Liquid Book" check run (`bot.jobs.check`): annotations, conclusion,
summary, and where a settings problem points."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.book.build_output import BuildIssue
from bot.book.check import BuildReport
from bot.jobs.check import (
    MAX_SUMMARY,
    _line_of,
    annotations_for,
    conclusion_for,
    config_line,
    summary_for,
)

issues = st.builds(
    BuildIssue,
    level=st.sampled_from(["error", "warning"]),
    file=st.none() | st.sampled_from(["intro.md", "chapters/01-a.md"]),
    line=st.none() | st.integers(1, 10_000),
    message=st.text(max_size=200),
)


@given(st.lists(issues, max_size=60), st.text(max_size=3000))
def test_every_located_issue_is_one_annotation(found: list[BuildIssue], tail: str) -> None:
    errors = [i for i in found if i.level == "error"]
    warnings = [i for i in found if i.level == "warning"]
    report = BuildReport(not errors, errors, warnings, 1.0, tail)
    notes = annotations_for(report)
    assert len(notes) == sum(1 for i in found if i.file)
    for note in notes:
        assert note["start_line"] >= 1 and note["end_line"] == note["start_line"]
        assert note["annotation_level"] in ("failure", "warning") and note["message"]
    title, summary = summary_for(report, [])
    assert len(summary) <= MAX_SUMMARY and title
    expected = "failure" if errors else ("neutral" if warnings else "success")
    assert conclusion_for(report, [], warnings_fail=False) == expected


def test_warnings_only_can_be_made_to_fail() -> None:
    report = BuildReport(True, [], [BuildIssue("warning", "a.md", 3, "w")], 1.0)
    assert conclusion_for(report, [], warnings_fail=False) == "neutral"
    assert conclusion_for(report, [], warnings_fail=True) == "failure"


def test_a_settings_problem_points_at_its_key() -> None:
    lines = ["title: T", "models:", "  text: nope"]
    assert _line_of("`models.text`: not a model name", lines) == 3
    assert _line_of("the file must hold settings", lines) == 1


@given(st.text(max_size=2000), st.lists(st.text(max_size=80), max_size=50))
def test_any_problem_text_finds_a_line(problem: str, lines: list[str]) -> None:
    assert 1 <= _line_of(problem, lines) <= max(1, len(lines))


MYST = """# settings
version: 1
project:
  title: T
  nosuchkey: 3
  toc:
    - file: missing.md
    - file: intro.md
site:
  bogus: 1
  template: book-theme
""".splitlines()


def test_a_config_problem_without_a_line_points_at_what_it_names() -> None:
    """MyST prints no line for `myst.yml`'s problems; the message's last word is found."""
    assert config_line("'config.project' extra key ignored: nosuchkey", MYST) == 5
    assert config_line("Table of contents entry does not exist: missing.md", MYST) == 7
    assert config_line('extra site options should be nested under "options" key: bogus', MYST) == 10
    assert config_line("Could not build the toc", MYST) is None
    issue = BuildIssue(
        "error", "myst.yml", None, "Table of contents entry does not exist: missing.md"
    )
    report = BuildReport(False, [issue], [], 1.0)
    [note] = annotations_for(report, {"myst.yml": MYST})
    assert note["start_line"] == 7
    [note] = annotations_for(report)
    assert note["start_line"] == 1


@given(st.text(max_size=300), st.lists(st.text(max_size=80), max_size=50))
def test_any_config_message_finds_a_line_or_none(message: str, lines: list[str]) -> None:
    found = config_line(message, lines)
    assert found is None or 1 <= found <= len(lines)
