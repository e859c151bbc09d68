"""What ran inside the GUI event loop's longest gap of an action (bench/gui_latency.py --profile).

``ProfilingApp`` is a QApplication whose ``notify`` times every event delivered on the GUI thread
(CPU and wall) and runs cProfile on each top-level one; ``report(t0, t1)`` lists the events that
started in [t0, t1] (nested paint events indented) and the cProfile of the heaviest ones. Profiling
costs time itself (cProfile roughly doubles Python-heavy code): the figures of a --profile run
are for finding causes, not for comparing with a plain run; ``--events`` lists the events
without cProfile (a few microseconds an event). Widget resizes (old -> new size) are listed too,
and gui_latency marks when a held view was released (ui/paint_turns.py): a resized view repaints
whole, held or not (how the SDE's warning row made both plots repaint in one 40 ms stretch).
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import time

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

#: a top-level event that used more GUI-thread CPU than this keeps its cProfile
PROFILE_ABOVE_S = 0.006
LIST_ABOVE_S = 0.0005


class ProfilingApp(QApplication):
    def __init__(self, argv: list[str], profile: bool = True) -> None:
        """profile=False (gui_latency --events): time the events only, without cProfile, so
        that their figures compare with a plain run's."""
        super().__init__(argv)
        self._profile = profile
        self._depth = 0
        #: (start, depth, cpu s, wall s, event type, receiver class, profile text or None)
        self.events: list[tuple[float, int, float, float, str, str, str | None]] = []
        #: (start, cpu s) of every top-level event
        self.totals: list[tuple[float, float]] = []
        self._gc_start = (0.0, 0.0)
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        """Python's cyclic collections count as events (they run inside whatever allocates)."""
        if phase == "start":
            self._gc_start = (time.perf_counter(), time.thread_time())
        else:
            t0, c0 = self._gc_start
            cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
            if cpu > LIST_ABOVE_S:
                what = f"gen{info['generation']} collected {info['collected']}"
                self.events.append((t0, 0, cpu, wall, "gc", what, None))

    def notify(self, receiver, event) -> bool:  # noqa: D102 - Qt override
        self._depth += 1
        depth = self._depth
        t0, c0 = time.perf_counter(), time.thread_time()
        kind = event.type()
        prof = cProfile.Profile(time.thread_time) if depth == 1 and self._profile else None
        if prof is not None:
            prof.enable()
        try:
            return super().notify(receiver, event)
        finally:
            if prof is not None:
                prof.disable()
            self._depth -= 1
            cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
            if depth == 1:
                self.totals.append((t0, cpu))
            paint = kind == QEvent.Type.Paint
            if kind == QEvent.Type.Resize and hasattr(receiver, "isWindow"):
                # a widget resized repaints whole, held or not (ui/paint_turns.py): say which
                o, n = event.oldSize(), event.size()
                parent = receiver.parent()
                who = f"{receiver.objectName() or type(receiver).__name__} "
                who += f"{o.width()}x{o.height()} -> {n.width()}x{n.height()}"
                who += f" in {type(parent).__name__}" if parent is not None else ""
                self.events.append((t0, depth, cpu, wall, "Resize", who, None))
            if (depth == 1 and cpu > LIST_ABOVE_S) or (paint and cpu > 0.001):
                text = None
                if prof is not None and cpu > PROFILE_ABOVE_S:
                    buf = io.StringIO()
                    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
                    text = _tidy(buf.getvalue())
                name = getattr(kind, "name", str(kind))
                who = type(receiver).__name__
                if paint:  # a plot's viewport: say which plot (the bench names them)
                    parent = receiver.parent()
                    if parent is not None:
                        outer = parent.parent()
                        who += f" of {parent.objectName() or type(parent).__name__}" + (
                            f" in {type(outer).__name__}" if outer is not None else ""
                        )
                self.events.append((t0, depth, cpu, wall, name, who, text))
            if len(self.events) > 50_000:
                del self.events[:25_000]
            if len(self.totals) > 200_000:
                del self.totals[:100_000]

    def mark(self, kind: str, what: str) -> None:
        """A moment worth seeing in the report (e.g. a held view released), not an event."""
        self.events.append((time.perf_counter(), self._depth, 0.0, 0.0, kind, what, None))

    def report(self, t0: float, t1: float, gap_start: float | None = None) -> str:
        """The events that began in [t0, t1]; a line marks ``gap_start`` (the last heartbeat
        before the gap), so what ran before the gap and inside it can be told apart."""
        lines = []
        for start, depth, cpu, wall, kind, rec, text in self.events:
            if gap_start is not None and start > gap_start:
                lines.append("  ---- the gap begins (the last heartbeat before it)")
                gap_start = None
            if t0 <= start <= t1:
                pad = "  " * depth
                lines.append(
                    f"  {pad}{1000 * cpu:6.1f} ms CPU {1000 * wall:6.1f} wall  {kind} {rec}"
                )
                if text:
                    lines.extend("        | " + ln for ln in text)
        inside = [c for t, c in self.totals if t0 <= t <= t1]
        lines.append(f"  all {len(inside)} top-level events: {1000 * sum(inside):.1f} ms CPU")
        return "\n".join(lines)


def _tidy(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        if (
            not line.strip()
            or "function calls" in line
            or line.lstrip().startswith(("Ordered", "List"))
        ):
            continue
        for prefix in ("/work/main/.venv/lib/python3.11/site-packages/",):
            line = line.replace(prefix, "")
        if "site-packages/" in line:
            line = line[: line.find("/")] + line[line.find("site-packages/") + 14 :]
        out.append(line.rstrip())
    return out
