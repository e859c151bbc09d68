"""Training in a separate process, behind the same interface as :class:`TrainingSession`.

Why: beside the GUI, a training *thread* got 13-27% of its solo speed on 2 cores (a GIL convoy:
it re-takes the GIL after every small torch op while the GUI thread paints with PySide holding
it). A process has its own GIL. Commands go down a queue (resume, pause, step, target, weights,
stop); snapshots with the new loss-history entries come back at the trainer's snapshot rate and
a reader thread applies them to :class:`TrainerView`, which the GUI reads like a Trainer. Qt-free.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import threading
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any

import torch

from ..core.losses import loss_formula
from ..core.models import ModelConfig
from . import messages as msg
from . import priority
from .priority import UserWork
from .session import SessionView
from .trainer import LossHistory, Snapshot, TrainConfig, Trainer

POLL_EVERY = 4  # training steps between command polls in the child


def pack(obj) -> bytes:
    """Serialize by value for another process of ours. multiprocessing's own pickler would move
    every tensor it sends into shared memory *in place*, from its feeder thread, while this
    process may still be reading it (seen as garbage weights after File > Open)."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def unpack(data: bytes):
    """The inverse of :func:`pack` (only for bytes our own processes made, never files)."""
    return pickle.loads(data)


def end_child() -> None:
    """End this child process now that its last message is sent: multiprocessing's exit hook
    (it flushes the queues' feeder threads, as at a normal exit), then ``os._exit``. Python's
    own teardown (torch's modules) took 0.7-1.8 s on a quiet machine, and longer on a busy one,
    and a closing window joins its children: it waited for that teardown (the join timed out
    after 1 s, and the child was terminated). Returns (does nothing) outside a child process."""
    import multiprocessing.util

    if mp.parent_process() is None:
        return
    exit_hook = getattr(multiprocessing.util, "_exit_function", None)  # private, not typed
    if exit_hook is not None:
        exit_hook()
    os._exit(0)


class _Packed:
    """A queue end that packs what it puts."""

    def __init__(self, q):
        self._q = q

    def put(self, msg) -> None:
        self._q.put(pack(msg))


def _child(
    cmd_q, out_q, target, mc: ModelConfig, tc: TrainConfig, nice: int = 0,
    user_work: UserWork | None = None, source=None, pairs=None,
) -> None:  # fmt: skip
    torch.set_num_threads(1)
    target = unpack(target)
    source = None if source is None else unpack(source)
    pairs = None if pairs is None else unpack(pairs)
    out_q = _Packed(out_q)
    if nice > 0 and hasattr(os, "nice"):
        os.nice(nice)  # the window first: a process has its own GIL, so no priority inversion
    try:
        trainer = Trainer(target, mc, tc, source=source, pairs=pairs)
    except Exception as e:  # noqa: BLE001 - reported to the parent as text
        out_q.put(msg.Fatal(f"{type(e).__name__}: {e}"))
        return
    sent = [0]

    def publish(snap: Snapshot) -> None:
        h, n = trainer.history, sent[0]
        m = len(h.losses)
        out_q.put(msg.Published(
            snap, h.steps[n:m], h.losses[n:m], list(h.bin_sum), list(h.bin_count),
            trainer.steps_per_sec, trainer.error,
        ))  # fmt: skip
        sent[0] = m

    trainer.on_snapshot = publish
    out_q.put(msg.Hello(str(trainer.device), trainer.device_message, trainer.normalization))
    running = False
    parent = mp.parent_process()
    while True:
        if parent is not None and not parent.is_alive():
            return  # the window was killed: nobody will ever read the results
        block = not running or trainer.done
        try:
            cmd = unpack(cmd_q.get(timeout=0.1) if block else cmd_q.get_nowait())
        except queue.Empty:
            cmd = None
        if cmd is not None:
            if isinstance(cmd, msg.Stop):
                break
            if isinstance(cmd, msg.Resume):
                running = True
                trainer.restart_rate()
            elif isinstance(cmd, msg.Pause):
                running = False
                trainer.publish()
            elif isinstance(cmd, msg.Publish):
                trainer.publish()
            elif isinstance(cmd, msg.Step):
                trainer.step(cmd.n)
                trainer.publish()
                out_q.put(msg.Ack(cmd.token))  # after the snapshot: the parent waits for this
            elif isinstance(cmd, msg.SetTarget):
                trainer.set_target(cmd.target)
            elif isinstance(cmd, msg.LoadWeights):
                trainer.load_weights(cmd.state_dict, cmd.step)
            continue
        if running and not trainer.done:
            if user_work is not None:  # a user's request is being computed: it goes first
                user_work.yield_while_active()
            trainer.step(POLL_EVERY)
            if trainer.error:
                running = False
                out_q.put(msg.TrainError(trainer.error))
    if trainer.history.losses:
        trainer.publish()
    out_q.put(msg.Bye())
    end_child()


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
    """Train / Pause / Step / Reset with the trainer in a child process (spawned on start).

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
        self._proc: BaseProcess | None = None
        self._cmd_q: Queue[Any] | None = None
        self._out_q: Queue[Any] | None = None
        self._reader: threading.Thread | None = None
        #: commands sent while the child is being started (the launcher sends them in order)
        self._backlog: list[bytes] | None = None
        self._send_lock = threading.Lock()
        #: set once a start that was asked for has finished (or failed); None: never asked
        self._launched: threading.Event | None = None
        self._ready = threading.Event()
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
        """The child runs, or is being started (commands sent meanwhile wait for it)."""
        if self._launching():
            return True
        return self._proc is not None and self._proc.is_alive()

    @property
    def pid(self) -> int | None:
        """The training child's process id (None before start): benchmarks read its CPU time."""
        return None if self._proc is None else self._proc.pid

    def _launching(self) -> bool:
        return self._launched is not None and not self._launched.is_set()

    # ----------------------------------------------------------------- process
    def _ensure_process(self) -> None:
        """Start the child, without blocking the caller (the GUI thread): spawning a process
        and its reader thread waited 30-70 ms on 2 busy cores (fork + exec of a large process,
        thread start-up), so a launcher thread does it; commands sent meanwhile are kept and
        sent, in order, once the child's queue exists. ``wait_started`` waits for it."""
        if self.alive():
            return
        with self._send_lock:
            self._backlog = []
            self._cmd_q = None
        self._launched = threading.Event()
        background().submit(self._launch, self._launched)

    def _launch(self, launched: threading.Event) -> None:
        try:
            cmd_q, out_q = self._ctx.Queue(), self._ctx.Queue()
            # A command still in the feeder thread when the child is gone (stopped, killed)
            # would block this process's exit forever (the queue's finalizer joins the feeder,
            # which waits on a pipe nobody reads): commands to a child that ended may be dropped.
            cmd_q.cancel_join_thread()
            proc = self._ctx.Process(
                target=_child,
                args=(cmd_q, out_q, pack(self._target), self._mc, self._tc, self.nice,
                      self.user_work, None if self.source is None else pack(self.source),
                      None if self.pairs is None else pack(self.pairs)),
                name="flowscope-trainer", daemon=True,
            )  # fmt: skip
            proc.start()
            self._out_q, self._proc = out_q, proc
            self._reader = threading.Thread(target=self._read, name="flowscope-trainer-reader",
                                            daemon=True)  # fmt: skip
            self._reader.start()
            with self._send_lock:
                for data in self._backlog or ():
                    cmd_q.put(data)
                self._backlog = None
                self._cmd_q = cmd_q
        except Exception as e:  # noqa: BLE001 - shown to the user as the trainer's error
            self.trainer.error = self.trainer.message = f"cannot start training: {e}"
            self.trainer.paused = True
            self._ready.set()
        finally:
            launched.set()

    def wait_started(self, timeout: float = 30.0) -> bool:
        """Block until a start that was asked for has spawned the child (tests, shutdown)."""
        return self._launched is None or self._launched.wait(timeout)

    def _send(self, cmd) -> None:
        data = pack(cmd)
        with self._send_lock:
            if self._cmd_q is not None:
                self._cmd_q.put(data)
            elif self._backlog is not None:
                self._backlog.append(data)

    def _read(self) -> None:
        out, tv = self._out_q, self.trainer
        if out is None:  # _ensure_process makes the queue before it starts this thread
            return
        while True:
            try:
                ev = unpack(out.get(timeout=0.2))
            except queue.Empty:
                if self._proc is None or not self._proc.is_alive():
                    return
                continue
            except (EOFError, OSError):
                return
            if isinstance(ev, msg.Hello):
                tv.device, tv.device_message = torch.device(ev.device), ev.device_message
                self._ready.set()
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
                self._ready.set()
                self._set_acked(self._token)  # nothing more will be answered
                return
            elif isinstance(ev, msg.Ack):
                self._set_acked(ev.token)
            elif isinstance(ev, msg.Bye):
                self._set_acked(self._token)
                return

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
        """End the process; True if it ended within ``timeout`` seconds (else it is killed).

        wait=False returns at once (a GUI thread must not block on a child that may still be
        importing torch: 2-4 s): a daemon thread joins, terminates or kills it, and closes
        the queues."""
        if self._proc is None and self._launched is None:
            return True
        self._send(msg.Stop())  # kept for a child still starting: it stops once it runs
        self.trainer.paused = True
        if not wait:  # joined on a background thread (no thread start here either)
            background().submit(self._reap_when_started, timeout)
            return False
        return self._reap_when_started(timeout)

    def _reap_when_started(self, timeout: float) -> bool:
        if self._launched is not None:
            self._launched.wait(timeout)
        if self._proc is None:
            return True
        return _reap(self._proc, self._reader, timeout)

    def reset(self, target=None, model_config=None, config=None) -> None:
        self.stop()
        self._target = target if target is not None else self._target
        self._mc = model_config or self._mc
        self._tc = config or self._tc
        self.trainer = TrainerView(self._mc, self._tc)
        self._proc, self._launched, self._cmd_q, self._backlog = None, None, None, None


class Background:
    """Daemon threads that start and reap training children for the GUI thread. A call runs
    on an idle thread, or on a new one when all are busy (a reap may wait seconds for a child
    still importing torch: a start must not queue behind it); after the first, a session's
    start or stop starts no thread. Daemons: they never hold up the interpreter's exit (a child
    left behind ends by itself when its parent is gone)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, fn, *args) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1
        self._jobs.put((fn, args))
        if start:
            threading.Thread(target=self._run, name="flowscope-trainer-bg", daemon=True).start()

    def _run(self) -> None:
        while True:
            fn, args = self._jobs.get()
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - a failed reap must not end the thread
                pass
            with self._lock:
                self._idle += 1


_BACKGROUND: Background | None = None


def background() -> Background:
    """The process's Background threads (made on first use)."""
    global _BACKGROUND
    if _BACKGROUND is None:
        _BACKGROUND = Background()
    return _BACKGROUND


def _reap(proc, reader: threading.Thread | None, timeout: float) -> bool:
    """Join a trainer child that was told to stop; terminate, then kill it if it does not."""
    proc.join(timeout)
    ok = not proc.is_alive()
    if not ok:
        proc.terminate()
        proc.join(1.0)
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
    if reader is not None:
        reader.join(1.0)
    return ok


def wait_ready(session: ProcessTrainingSession, timeout: float = 30.0) -> bool:
    """Block until the child reported its device (tests, scripted mode)."""
    return session._ready.wait(timeout) if isinstance(session, ProcessTrainingSession) else True
