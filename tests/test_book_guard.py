"""The path guard, the build's sandbox and the output filter: nothing outside the book
reaches the book, its build, or what is reported about the build."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.book import check as check_module
from bot.book.build_output import sanitize_output
from bot.book.check import check_book
from bot.book.clean import clean_chapter_body, strip_control
from bot.book.config import BookConfig
from bot.book.guard import Place, guard, references
from bot.book.model import Book
from bot.book.outline import Outline, outline_files
from bot.book.render import render_chapter
from bot.book.sandbox_build import sandbox_mode

needs_cli = pytest.mark.skipif(
    shutil.which("jupyter-book") is None, reason="the jupyter-book CLI is not installed"
)
PLACE = Place("chapters/01-a.md")
ESCAPING = [
    "../../etc/passwd",
    "/etc/passwd",
    "~/.ssh/id_rsa",
    "..%2f..%2fetc/passwd",
    "%2e%2e/%2e%2e/x.png",
    "file:///etc/passwd",
    "..\\..\\secret.txt",
    "a/../../../b.txt",
]
INSIDE = ["images/a.png", "../intro.md", "data/x.csv", "https://example.org/a.png", "#label"]


def reference_forms(path: str) -> list[str]:
    """Every way a chapter can name a file, as one block of lines."""
    return [
        f"```{{include}} {path}\n```",
        f"```{{literalinclude}} {path}\n:language: text\n```",
        f":::{{figure}} {path}\nA caption.\n:::",
        f"```{{image}} {path}\n```",
        f"~~~{{csv-table}} Data\n:file: {path}\n~~~",
        f"```{{include}} x.md\n---\nfile: {path}\n---\n```",
        f"![alt]({path})",
        f"[text]({path})",
        f"[text](<{path}>)",
        f"{{download}}`get <{path}>`",
        f"{{download}}`{path}`",
        f'<img src="{path}" alt="x">',
        f"[ref]\n\n[ref]: {path}",
        f"````{{note}}\n```{{literalinclude}} {path}\n```\n````",
        f"::::{{tab-set}}\n:::{{tab-item}} A\n![a]({path})\n:::\n::::",
    ]


def nest(block: str, wrappers: list[str]) -> str:
    """`block` inside list items, blockquotes and directive bodies, innermost first."""
    for wrapper in wrappers:
        lines = block.split("\n")
        if wrapper == "quote":
            block = "\n".join("> " + line for line in lines)
        elif wrapper == "bullet":
            block = "\n".join(("- " if i == 0 else "  ") + line for i, line in enumerate(lines))
        elif wrapper == "ordered":
            block = "\n".join(("1. " if i == 0 else "   ") + line for i, line in enumerate(lines))
        elif wrapper == "note":
            ticks = "`" * (max(len(r) for r in [*block.split("`"), ""] if not r) + 6)
            block = f"{ticks}{{note}}\n{block}\n{ticks}"
        elif wrapper == "colon":
            colons = ":" * (3 + block.count(":::") + 3)
            block = f"{colons}{{dropdown}} More\n{block}\n{colons}"
    return block


WRAPPERS = st.lists(st.sampled_from(["quote", "bullet", "ordered", "note", "colon"]), max_size=5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(ESCAPING),
    form=st.integers(0, 14),
    wrappers=WRAPPERS,
    before=st.sampled_from(["", "Some *text*.\n\n", "## A heading\n\n"]),
)
def test_no_escaping_reference_survives_any_nesting(
    path: str, form: int, wrappers: list[str], before: str
) -> None:
    text = before + nest(reference_forms(path)[form], wrappers) + "\n\nThe end.\n"
    result = guard(text, PLACE)
    assert references(result.text, PLACE) == []
    # `file:` links are no links to markdown-it (nor to MyST): then there is nothing to do.
    assert bool(result.fixes) == bool(references(text, PLACE)), text
    assert "The end." in result.text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(ESCAPING),
    form=st.integers(0, 14),
    wrappers=WRAPPERS,
    before=st.sampled_from(["", "Some *text*.\n\n", "## A heading\n\n"]),
)
def test_keep_lines_leaves_every_later_line_where_it_was(
    path: str, form: int, wrappers: list[str], before: str
) -> None:
    """The check of a fork's PR builds the guarded text: a warning after a removal must
    still name the author's line."""
    text = before + nest(reference_forms(path)[form], wrappers) + "\n\nThe end.\n"
    result = guard(text, PLACE, keep_lines=True)
    assert references(result.text, PLACE) == []
    lines = result.text.split("\n")
    assert len(lines) == len(text.split("\n")), (text, result.text)
    assert lines[-2] == "The end."


@settings(max_examples=150, deadline=None)
@given(path=st.sampled_from(INSIDE), form=st.integers(0, 14), wrappers=WRAPPERS)
def test_references_inside_the_book_are_kept(path: str, form: int, wrappers: list[str]) -> None:
    text = nest(reference_forms(path)[form], wrappers) + "\n"
    assert guard(text, PLACE) == guard(text, PLACE)
    result = guard(text, PLACE)
    assert result.text == text and result.fixes == []


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("`:~>-*1. {}[]()!<>/\\\n#includefigurepasswd")), max_size=300
    )
)
def test_arbitrary_text_is_guarded_and_stays_bounded(text: str) -> None:
    result = guard(text, PLACE)
    assert references(result.text, PLACE) == []


def test_deep_nesting_is_bounded_and_never_passed_on() -> None:
    deep = ">" * 3000 + " ![x](/etc/passwd)\n"
    result = guard(deep, PLACE)
    assert "/etc/passwd" not in result.text


def test_a_link_out_of_the_book_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "out").symlink_to("/etc")
    (tmp_path / "chapters" / "in").symlink_to(tmp_path)
    place = Place("chapters/01-a.md", tmp_path)
    result = guard("![a](out/passwd) and ![b](in/intro.md)\n", place)
    assert "out/passwd" not in result.text and "in/intro.md" in result.text


def test_control_characters_are_stripped() -> None:
    text = "a\x00b\x1b[31mc\x7fd\te\r\nf\x08"
    assert strip_control(text) == ("ab[31mcd\te\r\nf", 4)


def test_an_outline_cannot_reach_outside_the_book() -> None:
    outline = Outline.model_validate(
        {
            "title": "T\x1b[2J",
            "chapters": [
                {
                    "title": "One",
                    "summary": "See ![x](../../etc/passwd) and {download}`/etc/passwd`.",
                    "objectives": ["Read <img src='/etc/passwd'>", "Plain\x00."],
                }
            ],
        }
    )
    files = outline_files(None, outline, BookConfig())
    joined = "\n".join(files.values())
    for fragment in ("](../../etc/passwd)", "`/etc/passwd`", "src='/etc/passwd'"):
        assert fragment not in joined
    stub = next(path for path in files if path.startswith("chapters/"))
    assert references(files[stub], Place(stub)) == []
    assert "outside the book" in files[stub]
    assert "\x1b" not in joined and "\x00" not in joined


def test_build_output_about_files_outside_the_book_is_withheld() -> None:
    output = (
        "⛔️ /etc/passwd:1 unknown directive: root:x:0:0\n"
        "   root:x:0:0:root:/root:/bin/bash\n"
        "⚠️  ../../secret.txt Invalid YAML SECRET-LINE\n"
        "⛔️ intro.md:3 unknown directive: x\n"
        "/etc/passwd\n"
        "  - ⛔ root:x:0:0\n"
        "⚠️  chapters/01.md " + "y" * 1000 + "\n"
    )
    text = sanitize_output(output)
    assert "root:x" not in text and "SECRET-LINE" not in text
    assert "⛔️ intro.md:3 unknown directive: x" in text
    assert max(map(len, text.splitlines())) <= 300


# --- the real build: a canary outside the book never reaches `_build/` or the report -----

BOOK = {
    "myst.yml": (
        "version: 1\nproject:\n  title: T\n  toc:\n    - file: intro.md\n"
        "    - file: chapters/01-a.md\n"
    ),
    "intro.md": "---\ntitle: Welcome\nlabel: intro\n---\n\nHello.\n",
    "chapters/01-a.md": "---\ntitle: A\nlabel: ch-a\n---\n\nText.\n",
}


def write_book(root: Path) -> Path:
    for name, text in BOOK.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    return root


@pytest.fixture
def canary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    token = f"CANARY-{secrets.token_hex(12)}"
    folder = tmp_path_factory.mktemp("outside")
    path = folder / "canary.md"
    path.write_text(f"# {token}\n\n{token}\n", "utf-8")
    (folder / "canary.png").write_bytes(b"\x89PNG\r\n\x1a\n" + token.encode())
    return folder, token


def hostile_chapter(folder: Path, book: Path) -> str:
    up = "../" * (len(book.parts) + 2)
    blocks = []
    for target in (f"{folder}/canary.md", f"{up}{str(folder).lstrip('/')}/canary.md"):
        for form in reference_forms(target) + reference_forms(target.replace(".md", ".png")):
            blocks.append(nest(form, ["bullet", "quote"]))
    return "\n\n".join(blocks) + "\n"


def build_dir_text(root: Path) -> str:
    chunks = []
    for file in root.rglob("*"):
        if file.is_file():
            chunks.append(file.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)


@needs_cli
async def test_a_hostile_chapter_through_the_cleaner_and_the_build_leaks_nothing(
    tmp_path: Path, canary: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, token = canary
    book_dir = write_book(tmp_path / "book")
    book = Book.from_directory(book_dir)
    chapter = next(c for c in book.toc if c.path == "chapters/01-a.md")
    cleaned = clean_chapter_body(hostile_chapter(folder, book_dir), book, chapter)
    assert references(cleaned.body, Place(chapter.path, book_dir)) == []
    assert any("outside the book" in fix for fix in cleaned.fixes)
    assert all(token not in fix for fix in cleaned.fixes)
    outputs: list[str] = []
    real_run = check_module._run

    async def run_and_keep(command: list[str], cwd: Path, seconds: float) -> object:
        result = await real_run(command, cwd, seconds)
        outputs.append(build_dir_text(cwd / "_build") if (cwd / "_build").exists() else "")
        return result

    monkeypatch.setattr(check_module, "_run", run_and_keep)
    report = await check_book(book_dir, files={chapter.path: render_chapter(chapter, cleaned.body)})
    assert outputs and outputs[0], "the build produced nothing to look at"
    assert token not in outputs[0]
    assert token not in report.markdown()
    assert token not in "\n".join(i.detail for i in [*report.errors, *report.warnings])


@needs_cli
async def test_the_sandbox_hides_files_outside_the_book_even_without_the_guard(
    tmp_path: Path, canary: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unguarded chapter that includes the canary, a data dir's `.env` and a private key
    file is built by the low-level build: none of their text reaches `_build/`."""
    if sandbox_mode() == "none":
        pytest.skip("no namespaces on this machine: the build is not sandboxed")
    folder, token = canary
    data = tmp_path / "data"
    data.mkdir()
    (data / ".env").write_text(f"LIQUIDBOOK_SECRET_KEY={token}-ENV\n")
    key = data / "key.pem"
    key.write_text(f"-----BEGIN PRIVATE KEY-----\n{token}-KEY\n")
    key.chmod(0o600)
    monkeypatch.setenv("GITHUB_PRIVATE_KEY_PATH", str(key))
    monkeypatch.setenv("LIQUIDBOOK_SECRET_KEY", f"{token}-ENVVAR")
    book_dir = write_book(tmp_path / "book")
    body = "\n\n".join(
        f"```{{literalinclude}} {path}\n```"
        for path in (folder / "canary.md", data / ".env", key, "/proc/1/environ")
    )
    body += f"\n\n```{{include}} {folder}/canary.md\n```\n"
    chapter = BOOK["chapters/01-a.md"] + "\n" + body + "\n"
    outputs: list[str] = []
    real_run = check_module._run

    async def run_and_keep(command: list[str], cwd: Path, seconds: float) -> object:
        result = await real_run(command, cwd, seconds)
        outputs.append(build_dir_text(cwd / "_build") if (cwd / "_build").exists() else "")
        return result

    monkeypatch.setattr(check_module, "_run", run_and_keep)
    report = await check_book(book_dir, files={"chapters/01-a.md": chapter})
    assert outputs and outputs[0], "the build produced nothing to look at"
    assert token not in outputs[0]
    assert token not in report.markdown()
    assert any(
        "literalinclude" in e.message.lower() or "could not" in e.message.lower()
        for e in report.errors
    ), report.markdown()
