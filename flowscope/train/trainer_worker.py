"""The trainer's child process, kept and reused from one training session to the next. Qt-free.

Why: every preset, drawing edit or Reset starts a new session. A freshly spawned child spends
~1.9 s of a core importing torch before its first step, on the same 2 cores as the window: the
window's repaint after a preset change took 2-3x its CPU time in wall time (57-282 ms gaps), and
the new training started seconds late. A :class:`TrainerWorker` serves one session at a time:
``Begin`` builds a Trainer, ``Stop`` ends the session and the process waits for the next
``Begin``. :class:`WorkerPool` keeps one idle worker; a session that ends hands its worker over
at once (the queue is ordered, so the next session's ``Begin`` is read after this ``Stop``).

Every message carries its session's id: commands of a session that has ended are ignored by the
child, and events are routed by one reader thread per worker to the session they belong to.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing as mp
import os
import pickle
import queue
import threading
from collections.abc import Callable

import torch

from . import messages as msg
from .priority import UserWork
from .trainer import Snapshot, Trainer

POLL_EVERY = 4  # training steps between command polls in the child
_session_ids = itertools.count(1)


def new_session_id() -> int:
    return next(_session_ids)


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


# ----------------------------------------------------------------------------- the child
def worker_main(cmd_q, out_q, nice: int = 0, user_work: UserWork | None = None) -> None:
    """The child: serve sessions one after another until ``Exit`` or the window is gone."""
    _serve_all(cmd_q, out_q, nice, user_work)
    end_child()  # at once: the window may be joining this process


def _serve_all(cmd_q, out_q, nice: int, user_work: UserWork | None) -> None:
    torch.set_num_threads(1)
    if nice > 0 and hasattr(os, "nice"):
        os.nice(nice)  # the window first: a process has its own GIL, so no priority inversion
    parent = mp.parent_process()
    while parent is None or parent.is_alive():
        try:
            sid, cmd = unpack(cmd_q.get(timeout=0.1))
        except queue.Empty:
            continue
        if isinstance(cmd, msg.Exit):
            return
        if isinstance(cmd, msg.Begin) and not _serve(sid, cmd, cmd_q, out_q, user_work, parent):
            return
        # anything else belongs to a session that has ended: ignored


def _serve(sid: int, begin: msg.Begin, cmd_q, out_q, user_work, parent) -> bool:
    """One session, from its Begin to its Stop; False when the process should end."""

    def put(ev) -> None:
        out_q.put(pack((sid, ev)))

    if user_work is not None:  # building the trainer is CPU work too: the user's action first
        user_work.yield_while_active()
    try:
        trainer = Trainer(
            unpack(begin.target), begin.model_config, begin.config,
            source=None if begin.source is None else unpack(begin.source),
            pairs=None if begin.pairs is None else unpack(begin.pairs),
        )  # fmt: skip
    except Exception as e:  # noqa: BLE001 - reported to the parent as text
        put(msg.Fatal(f"{type(e).__name__}: {e}"))
        return True
    sent = [0]

    def publish(snap: Snapshot) -> None:
        h, n = trainer.history, sent[0]
        m = len(h.losses)
        put(msg.Published(
            snap, h.steps[n:m], h.losses[n:m], list(h.bin_sum), list(h.bin_count),
            trainer.steps_per_sec, trainer.error,
        ))  # fmt: skip
        sent[0] = m

    trainer.on_snapshot = publish
    put(msg.Hello(str(trainer.device), trainer.device_message, trainer.normalization))
    running = False
    while True:
        if parent is not None and not parent.is_alive():
            return False  # the window was killed: nobody will ever read the results
        block = not running or trainer.done
        try:
            cmd_sid, cmd = unpack(cmd_q.get(timeout=0.1) if block else cmd_q.get_nowait())
        except queue.Empty:
            cmd_sid, cmd = sid, None
        if cmd_sid != sid:
            if isinstance(cmd, msg.Exit):
                return False
            continue  # a late command of an earlier session
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
                put(msg.Ack(cmd.token))  # after the snapshot: the parent waits for this
            elif isinstance(cmd, msg.SetTarget):
                trainer.set_target(cmd.target)
            elif isinstance(cmd, msg.LoadWeights):
                trainer.load_weights(cmd.state_dict, cmd.step)
            continue
        if running and not trainer.done:
            if user_work is not None:  # a user's request is being computed: it goes first
                user_work.yield_while_active()
            # a step at a time: the window's hold (a new target) ends the chunk at once (4
            # steps were 16-36 ms beside the action). The compute side's flag waits for the
            # chunk's end, as before: it is up at every slider move, and ending chunks on it
            # cost the trainer 15% of its speed in gui_soak (quiet/busy 0.80-0.86 vs 0.96-1.01)
            for _ in range(POLL_EVERY):
                trainer.step(1)
                if trainer.error or trainer.done:
                    break
                if user_work is not None and user_work.window_holding:
                    break
            if trainer.error:
                running = False
                put(msg.TrainError(trainer.error))
    if trainer.history.losses:
        trainer.publish()
    put(msg.Bye())
    trainer.on_snapshot = None  # no cycle through publish: the model is freed now, not later
    if trainer.device.type == "cuda":
        del trainer
        torch.cuda.empty_cache()  # the next session may be another model, or another program
    return True


# ----------------------------------------------------------------------------- the parent
#: what a session hears: an event of its own, or None when the worker process is gone
Listener = Callable[[object], None]


class TrainerWorker:
    """The parent's end of one trainer child: its queues and the thread that reads its events
    and hands each to the listener of the session it belongs to."""

    def __init__(self, ctx, nice: int = 0, user_work: UserWork | None = None):
        self.key = (nice, id(user_work))
        self._cmd_q, self._out_q = ctx.Queue(), ctx.Queue()
        # A command still in the feeder thread when the child is gone (stopped, killed) would
        # block this process's exit forever (the queue's finalizer joins the feeder, which waits
        # on a pipe nobody reads): commands to a child that ended may be dropped.
        self._cmd_q.cancel_join_thread()
        self._listeners: dict[int, Listener] = {}
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self.proc = ctx.Process(
            target=worker_main, args=(self._cmd_q, self._out_q, nice, user_work),
            name="flowscope-trainer", daemon=True,
        )  # fmt: skip
        self.proc.start()
        self.reader = threading.Thread(target=self._read, name="flowscope-trainer-reader",
                                       daemon=True)  # fmt: skip
        self.reader.start()

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def alive(self) -> bool:
        # one caller at a time: two threads polling the same child race in waitpid, and the
        # loser (ECHILD) is told "still running" about a process that has died
        with self._poll_lock:
            return self.proc.is_alive()

    def attach(self, sid: int, listener: Listener) -> None:
        """Events of session ``sid`` go to ``listener`` until its Bye or Fatal."""
        with self._lock:
            self._listeners[sid] = listener

    def send(self, sid: int, cmd) -> None:
        self._cmd_q.put(pack((sid, cmd)))

    def exit(self) -> None:
        """End the process once the session it serves has ended."""
        self.send(0, msg.Exit())

    def _read(self) -> None:
        out = self._out_q
        while True:
            try:
                sid, ev = unpack(out.get(timeout=0.2))
            except queue.Empty:
                if not self.alive():
                    break
                continue
            except (EOFError, OSError):
                break
            with self._lock:
                listener = self._listeners.get(sid)
                if isinstance(ev, (msg.Bye, msg.Fatal)):
                    self._listeners.pop(sid, None)
            if listener is not None:
                listener(ev)
        with self._lock:
            gone, self._listeners = list(self._listeners.values()), {}
        for listener in gone:
            listener(None)

    def reap(self, timeout: float = 5.0) -> bool:
        """Join the child after :meth:`exit`; terminate, then kill it if it does not end."""
        return _reap(self.proc, self.reader, timeout)


class WorkerPool:
    """Keeps up to ``spare`` idle workers (per priority and flag) for the next session."""

    def __init__(self, spare: int = 1):
        self.spare = spare
        self._idle: list[TrainerWorker] = []
        self._lock = threading.Lock()

    def claim(self, key) -> TrainerWorker | None:
        """An idle worker of this priority and flag whose process runs, or None."""
        with self._lock:
            for w in list(self._idle):
                if not w.alive():
                    self._idle.remove(w)
                elif w.key == key:
                    self._idle.remove(w)
                    return w
        return None

    def release(self, worker: TrainerWorker) -> None:
        """A session has sent its Stop: keep the worker for the next one, or end it. The
        newest are kept: an older idle worker (of another priority or flag, which the next
        session would not claim) is ended to make room."""
        with self._lock:
            if worker in self._idle:
                return
            if worker.alive() and self.spare > 0:
                self._idle.append(worker)
                ended, self._idle = self._idle[: -self.spare], self._idle[-self.spare :]
            else:
                ended = [worker]
        for w in ended:
            self.discard(w)

    def discard(self, worker: TrainerWorker, timeout: float = 5.0) -> None:
        """End this worker (in the background) and never hand it out again."""
        with self._lock:
            if worker in self._idle:
                self._idle.remove(worker)
        worker.exit()
        background().submit(worker.reap, timeout)

    def shutdown(self, timeout: float = 5.0) -> None:
        """End every idle worker and wait for them (an application that quits)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.exit()
        for w in idle:
            w.reap(timeout)


@functools.cache
def pool() -> WorkerPool:
    """This process's pool (made on first use)."""
    return WorkerPool()


def shutdown_pool(timeout: float = 2.0) -> None:
    """End this process's idle trainer processes (an application that quits; daemonic children
    are terminated at exit anyway, this lets them end cleanly)."""
    if pool.cache_info().currsize:  # never made: nothing to end
        pool().shutdown(timeout)


# ----------------------------------------------------------------------------- background
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


@functools.cache
def background() -> Background:
    """The process's Background threads (made on first use)."""
    return Background()


def _reap(proc, reader: threading.Thread | None, timeout: float) -> bool:
    """Join a trainer child that was told to end; terminate, then kill it if it does not."""
    proc.join(timeout)
    ok = not proc.is_alive()
    if not ok:
        proc.terminate()
        proc.join(1.0)
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
    if reader is not None and reader is not threading.current_thread():
        reader.join(1.0)
    return ok
