"""Write docs/reference.md from the settings models, so the reference cannot drift from them.

    python scripts/docs_reference.py          # rewrite docs/reference.md
    python scripts/docs_reference.py --check  # exit 1 when the committed page is stale

Two models are read: the book's settings file `.github/liquidbook.yml` (`bot.book.config.
BookConfig`, its fields' descriptions, types, constraints and defaults, nested sections as
dotted keys) and the server's environment (`bot.settings.Settings`; a field's description is
its `description=`, else the comment written above it in the class). tests/test_docs_site.py
fails when the page and this script's output differ.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.book.config import BookConfig  # noqa: E402
from bot.settings import Settings  # noqa: E402

PAGE = ROOT / "docs" / "reference.md"
_CONSTRAINTS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


def type_text(annotation: Any) -> str:
    """A type as an author reads it: `text`, `number`, `one of a, b`, `list of text`."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        kept = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return " or ".join(type_text(arg) for arg in kept)
    if origin is typing.Annotated:
        return type_text(typing.get_args(annotation)[0])
    if origin is list:
        (item,) = typing.get_args(annotation) or (str,)
        return f"list of {type_text(item)}"
    names = {
        str: "text",
        int: "integer",
        float: "number",
        bool: "true/false",
        Path: "path",
        SecretStr: "secret text",
    }
    if annotation in names:
        return names[annotation]
    return getattr(annotation, "__name__", str(annotation))


def constraint_text(field: FieldInfo) -> str:
    """`≥ 0`, `≥ 1, ≤ 20`: the bounds a value must keep."""
    parts = []
    for item in field.metadata:
        for name, symbol in _CONSTRAINTS:
            value = getattr(item, name, None)
            if value is not None:
                parts.append(
                    f"{symbol} {value:g}" if isinstance(value, float) else f"{symbol} {value}"
                )
    return ", ".join(parts)


def default_text(field: FieldInfo) -> str:
    """The default as it would be written: `unset`, `""` for empty text, `[]`, a value."""
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "unset"
    if value == "":
        return '`""`'
    if isinstance(value, list):
        return "`[]`" if not value else "`" + ", ".join(map(str, value)) + "`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def comments_above_fields(model: type[BaseModel]) -> dict[str, str]:
    """The `# comment` lines written directly above each field in the model's class body."""
    source = textwrap.dedent(inspect.getsource(model))
    lines = source.splitlines()
    found: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            comment: list[str] = []
            number = node.lineno - 2
            while number >= 0 and lines[number].strip().startswith("#"):
                comment.insert(0, lines[number].strip().lstrip("#").strip())
                number -= 1
            if comment:
                found[node.target.id] = " ".join(comment)
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip() or "—"


def book_rows(model: type[BaseModel] = BookConfig, prefix: str = "") -> list[str]:
    """One table row per key of the settings file, nested sections as `section.key`."""
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += book_rows(annotation, f"{prefix}{name}.")
            continue
        kind = type_text(annotation)
        if bounds := constraint_text(field):
            kind += f" ({bounds})"
        rows.append(
            f"| `{prefix}{name}` | {_cell(kind)} | {_cell(default_text(field))} "
            f"| {_cell(field.description or '')} |"
        )
    return rows


def environment_rows(model: type[Settings] = Settings) -> list[str]:
    """One table row per environment variable the server reads."""
    comments = comments_above_fields(model)
    rows = []
    for name, field in model.model_fields.items():
        kind = type_text(field.annotation)
        if bounds := constraint_text(field):
            kind += f" ({bounds})"
        meaning = field.description or comments.get(name, "")
        rows.append(
            f"| `{name.upper()}` | {_cell(kind)} | {_cell(default_text(field))} "
            f"| {_cell(meaning)} |"
        )
    return rows


def render() -> str:
    """The whole page."""
    import yaml

    defaults = yaml.safe_dump(BookConfig().model_dump(), sort_keys=False, allow_unicode=True)
    return "\n".join(
        [
            "---",
            "title: Settings reference",
            "---",
            "",
            "<!-- Generated by scripts/docs_reference.py from bot/book/config.py and "
            "bot/settings.py: edit those and run the script. -->",
            "",
            "## The book's settings file",
            "",
            "A book's settings live in `.github/liquidbook.yml` in its repository. Every key is "
            "optional; a missing file means every default. The app reads the file at the "
            "commit it works on, so a change takes effect with the next command. Problems "
            "(an unknown key, a wrong type) are answered in one comment that lists them all.",
            "",
            "| key | type | default | meaning |",
            "| --- | --- | --- | --- |",
            *book_rows(),
            "",
            "The file with every default written out:",
            "",
            "```yaml",
            defaults.rstrip(),
            "```",
            "",
            "## The server's environment",
            "",
            "The server reads these variables from its environment, then from a `.env` file in "
            "its working directory (the environment wins). Model providers' keys and addresses "
            "(`<PROVIDER>_API_KEY`, `<PROVIDER>_BASE_URL`) are described in "
            "[](providers.md).",
            "",
            "| variable | type | default | meaning |",
            "| --- | --- | --- | --- |",
            *environment_rows(),
            "",
        ]
    )


def main(argv: list[str]) -> int:
    page = render()
    if "--check" in argv:
        if PAGE.is_file() and PAGE.read_text(encoding="utf-8") == page:
            return 0
        print(f"{PAGE.relative_to(ROOT)} is stale: run python scripts/docs_reference.py")
        return 1
    PAGE.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
