"""SessionController: the training lifecycle of one window (2D or images).

It creates the training session on demand from a factory the window gives (the window knows its
target and settings), and offers Train/Pause, Step, Reset, adopting saved weights, discarding and
shutting down. Nothing here blocks the GUI thread on a child process: a discarded session is
reaped in the background (``stop(wait=False)``). ``train_steps(n)`` is the synchronous path for
scripted mode, the benchmarks and tests (napari's force_sync idea).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from ...train import priority


class SessionController(QObject):
    """Owns the window's training session (None until first needed)."""

    #: Train/Pause state changed (True: training runs)
    runningChanged = Signal(bool)  # noqa: N815 - Qt signal naming
    #: the session was replaced or removed: results of the old weights are stale
    sessionReplaced = Signal()  # noqa: N815
    #: something went wrong starting or continuing training: (title, text)
    failed = Signal(str, str)
    #: ``train_steps`` has finished (paused, its snapshot published or timed out): the training
    #: status can be shown now (scripted mode, benchmarks; the windows connect it)
    trained = Signal()

    def __init__(self, factory: Callable[..., object], parent: QObject | None = None):
        """factory(**overrides) -> a new TrainingSession / ProcessTrainingSession (it may raise
        ValueError with a message for the user)."""
        super().__init__(parent)
        self._factory = factory
        self.session = None
        #: a training setting changed since the session was made (Reset applies it)
        self.settings_changed = False

    # ----------------------------------------------------------------- reading
    @property
    def snapshot(self):
        """The newest published snapshot, or None (no session or no weights yet)."""
        return None if self.session is None else self.session.latest_snapshot

    @property
    def running(self) -> bool:
        return self.session is not None and self.session.running

    @property
    def step_count(self) -> int:
        return 0 if self.session is None else self.session.step_count

    # ----------------------------------------------------------------- control
    def ensure(self, **overrides):
        """The session, made now if there is none (None, with ``failed`` emitted, on error)."""
        if self.session is None:
            try:
                self.session = self._factory(**overrides)
            except ValueError as e:
                self.failed.emit("Cannot start training", str(e))
                return None
            self.settings_changed = False
        return self.session

    def toggle(self) -> bool:
        """Train or pause; returns True when training now runs."""
        if self.ensure() is None:
            return False
        running = self.session.toggle()
        self.runningChanged.emit(running)
        return running

    def pause(self) -> None:
        if self.running:
            self.session.pause()
            self.runningChanged.emit(False)

    def step(self, n: int = 1) -> None:
        """n steps while paused. A training process answers asynchronously: its snapshot comes
        with the next poll (the GUI thread does not wait for a child that may still start)."""
        if self.ensure() is None or self.session.running:
            return
        self.session.step_once(n, **self._no_wait())

    def _no_wait(self) -> dict:
        from ...train.process_session import ProcessTrainingSession

        return {"timeout": 0.0} if isinstance(self.session, ProcessTrainingSession) else {}

    def mark_settings_changed(self) -> bool:
        """A training setting changed: True if a session exists (Reset will apply it)."""
        if self.session is None:
            return False
        self.settings_changed = True
        return True

    def hold_trainer(self) -> None:
        """The window is about to redraw for a user's action (a new target, new settings): the
        trainer waits a moment before its next steps, so that on a 2-core machine the GUI thread
        does not wait for a core (:meth:`~flowscope.train.priority.UserWork.hold_for_window`)."""
        priority.user_work().hold_for_window()

    def discard(self) -> None:
        """Drop the session without waiting for it to end; the next one's trainer waits a moment
        (:meth:`hold_trainer`)."""
        self.hold_trainer()
        if self.session is not None:
            self.session.stop(wait=False)  # never block the GUI thread on a child
            self.session = None
            self.runningChanged.emit(False)
            self.sessionReplaced.emit()
        self.settings_changed = False

    def reset(self) -> None:
        """Fresh weights with the current settings; keeps training if it was running."""
        was_running = self.running
        self.discard()
        if was_running:
            self.toggle()

    def adopt(
        self, state_dict: dict, history: dict | None = None, step: int | None = None,
        **overrides,
    ) -> bool:
        """Continue from saved weights (and their loss history) in a new session; the step
        count is ``step``, else the history's length. ``overrides`` go to the factory."""
        self.discard()
        if self.ensure(**overrides) is None:
            return False
        try:
            steps = list((history or {}).get("steps", []))
            self.session.history.steps.extend(steps)
            self.session.history.losses.extend((history or {}).get("losses", []))
            self.session.load_weights(state_dict, step=len(steps) if step is None else step)
        except (ValueError, RuntimeError) as e:
            self.discard()
            self.failed.emit("The saved model does not fit", str(e))
            return False
        self.sessionReplaced.emit()
        return True

    def train_steps(
        self, n: int, wait: Callable[[], None], timeout: float = 600.0
    ) -> bool:
        """Train until at least n steps are done, pause, and wait for their snapshot; ``wait()``
        lets the caller's event loop run between checks. True when the snapshot holds n steps."""
        if self.ensure() is None:
            return False
        if not self.running:
            self.toggle()
        deadline = time.time() + timeout
        while self.session.step_count < n and time.time() < deadline:
            if self.session.trainer.error:
                break
            wait()
        self.pause()
        published = self.session.step_count
        self.session.publish()
        # the snapshot comes when the child has finished its step and the reader delivered it:
        # seconds on a loaded machine, so the same patience as the steps, not a fixed budget
        deadline = time.time() + timeout
        done = False
        while time.time() < deadline:
            snap = self.snapshot
            if snap is not None and snap.step >= self.session.step_count:
                done = snap.step >= n
                break
            if self.session.step_count != published:
                # a step in flight when we paused ended after the publish (a paused trainer
                # publishes nothing more): publish its weights too
                published = self.session.step_count
                self.session.publish()
            wait()
        if self.session is not None:
            self.trained.emit()
        return done

    def shutdown(self, timeout: float = 4.0) -> None:
        """End the session (bounded): the window is closing."""
        if self.session is not None:
            self.session.stop(timeout=timeout)
            self.session = None
