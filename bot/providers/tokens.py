"""Token counts estimated from text, where no provider count is at hand: the budget's worst
case before a call, and the usage of a reply that came without one (a stream with no usage
chunk, a stream dropped part-way).

Generous on purpose: one token per 3 ASCII characters (real tokenizers give about 4 for
English prose) and at least one per other character (Chinese, Japanese or Korean text is
about one token per character, often more; accented letters are rarer and cost little
extra), so a budget is never underestimated for a script a 3-characters rule would miss.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def estimate_tokens(text: str) -> int:
    """A generous token count for `text`."""
    if not text:
        return 0
    ascii_chars = len(text.encode("ascii", "ignore"))
    return math.ceil(ascii_chars / 3) + (len(text) - ascii_chars)


def estimate_all(texts: Iterable[str | None]) -> int:
    """The estimate of several texts sent together."""
    return sum(estimate_tokens(t) for t in texts if t)


class TokenTally:
    """`estimate_tokens` of a text that arrives in pieces (a stream), kept as it grows.

    Counting each piece on its own would round every piece up (a stream of one-character
    pieces would count a token a character); this keeps the characters and rounds once.
    """

    def __init__(self) -> None:
        self.ascii_chars = 0
        self.other_chars = 0

    def add(self, piece: str) -> int:
        """Count `piece`; return the estimate of everything counted so far."""
        ascii_chars = len(piece.encode("ascii", "ignore"))
        self.ascii_chars += ascii_chars
        self.other_chars += len(piece) - ascii_chars
        return self.tokens

    @property
    def tokens(self) -> int:
        return math.ceil(self.ascii_chars / 3) + self.other_chars
