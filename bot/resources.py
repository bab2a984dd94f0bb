"""Files shipped with the app: `app.yml`, `templates/`, `actions/`.

In a checkout (and an editable install) they sit at the repository root; a wheel carries
them inside the package under `bot/_bundled/` (see pyproject.toml).
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    """The path of a shipped file or folder, e.g. `resource_path("templates/book-skeleton")`."""
    for base in (_PACKAGE / "_bundled", _PACKAGE.parent):
        candidate = base / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"shipped resource {name!r} is missing from this installation")
