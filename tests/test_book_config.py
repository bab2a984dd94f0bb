"""`.github/liquidbook.yml`: defaults, and problems reported as sentences an author can act on."""

from __future__ import annotations

import pytest

from bot.book.config import ROLE_ORDER, BookConfig, ConfigError, parse_config, role_allows
from bot.book.settings_file import render_config


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.problems


@pytest.mark.parametrize("text", [None, "", "   \n", "# only a comment\n", "~\n"])
def test_missing_or_empty_file_means_defaults(text: str | None) -> None:
    config = parse_config(text)
    assert config == BookConfig()
    assert config.type == "book"
    assert config.language == "en"
    assert config.permissions.min_role == "write"
    assert config.chapters_dir == "chapters"
    assert config.models.fallbacks == []
    assert config.budget.monthly_usd is None


def test_a_full_file() -> None:
    config = parse_config(
        """
type: course
title: Bayes for Biologists
audience: Biology students who know a little R
language: de
style_guide: |
  Friendly and precise.
  One example per section.
models:
  text: anthropic:claude-sonnet-4-5
  fallbacks: [openai:gpt-4.1, openrouter:meta/llama-3.3]
  image: openai:gpt-image-1
budget:
  monthly_usd: 25
permissions:
  min_role: maintain
chapters_dir: ./kapitel/
"""
    )
    assert config.type == "course"
    assert config.style_guide == "Friendly and precise.\nOne example per section.\n"
    assert config.models.fallbacks == ["openai:gpt-4.1", "openrouter:meta/llama-3.3"]
    assert config.budget.monthly_usd == 25.0
    assert config.permissions.min_role == "maintain"
    assert config.chapters_dir == "kapitel"


def test_empty_values_mean_the_default() -> None:
    config = parse_config("title:\naudience:\nmodels:\n  text:\nbudget:\n  monthly_usd:\n")
    assert config == BookConfig()


def test_wrong_type_names_the_key_and_the_choices() -> None:
    assert problems("type: novel") == [
        "`type` must be one of article, book, course, research (got `novel`)"
    ]


def test_unknown_keys_get_a_suggestion() -> None:
    assert problems("modles:\n  text: a:b") == ["unknown key `modles` — did you mean `models`?"]
    assert problems("models:\n  txt: a:b") == [
        "unknown key `models.txt` — did you mean `models.text`?"
    ]
    (far,) = problems("zzzzzz: 1")
    assert far.startswith("unknown key `zzzzzz` — the settings here are `type`")


def test_all_problems_are_reported_at_once() -> None:
    found = problems(
        "type: novel\nbudget:\n  monthly_usd: -5\npermissions:\n  min_role: owner\n"
        "models:\n  text: gpt4\naudience: [a, b]\n"
    )
    assert len(found) == 5
    joined = "\n".join(found)
    assert "`budget.monthly_usd` must be a number of at least 0 (got `-5`)" in joined
    assert "`permissions.min_role` must be one of read, triage, write, maintain, admin" in joined
    assert "`models.text` must be written as `provider:model`" in joined
    assert "`audience` must be text" in joined


def test_yaml_syntax_errors_give_line_and_column() -> None:
    (problem,) = problems("type: book\nmodels: [unclosed\n")
    assert "not valid YAML" in problem
    assert "line 3" in problem or "line 2" in problem
    assert "column" in problem


def test_a_list_is_not_a_settings_file() -> None:
    (problem,) = problems("- type: book\n")
    assert "`key: value`" in problem


def test_chapters_dir_cannot_leave_the_book() -> None:
    (problem,) = problems("chapters_dir: ../elsewhere")
    assert problem.startswith("`chapters_dir` must be a folder inside the book")
    assert problems("chapters_dir: .github/workflows")


def test_markdown_lists_every_problem() -> None:
    error = ConfigError(["first thing", "second thing"])
    text = error.markdown()
    assert "2 problems" in text
    assert "- first thing" in text
    assert "- second thing" in text
    assert "1 problem**" in ConfigError(["only"]).markdown()


@pytest.mark.parametrize(
    ("actual", "needed", "allowed"),
    [
        ("admin", "write", True),
        ("write", "write", True),
        ("maintain", "write", True),
        ("triage", "write", False),
        ("read", "triage", False),
        ("read", "read", True),
        ("none", "read", False),
        ("Admin", "WRITE", True),
        ("write", "owner", False),
        ("", "read", False),
    ],
)
def test_role_allows(actual: str, needed: str, allowed: bool) -> None:
    assert role_allows(actual, needed) is allowed


def test_role_order_is_least_to_most_trusted() -> None:
    assert ROLE_ORDER == ("read", "triage", "write", "maintain", "admin")


@pytest.mark.parametrize(
    "config",
    [
        BookConfig(),
        BookConfig(
            type="research",
            title="On: colons & 'quotes'",
            audience="Reviewers",
            language="pt-BR",
            style_guide="Line one.\n\n  Indented line two.\nLine three @x\n",
            models={"text": "a:b", "fallbacks": ["c:d"], "image": "e:f"},  # type: ignore[arg-type]
            budget={"monthly_usd": 12.5},  # type: ignore[arg-type]
            permissions={"min_role": "admin"},  # type: ignore[arg-type]
            chapters_dir="parts/main",
        ),
        BookConfig(style_guide="no trailing newline\nsecond"),
        BookConfig(style_guide="  starts with spaces\nx\n\n\n"),
    ],
)
def test_render_config_round_trips_and_explains_every_key(config: BookConfig) -> None:
    text = render_config(config)
    assert parse_config(text) == config
    for key in ("type:", "audience:", "style_guide:", "models:", "budget:", "permissions:"):
        line = next(i for i, row in enumerate(text.splitlines()) if row.startswith(key))
        assert text.splitlines()[line - 1].startswith("#"), f"{key} has no comment above it"


def test_a_book_can_lower_the_operators_budget_but_never_raise_it() -> None:
    from decimal import Decimal

    from bot.jobs.proposal import budget_for
    from bot.settings import load_settings

    settings = load_settings(_env_file=None, liquidbook_monthly_budget_usd=20)
    assert budget_for(parse_config(None), settings) == Decimal(20)
    assert budget_for(parse_config("budget:\n  monthly_usd: 5\n"), settings) == Decimal(5)
    lifted = parse_config("budget:\n  monthly_usd: 100000\n")
    assert budget_for(lifted, settings) == Decimal(20)
