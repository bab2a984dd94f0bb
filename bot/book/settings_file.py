"""Writing `.github/liquidbook.yml` with a comment above every setting.

The file is the only manual of the settings most authors will read, so each key is written
with what it does and which values it takes; `parse_config(render_config(c)) == c` holds.
"""

from __future__ import annotations

from typing import Any

import yaml

from bot.book.config import ROLE_ORDER, BookConfig

_HEADER = """\
# Liquid Book settings for this book. Every key is optional: leave a value empty (or delete
# the line) to use the default. Comment `/help` on an issue to see the commands.
"""

_STYLE_EXAMPLE = """\
# style_guide: |
#   Write in a warm, direct voice for curious beginners. Prefer short paragraphs, define
#   every term on first use, and end each section with one worked example.
"""


def _scalar(value: Any, indent: str) -> str:
    """One YAML value after `key:` (a literal block for multi-line text, as people write it)."""
    if value is None:
        return ""
    if isinstance(value, str) and "\n" in value.rstrip("\n") and not value.endswith("\n\n"):
        lines = value.rstrip("\n").split("\n")
        plain = all(line == line.rstrip() and "\t" not in line for line in lines)
        if plain and not lines[0].startswith(" "):
            body = "".join(f"\n{indent}  {line}" if line else "\n" for line in lines)
            return f" |{'' if value.endswith(chr(10)) else '-'}{body}"
    dumped = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6)
    return " " + dumped.removesuffix("\n").removesuffix("\n...").strip()


def render_config(config: BookConfig) -> str:
    """The settings file for `config`, commented for people who open it for the first time."""
    c = config
    budget = c.budget.monthly_usd
    parts = [
        _HEADER,
        "# What kind of text this is: article, book, course or research. It shapes the outline:",
        "# a course gets modules with exercises, research gets methods, results and discussion.",
        f"type:{_scalar(c.type, '')}",
        "",
        "# The book's title; empty means the `project.title` in myst.yml.",
        f"title:{_scalar(c.title, '')}",
        "",
        "# Who reads it: their background, what they already know, why they are here.",
        f"audience:{_scalar(c.audience, '')}",
        "",
        "# The language to write in, as a code: en, de, fr, es, pt-BR, ...",
        f"language:{_scalar(c.language, '')}",
        "",
        "# How to write: voice, tone, conventions. It is the system prompt of every model call.",
        f"style_guide:{_scalar(c.style_guide, '')}",
    ]
    if not c.style_guide:
        parts.append(_STYLE_EXAMPLE.rstrip("\n"))
    parts += [
        "",
        "# Which AI models write, as provider:model (e.g. anthropic:claude-sonnet-5-5). Empty means",
        "# the app's defaults. Fallbacks are tried in order when a model fails or is rate-limited;",
        "# image_fallbacks also when the image model refuses or sends something not an image.",
        "models:",
        f"  text:{_scalar(c.models.text, '  ')}",
        f"  fallbacks:{_scalar(list(c.models.fallbacks), '  ')}",
        f"  image:{_scalar(c.models.image, '  ')}",
        f"  image_fallbacks:{_scalar(list(c.models.image_fallbacks), '  ')}",
        "",
        "# Stop calling models once this month's spend reaches this much (US dollars), counting",
        "# every repository of this installation. It can lower the operator's limit, never raise it.",
        "# Empty means the operator's limit.",
        "# confirm_above_usd: a command whose worst-case cost is over this waits for `/confirm`",
        "# (empty: commands run at once, unless the operator set a limit).",
        "budget:",
        f"  monthly_usd:{_scalar(budget, '  ')}",
        f"  confirm_above_usd:{_scalar(c.budget.confirm_above_usd, '  ')}",
        "",
        f"# The least repository role a commenter needs to run commands: {', '.join(ROLE_ORDER)}.",
        "permissions:",
        f"  min_role:{_scalar(c.permissions.min_role, '  ')}",
        "",
        "# The folder new chapter files are written to.",
        f"chapters_dir:{_scalar(c.chapters_dir, '')}",
        "",
        '# Whether the "Liquid Book" check run fails on build warnings alone (otherwise neutral).',
        f"fail_on_warnings:{_scalar(c.fail_on_warnings, '')}",
    ]
    return "\n".join(parts) + "\n"
