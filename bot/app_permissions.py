"""What `app.yml` asks GitHub for, and why: read once, so the setup page cannot drift from it.

The manifest's YAML says which permissions and events the app requests; its header comment
says, for each permission, the capability that uses it:

    #   contents: write       read the book at a commit (branch head, tarball); write each
    #                         change as one commit on a liquidbook/ branch

The setup page shows both, side by side, so a person approving the app sees the reason
for every permission before GitHub asks them to confirm it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import yaml

from bot.resources import resource_path

# "#   name: level   reason" opens an entry; deeper-indented comment lines continue it.
_ENTRY = re.compile(r"^#   (\w+): (\w+)\s+(\S.*)$")
_CONTINUATION = re.compile(r"^#\s{10,}(\S.*)$")
_ACCESS = {"read": "Read-only", "write": "Read and write", "admin": "Admin"}


@dataclass(frozen=True)
class Permission:
    """One permission the app requests: `name` and `level` as GitHub spells them."""

    name: str
    level: str
    reason: str

    @property
    def title(self) -> str:
        """The name as GitHub's settings page shows it ("Pull requests")."""
        return self.name.replace("_", " ").capitalize()

    @property
    def access(self) -> str:
        """The level as GitHub's settings page shows it ("Read and write")."""
        return _ACCESS.get(self.level, self.level)


@dataclass(frozen=True)
class AppRequest:
    """The app as `app.yml` describes it to GitHub."""

    name: str
    description: str
    permissions: tuple[Permission, ...]
    events: tuple[str, ...]


def permission_reasons(text: str) -> dict[str, tuple[str, str]]:
    """The comment table of `app.yml`: permission -> (level, the capability that uses it)."""
    table: dict[str, tuple[str, str]] = {}
    last: str | None = None
    for line in text.splitlines():
        entry = _ENTRY.match(line)
        continuation = _CONTINUATION.match(line)
        if entry:
            last = entry.group(1)
            table[last] = (entry.group(2), entry.group(3).strip())
        elif last is not None and continuation:
            level, reason = table[last]
            table[last] = (level, f"{reason} {continuation.group(1).strip()}")
        else:
            last = None
    return table


def parse_app_request(text: str) -> AppRequest:
    """`app.yml`'s name, description, permissions (each with its comment's reason; "" when
    the comment lacks one) and events."""
    manifest: dict[str, Any] = yaml.safe_load(text) or {}
    reasons = permission_reasons(text)
    permissions = tuple(
        Permission(str(name), str(level), reasons.get(str(name), ("", ""))[1])
        for name, level in (manifest.get("default_permissions") or {}).items()
    )
    return AppRequest(
        name=str(manifest.get("name") or "Liquid Book"),
        description=str(manifest.get("description") or ""),
        permissions=permissions,
        events=tuple(str(event) for event in manifest.get("default_events") or ()),
    )


@functools.cache
def app_request() -> AppRequest:
    """The shipped `app.yml`, parsed once per process."""
    return parse_app_request(resource_path("app.yml").read_text())
