"""Small real images for the image stand-ins to return."""

from __future__ import annotations

import struct
import zlib

from standins.providers.mp4 import h264_mp4


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


# A real MP4 (H.264, two seconds of 32×32 frames; `standins.providers.mp4`), a few KB.
TINY_MP4 = h264_mp4()
