"""What a stand-in does with one request: answer, fail, stall, cut off, refuse.

The helpers at the bottom read like a test's intent: `rate_limited(retry_after="1")`,
`server_error()`, `overloaded()`, `truncated("half a chap")`, `refusal()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Text = str | Callable[[dict[str, Any]], str]


@dataclass
class Behaviour:
    """One scripted answer. `status` >= 400 sends the provider's own error body."""

    text: Text = "Hello from the stand-in."
    status: int = 200
    # The provider's error type/code for error answers (defaults by status).
    error_type: str | None = None
    error_code: str | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Cut off at the length limit: finish_reason "length" / stop_reason "max_tokens".
    truncated: bool = False
    # The model declines: OpenAI `message.refusal`, Anthropic `stop_reason: "refusal"`.
    refusal: str | None = None
    # OpenRouter's 403 moderation answer.
    moderated: bool = False
    # The finish_reason / stop_reason sent: "" the usual one for the behaviour (stop,
    # length, refusal...), a value of the API's own ("content_filter", "tool_use"...), or
    # None to send none at all — a malformed answer the real API should never give, so the
    # stand-in skips checking its own answer against the SDK's types.
    finish_reason: str | None = ""
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunks: int = 8
    # A stream that breaks off (the connection closed without the end) after this many
    # pieces of text; None: streams end normally.
    drop_after: int | None = None
    # An error sent inside a 200 stream after `error_after` pieces of text: the provider's
    # error type (Anthropic `event: error` / OpenRouter's error chunk), with `message`.
    stream_error: str | None = None
    error_after: int = 2
    # False: no usage in the answer (OpenAI-compatible servers that ignore stream_options
    # or send none); the official APIs always report it.
    report_usage: bool = True
    # Usage; None: estimated from the text (4 characters a token).
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    # OpenRouter's usage.cost in USD; None: a small figure from the tokens.
    cost: float | None = None
    # Replicate/Runway: polls answered "processing" before the job ends.
    polls: int = 0
    # Replicate/Runway: how a job ends ("succeeded"/"failed"/"canceled").
    job_status: str = "succeeded"
    job_error: str | None = None
    # Image stand-ins: the bytes returned (None: a small PNG).
    image: bytes | None = None
    # Video stand-ins (Runway): the bytes of the output file (None: a small real MP4).
    video: bytes | None = None

    def answer_text(self, request: dict[str, Any]) -> str:
        return self.text(request) if callable(self.text) else self.text


def answer(text: Text, **kwargs: Any) -> Behaviour:
    return Behaviour(text=text, **kwargs)


def rate_limited(retry_after: str | None = "1", retry_after_ms: int | None = None) -> Behaviour:
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return Behaviour(status=429, headers=headers)


def server_error(status: int = 500) -> Behaviour:
    return Behaviour(status=status)


def overloaded(retry_after: str | None = None, retry_after_ms: int | None = None) -> Behaviour:
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return Behaviour(status=529, headers=headers)


def truncated(text: Text, **kwargs: Any) -> Behaviour:
    return Behaviour(text=text, truncated=True, **kwargs)


def refusal(message: str = "I can't help with that.") -> Behaviour:
    return Behaviour(text="", refusal=message)


def moderated() -> Behaviour:
    return Behaviour(status=403, moderated=True)


def slow(text: Text, chunk_delay: float, chunks: int = 8) -> Behaviour:
    return Behaviour(text=text, chunk_delay=chunk_delay, chunks=chunks)


def quota_exhausted() -> Behaviour:
    return Behaviour(status=402)
