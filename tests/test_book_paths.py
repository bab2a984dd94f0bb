"""`safe_book_path` is what keeps model answers out of `.github/workflows/`: test it hard."""

from __future__ import annotations

import pytest

from bot.book.paths import CONFIG_PATH, UnsafePathError, is_safe_book_path, safe_book_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("chapters/01-intro.md", "chapters/01-intro.md"),
        ("./chapters/01-intro.md", "chapters/01-intro.md"),
        ("chapters//02.md", "chapters/02.md"),
        ("chapters/./03.md", "chapters/03.md"),
        ("chapters/", "chapters"),
        ("intro.md", "intro.md"),
        (".gitignore", ".gitignore"),
        ("images/figure 1.png", "images/figure 1.png"),
        ("kapitel/über-bayes.md", "kapitel/über-bayes.md"),
        (".github/liquidbook.yml", ".github/liquidbook.yml"),
        ("./.github/liquidbook.yml", ".github/liquidbook.yml"),
    ],
)
def test_accepts_and_normalises_book_paths(path: str, expected: str) -> None:
    assert safe_book_path(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "",
        ".",
        "./",
        "/etc/passwd",
        "//server/share/x.md",
        "~/x.md",
        "../x.md",
        "chapters/../../x.md",
        "a/../.github/workflows/x.yml",
        "chapters/..",
        "chapters\\..\\x.md",
        "C:/Windows/x.md",
        "C:x.md",
        "chapters/x\x00.md",
        "chapters/x\n.md",
        "chapters/\x1b[31mx.md",
        ".git/config",
        ".git/hooks/pre-commit",
        "sub/.git/config",
        ".GIT/config",
        "git~1/config",
        ".gitmodules",
        ".github/workflows/liquidbook-book.yml",
        ".github/workflows/x.yml",
        ".github/CODEOWNERS",
        ".github",
        ".github/liquidbook.yml/x",
        "docs/.github/workflows/x.yml",
        ".GitHub/Workflows/x.yml",
        ".GITHUB/liquidbook.yml",
        ".github/LiquidBook.yml",
        "./.github/./workflows/x.yml",
        ".github./workflows/x.yml",
        ".github /workflows/x.yml",
        " chapters/x.md",
        # Unicode look-alikes: full-width dots and letters fold to `.github` under NFKC.
        "\uff0egithub/workflows/x.yml",
        ".\uff47\uff49\uff54\uff48\uff55\uff42/workflows/x.yml",
        "\uff0e\uff0e/x.md",
        "\u2024\u2024/x.md",
        # Slashes that only look like slashes, and invisible characters.
        ".github\u2215workflows\u2215x.yml",
        ".github\uff0fworkflows/x.yml",
        ".git\u200bhub/workflows/x.yml",
        ".github/\u202eworkflows/x.yml",
        "chapters/\u2066x.md",
        "a" * 300,
        "chapters/" + "b" * 200 + ".md",
    ],
)
def test_refuses_unsafe_paths(path: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_book_path(path)
    assert not is_safe_book_path(path)


def test_the_error_says_why() -> None:
    with pytest.raises(UnsafePathError) as caught:
        safe_book_path(".github/workflows/evil.yml")
    assert "liquidbook.yml" in caught.value.reason
    assert caught.value.path == ".github/workflows/evil.yml"
    with pytest.raises(UnsafePathError) as caught:
        safe_book_path("a/../b.md")
    assert "`..`" in caught.value.reason


def test_config_path_is_the_one_exception() -> None:
    assert safe_book_path(CONFIG_PATH) == CONFIG_PATH
    assert is_safe_book_path("chapters/01-a.md")


def test_non_strings_are_refused() -> None:
    with pytest.raises(UnsafePathError):
        safe_book_path(None)  # type: ignore[arg-type]
