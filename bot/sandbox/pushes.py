"""`liquidbook sandbox --push PATH=FILE` and `--pages on|off`: the author committing a file to
the default branch (a broken one shows the "Liquid Book" check run and its annotations), and
switching GitHub Pages on or off (what `/publish` reads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.sandbox.answers import wait_for
from bot.sandbox.console import SandboxError, say
from bot.sandbox.world import AUTHOR, REPOSITORY


def parse_push(value: str) -> tuple[str, Path]:
    """`chapters/02-x.md=./broken.md` → (book path, local file)."""
    path, sep, file = value.partition("=")
    if not sep or not path.strip() or not file.strip():
        raise ValueError("write it as PATH=FILE, e.g. chapters/02-tides.md=./tides.md")
    return path.strip(), Path(file.strip())


def set_pages(gh: Any, state: str) -> None:
    gh.set_pages(REPOSITORY, state == "on")
    say(f"GitHub Pages is {state} for {REPOSITORY} (Settings → Pages → Source: GitHub Actions).")


def show_check_run(gh: Any, run: dict[str, Any]) -> None:
    """A check run and its annotations, one line each."""
    output = run.get("output") or {}
    say(f"Check run “{run['name']}” on {run['head_sha'][:12]}: {run['conclusion']} "
        f"({output.get('title') or ''})")  # fmt: skip
    for note in gh.check_run_annotations(run["id"]):
        icon = "⛔️" if note["annotation_level"] == "failure" else "⚠️"
        message = str(note["message"]).splitlines()[0] if note["message"] else ""
        say(f"  {icon} {note['path']}:{note['start_line']} {message}")


def run_push(gh: Any, value: tuple[str, Path], timeout: float, app: Any) -> bool:
    """Commit the file as the author and wait for its check run; True when it succeeded."""
    path, file = value
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise SandboxError(f"--push {path}={file}: cannot read it ({exc})") from None
    sha = gh.push(REPOSITORY, "main", {path: text}, AUTHOR, f"Update {path}")
    say(f"Pushed {file} to {path} on main as {AUTHOR} ({sha[:12]}).")

    def checked() -> dict[str, Any] | None:
        runs = [r for r in gh.check_runs(REPOSITORY) if r["head_sha"] == sha]
        return runs[-1] if runs and runs[-1]["status"] == "completed" else None

    run = wait_for(checked, f"the check run on {sha[:12]}", timeout, app)
    if run is None:
        return False
    show_check_run(gh, run)
    return run["conclusion"] in ("success", "neutral")
