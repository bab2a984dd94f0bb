"""Real, small MP4 files for the video stand-ins, written here without an encoder.

The video track is H.264 (Constrained Baseline) whose macroblocks are all `I_PCM`: the
samples are stored raw, so no transform or entropy coding is needed, and every frame is an
IDR picture. The container is ISO BMFF with `ftyp`, then `moov` (`mvhd`, one `trak` with
`tkhd`, `mdhd`, `hdlr`, `vmhd`, `dref`, `stsd`/`avc1`/`avcC`, `stts`, `stsc`, `stsz`,
`stco`), then `mdat`: a file any decoder plays, a few kilobytes for a tiny frame.
"""

from __future__ import annotations

import struct

MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


class _Bits:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, value: int) -> None:
        self.bits += [(value >> (n - 1 - i)) & 1 for i in range(n)]

    def ue(self, value: int) -> None:
        code = value + 1
        length = code.bit_length()
        self.u(length - 1, 0)
        self.u(length, code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align_zero(self) -> None:
        while len(self.bits) % 8:
            self.bits.append(0)

    def raw(self, data: bytes) -> None:
        for byte in data:
            self.u(8, byte)

    def trailing(self) -> bytes:
        self.bits.append(1)
        self.align_zero()
        return bytes(
            int("".join(map(str, self.bits[i : i + 8])), 2) for i in range(0, len(self.bits), 8)
        )


def _nal(kind: int, rbsp: bytes) -> bytes:
    """A NAL unit (nal_ref_idc 3) with emulation prevention bytes."""
    out = bytearray([0x60 | kind])
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _sps(mbs_wide: int, mbs_high: int) -> bytes:
    b = _Bits()
    b.u(8, 66)  # profile_idc: Baseline
    b.u(8, 0xC0)  # constraint_set0 and 1: Constrained Baseline
    b.u(8, 30)  # level 3.0
    b.ue(0)  # seq_parameter_set_id
    b.ue(0)  # log2_max_frame_num_minus4
    b.ue(2)  # pic_order_cnt_type 2: output order is decoding order
    b.ue(0)  # max_num_ref_frames
    b.u(1, 0)  # gaps_in_frame_num_value_allowed_flag
    b.ue(mbs_wide - 1)
    b.ue(mbs_high - 1)
    b.u(1, 1)  # frame_mbs_only_flag
    b.u(1, 1)  # direct_8x8_inference_flag
    b.u(1, 0)  # frame_cropping_flag
    b.u(1, 0)  # vui_parameters_present_flag
    return _nal(7, b.trailing())


def _pps() -> bytes:
    b = _Bits()
    b.ue(0)  # pic_parameter_set_id
    b.ue(0)  # seq_parameter_set_id
    b.u(1, 0)  # entropy_coding_mode_flag: CAVLC
    b.u(1, 0)  # bottom_field_pic_order_in_frame_present_flag
    b.ue(0)  # num_slice_groups_minus1
    b.ue(0)  # num_ref_idx_l0_default_active_minus1
    b.ue(0)  # num_ref_idx_l1_default_active_minus1
    b.u(1, 0)  # weighted_pred_flag
    b.u(2, 0)  # weighted_bipred_idc
    b.se(0)  # pic_init_qp_minus26
    b.se(0)  # pic_init_qs_minus26
    b.se(0)  # chroma_qp_index_offset
    b.u(1, 1)  # deblocking_filter_control_present_flag
    b.u(1, 0)  # constrained_intra_pred_flag
    b.u(1, 0)  # redundant_pic_cnt_present_flag
    return _nal(8, b.trailing())


def _idr(index: int, mbs_wide: int, mbs_high: int, frames: int) -> bytes:
    """One IDR picture: a band of colour that moves across the frame as `index` grows."""
    b = _Bits()
    b.ue(0)  # first_mb_in_slice
    b.ue(7)  # slice_type: I (all slices of the picture)
    b.ue(0)  # pic_parameter_set_id
    b.u(4, 0)  # frame_num
    b.ue(index % 2)  # idr_pic_id: differs between consecutive IDR pictures
    b.u(1, 0)  # no_output_of_prior_pics_flag
    b.u(1, 0)  # long_term_reference_flag
    b.se(0)  # slice_qp_delta
    b.ue(1)  # disable_deblocking_filter_idc
    band = (index * mbs_wide) // max(frames, 1)
    for y in range(mbs_high):
        for x in range(mbs_wide):
            b.ue(25)  # mb_type I_PCM
            b.align_zero()
            luma = 200 if x == band else 40 + (y * 16) % 120
            b.raw(bytes([luma]) * 256)
            b.raw(bytes([90 + 10 * (x % 4)]) * 64)  # Cb
            b.raw(bytes([160]) * 64)  # Cr
    return _nal(5, b.trailing())


def box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def h264_mp4(
    seconds: float = 2.0,
    width: int = 32,
    height: int = 32,
    fps: int = 2,
    movie_seconds: float | None = None,
) -> bytes:
    """A playable H.264 MP4 of `seconds` at `fps` frames a second (`width` and `height` are
    rounded up to whole 16-pixel macroblocks). `movie_seconds` sets the duration the movie
    header states, for files that claim another length than their frames."""
    mbs_wide, mbs_high = -(-width // 16), -(-height // 16)
    width, height = mbs_wide * 16, mbs_high * 16
    frames = max(1, round(seconds * fps))
    sps, pps = _sps(mbs_wide, mbs_high), _pps()
    samples = [_idr(i, mbs_wide, mbs_high, frames) for i in range(frames)]
    samples = [struct.pack(">I", len(s)) + s for s in samples]
    timescale = 1000
    delta = round(timescale / fps)
    duration = delta * frames
    movie = round((movie_seconds if movie_seconds is not None else seconds) * timescale)
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")
    mvhd = full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, timescale, movie),
        struct.pack(">IH", 0x10000, 0x100),
        bytes(10),
        MATRIX,
        bytes(24),
        struct.pack(">I", 2),
    )
    tkhd = full_box(
        b"tkhd",
        0,
        3,
        struct.pack(">IIIII", 0, 0, 1, 0, movie),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),
        MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, duration, 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    vmhd = full_box(b"vmhd", 0, 1, bytes(8))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    avcc = box(
        b"avcC",
        bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]),
        struct.pack(">H", len(sps)),
        sps,
        bytes([1]),
        struct.pack(">H", len(pps)),
        pps,
    )
    avc1 = box(
        b"avc1",
        bytes(6),
        struct.pack(">H", 1),
        bytes(16),
        struct.pack(">HH", width, height),
        struct.pack(">II", 0x480000, 0x480000),
        bytes(4),
        struct.pack(">H", 1),
        bytes(32),
        struct.pack(">Hh", 0x18, -1),
        avcc,
    )
    stsd = full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1)
    stts = full_box(b"stts", 0, 0, struct.pack(">III", 1, frames, delta))
    stsc = full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, frames, 1))
    stsz = full_box(
        b"stsz", 0, 0, struct.pack(">II", 0, frames), *(struct.pack(">I", len(s)) for s in samples)
    )

    def moov(offset: int) -> bytes:
        stco = full_box(b"stco", 0, 0, struct.pack(">II", 1, offset))
        stbl = box(b"stbl", stsd, stts, stsc, stsz, stco)
        minf = box(b"minf", vmhd, dinf, stbl)
        trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
        return box(b"moov", mvhd, trak)

    # The chunk offset depends on the size of `moov`, which does not depend on the offset.
    offset = len(ftyp) + len(moov(0)) + 8
    return ftyp + moov(offset) + box(b"mdat", *samples)
