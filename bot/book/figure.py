"""A chapter's figure: the image made fit for the book, and the `{figure}` that shows it.

An image model's answer is untrusted bytes. `optimise_image` opens it with Pillow only when
it is small enough to be an image at all (`MAX_INPUT_BYTES`) and has a bounded number of
pixels (Pillow's decompression-bomb guard, made an error), then writes WebP (quality about
80, long edge at most `MAX_EDGE`, no metadata: EXIF, XMP and ICC are dropped by writing the
pixels alone), lowering the quality until it fits under `MAX_OUTPUT_BYTES`. Never AVIF:
jupyter-book's build fails on it.

`figure_directive` writes the MyST figure (label, alt text, caption) and `place_figure`
puts it after a named heading or at the end of the chapter's most relevant section.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from bot.book.markdown import code_mask
from bot.book.render import slugify

MAX_INPUT_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # what an image model draws is far below; a bomb is far above
MAX_EDGE = 1600
MAX_OUTPUT_BYTES = 1024 * 1024
QUALITY = 80
_ACCEPTED = {"PNG", "JPEG", "WEBP", "GIF"}


class ImageError(ValueError):
    """Bytes that cannot become a figure; the message is a sentence for the status comment."""


@dataclass(frozen=True)
class Optimised:
    data: bytes
    width: int
    height: int
    quality: int


def optimise_image(data: bytes) -> Optimised:
    """The image as WebP fit for the book, or `ImageError` saying why not."""
    if len(data) > MAX_INPUT_BYTES:
        raise ImageError(
            f"the image model sent {len(data) / 2**20:.1f} MB, more than the "
            f"{MAX_INPUT_BYTES // (1024 * 1024)} MB an image may have"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                if opened.format not in _ACCEPTED:
                    raise ImageError(
                        f"the image model sent a {opened.format} file, not PNG, JPEG or WebP"
                    )
                if opened.width * opened.height > MAX_PIXELS:
                    raise ImageError(
                        f"the image is {opened.width}×{opened.height} pixels, too many"
                    )
                opened.seek(0)
                image = ImageOps.exif_transpose(opened)
                image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("the image has too many pixels to be drawn by an image model") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise ImageError("what the image model sent is not an image Liquid Book can read") from None
    mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
    pixels = Image.new(mode, image.size)
    pixels.paste(image.convert(mode))  # the pixels alone: no EXIF, XMP, ICC or comments
    if max(pixels.size) > MAX_EDGE:
        pixels.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
    quality = QUALITY
    while True:
        out = io.BytesIO()
        pixels.save(out, "WEBP", quality=quality, method=4)
        if out.tell() <= MAX_OUTPUT_BYTES or quality <= 30:
            break
        quality -= 10
    if out.tell() > MAX_OUTPUT_BYTES:
        raise ImageError("the image stays above 1 MB as WebP even at low quality")
    return Optimised(out.getvalue(), pixels.width, pixels.height, quality)


def figure_slug(prompt: str) -> str:
    """A short slug of the prompt: the figure's file name and the key of its branch."""
    words = slugify(prompt).split("-")
    slug = "-".join(words[:6])[:60].strip("-")
    return slug or "figure"


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def figure_directive(image: str, label: str, alt: str, caption: str) -> str:
    """A MyST figure: the image path relative to the chapter, a label, alt text, caption.
    Option values are one line each; the caption's lines cannot close the directive."""
    caption = "\n".join(
        line for line in caption.strip().splitlines() if not line.lstrip().startswith(":::")
    )
    return (
        f":::{{figure}} {image}\n:label: {label}\n:alt: {_one_line(alt, 300)}\n\n"
        f"{caption.strip() or _one_line(alt, 200)}\n:::\n"
    )


_HEADING = re.compile(r"(#{1,6})\s+(.*?)\s*#*\s*$")
_TARGET = re.compile(r"^\([^()\n]+\)=\s*$")


def place_figure(body: str, figure: str, after: str | None, relevant: str = "") -> str:
    """The body with `figure` inserted: at the end of the section under the heading named
    `after` (case-insensitive), else at the end of the section sharing most words with
    `relevant`, else at the end. A figure with the same label is replaced, not repeated."""
    label = re.search(r"^:label: (.+)$", figure, re.M)
    lines = _without_figure(body, label.group(1).strip() if label else "").split("\n")
    mask = code_mask(lines)
    headings = [
        (i, m.group(2))
        for i, line in enumerate(lines)
        if not mask[i] and (m := _HEADING.match(line)) is not None
    ]
    chosen: int | None = None
    if after:
        wanted = " ".join(after.lstrip("#").split()).casefold()
        chosen = next((i for i, t in headings if t.casefold() == wanted), None)
        if chosen is None:
            raise ValueError(f"the chapter has no heading “{_one_line(after, 80)}”")
    elif relevant and headings:
        words = set(re.findall(r"\w{4,}", relevant.casefold()))
        scored = [(len(words & set(re.findall(r"\w{4,}", t.casefold()))), i) for i, t in headings]
        best, index = max(scored, key=lambda s: (s[0], -s[1]))
        chosen = index if best > 0 else None
    if chosen is None:
        return "\n".join(lines).rstrip() + "\n\n" + figure
    end = next((i for i, _ in headings if i > chosen), len(lines))
    # A `(target)=` line belongs to the heading below it: the figure goes above the target.
    probe = end - 1
    while probe > chosen and (not lines[probe].strip() or _TARGET.match(lines[probe])):
        if lines[probe].strip():
            end = probe
        probe -= 1
    before = "\n".join(lines[:end]).rstrip()
    rest = "\n".join(lines[end:]).strip()
    return f"{before}\n\n{figure.rstrip()}\n" + (f"\n{rest}\n" if rest else "")


def _without_figure(body: str, label: str) -> str:
    if not label:
        return body
    pattern = re.compile(
        r"\n*:::\{figure\}[^\n]*\n:label: " + re.escape(label) + r"\n.*?\n:::\n", re.S
    )
    return pattern.sub("\n\n", body)
