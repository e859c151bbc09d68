"""File > Export of both windows: ask for a path (unless given), write it atomically, say what was
written in the status bar, or why not (never a traceback).

Every export returns True when a file was written; a path given as an argument skips the dialog
(tests, scripted use). ``ExplorerExports`` serves the 2D window (model in three formats, samples,
the view as PNG / SVG, the t = 0 -> 1 animation, the run as a script); ``ImageExports`` the image
window (model, sample grid, samples, trajectory strip).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from ...core.safeio import atomic_write, save_npy


class Exports(QObject):
    """The part both windows share; ``window`` is a FlowscopeWindow with ``current_model()``."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def _ask_save(self, title: str, default: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self.window, title, default, filters)
        return path

    def _done(self, text: str, ms: int = 4000) -> bool:
        self.window.statusBar().showMessage(text, ms)
        return True

    def _failed(self, title: str, error: Exception) -> bool:
        self.window.show_error(title, str(error))
        return False

    def _model_or_say_why(self):
        model = self.window.current_model()
        if model is None:
            self.window.show_error(
                "Nothing to export yet", "Train first (press T): there are no weights."
            )
        return model

    def export_model_folder(self, path: str | None = None) -> bool:
        """The model as a folder (model.safetensors + model.json) that flowscope.load() reads."""
        model = self._model_or_say_why()
        if model is None:
            return False
        if path is None:
            from ..model_folder import ask_model_folder

            path = ask_model_folder(self.window)  # a new folder may be named: save creates it
            if not path:
                return False
        try:
            out = model.save(path)
        except (OSError, ValueError, RuntimeError) as e:
            return self._failed("Export failed", e)
        return self._done(f"saved the model to {out}", 5000)


class ExplorerExports(Exports):
    """The 2D window's exports."""

    #: frames of File > Export > Animation (t = 0 -> 1)
    animation_frames = 40

    def export_model(self, fmt: str, path: str | None = None) -> bool:
        """fmt: 'dir' (safetensors + json), 'pt2' (torch.export) or 'onnx'."""
        if fmt == "dir":
            return self.export_model_folder(path)
        model = self._model_or_say_why()
        if model is None:
            return False
        suffix = {"pt2": "torch.export (*.pt2)", "onnx": "ONNX (*.onnx)"}[fmt]
        path = path or self._ask_save("Export model", f"model.{fmt}", suffix)
        if not path:
            return False
        from ...core.export import export_velocity

        try:
            export_velocity(model, path, fmt)
        except (ValueError, OSError, RuntimeError) as e:
            return self._failed("Export failed", e)
        return self._done(f"exported {path}")

    def export_run_script(self, path: str | None = None) -> bool:
        """The current target, model, training and sampling settings as a standalone script."""
        from ...core.script_export import run_script
        from ...train.trainer import TrainConfig

        win, s = self.window, self.window.state
        path = path or self._ask_save("Export run", "run.py", "Python (*.py)")
        if not path:
            return False
        tc = TrainConfig(
            steps=None, batch_size=s.batch_size, lr=s.lr, schedule=s.schedule, device=s.device,
            label_dropout=s.label_dropout, num_threads=1, normalize="none",
        )  # fmt: skip
        session = win.sessions.session
        try:
            text = run_script(
                s.target_source, win.session_model_config(), tc,
                drawing=win.canvas.drawing() if s.target_source == "drawing" else None,
                train_steps=session.trainer.step_count if session else None,
                n=s.n_particles, steps=s.steps, solver=s.solver, sigma=s.sigma,
                sigma_schedule=s.sigma_schedule, w=s.w, y=s.label, seed=s.seed,
                drop_score_term=s.drop_score_term,
            )  # fmt: skip
            atomic_write(path, text)
        except (ValueError, OSError) as e:
            return self._failed("Export failed", e)
        return self._done(f"exported {path}")

    def export_samples(self, path: str | None = None) -> bool:
        """The ODE particles at the current t, as .npy or (for a .csv path) x,y text."""
        pos = self.window.view.current_positions()
        if pos is None:
            return False
        path = path or self._ask_save("Export samples", "samples.npy", "NumPy (*.npy);;CSV (*.csv)")
        if not path:
            return False
        ode, _ = pos
        try:
            if path.endswith(".csv"):
                fmt = dict(delimiter=",", header="x,y", comments="", fmt="%.6f")
                atomic_write(Path(path), lambda tmp: np.savetxt(tmp, ode, **fmt))
            else:
                atomic_write(Path(path), lambda tmp: save_npy(tmp, ode))
        except (OSError, ValueError) as e:
            return self._failed("Could not write the samples", e)
        t = self.window.state.t
        return self._done(f"wrote {len(ode)} samples (ODE, t = {t:.2f})", 0)

    def export_view(self, fmt: str, path: str | None = None) -> bool:
        """The explorer as it is shown: 'png' (its pixels) or 'svg' (vector)."""
        if path is None:
            path = self._ask_save("Export view", f"flowscope.{fmt}", f"{fmt.upper()} (*.{fmt})")
            if not path:
                return False
        explorer = self.window.explorer
        try:
            if fmt == "svg":
                atomic_write(Path(path), lambda tmp: explorer.export_svg(str(tmp)))
            else:
                img = explorer.render_image()

                def write(tmp: Path) -> None:
                    if not img.save(str(tmp)):
                        raise OSError(f"could not write {path}")

                atomic_write(Path(path), write)
        except (OSError, RuntimeError) as e:
            return self._failed("Export failed", e)
        return self._done(f"exported {path}")

    def export_animation(self, path: str | None = None, frames: int | None = None) -> bool:
        """Ask for a .gif / .mp4 path (unless given), then render t = 0 -> 1 into it."""
        from ..animation import animation_formats, export_animation

        frames = self.animation_frames if frames is None else int(frames)
        if path is None:
            formats = animation_formats()
            filters = ";;".join(f"{f.upper()} (*.{f})" for f in formats)
            path, chosen = QFileDialog.getSaveFileName(
                self.window, "Export animation", "flowscope.gif", filters
            )
            if not path:
                return False
            if not Path(path).suffix:  # no suffix typed: the chosen filter's
                path += "." + (formats[1] if chosen.startswith("MP4") else formats[0])
        try:
            atomic_write(Path(path), lambda tmp: export_animation(self.window, str(tmp), frames))
        except (OSError, RuntimeError, ValueError) as e:
            return self._failed("Animation export failed", e)
        return self._done(f"exported {path}")


class ImageExports(Exports):
    """The image window's exports: the model and what the grid and the strip show."""

    def export_model(self, path: str | None = None) -> bool:
        return self.export_model_folder(path)

    def _grid_images(self):
        result = self.window.result
        if result is None:
            self.window.show_error(
                "Nothing to export yet", "Train first (press T): there are no samples."
            )
            return None
        cells = result.cells
        return cells.reshape(-1, *cells.shape[3:]), cells.shape[1] * cells.shape[2]

    def export_grid(self, path: str | None = None) -> bool:
        """The sample grid as a PNG (rows: classes; columns: w)."""
        got = self._grid_images()
        if got is None:
            return False
        path = path or self._ask_save("Export the sample grid", "samples.png", "PNG (*.png)")
        if not path:
            return False
        try:  # as the view shows it: readable cells, rows and columns labelled
            _save_qimage(self.window.grid_view.to_image(), path)
        except (OSError, ValueError) as e:
            return self._failed("Could not write the picture", e)
        return self._done(f"wrote {path} (rows: classes; columns: w)", 5000)

    def export_samples(self, path: str | None = None) -> bool:
        """The grid's images as one (n, C, H, W) .npy array."""
        got = self._grid_images()
        if got is None:
            return False
        path = path or self._ask_save("Export the samples", "samples.npy", "NumPy (*.npy)")
        if not path:
            return False
        try:
            atomic_write(Path(path), lambda tmp: save_npy(tmp, got[0]))
        except (OSError, ValueError) as e:
            return self._failed("Could not write the samples", e)
        return self._done(
            f"wrote {got[0].shape[0]} images {tuple(got[0].shape[1:])} to {path} "
            "(class-major, then w, in the data's value range)", 6000,
        )  # fmt: skip

    def export_strip(self, path: str | None = None) -> bool:
        """The trajectory strip (x_t from t = 0 to 1) as a PNG."""
        result = self.window.result
        if result is None:
            self.window.show_error("Nothing to export yet", "Train first (press T).")
            return False
        path = path or self._ask_save("Export the trajectory", "trajectory.png", "PNG (*.png)")
        if not path:
            return False
        try:  # with its t labels, as shown
            _save_qimage(self.window.strip_view.to_image(), path)
        except (OSError, ValueError) as e:
            return self._failed("Could not write the picture", e)
        return True


def _save_qimage(image, path: str) -> None:
    """Write a QImage as PNG (atomically); ValueError when there is none or Qt cannot."""
    if image is None or image.isNull():
        raise ValueError("there is no picture to write yet")

    def write(tmp: Path) -> None:
        if not image.save(str(tmp), "PNG"):
            raise OSError(f"Qt could not write {path}")

    atomic_write(Path(path).expanduser(), write)
