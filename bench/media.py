"""Image optimisation for figures: time and output size of `optimise_image` (bot/book/figure.py).

Inputs as image models send them: PNG at 1024×1024 and 1536×1024, each as a smooth drawing
(gradients and shapes, like a diagram) and as noise (the worst case for any codec).

    uv run python bench/media.py
"""

from __future__ import annotations

import io
import os
import time

from PIL import Image, ImageDraw

from bot.book.figure import optimise_image


def drawing(width: int, height: int) -> Image.Image:
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for i in range(0, width, 64):
        draw.ellipse((i, i // 2, i + 180, i // 2 + 120), outline=(200, 40, 40), width=4)
        draw.text((i + 10, i // 2 + 50), f"zone {i // 64}", fill=(10, 10, 10))
    return image


def noise(width: int, height: int) -> Image.Image:
    return Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))


def main() -> None:
    print(f"{'input':<22} {'PNG in':>9} {'WebP out':>9} {'quality':>7} {'ms (best of 3)':>15}")
    for width, height in ((1024, 1024), (1536, 1024)):
        for kind, make in (("drawing", drawing), ("noise", noise)):
            buffer = io.BytesIO()
            make(width, height).save(buffer, "PNG")
            data = buffer.getvalue()
            times = []
            for _ in range(3):
                start = time.perf_counter()
                result = optimise_image(data)
                times.append(time.perf_counter() - start)
            print(
                f"{width}×{height} {kind:<12} {len(data) / 1024:>7.0f} K {len(result.data) / 1024:>7.0f} K "
                f"{result.quality:>7} {min(times) * 1000:>15.0f}"
            )


if __name__ == "__main__":
    main()
