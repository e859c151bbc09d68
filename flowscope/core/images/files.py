"""Bundled and file datasets: sklearn's digits, MNIST-style IDX files and NPZ archives.

Nothing is downloaded: 'digits' ships with scikit-learn; MNIST / Fashion-MNIST are read from
files the user already has (``train-images-idx3-ubyte[.gz]`` with the labels file beside it, or a
Keras-style ``mnist.npz``). NPZ files are opened with ``allow_pickle=False``.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .arrays import dataset_from_array
from .dataset import ImageDataError, ImageDataset

FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: an image size: None (keep), an int (square) or (height, width)
Size = int | tuple[int, int] | None

#: IDX type codes -> big-endian numpy dtypes
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

#: (images key, labels key) pairs looked for in an NPZ file, in this order
NPZ_KEYS = (("x_train", "y_train"), ("images", "labels"))

#: the most an IDX file (after gunzip) or an NPZ member may hold; MNIST's images are 47 MB
MAX_FILE_BYTES = 512 * 1024 * 1024


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8), labels) of scikit-learn's bundled digits. Read from the CSV file
    that ships inside scikit-learn, without importing it (``import sklearn.datasets`` pulls in
    scipy: seconds of start-up for every image-mode trainer and CLI run); sklearn's own
    ``load_digits`` when the file is not where it has always been."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    where = spec.submodule_search_locations if spec is not None else None
    for folder in where or ():
        csv = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if csv.is_file():
            with gzip.open(csv, "rt") as f:
                data = np.loadtxt(f, delimiter=",")
            if data.shape == (1797, 65):
                return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images, d.target


def load_digits_dataset(size: Size = None, grayscale: bool | None = None) -> ImageDataset:
    """scikit-learn's bundled digits: 1797 8x8 images, values 0..16, classes 0..9."""
    images, labels = _digits_arrays()
    return dataset_from_array(
        images,
        labels,
        name="digits",
        source="digits",
        size=size,
        grayscale=grayscale,
        value_range=(0.0, 16.0),
    )


# ----------------------------------------------------------------------------- IDX


def is_idx_path(path: Path) -> bool:
    """Whether a file name looks like an IDX file (e.g. train-images-idx3-ubyte[.gz])."""
    name = path.name.lower().removesuffix(".gz")
    return ("idx" in name and name.endswith("ubyte")) or name.endswith(".idx")


def _too_big(path: Path, n: int | str) -> ImageDataError:
    return ImageDataError(
        f"{path.name} holds {n} bytes of data, more than the {MAX_FILE_BYTES // 2**20} MB "
        "flowscope reads; use a smaller subset"
    )


def _read_bytes(path: Path) -> bytes:
    from ..safeio import SafeIOError, read_regular_file

    try:
        if path.name.lower().endswith(".gz"):
            read_regular_file(path, MAX_FILE_BYTES, "IDX file")  # a regular file, not too big
            with gzip.open(path, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)  # a small .gz may expand a lot: read capped
            if len(raw) > MAX_FILE_BYTES:
                raise _too_big(path, f"more than {MAX_FILE_BYTES}")
            return raw
        return read_regular_file(path, MAX_FILE_BYTES, "IDX file")
    except SafeIOError as e:
        raise ImageDataError(str(e)) from e
    except (OSError, EOFError, zlib.error) as e:
        raise ImageDataError(
            f"could not read {path.name} ({e}); the file is corrupt or truncated: download or "
            "unpack it again"
        ) from e


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (magic 0x0000TTNN big-endian: type TT, NN dimensions) as a numpy array."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] < 1:
        head = raw[:4].hex() or "(empty)"
        raise ImageDataError(
            f"{path.name} is not an IDX file (magic number 0x{head}; expected 0x00000803 for "
            "images or 0x00000801 for labels)"
        )
    ndim, dtype = raw[3], np.dtype(_IDX_TYPES[raw[2]])
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ImageDataError(f"{path.name} is truncated inside its header; get the file again")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(dims, dtype=np.int64))
    have = len(raw) - header
    if have != count * dtype.itemsize:
        raise ImageDataError(
            f"{path.name} is corrupt or truncated: its header promises {dims} "
            f"({count * dtype.itemsize} bytes of data) but it holds {have}; get the file again"
        )
    return np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)


def idx_labels_path(images: Path) -> Path | None:
    """The labels file beside an IDX images file (train-images-idx3-ubyte -> train-labels-idx1-
    ubyte, with or without .gz), or None."""
    name = images.name
    base = name[:-3] if name.lower().endswith(".gz") else name
    base = base.replace("images", "labels").replace("idx3", "idx1")
    for cand in (base, base + ".gz"):
        p = images.with_name(cand)
        if p.is_file() and p != images:
            return p
    return None


def load_idx_dataset(path: Path, size: Size = None, grayscale: bool | None = None) -> ImageDataset:
    """MNIST / Fashion-MNIST IDX images, with labels from the matching file if it is there."""
    images = read_idx(path)
    if images.ndim not in (3, 4):
        raise ImageDataError(
            f"{path.name} holds a {images.ndim}-D array {images.shape}; an images file is "
            "(N, H, W) (magic 0x00000803). Did you pass the labels file?"
        )
    lab_path = idx_labels_path(path)
    labels = None
    notes: tuple[str, ...] = ()
    if lab_path is None:
        notes = (f"no labels file found beside {path.name}; loaded without classes",)
    else:
        labels = read_idx(lab_path)
        if labels.ndim != 1:
            raise ImageDataError(f"{lab_path.name} is not a labels file (shape {labels.shape})")
    names = dict(enumerate(FASHION_NAMES)) if "fashion" in str(path).lower() else None
    stem = path.name.split(".")[0].replace("-idx3-ubyte", "")
    return dataset_from_array(
        images,
        labels,
        name=stem,
        source=str(path),
        size=size,
        grayscale=grayscale,
        class_names=names,
        notes=notes,
    )


# ----------------------------------------------------------------------------- NPZ


def _check_npz_sizes(path: Path) -> None:
    """Refuse an NPZ whose arrays would exceed MAX_FILE_BYTES, from the zip directory and each
    array's .npy header, before anything is decompressed (a 1 MB npz can expand to 10 GB)."""
    from ..safeio import SafeIOError, check_zip

    try:
        with zipfile.ZipFile(path) as zf:
            check_zip(zf, 64 * MAX_FILE_BYTES, max_members=256, name=path.name)
            for info in zf.infolist():
                if info.file_size > MAX_FILE_BYTES:
                    raise _too_big(path, info.file_size)
                with zf.open(info) as fh:
                    fmt = np.lib.format
                    version = fmt.read_magic(fh)
                    read = fmt.read_array_header_1_0 if version == (1, 0) else (
                        fmt.read_array_header_2_0
                    )
                    shape, _, dtype = read(fh)
                n = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if n > MAX_FILE_BYTES:
                    raise _too_big(path, n)
    except ImageDataError:
        raise
    except SafeIOError as e:
        raise ImageDataError(str(e)) from e
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error):
        return  # np.load below reports a damaged file in its own words


def load_npz_dataset(path: Path, size: Size = None, grayscale: bool | None = None) -> ImageDataset:
    """An .npz with keys x_train / y_train (Keras' mnist.npz) or images / labels."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":
        raise ImageDataError(
            f"{path.name} is not an NPZ archive (it does not start like a zip file); save it "
            "with np.savez(path, images=..., labels=...)"
        )
    _check_npz_sizes(path)
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            keys = list(z.files)
            pair = next((p for p in NPZ_KEYS if p[0] in keys), None)
            if pair is None:
                raise ImageDataError(
                    f"{path.name} has arrays {keys}; flowscope looks for x_train (+ y_train) "
                    "or images (+ labels)"
                )
            images = z[pair[0]]
            labels = z[pair[1]] if pair[1] in keys else None
    except ImageDataError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise ImageDataError(
                f"{path.name} holds Python objects (pickled arrays), which flowscope refuses to "
                "load because unpickling can run code; save plain numeric arrays with np.savez"
            ) from e
        raise ImageDataError(f"could not read {path.name} ({e}); re-save it with np.savez") from e
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise ImageDataError(
            f"could not read {path.name} ({e}); the file is corrupt or truncated"
        ) from e
    notes = () if labels is not None else (f"{path.name} has no labels; loaded without classes",)
    names = dict(enumerate(FASHION_NAMES)) if "fashion" in path.name.lower() else None
    return dataset_from_array(
        images,
        labels,
        name=path.stem,
        source=str(path),
        size=size,
        grayscale=grayscale,
        class_names=names,
        notes=notes,
    )
