"""Export the explorer as an animation of t from 0 to 1 (GIF via imageio; MP4 when imageio-ffmpeg
is installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QProgressDialog


def qimage_to_array(img: QImage) -> np.ndarray:
    """(H, W, 3) uint8 copy of a QImage."""
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=h * bpl).reshape(h, bpl)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def mp4_available() -> bool:
    """Whether MP4 can be written (the imageio-ffmpeg package brings its own ffmpeg binary)."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return False
    return True


def animation_formats() -> list[str]:
    """The file suffixes export_animation can write here, GIF first."""
    return ["gif", "mp4"] if mp4_available() else ["gif"]


def write_frames(path: str | Path, images: np.ndarray, fps: int = 12) -> Path:
    """Write (n, H, W, 3) uint8 frames as a looping GIF or, for a .mp4 path, H.264 video."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mp4":
        _write_mp4(path, images, fps)
    elif suffix == ".gif":
        import imageio.v3 as iio

        iio.imwrite(path, images, duration=int(1000 / fps), loop=0)
    else:
        raise ValueError(f"an animation is written as .gif or .mp4, not {suffix or path.name!r}")
    return path


def _write_mp4(path: Path, images: np.ndarray, fps: int) -> None:
    """H.264 (yuv420p, plays everywhere) through the ffmpeg binary of imageio-ffmpeg. Run
    directly: imageio's writer leaves pipes open (ResourceWarnings) when ffmpeg exits early."""
    import subprocess

    if not mp4_available():
        raise ValueError("MP4 needs the imageio-ffmpeg package: pip install imageio-ffmpeg")
    import imageio_ffmpeg

    # yuv420p needs even sizes: crop the last row / column rather than rescale
    h, w = images.shape[1] // 2 * 2, images.shape[2] // 2 * 2
    frames = np.ascontiguousarray(images[:, :h, :w, :3], dtype=np.uint8)
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(int(fps)), "-i", "-",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "20", "-movflags", "+faststart",
        str(path),
    ]  # fmt: skip
    done = subprocess.run(cmd, input=frames.tobytes(), capture_output=True, timeout=300)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise OSError(f"ffmpeg could not write {path.name}: {tail[0]}")


def export_animation(window, path: str | Path, frames: int = 40, fps: int = 12) -> Path:
    """Render ``frames`` views at t = 0 .. 1 with exact field arrows computed synchronously and
    write them to ``path`` (.gif or .mp4)."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    if Path(path).suffix.lower() not in (".gif", ".mp4"):
        raise ValueError(f"an animation is written as .gif or .mp4, not {Path(path).name!r}")
    if frames < 2:
        raise ValueError("an animation needs at least 2 frames")
    state = window.state
    was_playing, t_keep = state.playing, state.t
    state.set(playing=False)
    progress = QProgressDialog("Rendering the animation…", "Cancel", 0, frames, window)
    progress.setMinimumDuration(300)
    images = []
    try:
        for k in range(frames):
            if progress.wasCanceled():
                raise RuntimeError("cancelled")
            t = k / (frames - 1)
            window.render_now(t)  # the arrows at t, computed now; the particles as shown
            QApplication.processEvents()
            img = window.explorer.render_image()
            if images and (img.width(), img.height()) != (images[0].shape[1], images[0].shape[0]):
                # the window was resized during the export (by the user, or a layout change
                # under load): every frame keeps the first frame's size
                h, w = images[0].shape[:2]
                img = img.scaled(w, h, Qt.AspectRatioMode.IgnoreAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)  # fmt: skip
            images.append(qimage_to_array(img))
            progress.setValue(k + 1)
    finally:
        progress.close()
        state.set(t=t_keep, playing=was_playing)
    return write_frames(path, np.stack(images), fps)
