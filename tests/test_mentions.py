"""Echoed text never pings anyone: families of hostile and ordinary texts against
`neutralise_mentions`, checked with GitHub's own rule for what it links."""

from __future__ import annotations

import html
import re

from hypothesis import example, given
from hypothesis import strategies as st

from bot.mentions import WORD_JOINER, neutralise_mentions

# GitHub's mention filter (html-pipeline's MentionFilter and TeamMentionFilter) runs on the
# rendered page's text: an `@` after the start or a non-word character (Ruby's `\W`, ASCII),
# then a name starting with a letter or digit; `@org/team` starts the same way.
GITHUB_MENTION = re.compile(r"(?:^|(?<=[^A-Za-z0-9_]))@[A-Za-z0-9][A-Za-z0-9-]*(?:/[\w-]+)?")

PIECES = st.sampled_from(
    [
        "@",
        "@alice",
        "@octo-org/security",
        "&#64;",
        "&#x40;",
        "&#0064",
        "&commat;",
        "`",
        "```\n",
        "\\",
        "é",
        "_",
        ".",
        "/",
        "-",
        " ",
        "\n",
        "(",
        "a",
        "Z",
        "0",
        WORD_JOINER,
        "\u200b",
        "bob@example.com",
    ]
)
HOSTILE = st.lists(PIECES, max_size=40).map("".join)


def linked(text: str) -> list[str]:
    """What GitHub would link in `text` once rendered (entities decoded)."""
    return GITHUB_MENTION.findall(html.unescape(text))


@given(HOSTILE)
@example("Outline by @alice for `@octo-org/security` ```\n@bob\n```")
@example("- item\n  ```\n  code\n- @security")
@example("&#64;alice &#x40;bob&#0064carol &commat;dave")
def test_nothing_github_would_link_survives(text: str) -> None:
    out = neutralise_mentions(text)
    assert linked(out) == []
    assert neutralise_mentions(out) == out  # twice changes nothing more


@given(st.text(alphabet=st.characters(blacklist_characters="&" + WORD_JOINER)))
def test_only_an_invisible_joiner_is_added(text: str) -> None:
    out = neutralise_mentions(text)
    assert out.replace(WORD_JOINER, "") == text
    if "@" not in text:
        assert out == text


@given(
    st.from_regex(r"[a-z0-9._%+-]*[a-z0-9_]", fullmatch=True),
    st.from_regex(r"[a-z0-9-]+(\.[a-z]{2,6})+", fullmatch=True),
)
def test_email_addresses_are_left_alone(local: str, domain: str) -> None:
    text = f"Write to {local}@{domain} or see `code` for details."
    assert neutralise_mentions(text) == text


def test_code_keeps_its_look() -> None:
    code = "```python\n@property\ndef name(self): ...\n```"
    out = neutralise_mentions(code)
    assert out.replace(WORD_JOINER, "") == code and linked(out) == []
