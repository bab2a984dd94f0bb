"""How the sandbox talks to the operator: lines printed at once, and the error that stops it."""

from __future__ import annotations


class SandboxError(Exception):
    """The sandbox cannot go on; the message says what happened and where to look."""


def say(*parts: object) -> None:
    """Print a line at once: the sandbox is watched live, and its output is piped in tests."""
    print(*parts, flush=True)
