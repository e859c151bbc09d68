"""Make flowscope/assets/logo.png: the word "flow" over a wave, dark on white, read as a density.

The PNG lives inside the package so that a built wheel ships it.

Run from anywhere: ``python assets/make_logo.py``. The preset ``logo`` (flowscope.core.data)
loads the PNG; darker pixels carry more probability mass.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 128, 64
OUT = Path(__file__).resolve().parents[1] / "flowscope" / "assets" / "logo.png"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def make_logo(path: Path = OUT) -> Path:
    """Draw the logo (WIDTH x HEIGHT, grayscale) and save it to ``path``."""
    im = Image.new("L", (WIDTH, HEIGHT), 255)
    draw = ImageDraw.Draw(im)
    font = _font(44)
    text = "flow"
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    draw.text(((WIDTH - (x1 - x0)) / 2 - x0, 2 - y0), text, fill=0, font=font)
    # a wave under the word: the "flow"
    pts = [
        (x, HEIGHT - 11 + 4.5 * math.sin(2 * math.pi * (x - 8) / 56)) for x in range(8, WIDTH - 7)
    ]
    draw.line(pts, fill=60, width=4, joint="curve")
    im.save(path)
    return path


if __name__ == "__main__":
    print(make_logo())
