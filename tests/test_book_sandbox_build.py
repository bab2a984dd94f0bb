"""The build's sandbox is what stops an unguarded chapter from publishing the build
machine's files: the same chapter, built by the same low-level function with the path guard
bypassed, copies canaries from outside the book into `_build/` without the sandbox and none
with it. Without the first half, a passing second half could mean the chapter never leaked.

Measured with jupyter-book 2.1.7 (mystmd 1.11): `{include}`, images, `{download}` and links
to local files with a `..` path out of the book are read or copied into `_build/`; `/`-paths
resolve from the book's root, so `{literalinclude} /abs/path` and `[x](/abs/path)` do not
reach the machine's root (the guard refuses them all the same).
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest

from bot.book import check as check_module
from bot.book.sandbox_build import sandbox_mode

needs_cli = pytest.mark.skipif(
    shutil.which("jupyter-book") is None, reason="the jupyter-book CLI is not installed"
)

# How a chapter in `<tmp>/<name>/book/chapters/` names a file in `<tmp>/outside/`.
UP = "../../../outside"
FORMS = {
    "include": ("canary.md", f"```{{include}} {UP}/canary.md\n```"),
    "image": ("canary.png", f"![a canary]({UP}/canary.png)"),
    "download": ("canary.txt", f"Get {{download}}`the file <{UP}/canary.txt>`."),
    "link": ("linked.txt", f"See [the notes]({UP}/linked.txt)."),
}


def plant(outside: Path) -> dict[str, str]:
    """One canary file per form, each with its own token, so each form is proven apart."""
    outside.mkdir()
    tokens = {}
    for form, (name, _) in FORMS.items():
        token = f"CANARY-{form}-{secrets.token_hex(8)}"
        tokens[form] = token
        data = f"# {token}\n\n{token}\n".encode()
        if name.endswith(".png"):
            data = b"\x89PNG\r\n\x1a\n" + token.encode()
        (outside / name).write_bytes(data)
    return tokens


def write_book(book: Path) -> None:
    """A book that builds offline (stub theme) whose chapter uses every leaking form."""
    files = {
        "myst.yml": (
            "version: 1\nproject:\n  title: T\n  toc:\n    - file: intro.md\n"
            "    - file: chapters/01-a.md\n"
            f"site:\n  template: {check_module.STUB_TEMPLATE_DIR}\n"
        ),
        f"{check_module.STUB_TEMPLATE_DIR}/template.yml": "jtex: v1\ntitle: stub\n",
        "intro.md": "---\ntitle: Welcome\n---\n\nHello.\n",
        "chapters/01-a.md": "---\ntitle: A\n---\n\n"
        + "\n\n".join(text for _, text in FORMS.values())
        + "\n",
    }
    for name, text in files.items():
        (book / name).parent.mkdir(parents=True, exist_ok=True)
        (book / name).write_text(text, "utf-8")


def build_text(book: Path) -> str:
    """Every byte under `_build/`, as text."""
    files = [f for f in (book / "_build").rglob("*") if f.is_file()]
    return "\n".join(f.read_bytes().decode("utf-8", "replace") for f in files)


async def build(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, off: bool) -> str:
    """Build a fresh copy of the hostile book with `check`'s own runner, the sandbox chosen
    by `LIQUIDBOOK_BUILD_SANDBOX` as in production; return what `_build/` holds."""
    book = tmp_path / name / "book"
    write_book(book)
    if off:
        monkeypatch.setenv("LIQUIDBOOK_BUILD_SANDBOX", "none")
    else:
        monkeypatch.delenv("LIQUIDBOOK_BUILD_SANDBOX", raising=False)
    sandbox_mode.cache_clear()
    try:
        mode = sandbox_mode()
        await check_module._run(["jupyter-book", "build", "--site"], book, 120)
    finally:
        monkeypatch.delenv("LIQUIDBOOK_BUILD_SANDBOX", raising=False)
        sandbox_mode.cache_clear()
    assert (mode == "none") == off
    assert (book / "_build" / "site" / "content").is_dir(), "the build wrote no site"
    return build_text(book)


@needs_cli
async def test_without_the_sandbox_the_chapter_leaks_and_with_it_nothing_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox_mode.cache_clear()
    if sandbox_mode() == "none":
        pytest.skip("no namespaces on this machine: the build cannot be sandboxed here")
    tokens = plant(tmp_path / "outside")

    leaked = await build(tmp_path, "bare", monkeypatch, off=True)
    missing = [form for form, token in tokens.items() if token not in leaked]
    assert missing == [], f"these forms no longer leak without the sandbox: {missing}"

    contained = await build(tmp_path, "sandboxed", monkeypatch, off=False)
    assert "A" in contained  # the chapter itself was built
    found = [form for form, token in tokens.items() if token in contained]
    assert found == [], f"these forms leaked through the sandbox: {found}"
