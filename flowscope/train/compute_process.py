"""The compute worker in a child process: its own GIL, at normal CPU priority. Qt-free.

Priorities (ARCHITECTURE.md) are kept by the processes themselves, not by the OS scheduler: an
idle-priority child starved whenever another program used the CPU (particles 8-60 s behind the
controls on a busy laptop; PITFALLS.md, item 16). What a user's action asked for ("urgent") is
computed first and the trainer yields while it is (:class:`~flowscope.train.priority.UserWork`);
background requests (learned trajectories while training) are paced to a share of a core
(:class:`~flowscope.train.priority.DutyCycle`), so that they never starve the trainer.

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

import dataclasses
import multiprocessing as mp
import os
import threading
import time
from collections import OrderedDict
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from ..core.exact import ExactMarginal
from .compute import ComputeWorker, Request
from .messages import ComputeJob, ComputeTarget, TargetRef
from .priority import BACKGROUND_DUTY, DutyCycle
from .render import RenderContext, render
from .trainer_worker import end_child, pack, unpack

COMPUTE_NICE = 19  # the old idle priority (FLOWSCOPE_COMPUTE_PRIORITY=idle, for comparisons)
#: the child answers pending kinds in this order: cheap and latency-bound first
PRIORITY = (
    "lens", "field", "target", "images", "diagmap", "trajectory", "reflow", "straightness",
    "steps", "diagnostics",
)  # fmt: skip


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


#: targets the child keeps (requests of an older target may still be in flight after a change)
TARGETS_KEPT = 4


class _TargetBook:
    """The targets the child holds, least recently used first. Both ends keep one and update it
    on the same messages in the same order, so the window knows what the child has without
    asking."""

    def __init__(self):
        self._by_key: OrderedDict[str, ExactMarginal] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._by_key

    def put(self, key: str, exact: ExactMarginal) -> None:
        self._by_key[key] = exact
        self.use(key)

    def use(self, key: str) -> ExactMarginal:
        self._by_key.move_to_end(key)
        while len(self._by_key) > TARGETS_KEPT:
            self._by_key.popitem(last=False)
        return self._by_key[key]

    def clear(self) -> None:
        self._by_key.clear()


class _ChildInbox:
    """The child's side of the pipe: the newest pending request of each kind."""

    def __init__(self, conn):
        self.conn = conn
        self.pending: dict[str, object] = {}
        self.urgent: set[str] = set()  # pending kinds that a user's action asked for
        self.since: dict[str, float] = {}  # when each pending kind began to wait
        self.targets = _TargetBook()

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
                msg = unpack(self.conn.recv_bytes())
                if msg is None:
                    raise _Gone
                if isinstance(msg, ComputeTarget):
                    self.targets.put(msg.key, msg.exact)
                    continue
                req, urgent = msg.request, msg.urgent
                ref = getattr(req, "exact", None)
                if isinstance(ref, TargetRef):
                    req = dataclasses.replace(req, exact=self.targets.use(ref.key))
                old = self.pending.pop(req.KIND, None)
                if old is not None:
                    self.send("dropped", old)
                else:
                    self.urgent.discard(req.KIND)
                if urgent:  # a replacement of an urgent request stays urgent (same settings)
                    self.urgent.add(req.KIND)
                self.pending[req.KIND] = req
                self.since.setdefault(req.KIND, time.perf_counter())  # a replacement waits on
        except (EOFError, OSError) as e:
            raise _Gone from e

    def next_kind(self, before: str | None = None) -> str | None:
        """The most urgent pending kind: a user's request first, then background work that has
        waited FAIR_WAIT_S (oldest first), then by PRIORITY (only kinds more urgent than
        ``before`` if given). Without the wait rule, the arrows' requests while t plays (one
        pending at almost any time) kept learned particles from ever starting (gui_soak)."""
        kinds = PRIORITY if before is None else PRIORITY[: PRIORITY.index(before)]
        for k in kinds:
            if k in self.pending and k in self.urgent:
                return k
        if before is None:
            now = time.perf_counter()
            waited = [(self.since.get(k, now), k) for k in kinds if k in self.pending]
            if waited and now - min(waited)[0] >= FAIR_WAIT_S:
                return min(waited)[1]
        return next((k for k in kinds if k in self.pending), None)

    def take(self, kind: str):
        """(request, urgent) of the pending ``kind``, removed from the inbox."""
        urgent = kind in self.urgent
        self.urgent.discard(kind)
        self.since.pop(kind, None)
        return self.pending.pop(kind), urgent

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking as soon as a request arrives."""
        try:
            self.conn.poll(max(0.0, seconds))
        except (EOFError, OSError) as e:
            raise _Gone from e


#: background work that has waited this long goes before newer background work of kinds that
#: PRIORITY puts first
FAIR_WAIT_S = 1.0
#: background work of the request being computed between two background requests served in
#: its middle: a stream of them (the arrows while t plays, ~4 a second) must not keep a long one
#: (learned particles while training) from ever finishing; it got none in 20 s before this
FAIR_SLICE_S = 0.1


def _first(inbox: _ChildInbox, kind: str, urgent: bool, background_ok: bool = True) -> str | None:
    """The pending kind to serve in the middle of a request of ``kind``: a user's request of a
    more urgent kind (of any other kind while this one is background work), then, when
    ``background_ok``, background work of a more urgent kind."""
    before = PRIORITY[: PRIORITY.index(kind)]
    for k in PRIORITY:
        if k in inbox.pending and k in inbox.urgent and k != kind and (not urgent or k in before):
            return k
    if not background_ok:
        return None
    return next((k for k in before if k in inbox.pending), None)


class _Superseded(Exception):
    """A newer request of the same kind came: the one being computed is stale."""


def _serve(
    ctx: RenderContext, inbox: _ChildInbox, req, urgent: bool = True, duty: float = 1.0
) -> None:
    """Render ``req`` (:func:`~flowscope.train.render.render`) and answer it. Between the field
    evaluations of a trajectory, requests of more urgent kinds (and a user's requests of any
    kind) are served, and a newer request of the same kind abandons this one. A background
    request (not ``urgent``) is paced to ``duty`` of the wall time, waking at once when a
    request arrives."""
    pacing = None if urgent or duty >= 1.0 else DutyCycle(duty, wait=inbox.wait)
    own = [0.0, time.perf_counter()]  # own work since background work was served, resumed at

    def pause() -> None:
        own[0] += time.perf_counter() - own[1]
        if pacing is not None:
            pacing.pace()
        inbox.read(block=False)
        served = False
        while (kind := _first(inbox, req.KIND, urgent, urgent or own[0] >= FAIR_SLICE_S)):
            other, other_urgent = inbox.take(kind)
            _serve(ctx, inbox, other, other_urgent, duty)
            served = True
            if not other_urgent:
                own[0] = 0.0
        if req.KIND in inbox.pending:
            raise _Superseded
        if served and pacing is not None:
            pacing.restart()  # the time spent on others is not this request's
        own[1] = time.perf_counter()

    try:
        out = render(req, ctx, pause)
    except _Superseded:
        inbox.send("dropped", req)
        return
    except _Gone:
        raise
    except Exception as e:  # noqa: BLE001 - reported to the window as text
        inbox.send("error", req, f"{type(e).__name__}: {e}")
        return
    inbox.send("ok", req, out)


def _child(conn, num_threads: int | None, nice: int, duty: float = BACKGROUND_DUTY) -> None:
    """nice > 0: the old idle priority (SCHED_IDLE), no pacing (FLOWSCOPE_COMPUTE_PRIORITY=idle)."""
    import torch

    if nice > 0:
        lower_process_priority(nice)
        duty = 1.0
    torch.set_num_threads(num_threads or 1)
    ctx = RenderContext()  # the child's inference models and heatmap cache
    inbox = _ChildInbox(conn)
    try:
        inbox.send_ready()
        rest_until = 0.0
        while True:
            inbox.read(block=True)
            _rest(inbox, rest_until)
            kind = inbox.next_kind()
            if kind is None:  # cannot happen: PRIORITY names every kind (test_render.py)
                raise RuntimeError(f"requests of unknown kinds: {sorted(inbox.pending)}")
            req, urgent = inbox.take(kind)
            t0, cpu0 = time.perf_counter(), time.thread_time()
            _serve(ctx, inbox, req, urgent, duty)
            if not urgent and duty < 1.0:
                now = time.perf_counter()
                rest_until = now + rest_after(time.thread_time() - cpu0, now - t0, duty)
    except _Gone:
        end_child()  # at once (see process_session.end_child): the window joins this process


def rest_after(cpu: float, wall: float, duty: float) -> float:
    """Seconds to rest after background work that used ``cpu`` seconds of CPU over ``wall``
    seconds, so that it has used ``duty`` of the time since it began. By its CPU time, not its
    wall time: a long request paced itself already (a learned trajectory over 15 s of wall time
    rested 60 s more, and the arrows with it)."""
    return max(0.0, cpu / duty - wall)


def _rest(inbox: _ChildInbox, until: float) -> None:
    """Wait until ``until`` after background work (so a stream of them, e.g. the arrows while
    t plays, keeps to its duty too), unless a user's request is or becomes pending."""
    while not inbox.urgent and (left := until - time.perf_counter()) > 0:
        inbox.wait(left)
        inbox.read(block=False)


class ProcessComputeWorker(ComputeWorker):
    """Background renderer in a child process. ``submit(request)``; poll ``take(kind)``.

    ComputeWorker's thread here ships each request to the child as it comes (or computes it in
    this process while the child is not ready); a second thread receives the answers."""

    # background requests are paced in the child (or, at the old idle priority, starve there):
    # the window need not ration them
    yields_to_trainer = True

    def __init__(self, num_threads: int | None = 1, nice: int = 0):
        """nice > 0: the old idle priority (SCHED_IDLE in the child, the trainer never yields:
        FLOWSCOPE_COMPUTE_PRIORITY=idle, for comparisons)."""
        self._in_flight: dict[str, Request] = {}  # kind -> the newest request sent, unanswered
        self._local_busy = False
        # the nice value is the child's only: this process's io thread keeps the window's (a
        # niced thread holding the GIL stalls the GUI thread: see ComputeWorker.__init__)
        super().__init__(num_threads=num_threads)
        self.child_nice = nice
        if nice > 0:
            self.user_work = None
        self._ctx = mp.get_context("spawn")
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._send_lock = threading.Lock()
        self._receiver: threading.Thread | None = None
        self.computed_remotely = 0  # results the child computed (tests, benchmarks)
        self._child_targets = _TargetBook()  # what the child holds (same updates, same order)
        self.computed_here = 0  # requests computed in this process (the child not ready)

    @property
    def busy(self) -> bool:
        """True while a request is being computed here or in the child."""
        return self._local_busy or bool(self._in_flight)

    @busy.setter
    def busy(self, value: bool) -> None:
        self._local_busy = value

    def _owed(self, kind: str) -> bool:
        return kind in self._in_flight

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
        self.request_stop()
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
    def _send(self, msg, wait: float = -1) -> bool:
        """Send ``msg`` (a ComputeJob or ComputeTarget, or None: stop) to the child; False if it
        is gone, or if another send still blocks after ``wait`` seconds (a full pipe)."""
        conn = self._conn
        if conn is None or not self._send_lock.acquire(timeout=wait):
            return False
        try:
            conn.send_bytes(pack(msg))  # by value: see process_session.pack
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
                urgent = req.KIND in self._urgent
            if self._send(ComputeJob(self._by_reference(req), urgent)):
                return None  # the answer comes to _receive
            with self._cond:
                self._in_flight.pop(req.KIND, None)
            if self._stop:
                return None  # closing: nobody wants it
        self.computed_here += 1
        # the child is starting (or gone): compute here, abandoned when the window closes
        return self.compute_now(req, self._abandon_point)

    def _by_reference(self, req):
        """``req`` with its target replaced by a reference; the target itself goes to the child
        first, once per target version (a checkerboard's mixture is ~100 kB per request)."""
        exact = getattr(req, "exact", None)
        if not isinstance(exact, ExactMarginal) or not dataclasses.is_dataclass(req):
            return req
        if isinstance(req, type):  # a dataclass itself, not a request: cannot happen
            return req
        key = exact.fingerprint
        if key in self._child_targets:
            self._child_targets.use(key)
        else:
            self._send(ComputeTarget(key, exact))  # a failed send fails the job's send too
            self._child_targets.put(key, exact)
        return dataclasses.replace(req, exact=TargetRef(key))

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
                    self._answered(kind)
                if status == "ok":
                    self._results[kind] = payload
                    self.computed_remotely += 1
                elif status == "error":
                    self.last_error = payload
        with self._cond:  # the child is gone: what it still owed is computed here
            self._ready = False
            self._child_targets.clear()
            for kind, req in self._in_flight.items():
                if not self._stop:
                    self._pending.setdefault(kind, req)
            self._in_flight.clear()
            self._cond.notify_all()


def make_compute_worker(num_threads: int | None = 1):
    """The window's compute worker: a child process, or a thread in this process (rationed by
    the window while training) with FLOWSCOPE_COMPUTE_PROCESS=0 or on one core.
    FLOWSCOPE_COMPUTE_PRIORITY=idle puts the child at the old idle priority (benchmarks)."""
    if os.environ.get("FLOWSCOPE_COMPUTE_PROCESS", "1") == "0" or (os.cpu_count() or 1) < 2:
        return ComputeWorker(num_threads=num_threads)
    idle = os.environ.get("FLOWSCOPE_COMPUTE_PRIORITY", "") == "idle"
    return ProcessComputeWorker(num_threads=num_threads, nice=COMPUTE_NICE if idle else 0)
