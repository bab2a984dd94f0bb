"""Files the app ships and writes into books: the skeleton and the Actions workflow.

From a checkout they live at the repository root (`templates/`, `actions/`); an installed
wheel carries them under `bot/_bundled/` (see `pyproject.toml`).
"""

from __future__ import annotations

from pathlib import Path

from bot.resources import resource_path

# Where the setup PR installs the bundled workflow in a book repository.
WORKFLOW_PATH = ".github/workflows/liquidbook-book.yml"


def skeleton_dir() -> Path:
    """The starting book that `/init` copies into a repository."""
    return resource_path("templates/book-skeleton")


def skeleton_files() -> dict[str, str]:
    """Every skeleton file as `{relative POSIX path: text}`, ready to commit."""
    root = skeleton_dir()
    return {
        path.relative_to(root).as_posix(): path.read_text("utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file() and "_build" not in path.relative_to(root).parts
    }


def workflow_text() -> str:
    """The build-and-deploy workflow, written to `WORKFLOW_PATH` by the setup PR."""
    return resource_path("actions/liquidbook-book.yml").read_text("utf-8")
