"""Export the explorer as an animation of t from 0 to 1 (GIF via imageio; MP4 when ffmpeg is)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QProgressDialog


def qimage_to_array(img: QImage) -> np.ndarray:
    """(H, W, 3) uint8 copy of a QImage."""
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=h * bpl).reshape(h, bpl)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def export_gif(window, path: str, frames: int = 40, fps: int = 12) -> None:
    """Render ``frames`` views at t = 0 .. 1 with exact field arrows computed synchronously."""
    import imageio.v3 as iio

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
            images.append(qimage_to_array(window.explorer.render_image()))
            progress.setValue(k + 1)
    finally:
        progress.close()
        state.set(t=t_keep, playing=was_playing)
    iio.imwrite(path, np.stack(images), duration=int(1000 / fps), loop=0)
