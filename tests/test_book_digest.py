"""Digests of chapters as written: read from the text, or from a model's JSON (issue 13.2)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.book.digest import MAX_SUMMARY, MAX_TERMS, Digest, extract_digest, parse_digest, plain

BODY = """```{warning}
Placeholder.
```

(intro-sec)=
## Overview

A **tide pool** holds sea water at low tide. Its animals cope with heat and rain until the
sea comes back. The {term}`intertidal zone` is where they live.

$$
x = 1
$$

- a list item that is not prose
"""


def test_the_summary_is_the_first_prose_and_the_terms_are_marked() -> None:
    digest = extract_digest(BODY)
    assert digest.summary.startswith("A tide pool holds sea water at low tide.")
    assert "Placeholder" not in digest.summary and "x = 1" not in digest.summary
    assert digest.terms == ["intertidal zone", "tide pool"]


def test_a_models_digest_is_read_from_its_json() -> None:
    answer = 'Sure: {"summary": "It says **this** @bob.", "terms": ["a", "tide", "Tide"]}'
    assert parse_digest(answer) == Digest("It says this bob.", ["tide"])
    assert parse_digest("No JSON here.") is None
    assert parse_digest('{"terms": []}') is None


@given(st.text(max_size=2000))
def test_digests_are_plain_bounded_text(text: str) -> None:
    for digest in (
        extract_digest(text),
        parse_digest('{"summary": ' + repr(text)[1:-1].join('""') + "}"),
    ):
        if digest is None:
            continue
        assert len(digest.summary) <= MAX_SUMMARY and len(digest.terms) <= MAX_TERMS
        assert not re.search(r"[`{}@$\[\]\n]", digest.summary)
        assert plain(digest.summary) == digest.summary
