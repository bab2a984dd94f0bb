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

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
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


def _alive(token: str, program: str = "") -> list[int]:
    """PIDs of processes whose command line holds `token` (and that run `program`)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if token.encode() in argv and (not program or argv[0] == program.encode()):
                found.append(int(proc.name))
    return found


def _wait_until(condition: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_build_never_outlives_the_worker_that_started_it(tmp_path: Path) -> None:
    """A worker killed outright (SIGKILL: the OOM killer, a redeploy) takes its sandboxed
    build with it: a build left behind writes to a pipe nobody reads, forever."""
    sandbox_mode.cache_clear()
    if sandbox_mode() == "none":
        pytest.skip("no namespaces on this machine: the build cannot be sandboxed here")
    token = f"{secrets.randbelow(10**6) + 10**7}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import asyncio, sys\n"
            "from pathlib import Path\n"
            "from bot.book.check import _run\n"
            "work = Path(sys.argv[1]); work.mkdir()\n"
            "asyncio.run(_run(['sleep', sys.argv[2]], work, 600))\n",
            str(tmp_path / "book"),
            token,
        ],
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert _wait_until(lambda: bool(_alive(token, "sleep"))), "the sleep never started"
        worker.kill()
        worker.wait()
        assert _wait_until(lambda: not _alive(token)), (
            f"the build outlived its worker: {_alive(token)}"
        )
    finally:
        worker.kill()
        for pid in _alive(token):
            os.kill(pid, signal.SIGKILL)


async def test_a_cancelled_build_is_stopped(tmp_path: Path) -> None:
    """`/cancel`, or a worker stopping, cancels the job: its build stops too."""
    sandbox_mode.cache_clear()
    token = f"{secrets.randbelow(10**6) + 10**7}"
    work = tmp_path / "book"
    work.mkdir()
    task = asyncio.create_task(check_module._run(["sleep", token], work, 600))
    for _ in range(400):
        if _alive(token, "sleep"):
            break
        await asyncio.sleep(0.05)
    assert _alive(token, "sleep"), "the build never started"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(400):
        if not _alive(token):
            break
        await asyncio.sleep(0.05)
    assert not _alive(token), "the build outlived its cancelled job"
