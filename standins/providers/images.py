"""Small real images for the image stand-ins to return."""

from __future__ import annotations

import struct
import zlib


def tiny_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 60, 30)) -> bytes:
    """A valid PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


# An MP4 needs a real encoder; a stand-in video is the bytes of a minimal `ftyp` box, which
# is enough for a client that only stores what it downloads.
TINY_MP4 = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
