"""Text the app echoes onto GitHub (a model's titles and summaries, a quoted comment, an error
message) must never notify anyone: `@user` and `@org/team` mentions in it are neutralised.

GitHub links a mention after rendering the Markdown, on the page's text: an `@` that follows
the start of the text or any character other than an ASCII letter, digit or underscore, and
is followed by a letter or digit (`@alice`, `@octo-org/security`, also after `é`, `(` or a
zero-width character). A backslash (`\\@alice`, what the chapter clean-up writes for MyST) is
gone by then, so it does not stop GitHub; a WORD JOINER (U+2060, invisible, no line break)
between the `@` and the name does, and the text reads the same. `&#64;` and its other entity
forms turn into an `@` when rendered, so they are written as `@` first and treated alike.

Every such `@` is neutralised, in code spans too: whether GitHub sees code there depends on
Markdown's container rules (a fence inside a list item ends with the item; a code span may
run over lines), and a mistake would ping people. Text inside code keeps its look; only a
copy of it carries the invisible joiner. E-mail addresses (`bob@example.com`) are left as
they are, since a letter before the `@` means no mention.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"

# An `@` in any form a browser shows as one: literal, decimal or hex entity, `&commat;`.
# (An HTML parser takes a numeric reference without its `;` too.)
_AT_ENTITY = re.compile(r"&(?:#0*64(?![0-9])|#[xX]0*40(?![0-9A-Fa-f])|commat(?=;));?")
# An `@` GitHub could read as the start of a mention: no ASCII word character before it,
# an ASCII letter or digit after it.
_MENTION_AT = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")


def neutralise_mentions(text: str) -> str:
    """`text` with every `@name` / `@org/team` GitHub would link made inert (an invisible
    word joiner after the `@`); the text reads the same, e-mail addresses are untouched.
    Applying it twice changes nothing more."""
    if "@" not in text and "&" not in text:
        return text
    text = _AT_ENTITY.sub("@", text)
    return _MENTION_AT.sub("@" + WORD_JOINER, text)
