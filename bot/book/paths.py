"""The one guard between text we do not control and the files we write.

Chapter paths come from model answers and from comment text. Both are attacker-controlled in
the worst case, and the most valuable target in a repository is `.github/workflows/`: a file
written there runs with the repository's secrets. Every path a job writes goes through
`safe_book_path` first.
"""

from __future__ import annotations

import unicodedata

MAX_PATH_LENGTH = 255
MAX_SEGMENT_LENGTH = 128

# The only file under `.github/` that a job may write: the book's own settings.
CONFIG_PATH = ".github/liquidbook.yml"

# Names git itself treats specially (`git~1` is the NTFS short name of `.git`).
_GIT_NAMES = frozenset({".git", "git~1", ".gitmodules"})
# Backslashes and the Windows-reserved characters, plus slashes that only look like `/`.
_FORBIDDEN_CHARS = frozenset('\\:*?"<>|\u2044\u2215\u29f8\uff0f\uff3c')


class UnsafePathError(ValueError):
    """A path that must not be written; `reason` says why in a sentence."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"unsafe path {path!r}: {reason}")
        self.path = path
        self.reason = reason


def _check_characters(path: str) -> None:
    for char in path:
        category = unicodedata.category(char)
        # Cc: control (NUL, newline, ESC); Cf: invisible format characters such as zero-width
        # joiners and right-to-left overrides that make a path read differently than it is.
        if category in {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}:
            raise UnsafePathError(path, f"it contains the invisible character U+{ord(char):04X}")
        if char in _FORBIDDEN_CHARS:
            raise UnsafePathError(path, f"it contains the character {char!r}")


def _segments(path: str) -> list[str]:
    """Split on `/`, dropping empty and `.` segments (`./a//b/` is `a/b`)."""
    return [part for part in path.split("/") if part not in {"", "."}]


def _check_segments(original: str, segments: list[str]) -> None:
    """Check the folded segments; any look-alike of `..`, `.git` or `.github` is refused."""
    for index, segment in enumerate(segments):
        if segment == "..":
            raise UnsafePathError(original, "it contains a `..` segment")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise UnsafePathError(original, "one of its names is too long")
        if segment != segment.strip() or segment.endswith("."):
            # Windows drops trailing dots and spaces, so `.github.` would become `.github`.
            raise UnsafePathError(original, "a name starts or ends with a space or a dot")
        if segment in _GIT_NAMES:
            raise UnsafePathError(original, "it points into git's own files")
        if segment == ".github":
            allowed = "/".join(segments) == CONFIG_PATH and index == 0
            if not allowed:
                raise UnsafePathError(original, "only `.github/liquidbook.yml` may be written")


def safe_book_path(path: str) -> str:
    """Return `path` as a normalised POSIX path relative to the book root, or raise.

    Refuses absolute paths, `..`, backslashes, control and invisible characters, git's own
    files, everything under `.github/` except exactly `.github/liquidbook.yml`, and very long
    paths. The checks run on the NFKC-normalised, case-folded form too, so full-width dots,
    look-alike slashes and `.GitHub/Workflows` are caught as well.
    """
    if not isinstance(path, str) or not path:
        raise UnsafePathError(str(path), "it is empty")
    if len(path) > MAX_PATH_LENGTH:
        raise UnsafePathError(path[:40] + "…", f"it is longer than {MAX_PATH_LENGTH} characters")
    _check_characters(path)
    if path.startswith(("/", "~")):
        raise UnsafePathError(path, "it is absolute")
    folded = unicodedata.normalize("NFKC", path).casefold()
    _check_characters(folded)
    if folded.startswith(("/", "~")):
        raise UnsafePathError(path, "it is absolute")
    _check_segments(path, _segments(folded))
    segments = _segments(unicodedata.normalize("NFC", path))
    _check_segments(path, segments)
    if not segments:
        raise UnsafePathError(path, "it names no file")
    normalised = "/".join(segments)
    if normalised.casefold() == CONFIG_PATH and normalised != CONFIG_PATH:
        raise UnsafePathError(path, "write the settings file as `.github/liquidbook.yml`")
    return normalised


def is_safe_book_path(path: str) -> bool:
    """True when `safe_book_path` accepts `path`; for filters that skip rather than fail."""
    try:
        safe_book_path(path)
    except UnsafePathError:
        return False
    return True
