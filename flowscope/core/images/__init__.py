"""Image mode: image datasets (no download, no Qt) and a small U-Net for class-conditional flow
matching with classifier-free guidance.

>>> from flowscope.core.images import load_image_dataset
>>> ds = load_image_dataset("digits")          # or a folder, FILE.npz, train-images-idx3-ubyte
>>> x, y = ds.sample_batch(128)                # (128, 1, 8, 8) in [-1, 1], (128,) int64
>>> ds.to_original(x)                          # back to 0..16
"""

from __future__ import annotations

from pathlib import Path

from .arrays import dataset_from_array
from .dataset import ImageDataError, ImageDataset, to_unit
from .files import (
    is_idx_path,
    load_digits_dataset,
    load_idx_dataset,
    load_npz_dataset,
    read_idx,
)
from .folder import load_folder_dataset

__all__ = [
    "COLOR_MODES",
    "BUILTIN",
    "ImageDataError",
    "ImageDataset",
    "dataset_from_array",
    "is_image_source",
    "load_image_dataset",
    "read_idx",
    "to_unit",
]

#: datasets that ship with flowscope's dependencies (loaded offline)
BUILTIN = ("digits",)


#: colour handling offered for a dataset: as stored, or forced to 1 / 3 channels (the
#: ``grayscale`` argument None / True / False of load_image_dataset)
COLOR_MODES = ("auto", "grayscale", "rgb")


def is_image_source(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names an image dataset: 'digits', a folder, an .npz file or an
    IDX file (``*-idx3-ubyte[.gz]``). Single image files are 2D targets, not datasets."""
    text = str(name_or_path)
    if text.strip().lower() in BUILTIN:
        return True
    path = Path(text).expanduser()
    return path.is_dir() or path.suffix.lower() == ".npz" or is_idx_path(path)


def _idx_images_in(folder: Path) -> Path | None:
    """The IDX images file of an unpacked MNIST folder (the training one if there are several),
    or None when the folder also holds anything else that looks like a dataset."""
    items = [p for p in folder.iterdir() if not p.name.startswith(".")]
    idx = sorted(p for p in items if p.is_file() and is_idx_path(p) and "idx3" in p.name)
    if not idx or any(p.is_dir() for p in items):
        return None
    return next((p for p in idx if "train" in p.name.lower()), idx[0])


def load_image_dataset(
    name_or_path: str | Path = "digits",
    size: int | tuple[int, int] | None = None,
    grayscale: bool | None = None,
) -> ImageDataset:
    """'digits' (sklearn's 1797 8x8 digits, the default), a folder of images (class = subfolder),
    an NPZ file (x_train / y_train or images / labels), an IDX file with its labels file beside
    it, or a folder holding such IDX files (an unpacked MNIST: its training set is used).
    ``size`` (int or (H, W)) resizes; ``grayscale`` True / False forces 1 / 3 channels.
    Raises ImageDataError (a ValueError) with what to do when the data cannot be used."""
    text = str(name_or_path)
    if text.strip().lower() == "digits":
        return load_digits_dataset(size, grayscale)
    path = Path(text).expanduser()
    if path.is_dir():
        idx = _idx_images_in(path)
        if idx is not None:
            return load_idx_dataset(idx, size, grayscale)
        return load_folder_dataset(path, size, grayscale)
    if not path.exists():
        hint = "" if ("/" in text or path.suffix) else f" (built-in datasets: {', '.join(BUILTIN)})"
        raise ImageDataError(f"image dataset not found: {path}{hint}")
    if not path.is_file():  # a FIFO would block the read, a device never end
        raise ImageDataError(f"{path} is not a regular file; give the dataset file itself")
    if path.suffix.lower() == ".npz":
        return load_npz_dataset(path, size, grayscale)
    if is_idx_path(path):
        return load_idx_dataset(path, size, grayscale)
    raise ImageDataError(
        f"{path.name} is not an image dataset: give 'digits', a folder of images (one subfolder "
        "per class), an .npz file or an IDX file such as train-images-idx3-ubyte.gz"
    )
