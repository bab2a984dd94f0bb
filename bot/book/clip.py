"""A chapter's clip: the video provider's MP4 checked from its own bytes, and the figure
that plays it.

What a video provider sends is untrusted: `check_mp4` reads the ISO BMFF boxes themselves
(never the provider's word or the HTTP content type). The file must start with `ftyp`, hold
a `moov` with an `mvhd` and a `trak`, and media data (`mdat`); every top-level box must fit
the file. The length is the `mvhd` duration over its timescale. A clip over `MAX_BYTES` or
`MAX_SECONDS` is refused, as is one with no length at all.

`figure_labels` lists the `{figure}` directives of a chapter (label → image path), so
`--from <label>` can name the start image of a clip.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

MAX_BYTES = 10 * 1024 * 1024
MAX_SECONDS = 15.0
_BRANDS = re.compile(rb"^[\x20-\x7e]{4}$")


class ClipError(ValueError):
    """Bytes that cannot become a clip; the message is a sentence for the status comment."""


@dataclass(frozen=True)
class ClipInfo:
    seconds: float
    size: int
    brand: str


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box in data[start:end]; ClipError when a box
    does not fit."""
    found = []
    at = start
    while at < end:
        if end - at < 8:
            raise ClipError("the MP4 ends in the middle of a box")
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if end - at < 16:
                raise ClipError("the MP4 ends in the middle of a box")
            (size,) = struct.unpack_from(">Q", data, at + 8)
            header = 16
        elif size == 0:
            size = end - at  # the box runs to the end of the file
        if size < header or at + size > end:
            raise ClipError(f"the MP4's `{kind.decode('latin-1')}` box does not fit the file")
        found.append((kind, at + header, at + size))
        at += size
    return found


def _duration(data: bytes, start: int, end: int) -> float:
    """Seconds from an `mvhd` payload (version 0 or 1)."""
    if end - start < 4:
        raise ClipError("the MP4's movie header is cut short")
    version = data[start]
    if version == 1:
        if end - start < 4 + 28:
            raise ClipError("the MP4's movie header is cut short")
        timescale, duration = struct.unpack_from(">IQ", data, start + 4 + 16)
    elif version == 0:
        if end - start < 4 + 16:
            raise ClipError("the MP4's movie header is cut short")
        timescale, duration = struct.unpack_from(">II", data, start + 4 + 8)
    else:
        raise ClipError(f"the MP4's movie header has an unknown version {version}")
    if timescale == 0:
        raise ClipError("the MP4's movie header has no timescale")
    if (version == 0 and duration == 0xFFFFFFFF) or (version == 1 and duration == 2**64 - 1):
        raise ClipError("the MP4 does not say how long it is")
    return duration / timescale


def check_mp4(data: bytes) -> ClipInfo:
    """The clip's length, size and brand, or `ClipError` saying why it cannot be used."""
    if len(data) > MAX_BYTES:
        raise ClipError(
            f"the clip is {len(data) / 2**20:.1f} MB, more than the "
            f"{MAX_BYTES // 2**20} MB a clip may have"
        )
    if len(data) < 8 or data[4:8] != b"ftyp":
        raise ClipError("what the video model sent is not an MP4 file")
    try:
        top = _boxes(data, 0, len(data))
    except ClipError as exc:
        raise ClipError(f"what the video model sent is not a whole MP4 file ({exc})") from None
    kinds = [kind for kind, _, _ in top]
    _, brand_at, _ = top[0]
    brand = data[brand_at : brand_at + 4]
    if not _BRANDS.match(brand):
        raise ClipError("what the video model sent is not an MP4 file")
    if b"moov" not in kinds:
        raise ClipError("the MP4 has no movie header (`moov`), so it cannot be played")
    if b"mdat" not in kinds:
        raise ClipError("the MP4 has no media data (`mdat`)")
    [(_, moov_start, moov_end)] = [box for box in top if box[0] == b"moov"][:1]
    inner = _boxes(data, moov_start, moov_end)
    headers = [box for box in inner if box[0] == b"mvhd"]
    if not headers:
        raise ClipError("the MP4 has no movie header (`mvhd`)")
    if not any(box[0] == b"trak" for box in inner):
        raise ClipError("the MP4 has no track")
    seconds = _duration(data, headers[0][1], headers[0][2])
    if seconds <= 0:
        raise ClipError("the MP4 is empty (its length is 0 seconds)")
    if seconds > MAX_SECONDS:
        raise ClipError(
            f"the clip is {seconds:.1f} s long, more than the {MAX_SECONDS:.0f} s a clip may have"
        )
    return ClipInfo(seconds, len(data), brand.decode("ascii"))


_FIGURE = re.compile(
    r"^:::+\{figure\}[ \t]+(\S+)[ \t]*\n(?::[\w-]+:.*\n)*?:label:[ \t]*(\S+)", re.M
)


def figure_labels(body: str) -> dict[str, str]:
    """The chapter's figures: label → the image path as the directive names it."""
    return {m.group(2): m.group(1) for m in _FIGURE.finditer(body)}
