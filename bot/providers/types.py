"""What callers hand to the provider layer and what they get back.

Plain dataclasses: the provider modules turn them into each wire format, so nothing here
knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from bot.usage import UsageRow


@dataclass(frozen=True)
class Message:
    """One turn of a conversation."""

    role: Literal["user", "assistant"]
    content: str
    # Images shown to a vision model with the text, as (media type, bytes): sent as image
    # content blocks in the provider's own wire format.
    images: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class TextRequest:
    """A request for text.

    `stable_prefix` is the long part of the instructions that repeats from call to call (the
    book's outline and style guide): it goes first, so providers can cache it (Anthropic gets
    an explicit `cache_control` breakpoint after it). `system` is the rest of the instructions.
    Give either `prompt` (one user turn) or `messages`.

    A reply cut off at `max_tokens` is continued up to `continuations` times (the model is
    asked to go on from where it stopped and the parts are joined); if it is still cut off,
    the result has `truncated=True` and must not be committed as if whole.

    Every reply is checked against the request (`bot.providers.answers`): within its cap,
    not empty, valid Unicode. `accept` adds the caller's own rule: given the whole text, it
    says why it is not an answer (a phrase after the model's name, "answered with no
    chapter text"), or None. A reply failing any of them is that model's failure: the chain
    moves on to the next.
    """

    prompt: str | None = None
    messages: Sequence[Message] | None = None
    system: str | None = None
    stable_prefix: str | None = None
    max_tokens: int = 4096
    temperature: float | None = None
    stop: Sequence[str] = ()
    # None: stream when max_tokens is at least ProviderSettings.stream_min_tokens.
    stream: bool | None = None
    continuations: int = 2
    accept: Callable[[str], str | None] | None = field(default=None, compare=False)

    def conversation(self) -> list[Message]:
        """The turns to send, whichever way they were given."""
        if self.messages:
            return list(self.messages)
        if self.prompt is not None:
            return [Message("user", self.prompt)]
        raise ValueError("a TextRequest needs a prompt or messages")

    def instructions(self) -> str | None:
        """The whole system prompt as one text (for providers without cache breakpoints)."""
        parts = [p for p in (self.stable_prefix, self.system) if p]
        return "\n\n".join(parts) or None


@dataclass(frozen=True)
class Attempt:
    """One model tried by a chain: its usage row (as stored) and what went wrong, if anything.

    `tries` counts the HTTP requests made to that model (retries and continuations included);
    the usage row sums their tokens and cost.
    """

    model: str
    usage: UsageRow
    error: str | None = None
    tries: int = 1
    phrase: str | None = None

    def summary(self) -> str:
        """A verb phrase for the chain's one-sentence summary."""
        what = "answered" if self.error is None else (self.phrase or self.usage.outcome)
        return f"{what} ({self.tries} tries)" if self.tries > 1 else what


@dataclass(frozen=True)
class TextResult:
    """The answer of the model that succeeded.

    `truncated` is True when the text stopped at the length limit even after continuing:
    callers must not commit it as a whole chapter.
    """

    text: str
    model: str
    finish_reason: str
    truncated: bool
    usage: UsageRow
    attempts: list[Attempt] = field(default_factory=list)
    continuations: int = 0


@dataclass(frozen=True)
class ImageRequest:
    """A request for one image. `size` is `WIDTHxHEIGHT`; providers that take an aspect
    ratio get the nearest one they support."""

    prompt: str
    size: str = "1024x1024"
    negative_prompt: str | None = None
    output_format: Literal["png", "jpeg", "webp"] = "png"
    seed: int | None = None
    quality: str | None = None


@dataclass(frozen=True)
class ImageResult:
    """The image bytes, as the provider encoded them."""

    data: bytes
    media_type: str
    model: str
    usage: UsageRow
    attempts: list[Attempt] = field(default_factory=list)
    revised_prompt: str | None = None


@dataclass(frozen=True)
class VideoRequest:
    """A short video from a still image and a prompt (image-to-video)."""

    prompt: str
    image: str  # https URL or data URI of the first frame
    duration: int = 5
    ratio: str = "1280:720"
    seed: int | None = None


@dataclass(frozen=True)
class VideoResult:
    data: bytes
    media_type: str
    model: str
    usage: UsageRow
    attempts: list[Attempt] = field(default_factory=list)


# What the provider modules return to the chain; the chain prices and records them.


@dataclass
class Completion:
    """One provider reply for text, before pricing."""

    text: str
    finish_reason: str
    truncated: bool
    tokens_in: int = 0
    tokens_out: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    # The provider's own figure (OpenRouter's usage.cost), preferred over the price table.
    reported_cost: Decimal | None = None
    # True when the provider reported no usage and the tokens were estimated from the text.
    usage_estimated: bool = False


@dataclass
class Artifact:
    """One provider reply for an image or a video, before pricing."""

    data: bytes
    media_type: str
    revised_prompt: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    reported_cost: Decimal | None = None
    # For per-second pricing (video).
    seconds: float = 0.0
    images: int = 1
    # How the image was made, for prices by quality and size: "<quality> <size>" as the
    # request named them ("hd 1792x1024"); None when the price does not depend on it.
    variant: str | None = None
