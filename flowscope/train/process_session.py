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
import time
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any

import torch

from ..core.models import ModelConfig
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


class _Packed:
    """A queue end that packs what it puts."""

    def __init__(self, q):
        self._q = q

    def put(self, msg) -> None:
        self._q.put(pack(msg))


def _child(cmd_q, out_q, target, mc: ModelConfig, tc: TrainConfig, nice: int = 0) -> None:
    torch.set_num_threads(1)
    target = unpack(target)
    out_q = _Packed(out_q)
    if nice > 0 and hasattr(os, "nice"):
        os.nice(nice)  # the window first: a process has its own GIL, so no priority inversion
    try:
        trainer = Trainer(target, mc, tc)
    except Exception as e:  # noqa: BLE001 - reported to the parent as text
        out_q.put(("fatal", f"{type(e).__name__}: {e}"))
        return
    sent = [0]

    def publish(snap: Snapshot) -> None:
        h, n = trainer.history, sent[0]
        m = len(h.losses)
        out_q.put(("snap", snap, h.steps[n:m], h.losses[n:m], list(h.bin_sum),
                   list(h.bin_count), trainer.steps_per_sec, trainer.error))  # fmt: skip
        sent[0] = m

    trainer.on_snapshot = publish
    out_q.put(("hello", str(trainer.device), trainer.device_message, trainer.normalization))
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
            kind = cmd[0]
            if kind == "stop":
                break
            if kind == "resume":
                running = True
                trainer._rate_t0, trainer._rate_step = time.perf_counter(), trainer.step_count
            elif kind == "pause":
                running = False
                trainer.publish()
            elif kind == "step":
                trainer.step(int(cmd[1]))
                trainer.publish()
                out_q.put(("ack", cmd[2]))  # after the snapshot: the parent waits for this
            elif kind == "target":
                trainer.set_target(cmd[1])
            elif kind == "weights":
                trainer.load_weights(cmd[1], int(cmd[2]))
            continue
        if running and not trainer.done:
            trainer.step(POLL_EVERY)
            if trainer.error:
                running = False
                out_q.put(("error", trainer.error, trainer.latest_snapshot))
    if trainer.history.losses:
        trainer.publish()
    out_q.put(("bye",))


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
            "config": dict(vars(self.config)),
            "device": str(self.device),
            "target_version": self.target_version,
            "error": self.error,
        }


class ProcessTrainingSession(SessionView):
    """Train / Pause / Step / Reset with the trainer in a child process (spawned on start)."""

    trainer: TrainerView

    def __init__(self, target, model_config: ModelConfig, config: TrainConfig, nice: int = 0):
        self._target, self._mc, self._tc = target, model_config, config
        self.nice = nice
        self.trainer = TrainerView(model_config, config)
        self._ctx = mp.get_context("spawn")
        self._proc: BaseProcess | None = None
        self._cmd_q: Queue[Any] | None = None
        self._out_q: Queue[Any] | None = None
        self._reader: threading.Thread | None = None
        self._pending_weights: tuple[dict, int] | None = None
        self._ready = threading.Event()
        self._token = 0  # step commands sent
        self._acked = 0  # step commands the child has finished (and published)

    # ----------------------------------------------------------------- state
    @property
    def running(self) -> bool:
        return self.alive() and not self.trainer.paused and self.trainer.error is None

    @property
    def message(self) -> str:
        return self.trainer.error or self.trainer.device_message or ""

    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    # ----------------------------------------------------------------- process
    def _ensure_process(self) -> None:
        if self.alive():
            return
        self._cmd_q, self._out_q = self._ctx.Queue(), self._ctx.Queue()
        # A command still in the feeder thread when the child is gone (stopped, killed) would
        # block this process's exit forever (the queue's finalizer joins the feeder, which
        # waits on a pipe nobody reads): commands to a child that ended may be dropped.
        self._cmd_q.cancel_join_thread()
        self._proc = self._ctx.Process(
            target=_child,
            args=(self._cmd_q, self._out_q, pack(self._target), self._mc, self._tc, self.nice),
            name="flowscope-trainer", daemon=True,
        )  # fmt: skip
        self._proc.start()
        self._reader = threading.Thread(target=self._read, name="flowscope-trainer-reader",
                                        daemon=True)  # fmt: skip
        self._reader.start()
        if self._pending_weights is not None:
            self._send(("weights", *self._pending_weights))
            self._pending_weights = None

    def _send(self, cmd) -> None:
        if self._cmd_q is not None:
            self._cmd_q.put(pack(cmd))

    def _read(self) -> None:
        out, tv = self._out_q, self.trainer
        if out is None:  # not started
            return
        while True:
            try:
                msg = unpack(out.get(timeout=0.2))
            except queue.Empty:
                if self._proc is None or not self._proc.is_alive():
                    return
                continue
            except (EOFError, OSError):
                return
            kind = msg[0]
            if kind == "hello":
                tv.device, tv.device_message = torch.device(msg[1]), msg[2]
                self._ready.set()
            elif kind == "snap":
                snap, steps, losses, bsum, bcount, sps, err = msg[1:]
                tv.history.steps.extend(steps)
                tv.history.losses.extend(losses)
                tv.history.bin_sum[:], tv.history.bin_count[:] = bsum, bcount
                tv.step_count, tv.steps_per_sec = snap.step, sps
                tv.target_version = snap.target_version
                tv.latest_snapshot = snap
                if err:
                    tv.error = tv.message = err
            elif kind == "error":
                tv.error = tv.message = msg[1]
                tv.paused = True
            elif kind == "fatal":
                tv.error = tv.message = msg[1]
                tv.paused = True
                self._ready.set()
                return
            elif kind == "ack":
                self._acked = max(self._acked, int(msg[1]))
            elif kind == "bye":
                return

    # ----------------------------------------------------------------- control
    def start(self) -> None:
        if self.trainer.error:
            return
        self._ensure_process()
        self.trainer.paused = False
        self._send(("resume",))

    def pause(self) -> None:
        self.trainer.paused = True
        self._send(("pause",))

    def step_once(self, n: int = 1, timeout: float = 30.0) -> None:
        """n steps now (when paused); waits until the child acknowledges this command, which it
        does after publishing the snapshot, so the snapshot seen afterwards includes them."""
        if self.running:
            return
        self._ensure_process()
        self._token += 1
        token = self._token
        self._send(("step", n, token))
        deadline = time.time() + timeout
        while self._acked < token and time.time() < deadline:
            if self.trainer.error:
                break
            time.sleep(0.01)

    def set_target(self, target) -> None:
        self._target = target
        if self.alive():
            self._send(("target", target))

    def load_weights(self, state_dict: dict, step: int = 0) -> None:
        """Continue from saved weights (applied when the process starts, or now)."""
        sd = {k: v.detach().cpu() for k, v in state_dict.items()}
        if self.alive():
            self._send(("weights", sd, step))
        else:
            self._pending_weights = (sd, step)
            self.trainer.step_count = step
            self._ensure_process()

    def publish(self) -> None:
        """Ask for a fresh snapshot (it arrives asynchronously)."""
        if self.alive():
            self._send(("pause",) if self.trainer.paused else ("resume",))

    def stop(self, timeout: float = 5.0, wait: bool = True) -> bool:
        """End the process; True if it ended within ``timeout`` seconds (else it is killed).

        wait=False returns at once (a GUI thread must not block on a child that may still be
        importing torch: 2-4 s): a daemon thread joins, terminates or kills it, and closes
        the queues."""
        if self._proc is None:
            return True
        self._send(("stop",))
        self.trainer.paused = True
        proc, reader = self._proc, self._reader
        if not wait:
            threading.Thread(
                target=_reap, args=(proc, reader, timeout), name="flowscope-trainer-reaper",
                daemon=True,
            ).start()  # fmt: skip
            return False
        return _reap(proc, reader, timeout)

    def reset(self, target=None, model_config=None, config=None) -> None:
        self.stop()
        self._target = target if target is not None else self._target
        self._mc = model_config or self._mc
        self._tc = config or self._tc
        self.trainer = TrainerView(self._mc, self._tc)
        self._proc = None


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
