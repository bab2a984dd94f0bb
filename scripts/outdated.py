"""Which locked packages have newer releases: the check to run on a schedule (weekly, say).

    python scripts/outdated.py

Prints one line per package of `uv.lock` that has a newer release on the index, in two kinds:
- "within range": pyproject.toml already admits it; `uv lock --upgrade-package NAME` takes it
  (then run the tests). Found with `uv lock --upgrade --dry-run`, which writes nothing.
- "outside range": only a change of a range in pyproject.toml would take it (a pin kept on
  purpose, such as hishel 1.4.0 for githubkit 0.16.1, or arq's redis<6). Found with
  `uv tree --outdated`.
Exit status 1 when an update within range exists, so a scheduled job can open an issue; 0
otherwise; 2 when uv could not ask the index.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `uv lock --upgrade --dry-run`: "Update anyio v4.9.0 -> v4.10.0"
_UPDATE = re.compile(r"^Update (\S+) v(\S+) -> v(\S+)")
# `uv tree --outdated`: "├── redis v5.3.1 (latest: v8.2.0)"
_LATEST = re.compile(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])? v(\S+)(?: \([^)]*\))* \(latest: v(\S+)\)")


def _uv(*args: str) -> str:
    result = subprocess.run(
        ["uv", *args, "--python", "3.11"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        print(f"uv {' '.join(args)} failed:\n{result.stderr.strip()}", file=sys.stderr)
        raise SystemExit(2)
    return result.stdout + result.stderr


def main() -> int:
    within = {
        m[1]: (m[2], m[3])
        for m in map(_UPDATE.match, _uv("lock", "--upgrade", "--dry-run").splitlines())
        if m
    }
    latest: dict[str, tuple[str, str]] = {}
    for line in _uv("tree", "--outdated", "--frozen", "--all-groups").splitlines():
        for name, locked, newest in _LATEST.findall(line):
            latest[name.lower()] = (locked, newest)
    if not within and not latest:
        print("Every locked package is at its newest release.")
        return 0
    width = max(len(name) for name in {*within, *latest})
    for name, (locked, newer) in sorted(within.items()):
        print(f"{name:<{width}}  {locked:>12} -> {newer:<12} within range")
    for name, (locked, newest) in sorted(latest.items()):
        if name not in within:
            print(f"{name:<{width}}  {locked:>12} -> {newest:<12} outside range (pyproject.toml)")
    return 1 if within else 0


if __name__ == "__main__":
    raise SystemExit(main())
