"""Helpers the stand-ins share: reading bodies, estimating tokens, splitting streams."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse


async def json_body(request: Request) -> Any:
    """The body as JSON, or raise ValueError."""
    return json.loads(await request.body())


def tokens(text: str) -> int:
    """About 4 characters a token, at least 1: what the stand-ins report as usage."""
    return max(1, len(text) // 4)


def split(text: str, parts: int) -> list[str]:
    """`text` in about `parts` pieces (at least one, possibly empty)."""
    if not text:
        return [""]
    size = max(1, -(-len(text) // max(1, parts)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "token") and token.strip() else None


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event."""
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


class EscapedJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped (`\\u00e9`), as some servers send it: an
    answer can then carry what UTF-8 cannot (a lone surrogate, `\\ud800`), which a hostile
    or broken provider may send and a client must survive."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")
