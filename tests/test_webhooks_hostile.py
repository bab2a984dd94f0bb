"""Hostile intake: bodies nested beyond reason, and senders that trickle their requests in.

The nesting measure is tried against a reference on generated JSON (strings full of
brackets, quotes, backslashes and `\\uXXXX` escapes); the server, run as a child process
with a one-second read deadline, is sent deep bodies (JSON and form-encoded) and slow
requests over real sockets, and keeps answering normal deliveries meanwhile.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.webhooks import MAX_NESTING, BadPayload, container_depth, decode_payload, nesting_depth
from tests.servers import AppProcess, post_webhook, sign

SECRET = "hostile-intake-secret"
READ_TIMEOUT = 1.0
FORM = "application/x-www-form-urlencoded"

# Text that looks like structure: brackets, quotes, escapes, and non-ASCII (which
# `ensure_ascii` turns into `\uXXXX` escapes, surrogate pairs included).
tricky_text = st.lists(
    st.sampled_from([*'[]{}"\\/:,', "\\u005b", "\\", "é", "\u2028", "😀", "a", " "]),
    max_size=30,
).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | tricky_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4)
    ),
    max_leaves=40,
)


def depth_of(value: Any) -> int:
    """The reference: how deeply arrays and objects nest, by walking the value."""
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


def nested(depth: int, text: str = "[{]") -> str:
    """A JSON object nesting `depth` levels (arrays and objects in turn); the strings on
    the way, `text`, carry brackets that must not count."""
    opening, closing = [], []
    for level in range(depth - 1):
        if level % 2:
            opening.append(f'{{"s": "{text}", "k": ')
            closing.append("}")
        else:
            opening.append(f'["{text}", ')
            closing.append("]")
    return '{"a": ' + "".join(opening) + '"x"' + "".join(reversed(closing)) + "}"


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_nesting_depth_matches_the_structure(value: Any, ensure_ascii: bool) -> None:
    document = json.dumps(value, ensure_ascii=ensure_ascii).encode()
    assert nesting_depth(document) == depth_of(value)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_the_fast_decoder_agrees_with_the_standard_one(value: Any, ensure_ascii: bool) -> None:
    """orjson's path (what GitHub sends) accepts and decodes what the standard decoder does,
    and counts the same depth as the raw-bytes measure."""
    assert container_depth(value) == depth_of(value)
    document = json.dumps({"v": value}, ensure_ascii=ensure_ascii).encode()
    if depth_of(value) + 1 > MAX_NESTING:
        with pytest.raises(BadPayload, match=f"nested {depth_of(value) + 1} levels deep"):
            decode_payload(document, "application/json")
    else:
        assert decode_payload(document, "application/json") == json.loads(document)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(min_value=1, max_value=3000),
    tricky_text.map(lambda t: json.dumps(t)[1:-1]),
    st.sampled_from(["json", "form", "form, lower-case escapes"]),
)
def test_decoding_refuses_only_what_nests_too_deeply(depth: int, text: str, kind: str) -> None:
    arrays = "[" * (depth - 1) + "]" * (depth - 1)
    document = f'{{"s": "{text}", "a": {arrays}}}' if depth > 1 else f'{{"s": "{text}"}}'
    body = document.encode()
    content_type = "application/json"
    if kind.startswith("form"):
        content_type = FORM
        body = urlencode({"payload": document}).encode()
        if "lower-case" in kind:
            body = re.sub(rb"%[0-9A-F]{2}", lambda m: m.group().lower(), body)
    if depth > MAX_NESTING:
        with pytest.raises(BadPayload, match=f"nested {depth} levels deep"):
            decode_payload(body, content_type)
    else:
        assert decode_payload(body, content_type)["s"] == json.loads(f'"{text}"')


def test_the_representative_bodies_nest_as_intended() -> None:
    for depth in (1, 2, 3, 64, 65, 300):
        assert depth_of(json.loads(nested(depth))) == depth


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, redis_server_url: str, redis_test_db: int
) -> Iterator[AppProcess]:
    """One server for the module, intake only, with a one-second read deadline."""
    tmp = tmp_path_factory.mktemp("hostile")
    env = {
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "REDIS_URL": f"{redis_server_url}/{redis_test_db}",
        "DATABASE_URL": f"sqlite:///{tmp / 'app.db'}",
        "LIQUIDBOOK_READ_TIMEOUT": str(READ_TIMEOUT),
    }
    with AppProcess(tmp, env, ("serve", "--no-worker")) as process:
        yield process


def post_form(client: httpx.Client, url: str, document: str) -> httpx.Response:
    body = urlencode({"payload": document}).encode()
    headers = {
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(SECRET, body),
        "Content-Type": FORM,
    }
    return client.post(url + "/api/github/webhooks", content=body, headers=headers)


@pytest.mark.parametrize("depth", [65, 1_000, 50_000])
@pytest.mark.parametrize("text", ["[{]", "\\u005b\\u007b", '\\"[[', "é😀]]"])
def test_deep_signed_bodies_get_400_never_5xx(app: AppProcess, depth: int, text: str) -> None:
    document = nested(depth, text=text)
    with httpx.Client(timeout=30) as client:
        answers = [
            post_webhook(client, app.url, SECRET, "issues", document.encode()),
            post_form(client, app.url, document),
        ]
    for response in answers:
        assert response.status_code == 400, response.text
        assert response.json()["message"] == (
            f"payload nested {depth} levels deep; at most {MAX_NESTING} are accepted"
        )


def test_bodies_as_deep_as_allowed_are_handled(app: AppProcess) -> None:
    with httpx.Client(timeout=30) as client:
        for document in (nested(MAX_NESTING), nested(MAX_NESTING, text="]]]]")):
            assert post_webhook(client, app.url, SECRET, "issues", document.encode()).json() == {
                "message": "ignored"
            }
            assert post_form(client, app.url, document).json() == {"message": "ignored"}
    assert "Traceback" not in app.log()


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _trickle(sock: socket.socket, data: bytes, every: float) -> bytes:
    """Send `data` a byte at a time; return what the server answered once it stopped us."""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(every)
        # The server answered (or closed): stop sending, read what it said.
        sock.setblocking(False)
        try:
            peeked = sock.recv(65536, socket.MSG_PEEK)
        except BlockingIOError:
            peeked = None
        except ConnectionResetError:
            return b""
        finally:
            sock.settimeout(30)
        if peeked is not None:
            break
    else:
        pytest.fail("the server let the whole request trickle in")
    try:
        return _read_until_closed(sock)
    except ConnectionResetError:
        return b""


def test_a_body_trickling_in_is_cut_off_while_deliveries_go_on(app: AppProcess) -> None:
    body = json.dumps({"zen": "x" * 200}).encode()
    head = (
        "POST /api/github/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nX-GitHub-Event: ping\r\n"
        f"X-GitHub-Delivery: {uuid.uuid4()}\r\nX-Hub-Signature-256: {sign(SECRET, body)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    slow = [socket.create_connection(("127.0.0.1", app.port), timeout=30) for _ in range(5)]
    for sock in slow:
        sock.sendall(head)
    with httpx.Client(timeout=10) as client:
        # The slow senders hold their connections; deliveries are answered meanwhile.
        for _ in range(3):
            assert post_webhook(client, app.url, SECRET, "ping", {"zen": "y"}).status_code == 200
        # At 0.2 s a byte the body would take 44 s: the server stops it after its deadline.
        answers = [_trickle(sock, body, every=0.2) for sock in slow[:1]]
        answers += [_read_until_closed(sock) for sock in slow[1:]]
        assert post_webhook(client, app.url, SECRET, "ping", {"zen": "z"}).status_code == 200
    for sock in slow:
        sock.close()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"body not received within 1 s" in answer


def test_headers_trickling_in_or_never_sent_are_cut_off(app: AppProcess) -> None:
    head = (
        "POST /api/github/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "".join(f"X-Padding-{i}: {'p' * 20}\r\n" for i in range(10))
        + "\r\n"
    ).encode()
    silent = socket.create_connection(("127.0.0.1", app.port), timeout=30)
    trickling = socket.create_connection(("127.0.0.1", app.port), timeout=30)
    try:
        answer = _trickle(trickling, head, every=0.2)  # ~50 s if let through
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert _read_until_closed(silent).startswith(b"HTTP/1.1 408 ")
    finally:
        silent.close()
        trickling.close()
    with httpx.Client(timeout=10) as client:
        assert post_webhook(client, app.url, SECRET, "ping", {"zen": "z"}).status_code == 200
