"""The compute worker in a child process: its own GIL, and the lowest CPU priority, so on a small
machine it takes only the CPU the window and the trainer leave. Qt-free.

Same interface as :class:`~flowscope.train.compute.ComputeWorker` (``submit`` / ``take`` /
``busy`` / ``last_error`` / ``compute_now`` / ``stop``). Requests go to the child as soon as they
are submitted; the child keeps only the newest request of each kind and answers the cheap kinds
first: the arrows of a new t (~20 ms) are served between the field evaluations of a long
trajectory request (seconds of CPU with 10k learned particles), and a trajectory request that a
newer one replaced is abandoned there. Until the child has imported torch (a few seconds), and
if it ever dies, requests are computed in this process instead, so the first frames never wait
for it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from .compute import ComputeWorker, Request
from .process_session import pack, unpack

COMPUTE_NICE = 19  # where SCHED_IDLE is not available: far below the trainer and the window
#: the child answers pending kinds in this order: cheap and latency-bound first
PRIORITY = ("field", "target", "images", "diagmap", "trajectory", "diagnostics")


def lower_process_priority(nice: int = COMPUTE_NICE) -> None:
    """Give this process only idle CPU: SCHED_IDLE on Linux, else the nice value."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.nice(nice)
    except (AttributeError, OSError):
        pass


class _Gone(Exception):
    """The window closed the pipe or said stop."""


class _ChildInbox:
    """The child's side of the pipe: the newest pending request of each kind."""

    def __init__(self, conn):
        self.conn = conn
        self.pending: dict[str, object] = {}

    def send(self, status: str, req, payload=None) -> None:
        """Answer ``req``: ('ok' | 'error' | 'dropped', kind, generation, payload)."""
        self._send((status, req.KIND, req.generation, payload))

    def send_ready(self) -> None:
        self._send(("ready", None, 0, os.getpid()))

    def _send(self, msg: tuple) -> None:
        try:
            self.conn.send_bytes(pack(msg))
        except (OSError, ValueError) as e:
            raise _Gone from e

    def read(self, block: bool) -> None:
        """Take in what has arrived (waiting for a request if ``block`` and none is pending);
        a request replaced by a newer one of its kind is answered 'dropped'."""
        try:
            while (block and not self.pending) or self.conn.poll():
                req = unpack(self.conn.recv_bytes())
                if req is None:
                    raise _Gone
                old = self.pending.pop(req.KIND, None)
                if old is not None:
                    self.send("dropped", old)
                self.pending[req.KIND] = req
        except (EOFError, OSError) as e:
            raise _Gone from e

    def next_kind(self, before: str | None = None) -> str | None:
        """The most urgent pending kind (only kinds more urgent than ``before`` if given)."""
        kinds = PRIORITY if before is None else PRIORITY[: PRIORITY.index(before)]
        return next((k for k in kinds if k in self.pending), None)


class _Superseded(Exception):
    """A newer request of the same kind came: the one being computed is stale."""


def _serve(worker: ComputeWorker, inbox: _ChildInbox, req) -> None:
    """Compute ``req`` and answer it. Between the field evaluations of a trajectory, requests
    of more urgent kinds are served, and a newer request of the same kind abandons this one."""

    def pause() -> None:
        inbox.read(block=False)
        while (urgent := inbox.next_kind(before=req.KIND)) is not None:
            _serve(worker, inbox, inbox.pending.pop(urgent))
        if req.KIND in inbox.pending:
            raise _Superseded

    try:
        out = worker.compute_now(req, pause)
    except _Superseded:
        inbox.send("dropped", req)
        return
    except _Gone:
        raise
    except Exception as e:  # noqa: BLE001 - reported to the window as text
        inbox.send("error", req, f"{type(e).__name__}: {e}")
        return
    inbox.send("ok", req, out)


def _child(conn, num_threads: int | None, nice: int) -> None:
    import torch

    lower_process_priority(nice)
    torch.set_num_threads(num_threads or 1)
    worker = ComputeWorker(num_threads=None)
    inbox = _ChildInbox(conn)
    try:
        inbox.send_ready()
        while True:
            inbox.read(block=True)
            kind = inbox.next_kind()
            if kind is None:  # cannot happen: PRIORITY names every kind
                raise RuntimeError(f"requests of unknown kinds: {sorted(inbox.pending)}")
            _serve(worker, inbox, inbox.pending.pop(kind))
    except _Gone:
        return


class ProcessComputeWorker(ComputeWorker):
    """Background renderer in a child process. ``submit(request)``; poll ``take(kind)``.

    ComputeWorker's thread here ships each request to the child as it comes (or computes it in
    this process while the child is not ready); a second thread receives the answers."""

    yields_to_trainer = True  # the child runs at idle priority, below the training process

    def __init__(self, num_threads: int | None = 1, nice: int = COMPUTE_NICE):
        self._in_flight: dict[str, Request] = {}  # kind -> the newest request sent, unanswered
        self._local_busy = False
        # this process's io thread keeps nice 0 (a niced thread holding the GIL stalls the GUI)
        super().__init__(num_threads=num_threads, nice=0)
        self.child_nice = nice
        self._ctx = mp.get_context("spawn")
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._send_lock = threading.Lock()
        self._receiver: threading.Thread | None = None
        self.computed_remotely = 0  # results the child computed (tests, benchmarks)
        self.computed_here = 0  # requests computed in this process (the child not ready)

    @property
    def busy(self) -> bool:
        """True while a request is being computed here or in the child."""
        return self._local_busy or bool(self._in_flight)

    @busy.setter
    def busy(self, value: bool) -> None:
        self._local_busy = value

    def working_on(self, kind: str) -> bool:
        """True while a request of ``kind`` is queued, or computed here or in the child."""
        with self._cond:
            return kind in self._pending or kind in self._in_flight or self._current == kind

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._thread is not None:
            return
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(
            target=_child, args=(child, self._num_threads, self.child_nice),
            name="flowscope-compute", daemon=True,
        )  # fmt: skip
        self._proc.start()
        child.close()
        self._conn = parent
        self._receiver = threading.Thread(
            target=self._receive, name="flowscope-compute-rx", daemon=True
        )
        self._receiver.start()
        super().start()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def ready(self) -> bool:
        """True once the child process takes requests."""
        return self._ready

    def stop(self, timeout: float = 5.0) -> None:
        self._request_stop()
        self._send(None, wait=0.2)  # else the child is killed below
        if self._proc is not None:
            self._proc.join(min(timeout, 0.3))
            # Mid-computation, or starved of CPU at idle priority on a busy machine: nothing it
            # holds is needed any more, so SIGKILL (a stopped or starved process would sit on
            # SIGTERM until it runs again: quitting took 3 s of joins on a loaded machine).
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(min(timeout, 1.0))
        for thread in (self._thread, self._receiver):
            if thread is not None:
                thread.join(timeout)
        if self._conn is not None:
            self._conn.close()

    # ----------------------------------------------------------------- io threads
    def _send(self, req, wait: float = -1) -> bool:
        """Send ``req`` to the child; False if it is gone, or if another send still blocks
        after ``wait`` seconds (a full pipe: the child is starved of CPU)."""
        conn = self._conn
        if conn is None or not self._send_lock.acquire(timeout=wait):
            return False
        try:
            conn.send_bytes(pack(req))  # by value: see process_session.pack
            return True
        except (OSError, ValueError):
            return False
        finally:
            self._send_lock.release()

    def _run(self, req):
        """On ComputeWorker's thread: ship ``req`` to the child, or compute it here."""
        if self._ready:
            with self._cond:
                self._in_flight[req.KIND] = req
            if self._send(req):
                return None  # the answer comes to _receive
            with self._cond:
                self._in_flight.pop(req.KIND, None)
            if self._stop:
                return None  # closing: nobody wants it
        self.computed_here += 1
        return self.compute_now(req)  # the child is starting (or gone): compute here

    def _receive(self) -> None:
        """The receiving thread: the child's 'ready', then its answers, until it is gone."""
        conn = self._conn
        if conn is None:  # not started
            return
        while True:
            try:
                status, kind, generation, payload = unpack(conn.recv_bytes())
            except (EOFError, OSError, ValueError):
                break
            with self._cond:
                if status == "ready":
                    self._ready = True
                    continue
                sent = self._in_flight.get(kind)
                if sent is not None and sent.generation == generation:
                    self._in_flight.pop(kind)  # answered the newest sent (else one is coming)
                if status == "ok":
                    self._results[kind] = payload
                    self.computed_remotely += 1
                elif status == "error":
                    self.last_error = payload
        with self._cond:  # the child is gone: what it still owed is computed here
            self._ready = False
            for kind, req in self._in_flight.items():
                if not self._stop:
                    self._pending.setdefault(kind, req)
            self._in_flight.clear()
            self._cond.notify_all()


def make_compute_worker(num_threads: int | None = 1):
    """The window's compute worker: a child process on idle CPU, or a thread in this process
    (rationed by the window while training) with FLOWSCOPE_COMPUTE_PROCESS=0 or on one core,
    where a trainer and a window leave no idle CPU at all."""
    if os.environ.get("FLOWSCOPE_COMPUTE_PROCESS", "1") == "0" or (os.cpu_count() or 1) < 2:
        return ComputeWorker(num_threads=num_threads)
    return ProcessComputeWorker(num_threads=num_threads)
