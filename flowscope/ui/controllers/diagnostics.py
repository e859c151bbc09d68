"""DiagnosticsController: the Diagnostics panel, the diagnostic heatmaps and the training scrub.

It asks the compute side (kinds 'diagnostics' and 'diagmap', see
flowscope/train/diagnostics_compute.py) for the panel's numbers and for a diagnostic heatmap,
rarely and replaceably: while training, the panel refreshes every DIAG_INTERVAL_S at most and
only when the previous answer has arrived (the compute process answers these last, at idle
priority), so the trainer keeps its core. The sampler's steps / solver / σ re-ask only the
decomposition (throttled). Nothing here runs torch.

The scrub keeps up to SCRUB_KEEP snapshots log-spaced over training (CPU state dicts of a
small MLP: ~1 MB each at the default width); choosing one replays the field, the samples and the
diagnostics at that step, the right end returns to live.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QSizePolicy, QTabWidget

from ...train.compute import DIAGNOSTIC_SOURCES
from ...train.diagnostics_compute import DiagMapRequest, DiagnosticsRequest
from ..diagnostics_maps import show_map
from ..diagnostics_panel import DiagnosticsPanel
from .requests import RequestChannel

TICK_MS = 200
DIAG_INTERVAL_S = 4.0  # the panel follows training at most this often
DECOMP_THROTTLE_S = 0.5  # the decomposition follows the sliders at most this often
MAP_INTERVAL_S = 0.4  # a diagnostic heatmap follows t at most this often
MAP_TRAINING_INTERVAL_S = 2.0  # ... and new weights at most this often
SCRUB_KEEP = 64
#: with a compute thread in the window's process (one core, or FLOWSCOPE_COMPUTE_PROCESS=0) the
#: panel waits this many times its last computing time between refreshes while training: it
#: then takes at most 1 / DUTY of a core from the trainer
DUTY = 10.0
#: Monte Carlo sizes of the live panel (the CLI report uses 4-8x more)
LIVE_SIZES = {"error_n": 2048, "decompose_n": 400, "nll_n": 200, "nll_steps": 20}


def log_spaced_keep(steps: list[int], keep: int = SCRUB_KEEP) -> list[int]:
    """Which of the (increasing) ``steps`` to keep: at most ``keep``, spread evenly in log(step)
    from the first to the last (both kept)."""
    if len(steps) <= keep:
        return list(steps)
    lo, hi = math.log1p(steps[0]), math.log1p(steps[-1])
    chosen: list[int] = []
    for k in range(keep):
        want = lo + (hi - lo) * k / (keep - 1)
        best = min(steps, key=lambda s: abs(math.log1p(s) - want))
        if best not in chosen:
            chosen.append(best)
    return sorted(chosen)


class SnapshotRing:
    """Up to ``keep`` snapshots, log-spaced in step over training (bounded memory)."""

    def __init__(self, keep: int = SCRUB_KEEP):
        self.keep = keep
        self.snaps: dict[int, object] = {}

    def add(self, snap) -> bool:
        """Keep ``snap`` if its step is new; True when the kept set changed."""
        if snap is None or snap.step in self.snaps:
            return False
        self.snaps[snap.step] = snap
        if len(self.snaps) > self.keep:
            kept = set(log_spaced_keep(sorted(self.snaps), self.keep))
            kept.add(snap.step)  # the newest is always kept (live)
            self.snaps = {s: v for s, v in self.snaps.items() if s in kept}
        return True

    def steps(self) -> list[int]:
        return sorted(self.snaps)

    def clear(self) -> None:
        self.snaps.clear()


class DiagnosticsController(QObject):
    """state: the AppState; view: the ExplorerView; explorer: the ExplorerController (its
    requests replay a scrubbed step); panel: the DiagnosticsPanel; status(text): a status line."""

    def __init__(self, state, view, explorer, worker, sessions, target, panel, status, parent=None):
        super().__init__(parent)
        self.state, self.view, self.explorer, self.sessions = state, view, explorer, sessions
        self._target, self.panel, self.status = target, panel, status
        self.requests = RequestChannel(worker, ("diagnostics", "diagmap"), self)
        self.requests.resultReady.connect(self._on_result)
        self.requests.failed.connect(lambda text: status(f"diagnostics: {text}"))
        self.worker = worker
        self.sizes = dict(LIVE_SIZES)  # tests and slow machines may shrink them
        self.ring = SnapshotRing()
        self.scrub_index = -1  # -1: live
        self.last_result = None
        self.last_map = None
        self._diag_step = -1
        self._last_diag = 0.0
        self._decomp_due = 0.0  # when the throttled decomposition is to be asked (0: not)
        self._map_due = False
        self._last_map = 0.0
        self._map_step = -1
        self._target_obj = None
        self.panel.scrubbed.connect(self.scrub_to)
        state.subscribe(self._on_state)
        sessions.sessionReplaced.connect(self.restart)
        # the explorer's requests read the scrubbed snapshot while one is chosen
        live = explorer.snapshot
        explorer.snapshot = lambda: self.scrub_snapshot() or live()
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    # ----------------------------------------------------------------- inputs
    @property
    def target(self):
        return self._target()

    def snapshot(self):
        """The snapshot the diagnostics are for: the scrubbed one, else the newest."""
        return self.scrub_snapshot() or self.sessions.snapshot

    def scrub_snapshot(self):
        if self.scrub_index < 0:
            return None
        steps = self.ring.steps()
        return self.ring.snaps[steps[self.scrub_index]] if self.scrub_index < len(steps) else None

    def train_points(self):
        """A point-set target's training points (K, 2) (h = 0), else None."""
        t = self.target
        ex = None if t is None else t.exact
        if ex is None or getattr(t, "kind", "") != "points" or not bool((ex.widths == 0).all()):
            return None
        return ex.means.detach().to("cpu").double().numpy()

    def diagnostics_request(self, generation: int, parts=None):
        snap = self.snapshot()
        if snap is None or self.target is None:
            return None
        s = self.state
        pts = self.train_points()
        parts = parts or ("error_by_t", "decompose", "nll")
        if pts is not None and "decompose" in parts:
            parts = (*parts, "memorization")
        # the panel's decomposition is of the ODE unless the explorer's SDE σ is asked
        return DiagnosticsRequest(
            generation, self.target.exact, snap, tuple(parts), s.steps, s.solver, 0.0,
            seed=s.seed, train_points=pts, **self.sizes,
        )  # fmt: skip

    def map_request(self, generation: int):
        kind = self.state.density_source
        snap = self.snapshot()
        if kind not in DIAGNOSTIC_SOURCES or self.target is None:
            return None
        if snap is None and kind != "exact_logp":
            self.status("this heatmap needs a trained model: press Train (T)")
            return None
        return DiagMapRequest(
            generation, self.target.exact, snap, kind, float(self.state.t),
            tuple(self.target.bounds),
        )  # fmt: skip

    # ----------------------------------------------------------------- requests
    def request_diagnostics(self, parts=None) -> None:
        self._last_diag = time.perf_counter()
        snap = self.snapshot()
        self._diag_step = -1 if snap is None else snap.step
        self.requests.submit("diagnostics", lambda gen: self.diagnostics_request(gen, parts))

    def request_map(self) -> None:
        self._map_due = False
        self._last_map = time.perf_counter()
        snap = self.snapshot()
        self._map_step = -1 if snap is None else snap.step
        self.requests.submit("diagmap", self.map_request)

    def render_now(self) -> None:
        """Compute the panel and the heatmap on this thread (scripted mode, screenshots)."""
        if self.snapshot() is not None:
            self.requests.render_now("diagnostics", lambda g: self.diagnostics_request(g))
        if self.state.density_source in DIAGNOSTIC_SOURCES:
            req = self.map_request
            if req(0) is not None:
                self.requests.render_now("diagmap", req)

    def restart(self) -> None:
        """New weights or a new target: the old diagnostics and snapshots are stale."""
        self.ring.clear()
        self.scrub_index = -1
        self.panel.set_snapshot_steps([])
        self.panel.clear()
        self.panel.set_memorization(None, None, None, 1.0)
        self.requests.invalidate("diagnostics")
        self.requests.invalidate("diagmap")
        self._diag_step = self._map_step = -1
        self.last_result = None

    def scrub_to(self, index: int) -> None:
        """Replay the snapshot at ``index`` of the kept steps (-1: live)."""
        self.scrub_index = int(index)
        snap = self.snapshot()
        if snap is not None:  # the explorer's refresh then waits for newer weights than these
            self.explorer._snapshot_step_submitted = snap.step
        self.explorer.request_trajectories(preview=True)
        self.explorer.request_field()
        self.request_diagnostics()
        if self.state.density_source in DIAGNOSTIC_SOURCES:
            self.request_map()

    def _on_state(self, name: str, value) -> None:
        if name in ("steps", "solver", "seed"):
            self._decomp_due = time.perf_counter() + DECOMP_THROTTLE_S
        elif name == "density_source":
            if value in DIAGNOSTIC_SOURCES:
                self.request_map()
        elif name == "t" and self.state.density_source in DIAGNOSTIC_SOURCES:
            self._map_due = True

    # ----------------------------------------------------------------- loop
    def tick(self) -> None:
        now = time.perf_counter()
        if self.target is not self._target_obj:
            if self._target_obj is not None:
                self.restart()
            self._target_obj = self.target
        if self.ring.add(self.sessions.snapshot):
            self.panel.set_snapshot_steps(self.ring.steps())
        self.requests.poll()
        snap = self.snapshot()
        if snap is None:
            return
        idle = not self.worker.working_on("diagnostics")
        last = self.last_result
        spent = sum(last.seconds.values()) if last is not None else 0.0
        wait = DIAG_INTERVAL_S
        if not self.worker.yields_to_trainer:  # a compute thread shares the trainer's CPU
            wait = max(wait, DUTY * spent)
        if self._decomp_due and now >= self._decomp_due and idle:
            self._decomp_due = 0.0
            self.request_diagnostics(("decompose",))
        elif (
            idle
            and snap.step != self._diag_step
            and (now - self._last_diag >= wait or not self.sessions.running)
        ):
            self.request_diagnostics()
        if self.state.density_source in DIAGNOSTIC_SOURCES and not self.worker.working_on(
            "diagmap"
        ):
            new_weights = snap.step != self._map_step
            if (self._map_due and now - self._last_map >= MAP_INTERVAL_S) or (
                new_weights and now - self._last_map >= MAP_TRAINING_INTERVAL_S
            ):
                self.request_map()

    def _on_result(self, kind: str, res) -> None:
        if kind == "diagmap":
            if res.kind == self.state.density_source:
                self.last_map = res
                show_map(self.view, res)
                self.status(res.summary)
            return
        self.last_result = res
        live = self.scrub_index < 0
        if res.parts == ("decompose",) and res.decomposition is not None:
            self.panel.set_decomposition(res.decomposition)
        else:
            self.panel.show_result(res, live=live)
        if res.memorization is not None and res.samples is not None:
            m = res.memorization
            self.panel.set_memorization(res.samples, res.nearest, self.train_points(), m["spacing"])
            self.status(
                f"memorization: {100 * m['share']:.1f}% of samples within "
                f"{m['radius']:g} x the spacing of a training point (fresh target samples: "
                f"{100 * m['fresh_share']:.1f}%), nearest-distance ratio {m['nn_ratio']:.2f}"
            )


def _height_of_current_tab(tabs: QTabWidget) -> None:
    """The tabs ask for the height of the page shown, not of the tallest page: the taller
    Diagnostics page pushed the quality curve of the Curves page below a 1000-px screen."""

    def on_current(index: int) -> None:
        for k in range(tabs.count()):
            v = QSizePolicy.Policy.Preferred if k == index else QSizePolicy.Policy.Ignored
            tabs.widget(k).setSizePolicy(QSizePolicy.Policy.Preferred, v)
        tabs.updateGeometry()

    tabs.currentChanged.connect(on_current)
    on_current(tabs.currentIndex())


def attach_diagnostics(win) -> DiagnosticsController:
    """Put a Diagnostics tab beside the window's loss/quality curves and wire its controller
    (MainWindow calls this once, after its ExplorerController exists)."""
    curves = win.curves
    parent = curves.parentWidget()
    lay = parent.layout()
    index = lay.indexOf(curves)
    lay.removeWidget(curves)
    tabs = QTabWidget(parent)
    tabs.setDocumentMode(True)
    panel = DiagnosticsPanel()
    tabs.addTab(curves, "Curves")
    tabs.addTab(panel, "Diagnostics")
    tabs.setTabToolTip(1, "where, when and why the network is wrong, against the exact answer")
    lay.insertWidget(index, tabs, 1)
    _height_of_current_tab(tabs)
    win.curve_tabs, win.diagnostics_panel = tabs, panel
    ctl = DiagnosticsController(
        win.state, win.explorer, win.view, win.worker, win.sessions, lambda: win.target, panel,
        lambda text: win.statusBar().showMessage(text, 8000), win,
    )  # fmt: skip
    return ctl
