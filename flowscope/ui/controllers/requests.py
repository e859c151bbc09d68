"""RequestChannel: generations for the requests a window sends to its compute worker.

Each kind ('trajectory', 'field', 'images', 'target') counts its requests; ``poll()`` takes the
workers' newest results and emits ``resultReady(kind, result)`` for those not older than what is
shown, so a stale result is never shown as current. ``stale(kind)`` says whether the newest
request is unanswered; ``behind(kind)`` whether what is shown was computed before the settings
last changed (the view's "computing..." hint). A request that a control change asked for is
urgent: the compute side serves it before background refreshes and the trainer yields until it
is answered. ``render_now(request)`` computes on the calling thread and marks it shown (scripted
mode, exports): no magic generations outside.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal


class RequestChannel(QObject):
    resultReady = Signal(str, object)  # noqa: N815 - Qt signal naming
    #: the worker reported an error (text)
    failed = Signal(str)

    def __init__(self, worker, kinds: tuple[str, ...], parent: QObject | None = None):
        super().__init__(parent)
        self.worker = worker
        self.kinds = kinds
        self._gen = {k: 0 for k in kinds}
        self._shown = {k: -1 for k in kinds}
        self._oldest = {k: 0 for k in kinds}  # results below this generation are dropped
        # the first generation with the current settings (-1: no control asked for any yet)
        self._settings = {k: -1 for k in kinds}

    def generation(self, kind: str) -> int:
        """The generation of the newest request of ``kind``."""
        return self._gen[kind]

    def shown(self, kind: str) -> int:
        """The generation of the result of ``kind`` shown now (-1: none)."""
        return self._shown[kind]

    def stale(self, kind: str) -> bool:
        """True while the newest request of ``kind`` has not been answered."""
        return self._shown[kind] < self._gen[kind]

    def behind(self, kind: str) -> bool:
        """True while the result of ``kind`` shown was computed before the settings last
        changed (or none is shown yet): the view is not current."""
        return self._shown[kind] < self._settings[kind]

    def settings_generation(self, kind: str) -> int:
        """The first generation of ``kind`` computed with the current settings."""
        return self._settings[kind]

    def submit(
        self, kind: str, build: Callable[[int], object | None], *, urgent: bool = False,
        settings: bool = False,
    ) -> object | None:  # fmt: skip
        """Build a request with the next generation (``build(generation)``; None: nothing to
        ask) and send it; a newer one replaces any pending one of its kind in the worker.

        settings: the settings changed (a user's action): results of earlier generations are
        no longer current. urgent: a user's action asked for it (implied by ``settings``, and
        while the view is behind the settings: a background refresh then carries them)."""
        req = build(self._gen[kind] + 1)
        if req is None:
            return None
        urgent = urgent or settings or self.behind(kind)
        self._gen[kind] += 1
        if settings:
            self._settings[kind] = self._gen[kind]
        if urgent:
            self.worker.submit(req, urgent=True)
        else:
            self.worker.submit(req)
        return req

    def invalidate(self, kind: str) -> None:
        """Results already requested for ``kind`` are stale (e.g. the weights were reset): they
        are dropped when they arrive."""
        self._gen[kind] += 1
        self._oldest[kind] = self._gen[kind]

    def render_now(self, kind: str, build: Callable[[int], object]):
        """Compute a request of ``kind`` on the calling thread and emit it as the current result."""
        self._gen[kind] += 1
        res = self.worker.compute_now(build(self._gen[kind]))
        self._accept(kind, res)
        return res

    def poll(self) -> None:
        """Emit the newest finished results that are not stale, and the worker's error."""
        for kind in self.kinds:
            res = self.worker.take(kind)
            if res is not None:
                self._accept(kind, res)
        if self.worker.last_error:
            self.failed.emit(self.worker.last_error)
            self.worker.last_error = None

    def _accept(self, kind: str, res) -> None:
        if res.generation >= max(self._shown[kind], self._oldest[kind]):
            self._shown[kind] = res.generation
            self.resultReady.emit(kind, res)
