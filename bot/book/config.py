"""The book's settings, `.github/liquidbook.yml`, and the errors an author can act on.

The file is written by people, so every problem is reported as a sentence that names the key,
says what is wrong and how to fix it, and the whole list is posted back as one comment.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rapidfuzz import process

from bot.book.paths import UnsafePathError, safe_book_path

BookType = Literal["article", "book", "course", "research"]
Role = Literal["read", "triage", "write", "maintain", "admin"]

# GitHub's repository roles from least to most trusted.
ROLE_ORDER: tuple[str, ...] = ("read", "triage", "write", "maintain", "admin")


class _Settings(BaseModel):
    # Frozen: `parse_config` hands the same parsed object to every job that reads the same
    # file, so nobody may change it.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelsConfig(_Settings):
    """Which models write the book, as `provider:model` names."""

    text: str | None = Field(
        default=None,
        description="The model that writes outlines and chapters, as `provider:model`; "
        "unset: the server's `LIQUIDBOOK_MODEL`.",
    )
    fallbacks: list[str] = Field(
        default_factory=list,
        description="Models tried in order when the text model fails or is unavailable; "
        "empty: the server's `LIQUIDBOOK_FALLBACK_MODELS`.",
    )
    image: str | None = Field(
        default=None,
        description="The model that draws figures, as `provider:model`; "
        "unset: the server's `LIQUIDBOOK_IMAGE_MODEL`.",
    )
    image_fallbacks: list[str] = Field(
        default_factory=list,
        description="Image models tried in order when the image model fails, refuses or "
        "sends something that is not an image (with `image`; when `image` is unset, the "
        "server's `LIQUIDBOOK_IMAGE_FALLBACK_MODELS` apply).",
    )

    @field_validator("text", "image")
    @classmethod
    def _one_model(cls, value: str | None) -> str | None:
        return None if value is None else _model_name(value)

    @field_validator("fallbacks", "image_fallbacks")
    @classmethod
    def _many_models(cls, value: list[str]) -> list[str]:
        return [_model_name(item) for item in value]


class BudgetConfig(_Settings):
    """Spending cap for this book's model calls; `None` means the installation's default."""

    monthly_usd: float | None = Field(
        default=None,
        ge=0,
        description="Spending cap in US dollars per calendar month for this book's model "
        "calls; it may lower the server's `LIQUIDBOOK_MONTHLY_BUDGET_USD`, never raise it.",
    )
    confirm_above_usd: float | None = Field(
        default=None,
        ge=0,
        description="A command whose worst-case cost is over this many US dollars waits for "
        "`/confirm` (up to 24 hours) before it calls a model; the server's "
        "`LIQUIDBOOK_CONFIRM_ABOVE_USD` applies whatever this says.",
    )


class ReviseConfig(_Settings):
    """What `/revise` does in a review comment on lines of a pull request."""

    mode: Literal["commit", "suggest"] = Field(
        default="suggest",
        description="`suggest`: answer in the thread with a suggested change the reviewer "
        "applies with one click; `commit`: push the change as a commit on the PR's branch. "
        "`/revise` in a PR's conversation always commits; `/suggest` always suggests.",
    )


class PermissionsConfig(_Settings):
    """The least repository role a commenter needs for the app to act on a command."""

    min_role: Role = Field(
        default="write",
        description="The least repository role a commenter needs for the app to act on a command.",
    )


class BookConfig(_Settings):
    """Everything an author can set about the book; every key has a sensible default."""

    type: BookType = Field(
        default="book", description="What kind of work this is; it shapes the outline."
    )
    title: str | None = Field(
        default=None,
        description="The book's title when `myst.yml` has no `project.title`.",
    )
    audience: str = Field(
        default="", description="Who the readers are, in a sentence the model reads."
    )
    language: str = Field(default="en", description="The language code the book is written in.")
    style_guide: str = Field(
        default="",
        description="How to write, in your words; empty: the app's own style guide.",
    )
    models: ModelsConfig = Field(
        default_factory=ModelsConfig, description="Which models write the book."
    )
    budget: BudgetConfig = Field(
        default_factory=BudgetConfig, description="Spending cap for this book's model calls."
    )
    permissions: PermissionsConfig = Field(
        default_factory=PermissionsConfig, description="Who may run commands."
    )
    revise: ReviseConfig = Field(
        default_factory=ReviseConfig, description="How `/revise` answers on lines of a PR."
    )
    chapters_dir: str = Field(
        default="chapters",
        description="The folder new chapters are written to (and read from when "
        "`myst.yml` has no toc).",
    )
    fail_on_warnings: bool = Field(
        default=False,
        description='Whether the "Liquid Book" check run of a push or PR fails on build '
        "warnings alone (by default it is neutral: only errors fail it).",
    )

    @field_validator("chapters_dir")
    @classmethod
    def _safe_dir(cls, value: str) -> str:
        try:
            return safe_book_path(value)
        except UnsafePathError as error:
            raise ValueError(f"must be a folder inside the book ({error.reason})") from None


def _model_name(value: str) -> str:
    provider, _, model = value.partition(":")
    if not provider.strip() or not model.strip():
        raise ValueError("must be written as `provider:model`, e.g. `anthropic:claude-sonnet-4`")
    return value.strip()


class ConfigError(Exception):
    """`.github/liquidbook.yml` cannot be used; `problems` are sentences for the author."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems

    def markdown(self) -> str:
        """A short comment body: what is wrong with the settings file, one bullet each."""
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"**`.github/liquidbook.yml` has {count} {noun}**, so I stopped here:", ""]
        lines += [f"- {problem}" for problem in self.problems]
        lines += ["", "Fix the file and comment the command again. `/help` lists the commands."]
        return "\n".join(lines)


def role_allows(actual_role: str, min_role: str) -> bool:
    """True when `actual_role` is at least `min_role`; unknown roles (`none`) allow nothing."""
    actual, needed = actual_role.strip().lower(), min_role.strip().lower()
    if actual not in ROLE_ORDER or needed not in ROLE_ORDER:
        return False
    return ROLE_ORDER.index(actual) >= ROLE_ORDER.index(needed)


# libyaml's safe loader when PyYAML was built with it (the wheels are): the settings file is
# read by every acknowledgement, and the pure-Python scanner was a tenth of that job's CPU.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=256)
def parse_config(text: str | None) -> BookConfig:
    """Read the settings file; a missing or empty file means every default.

    Raises `ConfigError` listing every problem at once, so the author fixes them in one go.
    Remembered by the file's text (the YAML parse and validation were a twentieth of an
    acknowledgement's CPU, for a file that rarely changes); the result is immutable.
    """
    if text is None or not text.strip():
        return BookConfig()
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as error:
        raise ConfigError([_yaml_problem(error)]) from None
    if data is None:
        return BookConfig()
    if not isinstance(data, dict):
        raise ConfigError(
            [f"the file must hold `key: value` settings, one a line (got {_kind(data)})"]
        )
    try:
        return BookConfig.model_validate(_drop_empty(data))
    except ValidationError as error:
        raise ConfigError(_problems(error)) from None


def _drop_empty(data: dict[Any, Any]) -> dict[Any, Any]:
    """`key:` with nothing after it means "use the default", as authors expect."""
    return {
        key: _drop_empty(value) if isinstance(value, dict) else value
        for key, value in data.items()
        if value is not None
    }


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"the file is not valid YAML{where}: {problem} (check the indentation and quotes)"


def _kind(value: object) -> str:
    names = {str: "text", list: "a list", dict: "a mapping", bool: "true/false"}
    return names.get(type(value), type(value).__name__)


def _field_names(location: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = BookConfig
    for part in location:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        location = tuple(item["loc"])
        path = ".".join(str(part) for part in location)
        got = item.get("input")
        if item["type"] == "extra_forbidden":
            problems.append(_unknown_key(location))
        elif item["type"] == "literal_error":
            allowed = item["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
            problems.append(f"`{path}` must be one of {allowed} (got `{got}`)")
        elif item["type"] in {"greater_than_equal", "greater_than"}:
            limit = item["ctx"].get("ge", item["ctx"].get("gt"))
            problems.append(f"`{path}` must be a number of at least {limit:g} (got `{got}`)")
        elif item["type"] == "value_error":
            problems.append(f"`{path}` {item['ctx']['error']!s} (got `{got}`)")
        elif item["type"] in {"string_type", "float_parsing", "float_type", "list_type"}:
            wanted = {"string_type": "text", "list_type": "a list"}.get(item["type"], "a number")
            problems.append(f"`{path}` must be {wanted} (got {_kind(got)} `{got}`)")
        elif item["type"] == "model_type":
            problems.append(f"`{path}` must be a group of `key: value` settings (got `{got}`)")
        else:
            problems.append(f"`{path}`: {item['msg']}")
    return problems


def _unknown_key(location: tuple[int | str, ...]) -> str:
    *parents, key = location
    prefix = "".join(f"{part}." for part in parents)
    names = _field_names(tuple(parents))
    match = process.extractOne(str(key), names, score_cutoff=60) if names else None
    if match is not None:
        return f"unknown key `{prefix}{key}` — did you mean `{prefix}{match[0]}`?"
    known = ", ".join(f"`{prefix}{name}`" for name in names)
    return f"unknown key `{prefix}{key}` — the settings here are {known}"
