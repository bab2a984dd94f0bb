"""bot/book/figure.py: images made fit for the book, and the figure placed in a chapter."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.book.figure import (
    ImageError,
    figure_directive,
    figure_slug,
    optimise_image,
    place_figure,
)


def _png(width: int, height: int, noise: bool = True) -> bytes:
    image = (
        Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
        if noise
        else (Image.new("RGB", (width, height), (20, 120, 200)))
    )
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = "secret camera note"
    image.save(out, "PNG", exif=exif.tobytes())
    return out.getvalue()


def test_a_large_noisy_image_becomes_a_small_webp_without_metadata() -> None:
    result = optimise_image(_png(2400, 1600))
    assert len(result.data) <= 1024 * 1024
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.format == "WEBP" and max(image.size) == 1600
        assert (result.width, result.height) == (1600, 1067)
        assert not image.getexif() and "icc_profile" not in image.info
    assert b"secret camera note" not in result.data


def test_a_plain_image_keeps_its_size_and_quality() -> None:
    result = optimise_image(_png(1024, 1024, noise=False))
    assert (result.width, result.height, result.quality) == (1024, 1024, 80)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"<html>not an image</html>", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not an image"),
        (b"\0" * (30 * 1024 * 1024), "30.0 MB"),
    ],
)
def test_what_is_not_a_usable_image_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(ImageError, match=why):
        optimise_image(data)


def test_a_decompression_bomb_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    with pytest.raises(ImageError, match="pixels"):
        optimise_image(out.getvalue())


@given(st.binary(max_size=2000))
@settings(max_examples=150, deadline=None)
def test_any_bytes_give_a_webp_or_an_image_error(data: bytes) -> None:
    try:
        optimise_image(data)
    except ImageError as error:
        assert str(error)


BODY = "## Tides\n\nThe sea rises.\n\n(zones)=\n## Zones of life\n\nMany animals.\n\n```\n## not a heading\n```\n"


def test_figure_goes_after_the_named_section_and_is_replaced_on_a_rerun() -> None:
    figure = figure_directive("../images/ch/a.webp", "fig-a", "A tide table.", "The tides.")
    once = place_figure(BODY, figure, "tides")
    assert once.index("The sea rises.") < once.index(":::{figure}") < once.index("(zones)=")
    again = place_figure(
        once, figure_directive("../images/ch/a.webp", "fig-a", "New.", "C"), "Tides"
    )
    assert again.count(":::{figure}") == 1 and ":alt: New." in again
    relevant = place_figure(BODY, figure, None, "animals living in zones of the shore")
    assert relevant.index("Many animals.") < relevant.index(":::{figure}")
    assert place_figure(BODY, figure, None).rstrip().endswith(":::")
    with pytest.raises(ValueError, match="no heading"):
        place_figure(BODY, figure, "not a heading")


def test_directive_options_stay_on_one_line() -> None:
    text = figure_directive("x.webp", "fig-x", "alt\n:class: evil", "line\n:::\nafter")
    assert ":alt: alt :class: evil\n" in text and text.count(":::") == 2
    assert figure_slug("A labelled diagram of the tide zones, with arrows and more words") == (
        "a-labelled-diagram-of-the-tide"
    )
