"""A hostile model, end to end: nothing outside the repository reaches the book.

The model stand-in answers `/generate chapter 1` with a chapter, and `/outline` with
summaries, that name a canary planted outside the repository in every form MyST reads or
copies (includes, figures, images, links, downloads, `:file:` options, raw HTML, reference
definitions), behind list markers, in blockquotes and inside directives, by absolute path,
by `..` climbing out of the book and as a `file:` URL; and `/proc/self/environ` of an app
whose environment holds a canary too. Afterwards the canary's token is nowhere: not in any
file of the branches the app wrote (read back from the stand-in's bare repository with
git), not in the PR bodies or status comments, not in the app's log, database or temporary
files, and not in `_build/` when those branches are built the way the Actions workflow does,
without any sandbox. The PR body lists what was removed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.book.check import STUB_TEMPLATE_DIR
from standins.providers.behaviour import Behaviour
from tests.world import REPO, World

pytestmark = pytest.mark.skipif(
    shutil.which("jupyter-book") is None, reason="the jupyter-book CLI is not installed"
)

CHAPTER = "chapters/01-getting-started.md"
CANARY_FILES = ("canary.md", "canary.txt", "canary.png", "canary.csv")


def plant(outside: Path, token: str) -> None:
    """The same token in every kind of file a chapter could pull in."""
    outside.mkdir()
    (outside / "canary.md").write_text(f"# {token}\n\n{token}\n", "utf-8")
    (outside / "canary.txt").write_text(f"{token}\n", "utf-8")
    (outside / "canary.csv").write_text(f"a,b\n{token},1\n", "utf-8")
    (outside / "canary.png").write_bytes(b"\x89PNG\r\n\x1a\n" + token.encode())


def forms(path: str) -> list[str]:
    """Every way a chapter can name `path`, as one block of Markdown each."""
    return [
        f"```{{include}} {path}.md\n```",
        f"```{{literalinclude}} {path}.txt\n:language: text\n```",
        f":::{{figure}} {path}.png\nA caption.\n:::",
        f"```{{image}} {path}.png\n```",
        f"~~~{{csv-table}} Data\n:file: {path}.csv\n~~~",
        f"```{{include}} intro.md\n---\nfile: {path}.md\n---\n```",
        f"![alt]({path}.png)",
        f"[the notes]({path}.txt)",
        f"{{download}}`get it <{path}.txt>`",
        f'<img src="{path}.png" alt="x">',
        f"See [the table][t].\n\n[t]: {path}.csv",
        f"````{{note}}\n```{{literalinclude}} {path}.txt\n```\n````",
        f"::::{{tab-set}}\n:::{{tab-item}} A\n![a]({path}.png)\n:::\n::::",
    ]


def nested(block: str, how: str) -> str:
    lines = block.split("\n")
    if how == "bullet":
        return "\n".join(("- " if i == 0 else "  ") + line for i, line in enumerate(lines))
    if how == "quote":
        return "\n".join("> " + line for line in lines)
    return f"::::::{{dropdown}} More\n{block}\n::::::"


def targets(outside: Path) -> list[str]:
    """The canary named absolutely, by climbing out of any checkout, and as a URL (without
    its extension, which each form adds)."""
    base = str(outside / "canary")
    return [base, "../" * 24 + base.lstrip("/"), f"file://{base}"]


def hostile_chapter(outside: Path) -> str:
    blocks = ["## Tides\n\nThe sea rises and falls twice a day."]
    for target in targets(outside):
        for i, form in enumerate(forms(target)):
            blocks.append(nested(form, ("bullet", "quote", "dropdown")[i % 3]))
    blocks.append("```{literalinclude} /proc/self/environ\n```")
    return "\n\n".join(blocks) + "\n"


def hostile_outline(outside: Path) -> str:
    base = str(outside / "canary")
    up = "../" * 24 + base.lstrip("/")
    summaries = [
        f"Zone one.\n\n```{{include}} {base}.md\n```",
        f"Zone two.\n\n- > ![x]({up}.png)\n\n{{download}}`notes <{base}.txt>`",
        f"Zone three.\n\n> ```{{literalinclude}} {up}.txt\n> ```\n\n[t]: {base}.csv",
    ]
    chapters = [
        {
            "title": f"Part {i} of the shore",
            "summary": summary,
            "objectives": [f"See [the map]({base}.png)", "Read a tide table"],
        }
        for i, summary in enumerate(summaries, 1)
    ]
    outline = {
        "title": "Tide Pools",
        "description": f"A short course.\n\n![cover]({up}.png)",
        "type": "course",
        "chapters": chapters,
    }
    return "```json\n" + json.dumps(outline) + "\n```"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    return tmp_path / "outside"


@pytest.fixture
def token() -> str:
    return f"CANARY-{secrets.token_hex(16)}"


@pytest.fixture
def world(tmp_path: Path, redis_url: str, outside: Path, token: str) -> Iterator[World]:
    plant(outside, token)
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")

    def answer(request: dict[str, Any]) -> str:
        prompt = "\n".join(str(m.get("content")) for m in request.get("messages", []))
        if '"chapters"' in prompt and "JSON" in prompt:
            return hostile_outline(outside)
        return hostile_chapter(outside)

    world.model.default = Behaviour(text=answer)
    temporary = tmp_path / "app-tmp"
    temporary.mkdir()
    try:
        # The app's temporary files (checkouts, build copies) land where the test can look,
        # and its environment holds the token for `/proc/self/environ` to find.
        world.start_app(TMPDIR=str(temporary), LIQUIDBOOK_TEST_CANARY=token)
        world.install()
        yield world
    finally:
        world.close()


def branch_files(world: World, branch: str) -> dict[str, bytes]:
    """Every file of `branch`, read from the stand-in's bare repository."""
    names = world.git("ls-tree", "-r", "--name-only", branch).splitlines()
    repo = world.github.repo_dir(REPO)
    return {
        name: subprocess.run(
            ["git", "show", f"{branch}:{name}"], cwd=repo, check=True, capture_output=True
        ).stdout
        for name in names
    }


def build_unsandboxed(
    world: World, branch: str, into: Path, files: dict[str, str] | None = None
) -> Path:
    """Build `branch` (with `files` written over it) as the Actions workflow does: no
    sandbox, the whole machine in reach; offline, the theme swapped for a stub. Returns the
    book's folder."""
    book = world.clone(branch, into)
    for name, text in (files or {}).items():
        (book / name).write_text(text, "utf-8")
    config = yaml.safe_load((book / "myst.yml").read_text("utf-8"))
    config.setdefault("site", {})["template"] = STUB_TEMPLATE_DIR
    (book / "myst.yml").write_text(yaml.safe_dump(config), "utf-8")
    (book / STUB_TEMPLATE_DIR).mkdir()
    (book / STUB_TEMPLATE_DIR / "template.yml").write_text("jtex: v1\ntitle: stub\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(into.parent), "CI": "1", "NO_COLOR": "1"}
    subprocess.run(
        ["jupyter-book", "build", "--site"],
        cwd=book,
        env=env,
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert (book / "_build" / "site" / "content").is_dir(), f"{branch} built nothing"
    return book


def files_holding(root: Path, token: str, skip: Path) -> list[str]:
    """Files under `root` (but not under `skip`) whose bytes hold `token`."""
    found = []
    needle = token.encode()
    for folder, _, names in os.walk(root):
        if Path(folder) == skip or skip in Path(folder).parents:
            continue
        for name in names:
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                found.append(str(path.relative_to(root)))
    return found


def test_a_hostile_model_cannot_put_files_from_outside_the_repository_in_the_book(
    world: World, tmp_path: Path, outside: Path, token: str
) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Chapter 1 and an outline")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    gh.comment(REPO, issue, "alice", "/outline A course on tide pools, 3 chapters.")
    statuses = world.wait_final(issue, count=2, timeout=180)
    pulls = {pr["head"]["ref"]: pr for pr in gh.pulls(REPO)}
    [chapter_branch] = [b for b in pulls if b.startswith("liquidbook/chapter-")]
    assert "liquidbook/outline" in pulls, [s["body"] for s in statuses]

    # The branches: every file, read back from git.
    for branch in pulls:
        files = branch_files(world, branch)
        assert files, branch
        leaking = [name for name, data in files.items() if token.encode() in data]
        assert leaking == [], f"{branch}: {leaking}"
    chapter = branch_files(world, chapter_branch)[CHAPTER]
    assert b"The sea rises and falls" in chapter
    # A removed role keeps its title, never the path it named.
    assert chapter.count(b"get it *(removed: it referred") == len(targets(outside)), chapter

    # What people read: PR bodies and status comments; the removals are listed.
    for pr in pulls.values():
        assert token not in pr["body"]
    for status in world.status_comments(issue):
        assert token not in status["body"]
    chapter_body = pulls[chapter_branch]["body"]
    removed = [
        *(f"Removed a `{{{kind}}}` of" for kind in ("include", "literalinclude", "figure")),
        *(f"Removed a `{{{kind}}}` of" for kind in ("image", "csv-table", "download")),
        "Removed an image of",
        "Removed a link of",
        "Removed a link definition of",
        "Removed a `<html>` of",
        "Removed a `{literalinclude}` of `/proc/self/environ`",
    ]
    assert [what for what in removed if what not in chapter_body] == [], chapter_body
    outline_body = pulls["liquidbook/outline"]["body"]
    removed = [
        *(f"Removed a `{{{kind}}}` of" for kind in ("include", "literalinclude", "download")),
        "Removed an image of",
        "Removed a link of",
        "Removed a link definition of",
    ]
    assert [what for what in removed if what not in outline_body] == [], outline_body

    # What the app keeps: its log, database and temporary files, anything under the test's
    # folder but the canaries themselves.
    assert world.app_process is not None
    assert token not in world.app_process.log()
    assert files_holding(tmp_path, token, skip=outside) == []

    # Building what the app wrote without any sandbox (as the workflow does) copies nothing
    # from outside the repository into `_build/`.
    for number, branch in enumerate(pulls):
        book = build_unsandboxed(world, branch, tmp_path / f"build-{number}" / "book")
        assert files_holding(book / "_build", token, skip=outside) == [], branch
    assert files_holding(tmp_path, token, skip=outside) == []

    # The control: the model's chapter as it was answered, built the same way, does leak.
    with_answer = {CHAPTER: "---\ntitle: Raw\n---\n\n" + hostile_chapter(outside)}
    book = build_unsandboxed(world, chapter_branch, tmp_path / "raw" / "book", with_answer)
    assert files_holding(book / "_build", token, skip=outside) != []
