"""Safe file input and output, shared by every reader and writer of flowscope (no Qt).

- :func:`atomic_write`: write to a temporary file in the same folder, fsync it, rename it over
  the target and fsync the folder, so that a kill or a full disk mid-save leaves the previous
  file as it was (and the temporary file is removed on any error).
- :func:`read_regular_file`: read a regular file of bounded size; refuses FIFOs, devices
  (a ``model.json`` symlinked to /dev/zero) and files larger than the cap before reading them.
- :func:`check_zip` / :func:`read_zip_member`: refuse zip members with absolute paths or ``..``,
  too many members, and members or totals that expand beyond a cap, before decompressing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

#: marker in the names of the temporary files (and folders) this module writes
TMP_MARK = ".fstmp-"


class SafeIOError(ValueError):
    """A file flowscope refuses to read (not a regular file, too large, unsafe zip member)."""


def fsync_dir(directory: str | Path) -> None:
    """Flush a folder's entries (a rename inside it) to disk; a no-op where unsupported."""
    try:
        fd = os.open(str(directory), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_path(path: str | Path, suffix: str | None = None) -> Path:
    """A fresh hidden name beside ``path`` that keeps its suffix (np.save, torch.export and
    Pillow choose the format from it): ``.NAME.fstmp-XXXXXXXX.SUFFIX``."""
    p = Path(path)
    suffix = p.suffix if suffix is None else suffix
    return p.with_name(f".{p.stem}{TMP_MARK}{secrets.token_hex(4)}{suffix}")


def _fsync_file(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, data: bytes | str | Callable[[Path], object]) -> Path:
    """Replace ``path`` atomically by ``data`` (bytes or text), or by what ``data(tmp)`` writes
    to the temporary path it is given. Returns ``path``. On any error the temporary file is
    removed, the old file is untouched and the error propagates (OSError: full disk, read-only
    folder, ...)."""
    out = Path(path)
    tmp = temp_path(out)
    try:
        if callable(data):
            data(tmp)
        else:
            raw = data.encode() if isinstance(data, str) else bytes(data)
            with open(tmp, "wb") as fh:
                fh.write(raw)
        if not tmp.is_file():
            raise OSError(f"nothing was written to {out}")
        _fsync_file(tmp)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(out.parent)
    return out


def remove_stale_temps(directory: str | Path, stem: str | None = None, min_age_s: float = 0) -> int:
    """Remove temporary files and folders this module left in ``directory`` (a killed save):
    all of them, or only those of files named ``stem.*`` untouched for ``min_age_s`` seconds
    (in a shared folder, where another process may be saving right now). Returns the count."""
    import shutil
    import time

    n = 0
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return 0
    head = "." if stem is None else f".{stem}{TMP_MARK}"
    now = time.time()
    for e in entries:
        if e.name.startswith(head) and TMP_MARK in e.name:
            try:
                if min_age_s and now - e.lstat().st_mtime < min_age_s:
                    continue
                if e.is_dir() and not e.is_symlink():
                    shutil.rmtree(e)
                else:
                    e.unlink()
                n += 1
            except OSError:
                pass
    return n


def check_writable_target(path: str | Path, what: str = "output") -> Path:
    """Fail early (before minutes of work) when ``path`` cannot be written: its folder is not
    a writable folder, or the path is an existing non-regular file (/dev/null, a folder where a
    file is expected). Creates missing parent folders. Raises OSError naming the path."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_file():
        raise OSError(f"cannot write the {what} {p}: it exists and is not a regular file")
    parent = p.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot write the {what} {p}: {e.strerror or e}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OSError(f"cannot write the {what} {p}: the folder {parent} is not writable")
    return p


def read_regular_file(path: str | Path, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; SafeIOError for a FIFO, a device,
    a folder or a larger file (checked before reading), OSError when it cannot be opened."""
    p = Path(path)
    st = os.stat(p)  # follows symlinks: a link to /dev/zero is a character device here
    if not stat.S_ISREG(st.st_mode):
        raise SafeIOError(f"{p} is not a regular file; give the {what} itself")
    if st.st_size > max_bytes:
        raise SafeIOError(
            f"{p.name} is {st.st_size / 1e6:.1f} MB, more than the {max_bytes / 1e6:g} MB a "
            f"{what} may have"
        )
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped after the stat
            raise SafeIOError(f"{p} is not a regular file; give the {what} itself")
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise SafeIOError(f"{p.name} grew beyond {max_bytes / 1e6:g} MB while being read")
    return raw


def check_zip(
    zf: zipfile.ZipFile, max_total: int, max_members: int = 64, name: str = "the archive"
) -> None:
    """Refuse a zip with unsafe member names (absolute, ``..``, backslashes or drive letters),
    too many members, or declared sizes whose sum exceeds ``max_total``."""
    infos = zf.infolist()
    if len(infos) > max_members:
        raise SafeIOError(f"{name} has {len(infos)} members (at most {max_members} expected)")
    total = 0
    for info in infos:
        n = info.filename
        parts = n.replace("\\", "/").split("/")
        if n.startswith(("/", "\\")) or ".." in parts or (len(n) > 1 and n[1] == ":"):
            raise SafeIOError(f"{name} holds an unsafe member name {n!r}; it was not read")
        total += info.file_size
    if total > max_total:
        raise SafeIOError(
            f"{name} expands to {total / 1e6:.0f} MB, more than the {max_total / 1e6:g} MB allowed"
        )


def read_zip_member(zf: zipfile.ZipFile, member: str, max_bytes: int) -> bytes:
    """A zip member's bytes, refusing one that declares or expands to more than ``max_bytes``
    (read in chunks, so a member whose header lies cannot exhaust memory)."""
    info = zf.getinfo(member)
    if info.file_size > max_bytes:
        raise SafeIOError(
            f"{member} expands to {info.file_size / 1e6:.0f} MB, more than the "
            f"{max_bytes / 1e6:g} MB allowed"
        )
    chunks, n = [], 0
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
            if n > max_bytes:
                raise SafeIOError(f"{member} expands to more than {max_bytes / 1e6:g} MB")
            chunks.append(chunk)
    return b"".join(chunks)


def save_npy(path: str | Path, array) -> None:
    """np.save to exactly ``path`` (np.save given a name appends .npy to one without it)."""
    import numpy as np

    with open(path, "wb") as fh:
        np.save(fh, array)
