"""The pages' pure parts: escaping, app.yml's reasons, the policy, the vendored stylesheet."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser

import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.app_permissions import Permission, app_request, parse_app_request, permission_reasons
from bot.pages import STATIC_DIR, Html, content_security_policy, fill, inline_code
from tests.servers import ROOT


class _Reader(HTMLParser):
    """The text and the tags of an HTML fragment, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def read(fragment: str) -> _Reader:
    reader = _Reader()
    reader.feed(fragment)
    reader.close()
    return reader


@given(st.text())
def test_fill_escapes_every_value_in_text_and_attributes(value: str) -> None:
    page = fill('<p title="$v">$v</p><a href="/x?q=$v">x</a>', v=value)
    reader = read(page)
    assert reader.tags == ["p", "a"]  # nothing the value says becomes a tag
    assert reader.text == value + "x"
    attributes = re.findall(r'"([^"]*)"', page)
    assert len(attributes) == 2  # a quote in the value cannot end an attribute early


@given(st.text())
def test_only_html_made_by_fill_goes_in_unescaped(value: str) -> None:
    inner = fill("<b>$v</b>", v=value)
    assert fill("<p>$x</p>", x=inner) == f"<p>{inner}</p>"
    assert read(fill("<p>$x</p>", x=str(inner))).tags == ["p"]  # a plain str is escaped


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="`")), min_size=1))
def test_backticked_spans_become_code_and_nothing_else(parts: list[str]) -> None:
    text = "`".join(parts)
    reader = read(inline_code(text))
    if len(parts) % 2:
        assert reader.tags == ["code"] * (len(parts) // 2)
        assert reader.text == "".join(parts)
    else:  # an unmatched backtick: the text as it is
        assert reader.tags == []


# Names YAML reads as names (not `no`, `on`, ... which YAML 1.1 reads as booleans).
_NAME = st.text("abcdefgnoyst_", min_size=2, max_size=14).filter(
    lambda name: name[0] != "_" and list(yaml.safe_load(f"{name}: 1")) == [name]
)
_WORD = st.text("abcXYZ019/().;`'-", min_size=1, max_size=10)
_WORDS = st.lists(_WORD, min_size=1, max_size=5)


@given(
    st.dictionaries(
        _NAME,
        st.tuples(st.sampled_from(["read", "write"]), st.lists(_WORDS, min_size=1, max_size=3)),
        max_size=6,
    )
)
def test_reasons_are_read_back_from_wrapped_comments(
    table: dict[str, tuple[str, list[list[str]]]],
) -> None:
    """app.yml's comment table, each reason wrapped over lines, reads back word for word."""
    lines = ["# Least privilege:"]
    for name, (level, wrapped) in table.items():
        head = f"#   {name}: {level}"
        head += " " * max(2, 24 - len(head))
        lines.append(head + " ".join(wrapped[0]))
        lines += ["#" + " " * 23 + " ".join(words) for words in wrapped[1:]]
    lines.append("name: X")
    lines.append("default_permissions:")
    lines += [f"  {name}: {level}" for name, (level, _) in table.items()]
    text = "\n".join(lines) + "\n"
    assert permission_reasons(text) == {
        name: (level, " ".join(" ".join(words) for words in wrapped))
        for name, (level, wrapped) in table.items()
    }
    request = parse_app_request(text)
    assert [p.name for p in request.permissions] == list(table)


def test_the_shipped_app_yml_gives_every_permission_a_reason() -> None:
    text = (ROOT / "app.yml").read_text()
    request = app_request()
    assert {p.name: p.level for p in request.permissions} == dict(
        yaml.safe_load(text)["default_permissions"]
    )
    assert all(len(p.reason) > 20 for p in request.permissions)
    assert request.events == tuple(yaml.safe_load(text)["default_events"])
    assert Permission("pull_requests", "write", "").title == "Pull requests"
    assert Permission("metadata", "read", "").access == "Read-only"


def test_policy_allows_this_server_and_the_form_target_only() -> None:
    policy = content_security_policy("https://github.example.org/settings/apps/new?state=x")
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["style-src"] == directives["img-src"] == "'self'"
    assert directives["form-action"] == "https://github.example.org"
    assert directives["frame-ancestors"] == directives["base-uri"] == "'none'"
    assert "'none'" in content_security_policy(None).split("form-action")[1]


def test_the_vendored_primer_is_the_one_its_note_describes() -> None:
    """The note beside the file gives its origin and digest: a hand edit would not match."""
    css = (STATIC_DIR / "primer" / "primer.css").read_bytes()
    note = (STATIC_DIR / "primer" / "README.md").read_text()
    version = re.search(r"@primer/css@([\d.]+)", note)
    assert version and f"Primer CSS {version.group(1)}".encode() in css[:200]
    assert hashlib.sha256(css).hexdigest() in note
    assert "MIT" in (STATIC_DIR / "primer" / "LICENSE").read_text()
    assert not re.search(rb"url\(\s*(?!['\"]?data:)", css)  # nothing to fetch from elsewhere
    assert isinstance(fill("$x", x=Html("<b>")), Html)
