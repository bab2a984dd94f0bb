"""The documentation site (docs/) builds with jupyter-book, strictly and cleanly, offline.

Built as the jobs build a book (`bot.book.check.check_book`: a copy whose theme is a local
stub, `jupyter-book build --site --strict`, the ⛔️/⚠️ lines read by
`bot.book.build_output`), so a broken link, a missing toc file or an unknown directive in the
docs fails here. The settings reference is generated from the settings models; the committed
page must be what the script writes today.
"""

from __future__ import annotations

import subprocess
import sys

import yaml

from bot.book.check import check_book
from tests.servers import ROOT

DOCS = ROOT / "docs"


async def test_the_docs_build_strictly_with_no_error_and_no_warning() -> None:
    report = await check_book(DOCS, timeout=240)
    problems = [issue.markdown() for issue in [*report.errors, *report.warnings]]
    assert report.ok and report.clean, "\n".join(problems) + "\n" + report.output_tail


def test_every_page_of_the_docs_is_in_the_toc() -> None:
    config = yaml.safe_load((DOCS / "myst.yml").read_text())
    listed = {entry["file"] for entry in config["project"]["toc"]}
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.glob("*.md")}
    assert pages == listed, (pages - listed, listed - pages)
    for page in ("getting-started.md", "commands.md", "reference.md", "deploy.md"):
        assert page in listed


def test_the_settings_reference_is_what_the_models_say_today() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "docs_reference.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_reference_names_every_setting_with_its_default() -> None:
    from bot.book.config import BookConfig
    from bot.settings import Settings

    page = (DOCS / "reference.md").read_text()
    for name in Settings.model_fields:
        row = next(line for line in page.splitlines() if line.startswith(f"| `{name.upper()}` |"))
        assert row.count("|") == 5 and "| — |" not in row, f"{name.upper()} needs a description"
    for section, field in BookConfig.model_fields.items():
        assert f"`{section}" in page
        assert field.description, f"BookConfig.{section} needs a description"
    assert "| `LIQUIDBOOK_MONTHLY_BUDGET_USD` | number (≥ 0) | `20` |" in page
