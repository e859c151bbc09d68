"""Training in a separate process, behind the same interface as :class:`TrainingSession`.

Why: beside the GUI, a training *thread* got 13-27% of its solo speed on 2 cores (a GIL convoy:
it re-takes the GIL after every small torch op while the GUI thread paints with PySide holding
it). A process has its own GIL. Commands go down a queue (resume, pause, step, target, weights,
stop); snapshots with the new loss-history entries come back at the trainer's snapshot rate and
the process's reader thread applies them to :class:`TrainerView`, which the GUI reads like a
Trainer. The process outlives the session: the next session (a Reset, a new preset) begins in it
at once (train/trainer_worker.py). Qt-free.
"""

from __future__ import annotations

import multiprocessing as mp
import threading

import torch

from ..core.losses import loss_formula
from ..core.models import ModelConfig
from . import messages as msg
from . import priority
from .priority import UserWork
from .session import SessionView
from .trainer import LossHistory, Snapshot, TrainConfig
from .trainer_worker import (  # noqa: F401 - some only re-exported
    POLL_EVERY,
    Background,
    TrainerWorker,
    background,
    end_child,
    new_session_id,
    pack,
    pool,
    unpack,
)


class TrainerView:
    """What the parent knows of the child's Trainer (read like a Trainer by the GUI)."""

    def __init__(self, model_config: ModelConfig, config: TrainConfig):
        self.model_config = model_config
        self.config = config
        self.device = torch.device("cpu")
        self.device_message = ""
        self.step_count = 0
        self.steps_per_sec = 0.0
        self.error: str | None = None
        self.message = ""
        self.history = LossHistory()
        self.target_version = 0
        self.latest_snapshot: Snapshot | None = None
        self.paused = True

    @property
    def done(self) -> bool:
        return self.error is not None

    def summary(self) -> dict:
        tail = self.history.losses[-100:]
        return {
            "steps": self.step_count,
            "final_loss": (sum(tail) / len(tail)) if tail else None,
            "loss": loss_formula(self.model_config.parameterization, self.config.score_weighting),
            "config": dict(vars(self.config)),
            "device": str(self.device),
            "target_version": self.target_version,
            "error": self.error,
        }


class ProcessTrainingSession(SessionView):
    """Train / Pause / Step / Reset with the trainer in a child process (an idle one from the
    pool, else one spawned on start).

    user_work: the flag the compute side raises while it answers a user's action; the child
    waits between its steps while it is up (default: this process's flag)."""

    trainer: TrainerView
    #: issue 14: the mixture x_0 is drawn from (None: N(0, I)), sent to the child at its start
    source = None

    def set_source(self, source) -> None:
        """Train from ``source`` (an ExactMarginal, data coordinates; None: N(0, I)); takes
        effect when the child starts (before the first step)."""
        self.source = source

    #: reflow: fixed (x_0, x_1) pairs (a PairBank), sent to the child at its start
    pairs = None

    def set_pairs(self, pairs) -> None:
        """Train on these fixed pairs (reflow); takes effect when the child starts."""
        self.pairs = pairs

    def __init__(
        self, target, model_config: ModelConfig, config: TrainConfig, nice: int = 0,
        user_work: UserWork | None = None,
    ):  # fmt: skip
        self._target, self._mc, self._tc = target, model_config, config
        self.nice = nice
        self.user_work = user_work if user_work is not None else priority.user_work()
        self.trainer = TrainerView(model_config, config)
        self._ctx = mp.get_context("spawn")
        #: the trainer process serving this session (None before start and after stop)
        self._worker: TrainerWorker | None = None
        self._sid = 0
        #: commands sent while a new trainer process is being started (sent in order once it is)
        self._backlog: list | None = None
        self._send_lock = threading.Lock()
        #: set once a start that was asked for has finished (or failed); None: never asked
        self._launched: threading.Event | None = None
        self._ready = threading.Event()
        self._ended = threading.Event()  # the child said Bye (or Fatal), or its process is gone
        self._stopped = False
        self._handed = False  # the process went back to the pool
        self._unanswered: list = []  # commands sent before the child's Hello (for a relaunch)
        self._relaunched = False
        self._token = 0  # step commands sent
        self._acked = 0  # step commands the child has finished (and published)
        self._ack_cond = threading.Condition()

    # ----------------------------------------------------------------- state
    @property
    def running(self) -> bool:
        return self.alive() and not self.trainer.paused and self.trainer.error is None

    @property
    def message(self) -> str:
        return self.trainer.error or self.trainer.device_message or ""

    def alive(self) -> bool:
        """The session has a trainer process, or one is being started (commands sent meanwhile
        wait for it); False once stopped."""
        if self._stopped:
            return False
        if self._launching():
            return True
        return self._worker is not None and self._worker.alive() and not self._ended.is_set()

    @property
    def pid(self) -> int | None:
        """The training process's id (None before start): benchmarks read its CPU time."""
        return None if self._worker is None else self._worker.pid

    def _launching(self) -> bool:
        return self._launched is not None and not self._launched.is_set()

    # ----------------------------------------------------------------- process
    def _ensure_process(self) -> None:
        """Begin the session in a trainer process, without blocking the caller (the GUI
        thread). An idle process from an earlier session is used at once (train/trainer_worker:
        no torch import, training starts with the next step). Otherwise a launcher thread
        spawns one (fork + exec of a large process waited 30-70 ms on 2 busy cores); commands
        sent meanwhile are kept and sent, in order, once it runs."""
        if self.alive():
            return
        # a new session (also after a stop: a fresh trainer, as a new process gave before)
        self._stopped, self._handed, self._worker = False, False, None
        self._relaunched, self._unanswered = False, []
        self._sid = new_session_id()
        self._ready.clear()
        self._ended.clear()
        worker = pool().claim((self.nice, id(self.user_work)))
        if worker is not None:
            self._begin(worker)
            return
        with self._send_lock:
            self._backlog = []
        self._launched = threading.Event()
        background().submit(self._launch, self._launched)

    def _begin_message(self) -> msg.Begin:
        return msg.Begin(
            pack(self._target), self._mc, self._tc,
            None if self.source is None else pack(self.source),
            None if self.pairs is None else pack(self.pairs),
        )  # fmt: skip

    def _begin(self, worker: TrainerWorker) -> None:
        worker.attach(self._sid, self._on_event)
        with self._send_lock:
            worker.send(self._sid, self._begin_message())
            self._unanswered = list(self._backlog or ())
            for cmd in self._unanswered:
                worker.send(self._sid, cmd)
            self._backlog = None
            self._worker = worker

    def _relaunch(self) -> bool:
        """The process this session was handed died before it answered (an idle process that
        was killed): begin again in a new one, with the commands sent so far. Once only."""
        with self._send_lock:
            if self._stopped or self._ready.is_set() or self._relaunched:
                return False
            self._relaunched = True
            self._backlog, self._worker = list(self._unanswered), None
            self._launched = launched = threading.Event()
        background().submit(self._launch, launched)
        return True

    def _launch(self, launched: threading.Event) -> None:
        try:
            self._begin(TrainerWorker(self._ctx, self.nice, self.user_work))
        except Exception as e:  # noqa: BLE001 - shown to the user as the trainer's error
            self.trainer.error = self.trainer.message = f"cannot start training: {e}"
            self.trainer.paused = True
            self._ready.set()
            self._ended.set()
        finally:
            launched.set()

    def wait_started(self, timeout: float = 30.0) -> bool:
        """Block until a start that was asked for has a trainer process (tests, shutdown)."""
        return self._launched is None or self._launched.wait(timeout)

    def _send(self, cmd) -> None:
        with self._send_lock:
            if self._worker is not None:
                self._worker.send(self._sid, cmd)
                if not self._ready.is_set():
                    self._unanswered.append(cmd)
            elif self._backlog is not None:
                self._backlog.append(cmd)

    def _on_event(self, ev) -> None:
        """An event of this session, on the worker's reader thread (None: the process ended)."""
        tv = self.trainer
        if ev is None and self._relaunch():
            return
        if ev is None or isinstance(ev, msg.Bye):
            self._ended.set()
            self._ready.set()
            self._set_acked(self._token)  # nothing more will be answered
        elif isinstance(ev, msg.Hello):
            tv.device, tv.device_message = torch.device(ev.device), ev.device_message
            self._ready.set()
            self._unanswered = []
        elif isinstance(ev, msg.Published):
            tv.history.steps.extend(ev.steps)
            tv.history.losses.extend(ev.losses)
            tv.history.bin_sum[:], tv.history.bin_count[:] = ev.bin_sum, ev.bin_count
            tv.step_count, tv.steps_per_sec = ev.snapshot.step, ev.steps_per_sec
            tv.target_version = ev.snapshot.target_version
            tv.latest_snapshot = ev.snapshot
            if ev.error:
                tv.error = tv.message = ev.error
        elif isinstance(ev, msg.TrainError):
            tv.error = tv.message = ev.error
            tv.paused = True
        elif isinstance(ev, msg.Fatal):
            tv.error = tv.message = ev.error
            tv.paused = True
            self._ended.set()
            self._ready.set()
            self._set_acked(self._token)
        elif isinstance(ev, msg.Ack):
            self._set_acked(ev.token)

    def _set_acked(self, token: int) -> None:
        with self._ack_cond:
            self._acked = max(self._acked, int(token))
            self._ack_cond.notify_all()

    # ----------------------------------------------------------------- control
    def start(self) -> None:
        if self.trainer.error:
            return
        self._ensure_process()
        self.trainer.paused = False
        self._send(msg.Resume())

    def pause(self) -> None:
        self.trainer.paused = True
        self._send(msg.Pause())

    def step_once(self, n: int = 1, timeout: float = 30.0) -> None:
        """n steps now (when paused); waits until the child acknowledges this command, which it
        does after publishing the snapshot, so the snapshot seen afterwards includes them."""
        if self.running:
            return
        self._ensure_process()
        self._token += 1
        token = self._token
        self._send(msg.Step(int(n), token))
        if timeout <= 0:
            return  # the snapshot arrives with the reader (the GUI thread does not wait)
        with self._ack_cond:
            self._ack_cond.wait_for(
                lambda: self._acked >= token or self.trainer.error is not None, timeout
            )

    def set_target(self, target) -> None:
        self._target = target
        if self.alive():
            self._send(msg.SetTarget(target))

    def load_weights(self, state_dict: dict, step: int = 0) -> None:
        """Continue from saved weights (applied when the process starts, or now)."""
        sd = {k: v.detach().cpu() for k, v in state_dict.items()}
        if not self.alive():
            self.trainer.step_count = step
            self._ensure_process()
        self._send(msg.LoadWeights(sd, step))  # first in line when the child starts

    def publish(self) -> None:
        """Ask for a fresh snapshot (it arrives asynchronously)."""
        if self.alive():
            self._send(msg.Publish())

    def stop(self, timeout: float = 5.0, wait: bool = True) -> bool:
        """End the session; True if it ended within ``timeout`` seconds (else its process is
        killed). Its process goes back to the pool for the next session at once: the next
        session's Begin is queued behind this Stop.

        wait=False returns at once (a GUI thread must not block on a child that may still be
        importing torch: 2-4 s); a session whose process is still being started is handed
        back by a daemon thread."""
        if self._stopped:
            return self._ended.is_set() or self._worker is None
        if self._worker is None and self._launched is None:
            self._stopped = True
            return True
        self._send(msg.Stop())  # kept for a child still starting: it stops once it runs
        self.trainer.paused = True
        self._stopped = True
        if not self._launching():
            self._hand_back()
        if not wait:
            if self._launching():
                background().submit(self._hand_back_when_started, timeout)
            return False
        return self._hand_back_when_started(timeout)

    def _hand_back(self) -> None:
        """Give the process to the pool, once (its queue holds our Stop before anything else)."""
        with self._send_lock:
            if self._handed or self._worker is None:
                return
            self._handed = True
            worker = self._worker
        pool().release(worker)

    def _hand_back_when_started(self, timeout: float) -> bool:
        if self._launched is not None and not self._launched.wait(timeout):
            return False
        if self._worker is None:
            return True
        self._hand_back()
        if self._ended.wait(timeout):
            return True
        pool().discard(self._worker, timeout=0.0)  # stuck mid-step: never hand it out again
        return False

    def reset(self, target=None, model_config=None, config=None) -> None:
        self.stop()
        self._target = target if target is not None else self._target
        self._mc = model_config or self._mc
        self._tc = config or self._tc
        self.trainer = TrainerView(self._mc, self._tc)
        self._worker, self._launched, self._backlog = None, None, None
        self._stopped = self._handed = False


def wait_ready(session: ProcessTrainingSession, timeout: float = 30.0) -> bool:
    """Block until the child reported its device (tests, scripted mode)."""
    return session._ready.wait(timeout) if isinstance(session, ProcessTrainingSession) else True
