"""Checking request bodies against the official SDKs' published types.

`TypeAdapter` over the SDK's TypedDicts with `extra="forbid"` (which reaches nested
TypedDicts), after which lazily-validated iterables (`Iterable[...]` fields) are walked so
every message is checked, not just the top level.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError


@cache
def strict(tp: Any) -> TypeAdapter[Any]:
    """A validator for a one-item list of `tp` that rejects unknown keys at every level.

    The list is there because pydantic takes a `config` only for types without their own
    (a TypedDict has one); the list's config then reaches the TypedDicts inside.
    """
    return TypeAdapter(list[tp], config=ConfigDict(extra="forbid"))


def materialize(value: Any) -> Any:
    """Consume pydantic's lazy iterators, which validates their items."""
    if isinstance(value, dict):
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [materialize(v) for v in value]
    if isinstance(value, Iterator):
        return [materialize(v) for v in value]
    return value


class Invalid(Exception):
    """A body the real API would reject: `message` and the offending `param`."""

    def __init__(
        self,
        message: str,
        param: str | None = None,
        kind: str = "invalid",
        detail: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.kind = kind
        # The validator's own words ("Input should be a valid integer"), for APIs that
        # word their errors as `<param>: <detail>` (Anthropic).
        self.detail = detail or message
        # The provider's error code, for APIs that send one (OpenAI's "empty_array").
        self.code = code


def check(tp: Any, data: Any) -> Any:
    """Validate `data` as `tp`; raise `Invalid` naming the first problem."""
    try:
        return materialize(strict(tp).validate_python([data]))[0]
    except ValidationError as exc:
        errors = exc.errors()
        # In a union (user/assistant/system messages...), members whose `role` or `type`
        # does not match are noise: report the member that matched.
        relevant = [
            e
            for e in errors
            if not (e["type"] == "literal_error" and e["loc"] and e["loc"][-1] in ("role", "type"))
        ]
        error = (relevant or errors)[0]
        # Errors raised while walking a lazy iterator are relative to that iterator.
        loc = error["loc"] if exc.title == "ValidatorIterator" else error["loc"][1:]
        param = _param(loc)
        if error["type"] == "extra_forbidden":
            raise Invalid(
                f"Unrecognized request argument supplied: {param}", param, "unknown"
            ) from None
        if error["type"] == "missing":
            raise Invalid(f"Missing required parameter: '{param}'.", param, "missing") from None
        raise Invalid(
            f"Invalid value for '{param}': {error['msg']}.", param, detail=error["msg"]
        ) from None


def _param(loc: tuple[int | str, ...]) -> str:
    """`messages[0].content` from pydantic's location, without union member names."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part[:1].isupper() or part.startswith(
            ("union[", "function-", "list[", "json-or-python")
        ):
            continue
        else:
            out += ("." if out else "") + part
    return out or "body"
