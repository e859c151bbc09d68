"""A training run in a background thread, as the GUI (or a notebook) drives it. Qt-free.

The session owns a :class:`Trainer` and a plain ``threading.Thread`` running ``trainer.run()``;
Train / Pause / Step / Reset map to :meth:`start`, :meth:`pause`, :meth:`step_once` and
:meth:`reset`. Readers take ``latest_snapshot`` (immutable) and ``history`` (append-only lists).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ..core.models import ModelConfig
from . import priority
from .priority import UserWork
from .trainer import TrainConfig, Trainer

if TYPE_CHECKING:
    from .process_session import TrainerView


class SessionView:
    """What every session shows of its trainer (thread or process alike)."""

    trainer: Trainer | TrainerView  # a Trainer, or the TrainerView of a training process

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    @property
    def latest_snapshot(self):
        return self.trainer.latest_snapshot

    @property
    def history(self):
        return self.trainer.history

    @property
    def step_count(self) -> int:
        return self.trainer.step_count

    def toggle(self) -> bool:
        """Start or pause; returns True when training is now running."""
        if self.running:
            self.pause()
            return False
        self.start()
        return True


class TrainingSession(SessionView):
    """user_work: the flag the compute side raises while it answers a user's action; the
    trainer waits between steps while it is up (default: this process's flag)."""

    trainer: Trainer
    #: issue 14: the mixture x_0 is drawn from (None: N(0, I)); set_source changes it
    source = None

    def set_source(self, source) -> None:
        """Train from ``source`` (an ExactMarginal, data coordinates; None: N(0, I)): a new
        trainer, before the first step."""
        self.source = source
        self.trainer = self._make_trainer()

    #: reflow: fixed (x_0, x_1) pairs (a core.couplings.PairBank) to train on (None: draw them)
    pairs = None

    def set_pairs(self, pairs) -> None:
        """Train on these fixed pairs (reflow): a new trainer, before the first step."""
        self.pairs = pairs
        self.trainer = self._make_trainer()

    def __init__(
        self, target, model_config: ModelConfig, config: TrainConfig,
        user_work: UserWork | None = None,
    ):  # fmt: skip
        self._target, self._mc, self._tc = target, model_config, config
        self.user_work = user_work if user_work is not None else priority.user_work()
        self.trainer = self._make_trainer()
        self._thread: threading.Thread | None = None

    def _make_trainer(self) -> Trainer:
        trainer = Trainer(self._target, self._mc, self._tc, source=self.source, pairs=self.pairs)
        trainer.before_step = self.user_work.yield_while_active
        return trainer

    # ----------------------------------------------------------------- state
    @property
    def running(self) -> bool:
        """True while the thread trains (not paused, not finished)."""
        return self._alive() and not self.trainer.paused

    @property
    def message(self) -> str:
        return self.trainer.message or ""

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def alive(self) -> bool:
        """True while the background thread exists and has not ended."""
        return self._alive()

    def publish(self) -> None:
        """Publish a snapshot of the current weights now."""
        if self.trainer.history.losses or self.trainer.step_count:
            self.trainer.publish()

    def load_weights(self, state_dict: dict, step: int = 0) -> None:
        """Continue from saved weights (the optimizer state starts fresh)."""
        self.trainer.load_weights(state_dict, step)

    # ----------------------------------------------------------------- control
    def start(self) -> None:
        """Train in the background (or resume a paused run)."""
        if self._alive():
            self.trainer.resume()
            return
        if self.trainer.done:
            return
        self.trainer.resume()
        self._thread = threading.Thread(
            target=self.trainer.run, name="flowscope-trainer", daemon=True
        )
        self._thread.start()

    def pause(self) -> None:
        self.trainer.pause()

    def step_once(self, n: int = 1) -> None:
        """n optimizer steps now, when the background run is paused or not started; publishes
        a snapshot so the views follow."""
        if self.running:
            return
        self.trainer.step(n)
        if self.trainer.history.losses:
            self.trainer.publish()

    def set_target(self, target) -> None:
        """New data without restarting (the trainer applies it at its next step)."""
        self._target = target
        self.trainer.set_target(target)

    def stop(self, timeout: float = 5.0, wait: bool = True) -> bool:
        """End the background thread; True if it ended within ``timeout`` seconds (wait=False:
        return at once, the thread ends after its current step)."""
        self.trainer.stop()
        if self._thread is not None and wait:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return self._thread is None or not self._thread.is_alive()

    def reset(
        self,
        target=None,
        model_config: ModelConfig | None = None,
        config: TrainConfig | None = None,
    ) -> None:
        """Stop and start over with fresh weights (optionally a new target or settings)."""
        self.stop()
        self._target = target if target is not None else self._target
        self._mc = model_config or self._mc
        self._tc = config or self._tc
        self.trainer = self._make_trainer()
        self._thread = None
