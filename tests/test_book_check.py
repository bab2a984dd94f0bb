"""`check_book` runs the real `jupyter-book` CLI offline and reads its output, not its exit code."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.book import check as check_module
from bot.book.build_output import parse_build_output
from bot.book.check import BuildReport, check_book

needs_cli = pytest.mark.skipif(
    shutil.which("jupyter-book") is None, reason="the jupyter-book CLI is not installed"
)

GOOD = {
    "myst.yml": (
        "version: 1\nproject:\n  title: Good\n  toc:\n    - file: intro.md\n"
        "    - file: chapters/01-a.md\nsite:\n  template: book-theme\n"
    ),
    "intro.md": "---\ntitle: Welcome\nlabel: intro\n---\n\nSee {ref}`ch-a`.\n",
    "chapters/01-a.md": (
        "---\ntitle: A\nlabel: ch-a\nsummary: Short.\n---\n\n## Math\n\n$x^2$\n\n"
        "```{note}\nA note.\n```\n"
    ),
}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    return root


@needs_cli
async def test_a_good_book_passes(tmp_path: Path) -> None:
    book = write(tmp_path / "book", GOOD)
    (book / "_build").mkdir()
    (book / "_build" / "junk.bin").write_bytes(b"x" * 1000)
    report = await check_book(book)
    assert report.ok and report.clean, report.markdown()
    assert report.errors == [] and report.warnings == []
    assert 0 < report.seconds < 60
    assert report.markdown().startswith("✅ The book builds cleanly")
    # The build ran in a copy: the author's myst.yml and folder are untouched.
    assert (book / "myst.yml").read_text() == GOOD["myst.yml"]
    assert not (book / check_module.STUB_TEMPLATE_DIR).exists()


@needs_cli
async def test_a_change_is_checked_in_the_copy_only(tmp_path: Path) -> None:
    """`files` are written over the copy that is built (a link there is replaced, never
    written through); the book's folder is untouched."""
    book = write(tmp_path / "book", GOOD)
    (book / "chapters" / "02-b.md").symlink_to("01-a.md")
    broken = GOOD["chapters/01-a.md"] + "\n```{frobnicate}\nx\n```\n"
    report = await check_book(book, files={"chapters/02-b.md": broken, "new/c.md": "# C\n"})
    assert report.ok, report.markdown()  # 02-b.md is not in the toc
    report = await check_book(book, files={"chapters/01-a.md": broken})
    assert [e.message for e in report.errors] == ["unknown directive: frobnicate"]
    assert (book / "chapters" / "01-a.md").read_text() == GOOD["chapters/01-a.md"]
    assert (book / "chapters" / "02-b.md").is_symlink() and not (book / "new").exists()


@needs_cli
async def test_problems_that_strict_misses_are_reported(tmp_path: Path) -> None:
    """Unknown directive, missing toc file, bad front matter, a citation-like mention."""
    files = dict(GOOD)
    files["myst.yml"] = files["myst.yml"].replace(
        "    - file: chapters/01-a.md\n",
        "    - file: chapters/01-a.md\n    - file: chapters/02-b.md\n    - file: chapters/09-gone.md\n",
    )
    files["chapters/01-a.md"] += "\n```{frobnicate}\nx\n```\n\nThanks @someone.\n"
    files["chapters/02-b.md"] = "---\ntitle: [unclosed\n---\n\n# B\n"
    report = await check_book(write(tmp_path, files))
    assert not report.ok
    errors = {(e.file, e.message.split("\n")[0]) for e in report.errors}
    assert ("chapters/01-a.md", "unknown directive: frobnicate") in errors
    assert ("myst.yml", "Table of contents entry does not exist: chapters/09-gone.md") in errors
    assert any(e.file == "chapters/02-b.md" and "frontmatter" in e.message for e in report.errors)
    yaml_error = next(e for e in report.errors if e.file == "chapters/02-b.md")
    assert "unexpected end" in yaml_error.detail
    directive = next(e for e in report.errors if "frobnicate" in e.message)
    assert directive.line == 15
    assert any("someone" in w.message for w in report.warnings)
    text = report.markdown()
    assert text.startswith("❌ The book build failed")
    assert "`chapters/01-a.md:15` unknown directive: frobnicate" in text
    assert "<details><summary>Build output</summary>" in text


async def test_missing_cli_is_an_error_in_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_module.shutil, "which", lambda name: None)
    report = await check_book(write(tmp_path, GOOD))
    assert not report.ok
    assert "not installed" in report.errors[0].message


async def test_a_cli_that_cannot_start_is_an_error(tmp_path: Path) -> None:
    report = await check_book(write(tmp_path, GOOD), command=[str(tmp_path / "no-such-cli")])
    assert not report.ok
    assert "Could not start" in report.errors[0].message


async def test_a_timeout_is_an_error_in_the_report(tmp_path: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; print('starting', flush=True); time.sleep(60)"]
    report = await check_book(write(tmp_path, GOOD), timeout=1, command=sleeper)
    assert not report.ok
    assert "longer than 1 s" in report.errors[-1].message
    assert report.seconds < 30
    assert "starting" in report.output_tail


async def test_exit_code_without_error_lines_still_fails(tmp_path: Path) -> None:
    crash = [sys.executable, "-c", "import sys; print('Error: boom'); sys.exit(3)"]
    report = await check_book(write(tmp_path, GOOD), command=crash)
    assert not report.ok
    assert "exited with code 3" in report.errors[0].message


async def test_colour_codes_and_temporary_paths_are_removed(tmp_path: Path) -> None:
    script = (
        "import os; print('\\x1b[31m⛔️ ' + os.getcwd() + '/chapters/01-a.md:3:5 bad thing\\x1b[0m');"
        "print('\\x1b[33m⚠️  intro.md odd\\x1b[0m')"
    )
    report = await check_book(write(tmp_path, GOOD), command=[sys.executable, "-c", script])
    assert not report.ok
    (error,) = report.errors
    assert (error.file, error.line, error.column, error.message) == (
        "chapters/01-a.md",
        3,
        5,
        "bad thing",
    )
    assert report.warnings[0].file == "intro.md"
    assert "\x1b" not in report.output_tail
    assert "liquidbook-check-" not in report.output_tail


@pytest.mark.parametrize(
    ("myst", "fragment"),
    [(None, "no `myst.yml`"), ("project: [x\n", "not valid YAML"), ("- a\n", "mapping")],
)
async def test_unusable_myst_yml_is_reported_without_building(
    tmp_path: Path, myst: str | None, fragment: str
) -> None:
    write(tmp_path, {"intro.md": "# x\n"})
    if myst is not None:
        (tmp_path / "myst.yml").write_text(myst)
    report = await check_book(tmp_path, command=[sys.executable, "-c", "raise SystemExit(9)"])
    assert not report.ok
    assert fragment in report.errors[0].message


SAMPLE = """\
building myst-cli session with API URL: https://api.mystmd.org
⛔️ myst.yml Table of contents entry does not exist: chapters/09-missing.md
🌎 Building Jupyter Book (via myst) site
📖 Built intro.md in 23 ms.
⚠️  chapters/01-a.md 'frontmatter' extra key ignored: objectives (at chapters/01-a.md)
⛔️ chapters/02-b.md Invalid YAML frontmatter
   unexpected end of the stream within a flow collection (2:1)

 1 | title: [bad
⛔️ intro.md:8 unknown directive: unknowndir
⚠️  intro.md:6:7 Could not link citation with label "someone".
⚠️  chapters/02-b.md#parts.summary:1:22 Could not link citation with label "bob".
⚠️  Something without a file
📚 Built 3 pages for project in 51 ms.

intro.md
  - ⚠️  Could not link citation with label "someone".
  - ⛔ unknown directive: unknowndir
Site has 3 errors and 4 warnings, stopping build.
"""


def test_parse_build_output() -> None:
    issues = parse_build_output(SAMPLE)
    summary = [(i.level, i.file, i.line, i.column, i.message) for i in issues]
    assert summary == [
        (
            "error",
            "myst.yml",
            None,
            None,
            "Table of contents entry does not exist: chapters/09-missing.md",
        ),
        ("warning", "chapters/01-a.md", None, None, "'frontmatter' extra key ignored: objectives"),
        ("error", "chapters/02-b.md", None, None, "Invalid YAML frontmatter"),
        ("error", "intro.md", 8, None, "unknown directive: unknowndir"),
        ("warning", "intro.md", 6, 7, 'Could not link citation with label "someone".'),
        (
            "warning",
            "chapters/02-b.md",
            None,
            None,
            'Could not link citation with label "bob". (in the front matter `summary`)',
        ),
        ("warning", None, None, None, "Something without a file"),
    ]
    assert issues[2].detail.startswith("unexpected end of the stream")
    assert "1 | title: [bad" in issues[2].detail


def test_report_markdown_for_warnings_only() -> None:
    (warning,) = [i for i in parse_build_output("⚠️  a.md:3 odd thing") if i]
    report = BuildReport(ok=True, warnings=[warning], seconds=1.25)
    text = report.markdown()
    assert text.startswith("⚠️ The book builds, with 0 errors and 1 warning (1.2 s):")
    assert "- ⚠️ `a.md:3` odd thing" in text
    assert report.ok and not report.clean


def test_report_markdown_is_capped() -> None:
    issues = parse_build_output("\n".join(f"⛔️ a.md:{n} problem {n}" for n in range(1, 51)))
    text = BuildReport(ok=False, errors=issues).markdown(limit=10)
    assert "… and 40 more" in text
    assert text.count("⛔️ `a.md:") == 10


async def test_the_build_sees_no_secrets_and_no_links_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIQUIDBOOK_SECRET_FOR_TEST", "s3cr3t")
    outside = tmp_path / "outside.txt"
    outside.write_text("outside")
    book = write(tmp_path / "book", GOOD)
    (book / "leak.txt").symlink_to(outside)
    (book / "inner.txt").symlink_to(book / "intro.md")
    script = (
        "import os; print(sorted(os.environ)); "
        "print('leak', os.path.exists('leak.txt'), 'inner', os.path.exists('inner.txt'))"
    )
    report = await check_book(book, command=[sys.executable, "-c", script])
    assert "LIQUIDBOOK_SECRET_FOR_TEST" not in report.output_tail
    assert "'PATH'" in report.output_tail
    assert "leak False inner True" in report.output_tail


def plugin_js(marker: Path) -> str:
    """A MyST plugin that leaves `marker` behind when MyST loads it."""
    return (
        "import fs from 'node:fs';\n"
        f"fs.writeFileSync({str(marker)!r}, 'ran');\n"
        "export default { name: 'marker', directives: [], roles: [], transforms: [] };\n"
    )


def plugin_book(root: Path, markers: Path) -> Path:
    """A book whose configs would run code on the build machine in five ways."""
    markers.mkdir(exist_ok=True)
    outside = write(
        root / "elsewhere",
        {
            "myst.yml": "version: 1\nproject:\n  title: O\n  plugins:\n    - o.mjs\n",
            "o.mjs": plugin_js(markers / "site-project"),
            "index.md": "# Elsewhere\n",
        },
    )
    book = write(
        root / "book",
        {
            **GOOD,
            "myst.yml": (
                "version: 1\nextends: more.yml\nproject:\n  title: Good\n"
                "  plugins:\n    - plugin.mjs\n    - type: executable\n      path: run.py\n"
                "  frontmatter:\n    plugins: [old.mjs]\n"
                "  toc:\n    - file: intro.md\n    - file: chapters/01-a.md\n"
                "    - pattern: sub/*.md\n"
                f"site:\n  template: book-theme\n  projects:\n    - slug: o\n      path: {outside}\n"
            ),
            "plugin.mjs": plugin_js(markers / "root"),
            "old.mjs": plugin_js(markers / "deprecated-frontmatter"),
            "run.py": f"#!{sys.executable}\nopen({str(markers / 'executable')!r}, 'w')\n",
            "more.yml": "version: 1\nproject:\n  plugins:\n    - more.mjs\n",
            "more.mjs": plugin_js(markers / "extends"),
            "sub/myst.yml": "version: 1\nproject:\n  title: Sub\n  plugins:\n    - ../sub.mjs\n",
            "sub.mjs": plugin_js(markers / "nested"),
            "sub/page.md": "---\ntitle: Sub page\n---\n\nText.\n",
        },
    )
    (book / "run.py").chmod(0o755)
    return book


@needs_cli
def test_the_plugin_fixture_runs_when_myst_loads_it(tmp_path: Path) -> None:
    """Without this, the test below could pass because the plugin never worked."""
    markers = tmp_path / "markers"
    book = write(
        tmp_path / "book",
        {
            **GOOD,
            "myst.yml": GOOD["myst.yml"].replace("site:\n  template: book-theme\n", "")
            + "  plugins:\n    - plugin.mjs\nsite:\n  template: ./stub\n",
            "plugin.mjs": plugin_js(markers / "root"),
            "stub/template.yml": "jtex: v1\ntitle: stub\n",
        },
    )
    markers.mkdir()
    env = check_module._build_environment(tmp_path)
    cli = shutil.which("jupyter-book")
    assert cli is not None
    subprocess.run(
        [cli, "build", "--site"], cwd=book, env=env, capture_output=True, timeout=240, check=False
    )
    assert (markers / "root").exists()


@needs_cli
async def test_plugins_extends_and_outside_projects_never_run_in_the_check(
    tmp_path: Path,
) -> None:
    markers = tmp_path / "markers"
    book = plugin_book(tmp_path, markers)
    before = (book / "myst.yml").read_text()
    report = await check_book(book)
    assert sorted(p.name for p in markers.iterdir()) == []
    assert report.ok, report.markdown()
    assert (book / "myst.yml").read_text() == before  # the author's files are untouched
    text = report.markdown()
    assert "The plugins in `myst.yml`, `sub/myst.yml` are not run by the check" in text
    assert "the Actions workflow runs them" in text
    assert "The `extends` of `myst.yml` is not followed by the check" in text
    assert "`site.projects` paths outside the book in `myst.yml`" in text
    assert "elsewhere" not in report.output_tail


async def test_the_copy_has_no_plugins_and_links_never_reach_the_authors_folder(
    tmp_path: Path,
) -> None:
    """What the build sees, printed by a stand-in CLI: every config is made safe, a config
    that is a link is replaced (never written through), links into the book stay inside the
    copy, and the report's notes do not make a clean build unclean."""
    book = write(
        tmp_path / "book",
        {
            **GOOD,
            "shared.yml": "version: 1\nextend: https://example.org/x.yml\nproject:\n"
            "  plugins: [a.mjs]\n",
            "nested/deeper/myst.yaml": "version: 1\nextends: [../x.yml]\n",
        },
    )
    (book / "nested" / "myst.yml").symlink_to(book / "shared.yml")
    (book / "nested" / "gone.yml").symlink_to(book / "no-such-file")
    (book / "nested" / "deeper" / "myst.yml").symlink_to(tmp_path / "no-such-config")
    script = (
        "import os, pathlib;"
        "print('ROOT', open('myst.yml').read().replace(chr(10), ' '));"
        "print('NESTED', os.path.islink('nested/myst.yml'), open('nested/myst.yml').read()"
        ".replace(chr(10), ' '));"
        "print('DEEPER', open('nested/deeper/myst.yaml').read().replace(chr(10), ' '));"
        "print('DANGLING', os.path.lexists('nested/deeper/myst.yml'));"
        "print('LINK', os.path.realpath('nested/gone.yml').startswith(os.getcwd()))"
    )
    report = await check_book(book, command=[sys.executable, "-c", script])
    out = report.output_tail
    assert "template: ./_liquidbook_stub_template" in out
    assert "NESTED False version: 1 project: {} " in out
    assert "DEEPER version: 1 " in out and "x.yml" not in out
    assert "DANGLING False" in out and "LINK True" in out
    assert "plugins" not in out and "example.org" not in out
    assert (book / "shared.yml").read_text().count("plugins") == 1
    assert len(report.notes) == 2
    assert any("`nested/myst.yml`" in note for note in report.notes)
    assert any("`nested/deeper/myst.yaml`, `nested/myst.yml`" in note for note in report.notes)


async def test_an_unreadable_nested_config_is_reported_without_building(tmp_path: Path) -> None:
    book = write(tmp_path, {**GOOD, "sub/myst.yml": "project: [x\n"})
    report = await check_book(book, command=[sys.executable, "-c", "raise SystemExit(9)"])
    assert not report.ok
    assert "`sub/myst.yml` is not valid YAML" in report.errors[0].message


def test_notes_are_shown_but_do_not_make_a_build_unclean() -> None:
    report = BuildReport(ok=True, seconds=1.0, notes=["The plugins in `myst.yml` are skipped."])
    assert report.clean
    assert report.markdown() == (
        "✅ The book builds cleanly (1.0 s).\n\n⚠️ The plugins in `myst.yml` are skipped."
    )
    failed = BuildReport(ok=False, errors=parse_build_output("⛔️ a.md bad"), notes=["N."])
    assert failed.markdown().endswith("- ⛔️ `a.md` bad\n\n⚠️ N.")


@needs_cli
def test_the_check_command_reports_and_exits_by_the_build(tmp_path: Path) -> None:
    """`liquidbook check DIR`: 0 when the book builds cleanly, 1 with the ⛔️ lines, 2 no folder."""

    def run(folder: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "check", str(folder)],
            capture_output=True,
            text=True,
            timeout=180,
        )

    good = run(write(tmp_path / "good", GOOD))
    assert good.returncode == 0 and good.stdout.startswith("✅"), good.stdout + good.stderr
    files = dict(GOOD)
    files["chapters/01-a.md"] += "\n```{frobnicate}\nx\n```\n"
    bad = run(write(tmp_path / "bad", files))
    assert bad.returncode == 1 and "unknown directive: frobnicate" in bad.stdout, bad.stdout
    missing = run(tmp_path / "nowhere")
    assert missing.returncode == 2 and "is not a folder" in missing.stderr
