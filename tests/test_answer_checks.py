"""The pure checks of a model's answer, against families of hostile texts: length within the
request's cap, something to show, valid Unicode, a chapter body below the front matter, and
the stream reader's line framing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.book.chapters import body_of, has_body
from bot.providers.answers import (
    Bound,
    event_limit,
    json_limit,
    output_limit,
    past_the_cap,
    text_limit,
    well_formed,
)
from bot.providers.tokens import TokenTally, estimate_tokens
from bot.providers.types import Completion
from bot.providers.wire import Overflow, sse_events
from bot.visible import blank, visible

# Characters that show nothing: spaces of every kind, controls, format characters (zero
# width space, BOM, word joiner...), fillers.
INVISIBLE = " \t\n\r\x0b\x0c\x00\x1b\xa0\u1680\u2000\u2003\u200a\u2028\u2029\u202f\u205f\u3000"
INVISIBLE += "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u115f\u1160\u3164\uffa0\u2800\ue000"
invisible_text = st.text(alphabet=INVISIBLE, max_size=200)
# Any code point, lone surrogates included.
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)
front_matter = st.builds(
    lambda keys, end: "---\n" + "".join(f"{k}: {k}\n" for k in keys) + end + "\n",
    st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), max_size=4),
    st.sampled_from(["---", "...", "---  "]),
)
comments = st.sampled_from(["", "% liquidbook: stub\n", "<!-- nothing -->\n", "%\n"])


# -- length within the cap ----------------------------------------------------------------


@given(st.integers(min_value=0, max_value=1_000_000))
def test_the_limits_grow_with_the_cap_and_leave_room(max_tokens: int) -> None:
    assert max_tokens < output_limit(max_tokens) <= max_tokens * 1.05 + 32
    assert 2 * max_tokens <= text_limit(max_tokens) < json_limit(max_tokens)
    assert event_limit(max_tokens) > text_limit(max_tokens)


@given(st.integers(min_value=1, max_value=64_000), st.sampled_from(["en", "code", "zh"]))
def test_an_honest_answer_at_its_cap_is_within_it(max_tokens: int, kind: str) -> None:
    """A reply that fills its cap with prose (4 characters a token), indented code (5) or
    Chinese (a character a token) is never taken for a runaway."""
    piece = {"en": "word ", "code": "    x = 1\n", "zh": "贝叶斯"}[kind]
    per_token = {"en": 4, "code": 5, "zh": 1}[kind]
    text = (piece * (max_tokens * per_token // len(piece) + 1))[: max_tokens * per_token]
    reply = Completion(text, "length", True, tokens_out=max_tokens)
    assert past_the_cap(reply, max_tokens) is None


@given(st.integers(min_value=1, max_value=20_000), st.integers(min_value=1, max_value=10**7))
def test_reported_output_past_the_cap_is_a_runaway(max_tokens: int, extra: int) -> None:
    reported = output_limit(max_tokens) + extra
    why = past_the_cap(Completion("ok", "stop", False, tokens_out=reported), max_tokens)
    assert why is not None and f"{reported:,} output tokens" in why
    # An estimate of a short text is not a report: only the text's length counts then.
    estimated = Completion("ok", "stop", False, tokens_out=reported, usage_estimated=True)
    assert past_the_cap(estimated, max_tokens) is None


@settings(max_examples=20)
@given(st.integers(min_value=1, max_value=16_000), st.sampled_from(["a", "é", "字", " "]))
def test_huge_texts_are_past_the_cap_whatever_they_are_made_of(max_tokens: int, ch: str) -> None:
    huge = ch * (3 * text_limit(max_tokens) + 1)
    assert past_the_cap(Completion(huge, "stop", False), max_tokens) is not None


def test_a_ten_megabyte_answer_on_a_16000_token_request_is_past_the_cap() -> None:
    huge = "All work and no play. " * 500_000
    why = past_the_cap(Completion(huge, "stop", False, tokens_out=2_500_000), 16_000)
    assert why is not None and "2,500,000 output tokens" in why


@given(any_text, st.lists(st.integers(min_value=0, max_value=300), max_size=10))
def test_a_tally_of_pieces_counts_what_the_whole_counts(text: str, cuts: list[int]) -> None:
    """However a stream splits the text, it is counted as the whole would be."""
    tally = TokenTally()
    points = sorted({0, len(text), *(min(c, len(text)) for c in cuts)})
    for start, end in itertools.pairwise(points):
        tally.add(text[start:end])
    assert tally.tokens == estimate_tokens(text)


@given(st.integers(min_value=1, max_value=2000), st.integers(min_value=1, max_value=500))
def test_a_bound_stops_right_after_the_limit(max_tokens: int, piece_size: int) -> None:
    bound = Bound(max_tokens)
    piece = "x" * piece_size
    added = 0
    while not bound.add(piece):
        added += piece_size
        assert added <= 3 * bound.limit  # never reads on past the limit
    assert bound.tokens > bound.limit
    assert bound.tokens <= bound.limit + -(-piece_size // 3)


def test_a_bound_counts_events_too() -> None:
    bound = Bound(10)
    assert not any(bound.event() for _ in range(bound.max_events))
    assert bound.event()


# -- valid Unicode --------------------------------------------------------------------------


@given(any_text)
def test_what_well_formed_keeps_can_always_be_written(text: str) -> None:
    fixed = well_formed(text)
    if fixed is not None:
        fixed.encode("utf-8")
    else:
        # Only a lone surrogate makes a text unusable.
        assert any("\ud800" <= ch <= "\udfff" for ch in text)


@given(st.text(max_size=100))
def test_text_without_surrogates_is_kept_as_it_is(text: str) -> None:
    assert well_formed(text) == text


@given(st.text(max_size=50), st.characters(min_codepoint=0x10000), st.text(max_size=50))
def test_a_surrogate_pair_split_by_a_stream_is_joined(before: str, ch: str, after: str) -> None:
    pair = ch.encode("utf-16-le").decode("utf-16-le", "surrogatepass")
    high_low = "".join(chr(int.from_bytes(ch.encode("utf-16-be")[i : i + 2])) for i in (0, 2))
    assert pair == ch  # Python joins a pair it decodes...
    assert well_formed(before + high_low + after) == before + ch + after  # ...and so do we


@given(
    st.text(max_size=50),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.text(alphabet=st.characters(max_codepoint=0xD7FF), max_size=50),
)
def test_a_lone_surrogate_is_refused(before: str, lone: str, after: str) -> None:
    """`before` and `after` hold no surrogates (hypothesis' default alphabet, and below
    U+D800), so `lone` has no partner on either side."""
    assert well_formed(before + lone + after) is None


# -- something to show ----------------------------------------------------------------------


@given(invisible_text)
def test_invisible_text_is_blank(text: str) -> None:
    assert blank(text)


@given(invisible_text, st.characters(), invisible_text)
def test_one_visible_character_is_enough(before: str, ch: str, after: str) -> None:
    assert blank(before + ch + after) is not visible(ch)


def test_blank_handles_a_huge_text() -> None:
    assert blank(" \n\u200b" * 1_000_000)
    assert not blank(" " * 1_000_000 + "a")


# -- a chapter body -----------------------------------------------------------------------


@given(st.lists(st.tuples(invisible_text, front_matter), max_size=3), comments, invisible_text)
def test_front_matter_comments_and_blanks_are_no_body(
    blocks: list[tuple[str, str]], comment: str, tail: str
) -> None:
    text = "".join(space.replace("-", "") + block for space, block in blocks) + comment + tail
    assert not has_body(text), repr(text)
    assert not has_body(text.replace("\n", "\r\n"))


@given(
    st.lists(front_matter, max_size=3),
    st.from_regex(r"[A-Za-z#][ -$&-;=-~é字]{0,40}", fullmatch=True),
)
def test_any_text_below_the_front_matter_is_a_body(blocks: list[str], line: str) -> None:
    assert has_body("".join(blocks) + "\n" + line + "\n")
    assert line.strip() in body_of("".join(blocks) + line)


def test_unclosed_front_matter_is_text() -> None:
    assert has_body("---\ntitle: Only a title\n")


# -- the stream reader's lines ------------------------------------------------------------


def _response(chunks: list[bytes]) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return httpx.Response(200, content=body())


async def _events(chunks: list[bytes], bound: Bound | None = None) -> list[tuple[str | None, str]]:
    return [pair async for pair in sse_events(_response(chunks), bound)]


@given(
    st.lists(st.text(alphabet="ab: é", max_size=20), min_size=1, max_size=8),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.lists(st.integers(min_value=1, max_value=30), max_size=10),
)
def test_events_are_the_same_however_the_stream_is_cut(
    datas: list[str], eol: str, cuts: list[int]
) -> None:
    text = "".join(f"data: {d}{eol}{eol}" for d in datas)
    raw = text.encode()
    points = sorted({0, len(raw), *(min(c * 7 % (len(raw) + 1), len(raw)) for c in cuts)})
    chunks = [raw[a:b] for a, b in itertools.pairwise(points)]
    # An empty `data:` still makes an event.
    assert asyncio.run(_events(chunks)) == [(None, d) for d in datas]


def test_one_endless_line_is_cut_off_where_a_reply_could_not_go() -> None:
    bound = Bound(100)
    line = b"data: " + b"x" * 65_536
    chunks = [line] * (bound.line_chars // 65_536 + 5)

    async def read() -> Overflow:
        try:
            await _events(chunks, bound)
        except Overflow as exc:
            return exc
        raise AssertionError("the line was read to its end")

    exc = asyncio.run(read())
    assert bound.line_chars < exc.chars <= bound.line_chars + 65_542


def test_endless_keep_alive_comments_are_cut_off() -> None:
    bound = Bound(10)
    chunks = [b": keep-alive\n\n"] * (bound.max_events + 10)
    try:
        asyncio.run(_events(chunks, bound))
    except Overflow as exc:
        assert "stream lines" in exc.why
    else:
        raise AssertionError("the comments were read to their end")
