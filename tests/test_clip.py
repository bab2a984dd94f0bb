"""bot/book/clip.py: an MP4 checked from its own boxes; a chapter's figure labels; the start
figure read from the book; and the stand-ins' MP4 (standins/providers/mp4.py) played by a
real browser."""

from __future__ import annotations

import functools
import http.server
import struct
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.book.clip import MAX_BYTES, ClipError, check_mp4, figure_labels
from bot.jobs.video import clip_estimate, start_figure
from standins.providers.mp4 import box, full_box, h264_mp4
from tests.chromium import Chromium, executable

FTYP = box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2")


def mvhd(version: int, timescale: int, duration: int) -> bytes:
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        times = struct.pack(">IIII", 0, 0, timescale, duration)
    return full_box(b"mvhd", version, 0, times, bytes(80))


def movie(header: bytes, *, track: bool = True, data: bool = True) -> bytes:
    moov = box(b"moov", header, *([box(b"trak")] if track else []))
    return FTYP + moov + (box(b"mdat", b"\x00" * 16) if data else b"")


def test_the_stand_in_clip_is_read_from_its_boxes() -> None:
    clip = h264_mp4(seconds=3, width=48, height=32, fps=4)
    info = check_mp4(clip)
    assert (info.seconds, info.size, info.brand) == (3.0, len(clip), "isom")


def test_version_1_headers_and_64_bit_and_open_ended_boxes_are_read() -> None:
    assert check_mp4(movie(mvhd(1, 90000, 90000 * 12))).seconds == 12.0
    # A box with a 64-bit size (size field 1), and `mdat` running to the end (size 0).
    large = struct.pack(">I4sQ", 1, b"free", 16 + 4) + b"abcd"
    open_ended = struct.pack(">I4s", 0, b"mdat") + b"\x01" * 40
    data = FTYP + box(b"moov", mvhd(0, 1000, 4000), box(b"trak")) + large + open_ended
    assert check_mp4(data).seconds == 4.0


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "not an MP4 file"),
        (b"<html>surely a video</html>", "not an MP4 file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "not an MP4 file"),
        (h264_mp4()[:-10], "not a whole MP4 file"),
        (FTYP + struct.pack(">I4s", 3, b"moov"), "does not fit"),
        (FTYP + box(b"mdat", b"x"), "no movie header (`moov`)"),
        (movie(mvhd(0, 1000, 1000), data=False), "no media data"),
        (FTYP + box(b"moov", box(b"trak")) + box(b"mdat"), "no movie header (`mvhd`)"),
        (movie(mvhd(0, 1000, 1000), track=False), "no track"),
        (movie(mvhd(0, 0, 1000)), "no timescale"),
        (movie(mvhd(0, 1000, 0)), "length is 0 seconds"),
        (movie(mvhd(0, 1000, 0xFFFFFFFF)), "does not say how long"),
        (movie(mvhd(3, 1000, 1000)), "unknown version 3"),
        (movie(full_box(b"mvhd", 0, 0, bytes(6))), "cut short"),
        (h264_mp4(seconds=2, movie_seconds=15.5), "15.5 s long, more than the 15 s"),
        (movie(mvhd(1, 1, 3600)), "3600.0 s long"),
    ],
)
def test_what_is_no_usable_clip_says_why(data: bytes, said: str) -> None:
    with pytest.raises(ClipError) as raised:
        check_mp4(data)
    assert said in str(raised.value)


def test_the_limits_are_inclusive_and_size_is_checked_before_parsing() -> None:
    assert check_mp4(h264_mp4(seconds=2, movie_seconds=15)).seconds == 15.0
    clip = h264_mp4()
    exactly = clip + struct.pack(">I", MAX_BYTES - len(clip)) + b"free"
    exactly += bytes(MAX_BYTES - len(exactly))
    assert check_mp4(exactly).size == MAX_BYTES
    with pytest.raises(ClipError, match=r"10\.0 MB, more than the 10 MB"):
        check_mp4(exactly + b"\x00")
    # Not even looked at as an MP4 when too large: the size is what is wrong.
    with pytest.raises(ClipError, match="more than the 10 MB"):
        check_mp4(b"x" * (MAX_BYTES + 1))


def test_figure_labels_name_each_figure_of_the_chapter() -> None:
    body = (
        "# Tides\n\n:::{figure} ../images/ch/shore.webp\n:label: fig-shore\n:alt: A shore.\n\n"
        "Caption.\n:::\n\n::::{figure} /images/map.png\n:alt: A map.\n:width: 50%\n"
        ":label: fig-map\n\nThe map.\n::::\n\n:::{note}\n:label: not-a-figure\n:::\n\n"
        ":::{figure} ../images/ch/unlabelled.webp\n:alt: no label\n\nNone.\n:::\n"
    )
    assert figure_labels(body) == {
        "fig-shore": "../images/ch/shore.webp",
        "fig-map": "/images/map.png",
    }


def test_a_start_figure_is_read_only_from_inside_the_book(tmp_path: Path) -> None:
    book = tmp_path / "book"
    (book / "images" / "ch").mkdir(parents=True)
    (book / "chapters").mkdir()
    (book / "images" / "ch" / "shore.webp").write_bytes(b"RIFF....WEBP")
    (tmp_path / "secret.png").write_bytes(b"secret")
    (book / "images" / "ch" / "link.png").symlink_to(tmp_path / "secret.png")
    chapter = "chapters/01-tides.md"
    assert start_figure(book, chapter, "../images/ch/shore.webp") == b"RIFF....WEBP"
    assert start_figure(book, chapter, "/images/ch/shore.webp") == b"RIFF....WEBP"
    for target, said in [
        ("../../secret.png", "outside the book"),
        ("../images/ch/link.png", "is not in the book"),
        ("../images/ch/missing.webp", "is not in the book"),
        ("https://example.org/a.png", "on the web"),
        ("../.git/config", "outside the book"),
    ]:
        with pytest.raises(ValueError, match=said):
            start_figure(book, chapter, target)


def test_the_worst_case_counts_the_clips_seconds_and_a_drawn_start_image() -> None:
    # gen4_turbo: $0.05 a second asked for; a model missing from the table: Runway's
    # ceiling of $0.50 a second.
    assert clip_estimate("runway:gen4_turbo", 10, None) == Decimal("0.5")
    assert clip_estimate("runway:gen9_unknown", 10, None) == Decimal("5")
    with_image = clip_estimate("runway:gen4_turbo", 5, "stability:core")
    assert with_image > clip_estimate("runway:gen4_turbo", 5, None)


@pytest.mark.skipif(executable() is None, reason="needs Debian's chromium")
def test_a_browser_plays_the_stand_ins_mp4(tmp_path: Path) -> None:
    """The MP4 the stand-ins serve is a real video: Chromium decodes its frames, and its
    length and size are those its boxes state."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "clip.mp4").write_bytes(h264_mp4(seconds=3, width=64, height=48, fps=4))
    (site / "index.html").write_text('<video id="v" src="clip.mp4" muted></video>')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Chromium(tmp_path / "chromium") as browser:
            browser.open(f"http://127.0.0.1:{server.server_port}/index.html")
            state = None
            for _ in range(200):
                state = browser.evaluate(
                    "(() => { const v = document.getElementById('v'); return {ready: "
                    "v.readyState, duration: v.duration, width: v.videoWidth, height: "
                    "v.videoHeight, error: v.error && v.error.code}; })()"
                )
                if state["ready"] >= 2 or state["error"]:
                    break
                time.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()
    assert state == {"ready": 4, "duration": 3, "width": 64, "height": 48, "error": None}


# What a video model sends is untrusted bytes: any file, a real clip with bytes overwritten or
# cut, gets a `ClipInfo` or a `ClipError` with a sentence, never another exception.
def _mutated(data: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    out = bytearray(data)
    for at, value in edits:
        out[at % len(out)] = value
    return bytes(out[: max(0, len(out) - cut)])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=4096),
        st.builds(
            _mutated,
            st.just(h264_mp4(seconds=2)),
            st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
            st.integers(0, 64),
        ),
    )
)
def test_any_bytes_are_a_clip_or_a_sentence(data: bytes) -> None:
    try:
        info = check_mp4(data)
    except ClipError as exc:
        assert str(exc).strip()
        return
    assert 0 < info.seconds <= 15 and info.size == len(data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_figure_labels_of_any_text_are_strings(body: str) -> None:
    for label, path in figure_labels(body).items():
        assert isinstance(label, str) and isinstance(path, str)
