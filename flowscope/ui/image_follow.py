"""Image mode follows a training run: File > Follow a training run… picks the run's folder (the
``--out`` of ``flowscope train --checkpoint-every N``, on this machine or a mounted one), and the
window samples the newest checkpoint's weights (grid, w, strip), reloading when a newer one is
written.

A QFileSystemWatcher on the folder and its checkpoints/ says when something changed, and a 2 s
poll catches what it misses (network file systems). The checkpoint is read on a worker thread
(safetensors + JSON: no code runs); the GUI thread only swaps the snapshot the window samples.
Training in the window is off while it follows; Stop following gives it back.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from ..train.checkpoints import latest_checkpoint

POLL_MS = 2000
TRAINING_ACTIONS = ("Train / pause", "Step", "Reset weights")  # off while following
TAKE_MS = 100  # how often the GUI thread looks for a finished load


def newest_model(folder: Path) -> Path | None:
    """The newest loadable model of a run: its latest checkpoint, or the final model (the
    folder's own model.json) when that was written after it."""
    ck = latest_checkpoint(folder)
    final = folder / "model.json"
    if final.is_file() and (ck is None or final.stat().st_mtime >= _stamp(ck)[1]):
        return folder
    return ck


def _stamp(path: Path) -> tuple[str, float]:
    try:
        return str(path), (path / "model.json").stat().st_mtime
    except OSError:
        return str(path), 0.0


class RunFollower(QObject):
    """Watches a run folder; emits ``loaded(snapshot, path)`` (GUI thread) for each newer model."""

    loaded = Signal(object, str)
    failed = Signal(str)

    def __init__(self, folder: str | Path, parent: QObject | None = None):
        super().__init__(parent)
        self.folder = Path(folder).expanduser()
        self.current: tuple[str, float] | None = None  # (path, model.json mtime) shown
        self.snapshot = None
        self.load_threads: list[int] = []  # idents of the threads that loaded (tests)
        self._lock = threading.Lock()
        self._done: tuple | None = None
        self._loading: tuple[str, float] | None = None
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(lambda _: self.check())
        self.poll = QTimer(self, interval=POLL_MS)
        self.poll.timeout.connect(self.check)
        self.take = QTimer(self, interval=TAKE_MS)
        self.take.timeout.connect(self._take)

    def start(self) -> None:
        self._watch()
        self.poll.start()
        self.take.start()
        self.check()

    def stop(self) -> None:
        self.poll.stop()
        self.take.stop()
        paths = self.watcher.directories()
        if paths:
            self.watcher.removePaths(paths)

    def _watch(self) -> None:
        for p in (self.folder, self.folder / "checkpoints"):
            if p.is_dir() and str(p) not in self.watcher.directories():
                self.watcher.addPath(str(p))

    def check(self) -> None:
        """Load the newest model if it is not the one shown (nor being loaded)."""
        self._watch()  # checkpoints/ may appear after the run started
        path = newest_model(self.folder)
        if path is None:
            return
        stamp = _stamp(path)
        if stamp in (self.current, self._loading):
            return
        self._loading = stamp
        threading.Thread(target=self._load, args=(path, stamp), daemon=True,
                         name="flowscope-follow").start()  # fmt: skip

    def _load(self, path: Path, stamp) -> None:
        from ..core.checkpoint import CheckpointError
        from ..core.flow_model import load

        self.load_threads.append(threading.get_ident())
        try:
            model = load(path)
            done = (stamp, snapshot_of(model), None)
        except (CheckpointError, OSError, ValueError, RuntimeError) as e:
            done = (stamp, None, f"{path}: {e}")
        with self._lock:
            self._done = done

    def _take(self) -> None:
        with self._lock:
            done, self._done = self._done, None
        if done is None:
            return
        stamp, snap, error = done
        self._loading = None
        if error is not None:  # a checkpoint being replaced, say: keep the one shown
            self.current = stamp
            self.failed.emit(error)
            return
        self.current, self.snapshot = stamp, snap
        self.loaded.emit(snap, stamp[0])


def snapshot_of(model):
    """A loaded FlowModel as the trainer's Snapshot (what the image requests sample)."""
    from ..train.trainer import Snapshot

    state = {k: v.detach().to("cpu", copy=True) for k, v in model.net.state_dict().items()}
    steps = int((model.metadata.get("training") or {}).get("steps") or 0)
    return Snapshot(steps, float("nan"), state, model.config, model.schedule.name,
                    model.normalization, 0, 0.0, time.time(), model.class_names)  # fmt: skip


# ---------------------------------------------------------------------- the window's side
def follow_run_dialog(win) -> bool:
    """File > Follow a training run…"""
    path = QFileDialog.getExistingDirectory(win, "Follow a training run (its --out folder)")
    return bool(path) and follow_run(win, path)


def follow_run(win, folder: str | Path) -> bool:
    """Make the image window ``win`` sample the newest model of the run in ``folder``."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        win.show_error("Cannot follow this run", f"{folder} is not a folder")
        return False
    stop_following(win)
    win.sessions.discard()
    follower = RunFollower(folder, win)
    follower.loaded.connect(lambda snap, path: _show(win, follower, snap, path))
    follower.failed.connect(lambda text: win.statusBar().showMessage(f"not reloaded: {text}", 8000))
    win.follower = follower
    win.snapshot_source = lambda: follower.snapshot  # what image_request samples
    _set_training_enabled(win, False)
    win.training_panel.status.setText(f"following {folder.name}: waiting for a checkpoint")
    follower.start()
    return True


def stop_following(win) -> None:
    follower = getattr(win, "follower", None)
    if follower is None:
        return
    follower.stop()
    win.follower = None
    win.snapshot_source = None  # the training session's snapshot again
    _set_training_enabled(win, True)
    win.training_panel.status.setText("not trained yet")


def _set_training_enabled(win, on: bool) -> None:
    win.training_panel.setEnabled(on)
    for action in win.findChildren(QAction):
        if action.text().replace("&", "") in TRAINING_ACTIONS:
            action.setEnabled(on)


def _show(win, follower: RunFollower, snap, path: str) -> None:
    ds = win.dataset
    cfg = snap.config
    if ds is None or tuple(cfg.image_shape) != ds.shape or cfg.num_classes != ds.num_classes:
        c, h, w = cfg.image_shape
        win.show_error("The run does not fit this dataset",
                   f"the run trains {c}x{h}x{w} images with {cfg.num_classes} classes; open that "
                   "dataset (File > Open dataset), the window keeps following")  # fmt: skip
        return
    when = time.strftime("%H:%M:%S")
    line = f"following {follower.folder.name}: step {snap.step:,} (reloaded {when})"
    win.training_panel.status.setText(line)
    win.statusBar().showMessage(f"{line} from {path}", 6000)
    win.request_images(force=True)
