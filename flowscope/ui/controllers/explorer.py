"""ExplorerController: the 2D explorer's requests, throttling and frame loop (the view controller
of ARCHITECTURE.md).

It asks the compute side for particles (ODE and SDE from the same seeds), the arrows and heatmap
at t, and the target's heatmap and loss floor; shows the newest results that are not stale in the
ExplorerView; plays t; and rations the refreshes that follow training so that the trainer keeps
its core. The GUI thread only draws: nothing here runs torch, except ``render_now`` (scripted mode
and exports), which computes on the calling thread on purpose.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ...train.compute import FieldRequest, TargetRequest, TrajectoryRequest
from ..paint_turns import heavy_work_done
from ..source_choice import source_mixture
from .requests import RequestChannel

PLAY_PERIOD_S = 4.0  # one sweep t = 0 -> 1
TICK_MS = 16
# While training on a small machine the window draws at ~30 fps instead of 60: drawing takes all
# the CPU it is given, and on 2 cores each extra frame is taken from the trainer.
TICK_TRAINING_MS = 31 if (os.cpu_count() or 1) <= 4 else TICK_MS
TRAIL_FRAMES = 5
PREVIEW_PARTICLES = 800
#: a control change asks for a preview first when the full set would take longer than this
PREVIEW_IF_SLOWER_S = 0.3
REFRESH_WHILE_TRAINING_S = 1.5
# While training, learned trajectories are refreshed at most once per REFRESH_DUTY x the time the
# last one took: the compute thread then uses <= 1 / REFRESH_DUTY of a core for them, and the
# trainer keeps its core (10k particles x 50 Heun + SDE steps take ~3 s of one 2-core CPU).
REFRESH_DUTY = 5.0
FIELD_MIN_INTERVAL_S = 0.1  # arrows follow a playing t at up to 10 Hz
FIELD_MIN_INTERVAL_TRAINING_S = 0.2  # 5 Hz while training: each exact + learned field ~30 ms
STATUS_INTERVAL_S = 0.25  # steps, steps/s and the status line
#: the loss plot: each redraw re-lays its log axis (~5-10 ms of GUI thread on 2 cores)
CURVES_INTERVAL_S = 1.0
#: while t plays, the heatmap steps in t by this: every later loop then finds it cached
PLAY_DENSITY_T_STEP = 0.01


def sde_warning(x1: np.ndarray, bounds, state) -> str:
    """'' when the SDE's final particles are finite and near the target, else what to change.

    Euler-Maruyama multiplies a particle's distance to the data by about 1 - h sigma_t^2 / (2
    s_t^2) per step (s_t^2 = alpha_t^2 h_i^2 + beta_t^2, the width of the target's components
    at t), so with large sigma, few steps, or near t = 1 a step overshoots and the particles
    explode: the SDE is fine, its discretization is not."""
    x1 = np.asarray(x1)
    span = max(bounds[1] - bounds[0], bounds[3] - bounds[2])
    centre = np.array([(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2])
    bad = ~np.isfinite(x1).all(1)
    far = np.zeros_like(bad)
    far[~bad] = np.abs(x1[~bad] - centre).max(1) > 10 * span
    share = float((bad | far).mean()) if len(x1) else 0.0
    if share < 0.01:
        return ""
    fix = "more steps, a smaller σ, or σ_t = σ(1-t)" if state.sigma_schedule == "constant" else (
        "more steps or a smaller σ"
    )
    return (
        f"Euler-Maruyama is unstable here ({100 * share:.0f}% of particles blew up: "
        f"h σ<sub>t</sub>²/β<sub>t</sub>² is too large): try {fix}"
    )


class ExplorerController(QObject):
    """Requests and the frame loop of the ODE/SDE explorer.

    state: the AppState; view: the ExplorerView; worker: the compute worker; sessions: the
    SessionController; target: a callable returning the current Target; needed_classes: a
    callable returning the number of classes the model trains with (0: unconditional)."""

    #: the target's heatmap arrived: (density (G, G), bounds)
    targetDensity = Signal(object, object)  # noqa: N815 - Qt signal naming
    #: the loss floor L_min arrived (None while unknown)
    floorChanged = Signal(object)  # noqa: N815
    #: the sample-quality curve changed: (steps, energies, latest support share or None,
    #: latest precision (mean exact log p_data) or None)
    qualityChanged = Signal(list, list, object, object)  # noqa: N815
    #: time to refresh the training status (True: the curves too)
    statusDue = Signal(bool)  # noqa: N815
    #: the compute side reported an error
    failed = Signal(str)
    #: the SDE particles blew up (a message saying what to change), or '' when they are fine
    sdeWarning = Signal(str)  # noqa: N815

    def __init__(
        self,
        state,
        view,
        worker,
        sessions,
        target: Callable[[], object],
        needed_classes: Callable[[], int],
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.state, self.view, self.worker, self.sessions = state, view, worker, sessions
        self._target, self._needed_classes = target, needed_classes
        self.requests = RequestChannel(worker, ("trajectory", "field", "target"), self)
        self.requests.resultReady.connect(self._on_result)
        self.requests.failed.connect(self.failed)
        if hasattr(view, "visibleRangeChanged"):  # arrows and heatmap cover what is shown
            view.visibleRangeChanged.connect(self.field_follows_t)
        self.floor: float | None = None
        self.floor_stderr: float | None = None
        self.quality: tuple[list[int], list[float]] = ([], [])
        self.traj = None
        self.field = None
        #: a view that draws instead of the marginal one (ui/conditional.py), None: marginal
        self.override = None
        self.frame_times: list[float] = []  # for the soak benchmark
        self._traj_pending_full = False
        self._last_refresh = 0.0
        self._last_curves = 0.0
        self._last_status = 0.0
        self._last_tick = time.perf_counter()
        self._snapshot_step_submitted = -1
        self._field_dirty = False
        self._last_field_request = 0.0
        self._computing_shown: bool | None = None  # the view's "computing..." hint
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)

    # ----------------------------------------------------------------- requests
    @property
    def target(self):
        return self._target()

    def snapshot(self):
        return self.sessions.snapshot

    def follow_learned(self) -> bool:
        mode = self.state.particles_follow
        return mode == "learned" or (mode == "auto" and self.snapshot() is not None)

    def trajectory_request(self, generation: int, n: int, quality: bool = False):
        s = self.state
        snap = self.snapshot() if self.follow_learned() else None
        return TrajectoryRequest(
            generation, self.target.exact, snap, n, s.steps, s.solver, s.sigma,
            s.sigma_schedule, s.drop_score_term, None if s.label < 0 else s.label, s.w, s.seed,
            score_quality=quality and snap is not None,
            source=source_mixture(getattr(s, "source", "gaussian")),
        )  # fmt: skip

    def request_trajectories(
        self, preview: bool = False, quality: bool = False, settings: bool = True
    ) -> None:
        """Particles for the current settings; a preview (few particles, quick) first when
        asked or when the full set would be slow, then the full set. settings: a control
        changed (urgent: answered before background work, the trainer yields); False for
        background refreshes."""
        n_all = self.state.n_particles
        preview = preview or (settings and self._full_set_seconds(n_all) > PREVIEW_IF_SLOWER_S)
        n = min(PREVIEW_PARTICLES, n_all) if preview else n_all
        self._traj_pending_full = preview and n < n_all
        self.requests.submit(
            "trajectory", lambda gen: self.trajectory_request(gen, n, quality), settings=settings
        )

    def _full_set_seconds(self, n: int) -> float:
        """How long n particles took, judged from the last set (0 when none is known)."""
        tr = self.traj
        if tr is None or not tr.ode.shape[1]:
            return 0.0
        return tr.seconds * n / tr.ode.shape[1]

    def field_request(self, generation: int, t: float | None = None) -> FieldRequest:
        """The arrows and heatmap request for the current settings (at time t if given)."""
        s = self.state
        return FieldRequest(
            generation, self.target.exact, self.snapshot(), float(s.t if t is None else t),
            self.field_bounds(), s.field_source, sigma=s.sigma, sigma_schedule=s.sigma_schedule,
            drop_score_term=s.drop_score_term, y=None if s.label < 0 else s.label, w=s.w,
            guide_part=s.guide_part,
            density_kind="guided" if s.density_source == "guided" else "marginal",
            **({"density_t_step": PLAY_DENSITY_T_STEP} if s.playing and t is None else {}),
            source=source_mixture(getattr(s, "source", "gaussian")),
        )  # fmt: skip

    def field_bounds(self) -> tuple[float, float, float, float]:
        """The plane the plots show (rounded, so that small pans reuse the heatmap cache), or
        the target's bounds when the view cannot say."""
        vb = getattr(self.view, "visible_bounds", None)
        if vb is None:
            return tuple(self.target.bounds)
        return tuple(round(float(b), 2) for b in vb())  # type: ignore[return-value]

    def request_field(self) -> None:
        self._last_field_request = time.perf_counter()
        self.requests.submit("field", self.field_request, settings=True)  # a control changed

    def field_follows_t(self) -> None:
        """t moved: the arrows for the new t are asked from the frame loop, one at a time."""
        self._field_dirty = True

    def request_target_info(self) -> None:
        """The target's heatmap and loss floor, from the compute side (seconds for large
        mixtures: never on the GUI thread). The floor is unknown (None) until the answer."""
        s, target = self.state, self.target
        self.floor = self.floor_stderr = None
        self.floorChanged.emit(None)
        conditional = bool(self._needed_classes()) and target.exact.labels is not None
        # the floor of what trains now: a changed objective / schedule / dropout applies only
        # after Reset, so until then the loss curve keeps the floor of its own objective
        session = self.sessions.session
        cfg = None if session is None else session.trainer.config
        mc = None if session is None else session.trainer.model_config
        objective = s.objective if mc is None else mc.parameterization
        schedule = s.schedule if cfg is None else cfg.schedule
        dropout = s.label_dropout if cfg is None else cfg.label_dropout
        weighting = "beta2" if cfg is None else cfg.score_weighting
        self.requests.submit("target", lambda gen: TargetRequest(
            gen, target.exact, tuple(target.bounds), objective, schedule,
            dropout if conditional else None, weighting,
        ), settings=True)  # fmt: skip

    def clear_quality(self) -> None:
        self.quality = ([], [])
        self.qualityChanged.emit([], [], None, None)

    def restart(self) -> None:
        """New weights (Reset) or a new target: forget the old quality curve and refresh."""
        self.clear_quality()
        self._snapshot_step_submitted = -1
        self.request_trajectories(preview=True)
        self.request_field()

    def request_field_background(self) -> None:
        """The arrows for a playing t or a newer snapshot: same settings, not urgent."""
        self._last_field_request = time.perf_counter()
        self.requests.submit("field", self.field_request)

    def refresh_from_training(self, force: bool = False) -> None:
        """Ask for new trajectories / fields when a newer snapshot exists (throttled)."""
        snap = self.snapshot()
        if snap is None:
            return
        now = time.perf_counter()
        last = self.traj.seconds if self.traj is not None and self.traj.source == "learned" else 0
        duty = 0.0 if self.worker.yields_to_trainer else REFRESH_DUTY  # no rationing on top
        wait = max(REFRESH_WHILE_TRAINING_S, duty * last)
        if not force and now - self._last_refresh < wait:
            return
        busy = self.worker.working_on("trajectory")  # the arrows have their own lane
        if snap.step == self._snapshot_step_submitted or (busy and not force):
            return
        self._last_refresh = now
        self._snapshot_step_submitted = snap.step
        # background: paced on the compute side, after what a user's action asked for
        self.request_trajectories(quality=True, settings=False)
        self.request_field_background()

    # ----------------------------------------------------------------- frame loop
    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def tick(self) -> None:
        """One frame: advance a playing t, show new results, ask for what is due."""
        training = self.sessions.running
        interval = TICK_TRAINING_MS if training else TICK_MS
        if self.timer.interval() != interval:
            self.timer.setInterval(interval)
        now = time.perf_counter()
        dt = now - self._last_tick
        self._last_tick = now
        self.frame_times.append(now)
        if len(self.frame_times) > 2000:
            del self.frame_times[:1000]
        s = self.state
        if s.playing:
            t = s.t + dt / PLAY_PERIOD_S
            if t >= 1.0:
                t = 0.0 if s.loop else 1.0
                if not s.loop:
                    s.set(playing=False)
            s.set(t=round(t, 4))
        self.requests.poll()
        interval_s = FIELD_MIN_INTERVAL_TRAINING_S if training else FIELD_MIN_INTERVAL_S
        if (
            self._field_dirty
            and not self.requests.stale("field")
            and now - self._last_field_request >= interval_s
        ):
            self._field_dirty = False  # the last field is shown: ask for the current t
            self.request_field_background()
        self.show_computing()
        if self.sessions.session is not None:
            self.refresh_from_training()
            if now - self._last_status > STATUS_INTERVAL_S:
                self._last_status = now
                curves = now - self._last_curves > CURVES_INTERVAL_S
                if curves:
                    self._last_curves = now
                self.statusDue.emit(curves)
        heavy_work_done()  # a held plot's repaint due in this pass waits for the next one

    def _on_result(self, kind: str, res) -> None:
        """A current (not stale) result from the compute side."""
        heavy_work_done()
        if kind == "trajectory":
            self.traj = res
            self.sdeWarning.emit(sde_warning(res.sde[-1], self.target.bounds, self.state))
            if res.energy is not None:  # the fixed reference sampler's: one point per step
                steps, values = self.quality
                if steps and steps[-1] >= res.step:  # a Reset restarts the curve first
                    del steps[-1], values[-1]
                steps.append(res.step)
                values.append(res.energy)
                self.qualityChanged.emit(steps, values, res.support, res.precision)
            if self._traj_pending_full and res.generation == self.requests.generation(kind):
                self._traj_pending_full = False  # the full set: same settings, still urgent
                n_all = self.state.n_particles
                self.requests.submit(
                    kind, lambda gen: self.trajectory_request(gen, n_all), urgent=True
                )
            self.show_frame()
        elif kind == "field":
            self.field = res
            self.show_field()
        elif kind == "target":
            self.targetDensity.emit(res.density, res.bounds)
            if res.generation == self.requests.generation(kind):
                self.floor, self.floor_stderr = res.floor, res.floor_stderr
                self.floorChanged.emit(self.floor)

    def render_now(self, t: float | None = None) -> None:
        """Compute the particles and the arrows for the current settings on this thread and show
        them (scripted mode, the animation export): blocks, so never from a user's action."""
        s = self.state
        if t is not None:
            s.set(t=float(t), playing=False)
        if self.traj is None or t is None:
            self.requests.render_now(
                "trajectory", lambda gen: self.trajectory_request(gen, s.n_particles, True)
            )
        self.requests.render_now("field", lambda gen: self.field_request(gen, t))
        self.show_frame()

    # ----------------------------------------------------------------- drawing
    def current_positions(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(ODE, SDE) particle positions at the current t, interpolated between frames."""
        tr = self.traj
        if tr is None:
            return None
        k = len(tr.ts) - 1
        f = min(max(self.state.t, 0.0), 1.0) * k
        i = min(int(f), k - 1) if k > 0 else 0
        a = f - i if k > 0 else 0.0
        j = min(i + 1, k)
        ode = (1 - a) * tr.ode[i] + a * tr.ode[j]
        sde = (1 - a) * tr.sde[i] + a * tr.sde[j]
        return ode.astype(np.float32), sde.astype(np.float32)

    def show_frame(self) -> None:
        if self.override is not None:
            return self.override.show_frame()
        view, s = self.view, self.state
        view.set_time(s.t)
        pos = self.current_positions()
        if pos is None:
            return
        ode, sde = pos
        tr = self.traj
        histogram = s.density_source == "histogram"
        key = (id(tr), histogram)
        if getattr(self, "_colors_key", None) != key:  # once per result, not every frame
            from ..particle_colors import particle_colors

            self._colors_key = key
            self._colors = [
                particle_colors(getattr(tr, f"{side}_class", None), len(p),
                                view.particle_color(side), histogram)  # fmt: skip
                for side, p in (("ode", ode), ("sde", sde))
            ]
        view.set_particles("ode", ode, self._colors[0])
        view.set_particles("sde", sde, self._colors[1])
        k = len(tr.ts) - 1
        i = int(round(s.t * k))
        lo = max(0, i - TRAIL_FRAMES)
        if s.show_trails and i - lo >= 1:
            view.set_trails("ode", np.concatenate([tr.ode[lo:i], ode[None]]))
            view.set_trails("sde", np.concatenate([tr.sde[lo:i], sde[None]]))
        else:
            view.set_trails("both", None)
        if s.density_source == "histogram":
            b = self.target.bounds
            for side, pts in (("ode", ode), ("sde", sde)):
                h, _, _ = np.histogram2d(
                    pts[:, 0], pts[:, 1], bins=64, range=[[b[0], b[1]], [b[2], b[3]]]
                )
                view.set_density(side, h.T[::-1], b, log=True)

    @property
    def computing(self) -> bool:
        """True while the particles or the arrows shown were computed with older settings."""
        return self.requests.behind("trajectory") or self.requests.behind("field")

    def show_computing(self) -> None:
        """The view's "computing..." hint, while what it shows is older than the settings."""
        on = self.computing
        if on != self._computing_shown and hasattr(self.view, "set_computing"):
            self._computing_shown = on
            self.view.set_computing(on)

    def show_field(self) -> None:
        if self.override is not None:
            return self.override.show_field()
        fr = self.field
        if fr is None:
            return
        ref = fr.reference or (0.0, 0.0, 0.0)
        s_origins = fr.origins if fr.score_origins is None else fr.score_origins
        with getattr(self.view, "batch", nullcontext)():  # each view's arrows drawn once
            self.view.set_field("ode", fr.origins, fr.ode_field, "field", reference=ref[0])
            self.view.set_field("sde", fr.origins, fr.sde_field, "field", reference=ref[1])
            self.view.set_field("both", s_origins, fr.score, "score", reference=ref[2])
        if self.state.density_source in ("exact", "guided"):  # the others: their own items
            guided = self.state.density_source == "guided"
            label = "guided p_t(x | y), normalized" if guided else "p_t(x)"
            self.view.set_density("both", fr.density, fr.bounds, label=label)

    @property
    def follows(self) -> str:
        """'learned' or 'exact': what the particles shown were integrated with."""
        return "learned" if self.traj is not None and self.traj.source == "learned" else "exact"
