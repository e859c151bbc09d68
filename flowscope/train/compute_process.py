"""The compute worker in a child process: its own GIL, and a lower priority than the window and
the trainer, so on a small machine it takes only the CPU they leave. Qt-free.

Same interface as :class:`~flowscope.train.compute.ComputeWorker` (``submit`` / ``take`` /
``busy`` / ``last_error`` / ``compute_now`` / ``stop``), same rules: one request in flight, only
the newest pending request of each kind kept, the kind that waited longest goes first. Until the
child has imported torch (a few seconds), and if it ever dies, requests are computed in this
process instead, so the first frames never wait for it.
"""

from __future__ import annotations

import multiprocessing as mp
import os

from .compute import ComputeWorker
from .process_session import pack, unpack

COMPUTE_NICE = 15  # well below the trainer (5): training speed first, views take what is left


def _child(conn, num_threads: int | None, nice: int) -> None:
    import torch

    if nice > 0 and hasattr(os, "nice"):
        os.nice(nice)
    torch.set_num_threads(num_threads or 1)
    worker = ComputeWorker(num_threads=None)
    conn.send_bytes(pack(("ready", os.getpid())))
    while True:
        try:
            req = unpack(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if req is None:
            return
        try:
            out = ("ok", worker.compute_now(req))
        except Exception as e:  # noqa: BLE001 - reported to the window as text
            out = ("error", f"{type(e).__name__}: {e}")
        try:
            conn.send_bytes(pack(out))
        except (OSError, ValueError):
            return


class ProcessComputeWorker(ComputeWorker):
    """Background renderer in a child process. ``submit(request)``; poll ``take(kind)``.

    The queueing (newest request per kind, oldest kind first, one in flight) is
    :class:`ComputeWorker`'s; its thread here only ships requests to the child and results
    back, and computes in this process (``compute_now``) until the child is ready."""

    IDLE_POLL_S = 0.2  # notice the child's "ready" while idle
    yields_to_trainer = True  # the child is niced below the training process

    def __init__(self, num_threads: int | None = 1, nice: int = COMPUTE_NICE):
        # this process's io thread keeps nice 0 (a niced thread holding the GIL stalls the GUI)
        super().__init__(num_threads=num_threads, nice=0)
        self.child_nice = nice
        self._ctx = mp.get_context("spawn")
        self._proc = None
        self._conn = None
        self._ready = False
        self.computed_remotely = 0  # results the child computed (tests, benchmarks)

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
        super().start()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def ready(self) -> bool:
        """True once the child process takes requests."""
        return self._ready

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._conn is not None and not self.busy:
            try:
                self._conn.send_bytes(pack(None))
            except (OSError, ValueError):
                pass
        if self._proc is not None:
            self._proc.join(min(timeout, 1.0))
            if self._proc.is_alive():  # mid-computation: nothing of it is needed any more
                self._proc.terminate()
                self._proc.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._conn is not None:
            self._conn.close()

    # ----------------------------------------------------------------- io thread
    def _idle(self) -> None:
        self._check_ready()

    def _check_ready(self) -> None:
        if self._ready or self._conn is None:
            return
        try:
            if self._conn.poll():
                msg = unpack(self._conn.recv_bytes())
                self._ready = msg[0] == "ready"
        except (EOFError, OSError):
            self._conn = None

    def _run(self, req):
        self._check_ready()
        if not self._ready or self._conn is None:
            return self.compute_now(req)  # the child is starting (or gone): compute here
        try:
            self._conn.send_bytes(pack(req))  # by value: see process_session.pack
            status, payload = unpack(self._conn.recv_bytes())
        except (EOFError, OSError):  # the child died, or stop() ended it
            self._ready, self._conn = False, None
            return None if self._stop else self.compute_now(req)
        if status != "ok":
            raise RuntimeError(payload)
        self.computed_remotely += 1
        return payload


def make_compute_worker(num_threads: int | None = 1):
    """The window's compute worker: a child process unless FLOWSCOPE_COMPUTE_PROCESS=0."""
    if os.environ.get("FLOWSCOPE_COMPUTE_PROCESS", "1") == "0":
        return ComputeWorker(num_threads=num_threads)
    return ProcessComputeWorker(num_threads=num_threads)
