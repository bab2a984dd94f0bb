"""Whether a text shows anything at all: what "empty" means for a model's answer.

Spaces are not the only way to write nothing: zero-width spaces, byte-order marks, other
format and control characters, private-use or unassigned code points, and a few letters
that render as blanks (Hangul fillers, the blank Braille pattern) all show nothing. A reply
made of them is as empty as "".
"""

from __future__ import annotations

import re
import unicodedata

# Letters and symbols that show nothing (fillers used to fake a non-empty text).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_VISIBLE_ASCII = re.compile(r"[!-~]")


def visible(ch: str) -> bool:
    """Whether the character `ch` shows something: not a space or separator, not a control,
    format, surrogate, private-use or unassigned code point, not a filler."""
    return unicodedata.category(ch)[0] not in "ZC" and ch not in _BLANK_LETTERS


def blank(text: str) -> bool:
    """Whether `text` shows nothing at all."""
    if _VISIBLE_ASCII.search(text):
        return False
    return not any(visible(ch) for ch in text)
