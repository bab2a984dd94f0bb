"""What a reply must be to count as an answer to the request that asked for it.

A request sets a length limit (`max_tokens`); a reply that passes it is a model or a server
ignoring the cap (a loop, a hostile endpoint) and is never an answer, however well formed:
its usage reported above the limit (`output_limit`: a small tolerance for providers that
count a little differently), or more text than the limit could produce (`text_limit`,
measured with the budget's generous estimator, `bot.providers.tokens`, so honest prose,
code and CJK text stay far inside it). Streams stop reading at that point (`Bound`), so a
10 MB answer costs what the first few hundred kilobytes did, not what a provider says the
whole would have.

A whole answer must also show something (`bot.visible.blank`), and be text that can be written to a
file (`well_formed`: a lone UTF-16 surrogate, which JSON's `\\ud800` escape can carry, fails
every later encode).

Pure functions: the provider modules and the text layer raise `Runaway` / `UnusableAnswer`
from them.
"""

from __future__ import annotations

from bot.providers.tokens import TokenTally, estimate_tokens
from bot.providers.types import Completion

# How far the estimate of a reply's text may go past the limit: the estimator counts a token
# per 3 ASCII characters (real tokenizers give about 4 on prose) and one per other character,
# so twice the limit is 6 ASCII characters a token on average: no real answer gets there.
TEXT_FACTOR = 2
TEXT_SLACK = 256
# Reported output tokens over the limit tolerated (a provider counting a few tokens of its
# own framing, or counting with another tokenizer than the model's).
OUTPUT_SLACK = 32
OUTPUT_RATIO = 20  # 1/20 = 5 %
# JSON may spell one character as up to 6 (`\\u0001`) and one estimated token holds up to 3
# ASCII characters: a line or a body holding a reply's text is at most this many characters
# per token of `text_limit`, plus framing.
JSON_CHARS_PER_TOKEN = 18
FRAMING_CHARS = 64 * 1024
# Events a stream may send per token of `text_limit`: real streams send about one per token
# (plus a few to open and close); empty events and keep-alive comments never end a stream.
EVENTS_PER_TOKEN = 2
EVENT_SLACK = 1000


def output_limit(max_tokens: int) -> int:
    """The most output tokens a reply to a `max_tokens` request may report."""
    return max_tokens + max(OUTPUT_SLACK, max_tokens // OUTPUT_RATIO)


def text_limit(max_tokens: int) -> int:
    """The most text (as `estimate_tokens` counts it) a reply to a `max_tokens` request
    may hold."""
    return TEXT_FACTOR * max(0, max_tokens) + TEXT_SLACK


def json_limit(max_tokens: int) -> int:
    """The most characters of JSON (a non-streamed body, one stream event) that can carry a
    reply within `text_limit`."""
    return JSON_CHARS_PER_TOKEN * text_limit(max_tokens) + FRAMING_CHARS


def event_limit(max_tokens: int) -> int:
    """The most events (and comment lines) a stream answering `max_tokens` may send."""
    return EVENTS_PER_TOKEN * text_limit(max_tokens) + EVENT_SLACK


def past_the_cap(completion: Completion, max_tokens: int) -> str | None:
    """Why a whole reply is past the request's cap, or None when it is within it."""
    if completion.tokens_out > output_limit(max_tokens) and not completion.usage_estimated:
        return (
            f"{completion.tokens_out:,} output tokens reported on a request capped at "
            f"{max_tokens:,}"
        )
    estimate = estimate_tokens(completion.text)
    if estimate > text_limit(max_tokens):
        return (
            f"{len(completion.text):,} characters of text (about {estimate:,} tokens) on a "
            f"request capped at {max_tokens:,}"
        )
    return None


class Bound:
    """The text a streamed reply may bring, counted as it comes: `add` says when it has
    passed what the request's cap could produce, so the reader stops there."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self.limit = text_limit(max_tokens)
        self.line_chars = json_limit(max_tokens)
        self.max_events = event_limit(max_tokens)
        self.tally = TokenTally()
        self.events = 0

    def add(self, piece: str) -> bool:
        """Count a piece of the reply's text; True once the whole is past the limit."""
        return bool(piece) and self.tally.add(piece) > self.limit

    def event(self) -> bool:
        """Count one event; True once there are more than a reply could need."""
        self.events += 1
        return self.events > self.max_events

    @property
    def tokens(self) -> int:
        """The estimate of the text counted so far (what it is billed at when cut off)."""
        return self.tally.tokens

    def why(self) -> str:
        return (
            f"stopped reading after about {self.tokens:,} tokens of text and {self.events:,} "
            f"events on a request capped at {self.max_tokens:,}"
        )


def well_formed(text: str) -> str | None:
    """`text` with any UTF-16 surrogate pairs joined into the characters they spell (a
    stream may split one across two events), or None when a lone surrogate is left: such a
    string cannot be encoded as UTF-8, so it can never be written to a file."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    try:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        return None
