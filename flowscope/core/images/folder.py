"""A folder of images -> ImageDataset: one subfolder per class (or none: unlabelled).

    my_images/cats/001.png, my_images/cats/002.jpg, my_images/dogs/a.png, ...

Every image is resized to one size (``size``; default: the most common size when its longer
side is at most ``MAX_AUTO_SIZE``, else DEFAULT_SIZE x DEFAULT_SIZE). Transparent pixels are
composited over white. The set is grayscale when every image is (R = G = B), else RGB;
``grayscale=True`` / ``False`` forces one or the other. Values are 0..255 (value_range (0, 255)).
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..data.image import IMAGE_SUFFIXES
from .arrays import (
    MAX_DATASET_VALUES,
    MAX_IMAGE_VALUES,
    MAX_SIDE,
    dataset_from_array,
    size_tuple,
)
from .dataset import ImageDataError, ImageDataset

DEFAULT_SIZE = 28
MAX_AUTO_SIZE = 64
#: largest channel difference (of 255) for which an RGB pixel still counts as gray (JPEG noise)
GRAY_TOLERANCE = 3
_PIL_ERRORS = (
    OSError,
    UnidentifiedImageError,
    ValueError,
    SyntaxError,
    EOFError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,  # raised as an error below: Pillow's limit stays on
)


def _visible(p: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in p.relative_to(root).parts)


def _images_in(d: Path, root: Path) -> list[Path]:
    return sorted(
        f
        for f in d.rglob("*")
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and _visible(f, root)
    )


def list_image_files(root: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """(files, labels or None, class names) of a dataset folder; raises on an unusable one."""
    entries = [p for p in sorted(root.iterdir()) if not p.name.startswith(".")]
    if not entries:
        raise ImageDataError(
            f"the folder {root} is empty: put images in it, one subfolder per class "
            "(e.g. cats/*.png, dogs/*.png), or PNG/JPEG files directly for an unlabelled set"
        )
    loose = [f for f in entries if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    classes = {d.name: _images_in(d, root) for d in entries if d.is_dir()}
    classes = {k: v for k, v in classes.items() if v}
    if not classes and not loose:
        raise ImageDataError(
            f"the folder {root} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
            f"found {len(entries)} other item(s). Put images in one subfolder per class"
        )
    if classes and loose:
        raise ImageDataError(
            f"{len(loose)} image(s) lie directly in {root} (first: {loose[0].name}) next to class "
            f"subfolders {sorted(classes)}; move them into a class subfolder or elsewhere"
        )
    if not classes:
        return loose, None, []
    names = sorted(classes)
    files = [f for n in names for f in classes[n]]
    labels = [i for i, n in enumerate(names) for _ in classes[n]]
    return files, labels, names


def _fail(bad: list[tuple[Path, str]], total: int, root: Path) -> None:
    path, why = bad[0]
    raise ImageDataError(
        f"{len(bad)} of {total} image(s) in {root} could not be read; the first is "
        f"{path.relative_to(root)} ({why}). Fix or remove them (or re-save them as PNG)"
    )


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any Pillow image -> (H, W, 3) uint8, alpha composited over white, 16-bit scaled."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if a.max() > 255 else (1.0 if im.mode == "F" and a.max() <= 1 else 255.0)
        g = np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La", "P") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(im.convert("RGB"))


def _read(path: Path, hw: tuple[int, int]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # palette transparency notes
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            im.seek(0)
            im = ImageOps.exif_transpose(im)
            rgb = _to_rgb(im)
    if rgb.shape[:2] != hw:
        resized = Image.fromarray(rgb).resize((hw[1], hw[0]), Image.Resampling.BILINEAR)
        rgb = np.asarray(resized)
    return rgb


def _sizes(files: list[Path], root: Path) -> list[tuple[int, int]]:
    """(H, W) of every file from its header (no decoding); raises on unreadable files."""
    out, bad = [], []
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(f) as im:
                    out.append((im.height, im.width))
        except _PIL_ERRORS as e:
            bad.append((f, str(e) or type(e).__name__))
    if bad:
        _fail(bad, len(files), root)
    return out


def default_size(sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The most common (H, W) if its longer side <= MAX_AUTO_SIZE, else DEFAULT_SIZE square."""
    (h, w), _ = Counter(sizes).most_common(1)[0]
    return (h, w) if max(h, w) <= MAX_AUTO_SIZE else (DEFAULT_SIZE, DEFAULT_SIZE)


def load_folder_dataset(
    root: str | Path, size: int | tuple[int, int] | None = None, grayscale: bool | None = None
) -> ImageDataset:
    """Load a folder of images (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise ImageDataError(f"folder not found: {root}")
    files, labels, names = list_image_files(root)
    hw = size_tuple(size) or default_size(_sizes(files, root))
    if max(hw) > MAX_SIDE or 3 * hw[0] * hw[1] > MAX_IMAGE_VALUES:
        raise ImageDataError(
            f"images of {hw[0]} x {hw[1]} are too large to train on here; choose a smaller "
            "size, e.g. --size 32"
        )
    notes: tuple[str, ...] = ()
    most = MAX_DATASET_VALUES // (3 * hw[0] * hw[1])
    if len(files) > most:  # read only what fits in memory
        keep = np.sort(np.random.default_rng(0).choice(len(files), most, replace=False))
        notes = (f"{root.name}: {len(files)} images are more than fit; using {most} of them",)
        files = [files[i] for i in keep]
        labels = None if labels is None else [labels[i] for i in keep]
    arrays, bad = [], []
    for f in files:
        try:
            arrays.append(_read(f, hw))
        except _PIL_ERRORS as e:
            bad.append((f, str(e) or type(e).__name__))
    if bad:
        _fail(bad, len(files), root)
    x = np.stack(arrays).astype(np.int16)  # (N, H, W, 3)
    spread = (x.max(axis=3) - x.min(axis=3)).reshape(len(x), -1).max(axis=1)
    if grayscale is None:
        grayscale = bool((spread <= GRAY_TOLERANCE).all())
    if grayscale and bool((spread == 0).all()):
        x = x[..., :1]  # exactly gray: take the channel as it is
    return dataset_from_array(
        x.astype(np.uint8),
        None if labels is None else np.asarray(labels),
        name=root.name or str(root),
        source=str(root),
        grayscale=grayscale,
        value_range=(0.0, 255.0),
        class_names=dict(enumerate(names)) if names else None,
        notes=notes,
    )
