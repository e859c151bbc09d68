"""The compute worker: the scheduling of render requests on its own thread. Qt-free.

Each request carries a generation number; only the newest pending request of each kind is kept
(stale work is dropped, never queued), and readers drop results older than what they asked for.
What a request turns into is :func:`flowscope.train.render.render` (pure ``request -> result``);
``compute_now()`` calls it on the calling thread (tests, scripted mode). The child-process
worker (:mod:`.compute_process`) calls the same function.

The request and result types and the render helpers are re-exported here for the modules that
import them from this one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import torch

from . import priority
from .render import (  # noqa: F401 - re-exported: the public names other modules import here
    DENSITY_CACHE_SIZE,
    DENSITY_SOURCES,
    DENSITY_T_QUANTUM,
    DIAGNOSTIC_SOURCES,
    FIELD_SOURCES,
    GUIDE_PARTS,
    LEARNED_CHUNK,
    QUALITY_N,
    QUALITY_SEED,
    QUALITY_SOLVER,
    QUALITY_STEPS,
    RENDERERS,
    Abandoned,
    DataField,
    FieldRequest,
    FieldResult,
    ImageRequest,
    ImageResult,
    RenderContext,
    TargetRequest,
    TargetResult,
    TrajectoryRequest,
    TrajectoryResult,
    density_grid,
    field_grids,
    grid_points,
    particle_classes,
    reference_quality,
    render,
    with_source,
)

Request = TrajectoryRequest | FieldRequest | ImageRequest  # what submit() takes (and more kinds)


class ComputeWorker:
    """Background renderer. ``submit(request)``; poll ``take(kind)`` for the newest result."""

    KINDS = tuple(RENDERERS)  # every kind render() knows

    def __init__(self, num_threads: int | None = 1):
        self._cond = threading.Condition()
        self._pending: dict[str, object] = {}
        self._results: dict[str, object] = {}
        self._stop = False
        self._thread: threading.Thread | None = None
        self._num_threads = num_threads
        # The worker thread keeps the window's priority, always: a niced thread shares the GIL
        # with the GUI thread, and when it is descheduled (a busy machine) while it holds the
        # GIL, the GUI thread waits for it (a priority inversion: the trainer fell to ~5
        # steps/s, and closing a window waited minutes beside two busy loops).
        self._submitted: dict[str, float] = {}
        #: what outlives a request here: inference models per kind, the exact heatmap cache
        self.context = RenderContext()
        self.context.cancelled = self._abandoning
        self.busy = False
        self._current: str | None = None  # the kind being computed on the worker thread
        self.last_error: str | None = None
        #: kinds with a request that a user's action asked for, pending or being computed: they
        #: go first, and the trainer yields (``user_work`` is up) until they are answered
        self._urgent: set[str] = set()
        self.user_work: priority.UserWork | None = priority.user_work()

    # ----------------------------------------------------------------- thread
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="flowscope-compute", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker thread, waiting at most ``timeout`` seconds: a computation in flight
        is abandoned (:meth:`request_stop`), so this returns as soon as it reaches its next
        field evaluation, not when it would have finished."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def request_stop(self) -> None:
        """Ask the worker to stop, and return at once. What it computes is abandoned at its
        next field evaluation (:class:`~.render.Abandoned`): a closing window must not wait
        for it, nor share the GIL with it while it saves (a starved computation in this
        process slows every Python step of the GUI thread)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    @property
    def thread_ident(self) -> int | None:
        """The worker thread's ident (None before start): benchmarks read its CPU clock."""
        return None if self._thread is None else self._thread.ident

    def submit(self, request, urgent: bool = False) -> None:
        """Queue ``request``, replacing any pending request of the same kind. ``urgent``: a
        user's action asked for it: it goes before background work and the trainer yields
        until it is answered (a request replacing an urgent one stays urgent)."""
        kind = request.KIND
        with self._cond:
            if kind not in self._pending:
                self._submitted[kind] = time.perf_counter()
            self._pending[kind] = request
            if urgent:
                self._urgent.add(kind)
                if self.user_work is not None:
                    self.user_work.raise_()
            self._cond.notify_all()

    def urgent(self, kind: str) -> bool:
        """True while a request of ``kind`` that a user's action asked for is unanswered."""
        with self._cond:
            return kind in self._urgent

    def _owed(self, kind: str) -> bool:
        """(Holding the lock) True while an answer for ``kind`` is still to come elsewhere."""
        return False

    def _answered(self, kind: str) -> None:
        """(Holding the lock) ``kind`` has no unanswered request left: it is no longer urgent,
        and the trainer stops yielding when nothing urgent is left."""
        if kind in self._pending or self._owed(kind):
            return
        self._urgent.discard(kind)
        if not self._urgent and self.user_work is not None:
            self.user_work.lower()

    def take(self, kind: str):
        """The newest finished result of ``kind`` (once), or None."""
        with self._cond:
            return self._results.pop(kind, None)

    def working_on(self, kind: str) -> bool:
        """True while a request of ``kind`` is queued or being computed."""
        with self._cond:
            return kind in self._pending or self._current == kind

    #: True when the work runs at a lower priority than training (then callers need not ration it)
    yields_to_trainer = False

    #: while idle, wake up this often to call :meth:`_idle` (None: only when work comes)
    IDLE_POLL_S: float | None = None

    def _idle(self) -> None:
        """Called (holding the lock) on each idle wake-up; subclasses poll something here."""

    def _run(self, req):
        """Compute one request on the worker thread (subclasses may send it elsewhere)."""
        return self.compute_now(req, self._abandon_point)

    def _abandoning(self) -> bool:
        """True on the worker thread once it is asked to stop (computations there end; the
        same context used from another thread, e.g. ``render_now``, is not affected)."""
        return self._stop and threading.current_thread() is self._thread

    def _abandon_point(self) -> None:
        """``pause`` for :func:`~.render.render` on the worker thread: called before every
        field evaluation of a trajectory (exact fields too, which have no network hook)."""
        if self._abandoning():
            raise Abandoned

    def _loop(self) -> None:
        if self._num_threads:
            torch.set_num_threads(self._num_threads)
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait(self.IDLE_POLL_S)
                    self._idle()
                if self._stop:
                    return
                # a user's request first; then the kind that has waited longest goes first:
                # neither starves the other
                kind = min(self._pending, key=lambda k: (
                    k not in self._urgent, self._submitted.get(k, 0.0)
                ))  # fmt: skip
                req = self._pending.pop(kind)
                self.busy, self._current = True, kind
            try:
                res = self._run(req)
                if res is not None:
                    self.last_error = None
            except Abandoned:  # stopping: nobody wants it
                with self._cond:
                    self.busy, self._current = False, None
                return
            except Exception as e:  # keep the worker alive; the GUI shows the message
                res, self.last_error = None, f"{type(e).__name__}: {e}"
            with self._cond:
                self.busy, self._current = False, None
                if res is not None:
                    self._results[kind] = res
                self._answered(kind)

    # ----------------------------------------------------------------- work
    def compute_now(self, req, pause: Callable[[], None] | None = None):
        """The result of ``req``, computed on the calling thread: :func:`~.render.render` with
        this worker's context (its inference models and heatmap cache)."""
        return render(req, self.context, pause)
