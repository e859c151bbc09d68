"""Image -> density: one Gaussian per (downsampled) pixel, mass proportional to darkness."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..exact import ExactMarginal
from .target import DataError, Target

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")

#: pixels lighter than this darkness count as white (JPEG noise on a white page is not mass)
DARK_FLOOR = 0.04

_GRAY_HIGH_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # palette-transparency notes
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # the limit stays on
            with Image.open(path) as im:
                im.seek(0)  # first frame of an animated GIF/WebP
                im.load()
                return im.copy() if im.mode != "P" else _unpalette(im)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"the image {path.name} is too large ({e}); shrink it and try again") from e
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError) as e:
        raise DataError(
            f"could not read the image {path.name}: {e}. "
            "Check that it is a valid PNG/JPEG/BMP/GIF/WebP file, or re-save it as PNG."
        ) from e


def _unpalette(im: Image.Image) -> Image.Image:
    has_alpha = "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")
    return im.convert("RGBA" if has_alpha else "RGB")


def darkness(im: Image.Image, invert: bool = False) -> np.ndarray:
    """Mass per pixel, (H, W) float64 in [0, 1]: 1 - luminance after compositing over white.

    Transparent pixels carry no mass. With ``invert`` light pixels carry the mass instead (the
    image is composited over black). Handles 1-bit, grayscale, 16-bit, RGB(A), LA, palette, CMYK.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        im = ImageOps.exif_transpose(im)
        return _mass(im, invert)


def _mass(im: Image.Image, invert: bool) -> np.ndarray:
    alpha = None
    if im.mode in _GRAY_HIGH_BIT or im.mode == "F":
        lum = np.asarray(im, dtype=np.float64)
        if im.mode.startswith("I;16"):
            top = 65535.0
        elif im.mode == "F" and lum.max() <= 1.0:
            top = 1.0  # float images in [0, 1]
        else:  # 32-bit "I" (some 16-bit PNGs) or "F" holding 0..255 / 0..65535 values
            top = 255.0 if lum.max() <= 255 else 65535.0
        lum = np.clip(lum / top, 0.0, 1.0)
    else:
        if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
            rgba = np.asarray(im.convert("RGBA"), dtype=np.float64) / 255.0
            alpha = rgba[..., 3]
            rgb = rgba[..., :3]
            lum = rgb @ np.array([0.299, 0.587, 0.114])  # ITU-R 601, as Pillow's "L"
        else:
            lum = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    mass = lum if invert else 1.0 - lum
    if alpha is not None:
        mass = mass * alpha  # over white (or black when inverted): transparent = no mass
    mass = np.where(mass < DARK_FLOOR, 0.0, mass)
    return mass


def _downsample(mass: np.ndarray, max_pixels: int) -> np.ndarray:
    h, w = mass.shape
    if w * h <= max_pixels:
        return mass
    s = math.sqrt(max_pixels / (w * h))
    nw, nh = max(1, int(w * s)), max(1, int(h * s))
    while nw * nh > max_pixels:  # rounding guard
        nw, nh = max(1, nw - (nw >= nh)), max(1, nh - (nh > nw))
    small = Image.fromarray(mass.astype(np.float32)).resize((nw, nh), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64).clip(0.0, None)


def mixture_from_mass(
    mass: np.ndarray, box: float = 3.0, schedule: str = "condot"
) -> ExactMarginal:
    """Mass grid (H, W) -> ExactMarginal with one component per nonzero pixel.

    The longer side spans [-box, box], centred at 0; row 0 is the top (y points up); each
    component has std 0.5 * pixel size.
    """
    h, w = mass.shape
    pix = 2.0 * box / max(h, w)
    rows, cols = np.nonzero(mass > 0)
    if len(rows) == 0:
        raise DataError(
            "the image has no dark pixels: draw dark shapes on a light (or transparent) "
            "background, or pass invert=True for light shapes on a dark background"
        )
    x = (cols + 0.5 - w / 2.0) * pix
    y = (h / 2.0 - rows - 0.5) * pix
    return ExactMarginal(
        np.stack([x, y], axis=1), weights=mass[rows, cols], widths=0.5 * pix, schedule=schedule
    )


def target_from_image(
    path: str | Path,
    max_pixels: int = 4096,
    box: float = 3.0,
    invert: bool = False,
    schedule: str = "condot",
    name: str | None = None,
) -> Target:
    """Load an image as a density proportional to darkness (see :func:`darkness`).

    The image is downsampled (Pillow, box filter, aspect kept) so W * H <= max_pixels; each
    remaining pixel with mass becomes one component N(centre, (0.5 * pixel)^2 I). The longer side
    spans [-box, box] and the image is the right way up (its top row has the largest y).
    """
    if int(max_pixels) < 1:
        raise DataError(f"max_pixels must be >= 1, got {max_pixels}")
    if not (math.isfinite(box) and box > 0):
        raise DataError(f"box must be a positive number, got {box}")
    path = Path(path)
    im = _open(path)
    factor = math.isqrt(im.width * im.height // (16 * int(max_pixels)))
    if factor >= 2:  # a cheap first shrink of huge images, to ~16x max_pixels
        try:
            im = im.reduce(factor)
        except (ValueError, OSError):
            pass  # modes reduce() does not support are shrunk later, after darkness()
    mass = _downsample(darkness(im, invert=invert), int(max_pixels))
    exact = mixture_from_mass(mass, box=box, schedule=schedule)
    opts = {"max_pixels": int(max_pixels), "box": float(box), "invert": bool(invert)}
    return Target(name or path.stem, exact, "image", source=str(path), options=opts)
