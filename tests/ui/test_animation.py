"""Animation files: GIF always, MP4 when imageio-ffmpeg is installed."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from flowscope.ui.animation import animation_formats, mp4_available, write_frames  # noqa: E402


def _frames(n=5, h=61, w=83):
    """Odd sizes on purpose: H.264 needs even ones."""
    x = np.zeros((n, h, w, 3), np.uint8)
    for k in range(n):
        x[k, :, : 10 + 12 * k] = (200, 40, 40)
    return x


def test_gif_keeps_every_frame(tmp_path):
    from PIL import Image

    out = write_frames(tmp_path / "a.gif", _frames(), fps=10)
    with Image.open(out) as img:
        assert img.n_frames == 5 and img.size == (83, 61)


@pytest.mark.skipif(not mp4_available(), reason="imageio-ffmpeg is not installed")
def test_mp4_is_h264_with_the_frames_in_order(tmp_path):
    import subprocess

    import imageio_ffmpeg

    assert animation_formats() == ["gif", "mp4"]
    out = write_frames(tmp_path / "a.mp4", _frames(), fps=10)
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    info = subprocess.run([exe, "-hide_banner", "-i", str(out)], capture_output=True, text=True)
    assert "Video: h264" in info.stderr and "82x60" in info.stderr
    raw = subprocess.run(
        [exe, "-loglevel", "error", "-i", str(out), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, 60, 82, 3)
    assert len(frames) == 5
    red = [(f[..., 0] > 120).mean() for f in frames]
    assert all(b > a for a, b in zip(red, red[1:]))  # the red band grows frame by frame


def test_other_suffixes_are_refused_with_a_message(tmp_path):
    with pytest.raises(ValueError, match=".gif or .mp4"):
        write_frames(tmp_path / "a.avi", _frames())
