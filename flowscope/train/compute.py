"""The compute worker: turns (latest snapshot or exact field, frozen sampling parameters) into
render results on its own thread, with its own inference model. Qt-free.

Each request carries a generation number; only the newest pending request of each kind is kept
(stale work is dropped, never queued), and readers drop results older than what they asked for.
``compute_now()`` runs a request on the calling thread (tests, scripted mode).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core.bridge import is_standard_gaussian
from ..core.exact import ExactMarginal
from ..core.flow_model import FlowModel
from ..core.metrics import energy_distance
from ..core.samplers import guided, sample_ode, sample_sde, sigma_schedule_fn, velocity_and_score
from ..core.support import support_report
from . import priority
from .trainer import Snapshot

#: what the arrows show, which heatmap, and which guidance field (FieldRequest's choices)
FIELD_SOURCES = ("learned", "exact", "difference")
#: the diagnostic heatmaps (diagnostics_compute.MAP_KINDS, drawn by ui/diagnostics_maps.py)
DIAGNOSTIC_SOURCES = ("error", "error_unweighted", "continuity", "model_logp", "exact_logp")
DENSITY_SOURCES = ("exact", "histogram", "guided", *DIAGNOSTIC_SOURCES)
GUIDE_PARTS = ("guided", "conditional", "unconditional")

#: the exact heatmap is computed at t rounded to this (invisible: the grid is 96 x 96 anyway)
DENSITY_T_QUANTUM = 1.0 / 400
DENSITY_CACHE_SIZE = 600  # 96 x 96 float32 grids: ~22 MB at most
#: particles per sampler chunk with a learned field: the MLP's activations then stay in cache
#: (10k particles: 3.0 s in chunks of 1024 against 4.1 s in one; the oracle prefers one chunk)
LEARNED_CHUNK = 1024


@dataclass(frozen=True)
class TrajectoryRequest:
    """Particles from the same seeds along the ODE and the SDE, all frames kept."""

    KIND = "trajectory"
    generation: int
    exact: ExactMarginal
    snapshot: Snapshot | None  # None: follow the exact field
    n: int = 4000
    steps: int = 50
    solver: str = "heun"
    sigma: float = 0.8
    sigma_schedule: str = "constant"
    drop_score_term: bool = False
    y: int | None = None
    w: float = 1.0
    seed: int = 0
    #: also measure sample quality with the fixed reference sampler (reference_quality)
    score_quality: bool = False
    #: issue 14: the source p_init X_0 is drawn from (None: N(0, I)); with another source the
    #: exact field is the bridge's and the SDE (defined for a Gaussian source only) is skipped
    source: ExactMarginal | None = None


@dataclass(frozen=True)
class TrajectoryResult:
    generation: int
    ts: np.ndarray  # (K,)
    ode: np.ndarray  # (K, N, 2) float32
    sde: np.ndarray  # (K, N, 2) float32
    source: str  # 'learned' | 'exact'
    step: int  # training step of the snapshot (0 for exact)
    seconds: float
    energy: float | None = None
    support: float | None = None  # share of reference samples inside p_data's support
    precision: float | None = None  # their mean exact log p_data
    #: (N,) int8 class of each particle when the target has classes (None otherwise): the
    #: sampled class y, or unguided the most probable class p(y | x_1) of where it ends
    ode_class: np.ndarray | None = None
    sde_class: np.ndarray | None = None


@dataclass(frozen=True)
class FieldRequest:
    """Arrows and the density at one time t, on a regular grid over ``bounds``."""

    KIND = "field"
    generation: int
    exact: ExactMarginal
    snapshot: Snapshot | None
    t: float
    bounds: tuple[float, float, float, float]
    field_source: str = "learned"  # learned | exact | difference
    grid: int = 21
    density_grid: int = 96
    sigma: float = 0.8
    sigma_schedule: str = "constant"
    drop_score_term: bool = False
    y: int | None = None
    w: float = 1.0
    guide_part: str = "guided"  # guided | conditional | unconditional (with a class y)
    density_kind: str = "marginal"  # marginal p_t(x [| y]) | guided p_t(x|y)^w p_t(x)^(1-w)
    density_t_step: float = DENSITY_T_QUANTUM  # the heatmap's t is rounded to this (cache key)
    source: ExactMarginal | None = None  # issue 14: p_init (None: N(0, I)); exact = the bridge


@dataclass(frozen=True)
class FieldResult:
    generation: int
    t: float
    origins: np.ndarray  # (M, 2)
    ode_field: np.ndarray  # (M, 2): u_t (learned / exact / difference)
    sde_field: np.ndarray  # (M, 2): the SDE drift u_t + sigma_t^2 / 2 s_t (same source)
    score: np.ndarray  # (M, 2)
    density: np.ndarray  # (G, G) exact p_t (row 0 = top)
    bounds: tuple[float, float, float, float]
    #: where ``score`` was evaluated: the grid shifted by half a cell, so the score arrows sit
    #: between the field arrows instead of on top of them
    score_origins: np.ndarray | None = None
    #: the exact field's typical length (RMS of |u|, |drift|, |s| weighted by p_t on the grid): the
    #: views draw every arrow set, learned - exact too, on one scale that keeps this in a cell
    reference: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class TargetRequest:
    """What a new target (or a new objective, schedule or label dropout) needs once: the heatmap
    of p_data for the canvas and the loss floor L_min. Seconds for large mixtures (checkerboard:
    ~1 s each on one core), so never on the GUI thread."""

    KIND = "target"
    generation: int
    exact: ExactMarginal
    bounds: tuple[float, float, float, float]
    objective: str = "velocity"
    schedule: str = "condot"
    label_dropout: float | None = None  # None: the unconditional floor
    score_weighting: str = "beta2"
    density_grid: int = 128
    floor_n: int = 6000


@dataclass(frozen=True)
class TargetResult:
    generation: int
    density: np.ndarray  # (G, G) p_data (row 0 = top)
    bounds: tuple[float, float, float, float]
    floor: float | None  # None when it cannot be computed (message in floor_error)
    floor_stderr: float | None
    floor_error: str | None
    seconds: float


@dataclass(frozen=True)
class ImageRequest:
    """Image mode: the class x w grid from fixed seeds and one sample's trajectory strip."""

    KIND = "images"
    generation: int
    snapshot: Snapshot
    classes: tuple[int, ...] = ()  # empty: an unconditional model (one row)
    ws: tuple[float, ...] = (1.0,)
    per: int = 1
    steps: int = 30
    solver: str = "heun"
    sigma: float = 0.0  # 0: the ODE; > 0: the SDE with sigma_t from sigma_schedule
    sigma_schedule: str = "constant"
    seed: int = 0
    strip_y: int | None = None
    strip_w: float = 1.0
    strip_frames: int = 8


Request = TrajectoryRequest | FieldRequest | ImageRequest  # what submit() takes


@dataclass(frozen=True)
class ImageResult:
    generation: int
    step: int  # training step of the snapshot
    cells: np.ndarray  # (rows, len(ws), per, C, H, W) in the data's value range
    strip_t: np.ndarray  # (F,)
    strip: np.ndarray  # (F, C, H, W)
    value_range: tuple[float, float]
    seconds: float


def lower_thread_priority(nice: int) -> None:
    """Raise this thread's nice value (Linux schedules threads separately); no-op elsewhere."""
    import os
    import threading

    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (OSError, AttributeError):
        pass


def grid_points(bounds, n: int, ny: int | None = None) -> torch.Tensor:
    """(ny*n, 2) points of an n x ny grid over bounds (ny = n when None), rows from the TOP
    (y decreasing)."""
    x0, x1, y0, y1 = bounds
    xs = torch.linspace(x0, x1, n)
    ys = torch.linspace(y1, y0, n if ny is None else ny)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)


class ComputeWorker:
    """Background renderer. ``submit(request)``; poll ``take(kind)`` for the newest result."""

    KINDS = ("trajectory", "field", "images", "target", "lens", "straightness", "diagnostics",
             "diagmap", "steps", "reflow")  # fmt: skip

    def __init__(self, num_threads: int | None = 1, nice: int = 0):
        self._cond = threading.Condition()
        self._pending: dict[str, object] = {}
        self._results: dict[str, object] = {}
        self._stop = False
        self._thread: threading.Thread | None = None
        self._num_threads = num_threads
        # Thread niceness stays 0 by default: a lowered thread that is descheduled while it
        # holds the GIL stalls the trainer and the GUI (measured: trainer at ~5 steps/s).
        self.nice = nice
        self._submitted: dict[str, float] = {}
        self._models: dict[str, tuple[object, FlowModel]] = {}  # slot -> (snapshot key, model)
        self.busy = False
        self._current: str | None = None  # the kind being computed on the worker thread
        self.last_error: str | None = None
        self._density_cache: OrderedDict = OrderedDict()
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
        self._request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def _request_stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

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
        return self.compute_now(req)

    def _loop(self) -> None:
        if self._num_threads:
            torch.set_num_threads(self._num_threads)
        lower_thread_priority(self.nice)
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
            except Exception as e:  # keep the worker alive; the GUI shows the message
                res, self.last_error = None, f"{type(e).__name__}: {e}"
            with self._cond:
                self.busy, self._current = False, None
                if res is not None:
                    self._results[kind] = res
                self._answered(kind)

    # ----------------------------------------------------------------- work
    def _field_for(
        self, exact: ExactMarginal, snapshot: Snapshot | None, slot: str = "field"
    ) -> ExactMarginal | FlowModel:
        """The exact field, or an inference model holding ``snapshot``'s weights."""
        return exact if snapshot is None else self._model_for(snapshot, slot)

    def _model_for(self, snapshot: Snapshot, slot: str) -> FlowModel:
        """An inference model holding ``snapshot``'s weights. Each slot (request kind) has its
        own model: a field computed while a trajectory is paused must not swap the weights
        under it."""
        # step and creation time: unique per snapshot, also after a Reset and across processes
        key = (snapshot.step, snapshot.wall_time, snapshot.target_version)
        held = self._models.get(slot)
        if held is not None and held[0] == key:
            return held[1]
        m = None if held is None else held[1]
        if m is None or m.config != snapshot.config or m.normalization != snapshot.normalization:
            m = snapshot.to_model()
        else:
            m.net.load_state_dict(snapshot.state_dict)
            m.schedule = _schedule(snapshot.schedule)
        self._models[slot] = (key, m)
        return m

    def compute_now(self, req, pause: Callable[[], None] | None = None):
        """The result of ``req``, computed on the calling thread.

        pause: called before every field evaluation of a trajectory request (~10-40 ms of CPU
        apart with 10k particles). It may compute other requests meanwhile (they use their own
        inference model) or raise to abandon this one."""
        if req.KIND in ("diagnostics", "diagmap"):  # diagnostics_compute: the engine's math
            from .diagnostics_compute import compute_request

            return compute_request(req, self._model_for, pause)
        with torch.no_grad():
            if isinstance(req, TrajectoryRequest):
                return self._trajectories(req, pause)
            if isinstance(req, ImageRequest):
                return self._images(req)
            if isinstance(req, TargetRequest):
                return self._target(req)
            if hasattr(req, "compute"):  # self-describing kinds (train/lens.py)
                return req.compute(self)
            return self._fields(req)

    def _target(self, r: TargetRequest) -> TargetResult:
        from ..core.metrics import loss_floor_estimate

        t0 = time.perf_counter()
        pts = grid_points(r.bounds, r.density_grid).double()
        dens = r.exact.log_prob(pts, 1.0).exp().reshape(r.density_grid, -1).float().numpy()
        floor = stderr = error = None
        try:
            est = loss_floor_estimate(
                r.exact.with_schedule(r.schedule), r.objective, r.label_dropout, n=r.floor_n,
                weighting=r.score_weighting,
            )  # fmt: skip
            floor, stderr = est.value, est.stderr
        except ValueError as e:
            error = str(e)
        return TargetResult(
            r.generation, dens, r.bounds, floor, stderr, error, time.perf_counter() - t0
        )

    def _images(self, r: ImageRequest) -> ImageResult:
        from ..core.images.grid import guidance_grid, trajectory_strip

        t0 = time.perf_counter()
        model = self._model_for(r.snapshot, slot="images")
        opts: dict[str, Any] = dict(
            steps=r.steps, solver=r.solver, sigma=r.sigma, sigma_schedule=r.sigma_schedule
        )
        if r.classes and model.config.conditional:
            cells = guidance_grid(model, list(r.classes), list(r.ws), r.per, r.seed, **opts)
            sy = r.strip_y
        else:  # unconditional: one row, w means nothing
            x = model.sample(max(1, r.per * len(r.ws)), seed=r.seed, **opts)
            cells = x.reshape(1, 1, *x.shape)
            sy = None
        ts, strip = trajectory_strip(model, sy, r.strip_w, r.seed + 1, r.strip_frames, **opts)
        return ImageResult(
            r.generation, r.snapshot.step, cells.float().numpy(), ts.float().numpy(),
            strip.float().numpy(), model.normalization.value_range, time.perf_counter() - t0,
        )  # fmt: skip

    def _trajectories(self, r: TrajectoryRequest, pause=None) -> TrajectoryResult:
        t0 = time.perf_counter()
        model = self._field_for(with_source(r.exact, r.source), r.snapshot, slot="trajectory")
        field: ExactMarginal | _Data | _Pausing
        if not isinstance(model, FlowModel):
            field, chunk = model, None
        else:
            field, chunk = _Data(model), LEARNED_CHUNK
        if pause is not None:
            field = _Pausing(field, pause)
        y = None if r.y is None or r.y < 0 else int(r.y)
        g = torch.Generator().manual_seed(int(r.seed))
        x0 = torch.randn((int(r.n), 2), generator=g)
        if not is_standard_gaussian(r.source):
            x0 = r.source.sample(int(r.n), generator=g, dtype=x0.dtype)  # type: ignore[union-attr]
        ode = sample_ode(field, x0, r.steps, r.solver, y=y, w=r.w, return_trajectory=True,
                         chunk_size=chunk)  # fmt: skip
        sde = ode if not is_standard_gaussian(r.source) else sample_sde(
            field, x0, r.steps, r.sigma, r.sigma_schedule, r.drop_score_term, y=y, w=r.w,
            seed=r.seed + 1, return_trajectory=True, chunk_size=chunk,
        )  # fmt: skip
        if ode.xs is None or sde.xs is None:  # cannot happen: return_trajectory=True
            raise RuntimeError("the samplers returned no trajectory")
        energy = support = precision = None
        if r.score_quality and isinstance(model, FlowModel):
            energy, support, precision = reference_quality(model, r.exact, chunk)
        return TrajectoryResult(
            r.generation,
            ode.t.numpy().astype(np.float32),
            ode.xs.float().numpy(),
            sde.xs.float().numpy(),
            "exact" if r.snapshot is None else "learned",
            0 if r.snapshot is None else r.snapshot.step,
            time.perf_counter() - t0,
            energy,
            support,
            precision,
            *particle_classes(r.exact, y, ode.x, sde.x),
        )

    def _density(self, r: FieldRequest, y) -> torch.Tensor:
        """The exact heatmap, cached per t quantum: it does not change while training, and the
        play loop revisits the same times (checkerboard: ~90 ms per 96 x 96 grid; two moons
        ~18 ms, most of a field request)."""
        step = max(float(r.density_t_step), DENSITY_T_QUANTUM)
        tq = round(float(r.t) / step) * step
        exact = with_source(r.exact, r.source)
        key = (exact.fingerprint, round(tq, 6), y, float(r.w), r.density_kind,
               tuple(r.bounds), r.density_grid)  # fmt: skip
        hit = self._density_cache.get(key)
        if hit is not None:
            self._density_cache.move_to_end(key)
            return hit
        dpts = grid_points(r.bounds, r.density_grid).double()
        dens = density_grid(exact, dpts, tq, y, r.w, r.density_kind).float()
        self._density_cache[key] = dens
        while len(self._density_cache) > DENSITY_CACHE_SIZE:
            self._density_cache.popitem(last=False)
        return dens

    def _fields(self, r: FieldRequest) -> FieldResult:
        y = None if r.y is None or r.y < 0 else int(r.y)
        w = {"guided": r.w, "conditional": 1.0, "unconditional": 0.0}[r.guide_part]
        pts, spts = field_grids(r.bounds, r.grid)
        n = pts.shape[0]
        both = torch.cat([pts, spts])
        tt = torch.full((both.shape[0],), float(r.t), dtype=pts.dtype)
        exact = with_source(r.exact, r.source)
        exact_g = guided(exact, y, w)
        u_exact, s_exact = exact_g.velocity(pts, tt[:n]), exact_g.score(both, tt)
        if r.snapshot is not None and r.field_source != "exact":
            learned = guided(_Data(self._model_for(r.snapshot, slot="field")), y, w)
            u_l, s_l = learned.velocity(pts, tt[:n]).double(), learned.score(both, tt).double()
            if r.field_source == "difference":
                u, s = u_l - u_exact, s_l - s_exact
            else:
                u, s = u_l, s_l
        else:
            u, s = u_exact, s_exact
        sig = float(sigma_schedule_fn(r.sigma, r.sigma_schedule)(tt[:1])[0])
        drift = u if r.drop_score_term else u + 0.5 * sig * sig * s[:n]
        exact_drift = u_exact if r.drop_score_term else u_exact + 0.5 * sig * sig * s_exact[:n]
        weight = exact.log_prob(both, float(r.t))
        weight = torch.exp(weight - weight.max())
        ref = (
            _typical_length(u_exact, weight[:n]),
            _typical_length(exact_drift, weight[:n]),
            _typical_length(s_exact[n:], weight[n:]),
        )
        dens = self._density(r, y)
        return FieldResult(
            r.generation, float(r.t), pts.float().numpy(), u.float().numpy(),
            drift.float().numpy(), s[n:].float().numpy(),
            dens.reshape(r.density_grid, -1).float().numpy(), r.bounds,
            spts.float().numpy(), ref,
        )  # fmt: skip


#: the quality curve's fixed sampler: what the views show (solver, steps, class, w) must not move
#: it. Heun with 40 steps: on the exact checkerboard field its energy distance is within 0.1% of
#: 200 steps' (0.00667 vs 0.00666, below the 1500-sample noise), at a fifth of the cost.
QUALITY_SOLVER, QUALITY_STEPS, QUALITY_N, QUALITY_SEED = "heun", 40, 1500, 1234


def with_source(exact: ExactMarginal, source: ExactMarginal | None):
    """The exact oracle of the path from ``source`` to ``exact`` (issue 14): ``exact`` itself for
    N(0, I) (or None), else the independent-coupling bridge (ExactMarginal.bridge)."""
    if source is None or is_standard_gaussian(source):
        return exact
    return exact.bridge(source, exact)


def particle_classes(exact: ExactMarginal, y, *finals: torch.Tensor) -> list:
    """For each (N, 2) set of final positions: (N,) int8 classes - all y when sampled for
    class y, else argmax_c pi_c p(x_1 | c) under the exact target - or None without classes."""
    if exact.labels is None:
        return [None] * len(finals)
    out = []
    classes = exact.classes
    prior = torch.stack([exact.weights[exact.labels == c].sum() for c in classes]).double()
    for x in finals:
        if y is not None:
            out.append(np.full(len(x), int(y), np.int8))
            continue
        x = x.double()
        score = torch.stack(
            [prior[i].log() + exact.log_prob(x, 1.0, c) for i, c in enumerate(classes)], 1
        )
        best = torch.nan_to_num(score, nan=-torch.inf).argmax(1)
        out.append(np.asarray(classes, np.int8)[best.numpy()])
    return out


def reference_quality(model: FlowModel, exact: ExactMarginal, chunk: int | None = None):
    """(energy distance, support share, precision) of QUALITY_N samples from ``model`` with
    the fixed reference sampler against p_data, from fixed seeds (a curve over training steps
    compares like with like). A conditional model samples each point with the label of its
    reference point (w = 1, no guidance), so it is measured against the joint p_data whatever
    class the views show; an unconditional one samples p_data directly."""
    conditional = bool(getattr(model.config, "conditional", False)) and exact.labels is not None
    if conditional:
        ref, labels = exact.sample(QUALITY_N, seed=QUALITY_SEED, return_labels=True)
        y = labels.long()
    else:
        ref, y = exact.sample(QUALITY_N, seed=QUALITY_SEED), None
    x0 = torch.randn((QUALITY_N, 2), generator=torch.Generator().manual_seed(QUALITY_SEED + 1))
    x = sample_ode(_Data(model), x0, QUALITY_STEPS, QUALITY_SOLVER, y=y, w=1.0,
                   chunk_size=chunk).x  # fmt: skip
    rep = support_report(x, exact)
    return energy_distance(x, ref, max_points=QUALITY_N), rep.support, rep.precision


def _typical_length(v: torch.Tensor, weight: torch.Tensor) -> float:
    """The root mean square arrow length where the mass is: sqrt(sum_i p_t(x_i) |v_i|^2 /
    sum_i p_t(x_i)) over the grid (0 when nothing is finite). The max, or a plain quantile,
    is set by the score far from the data, and shrank the arrows near it to dots."""
    sq = (v.double() ** 2).sum(dim=1)
    ok = torch.isfinite(sq) & torch.isfinite(weight)
    total = float(weight[ok].sum())
    if total <= 0.0:
        return 0.0
    return float((weight[ok] * sq[ok]).sum() / total) ** 0.5


def field_grids(bounds, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The arrow grid over bounds with square cells and about n x n points (a tall view gets
    fewer columns and more rows: the cost of a field request stays that of n x n), and the
    same grid shifted by half a cell in x and y (the cell centres, for the score arrows)."""
    x0, x1, y0, y1 = (float(b) for b in bounds)
    wx, wy = x1 - x0, y1 - y0
    step = (wx * wy) ** 0.5 / (n - 1)
    nx, ny = max(2, round(wx / step) + 1), max(2, round(wy / step) + 1)
    pts = grid_points((x0, x1, y0, y1), nx, ny).double()
    dx, dy = wx / (nx - 1), wy / (ny - 1)
    centres = grid_points((x0 + dx / 2, x1 - dx / 2, y0 + dy / 2, y1 - dy / 2), nx - 1, ny - 1)
    return pts, centres.double()


def density_grid(exact: ExactMarginal, pts: torch.Tensor, t: float, y, w: float, kind: str):
    """p_t(x [| y]) at pts, or the guided target p_t(x | y)^w p_t(x)^(1 - w) normalized to sum
    to 1 over pts (it has no closed-form normalizer)."""
    if kind == "guided" and y is not None:
        logp = w * exact.log_prob(pts, t, y) + (1.0 - w) * exact.log_prob(pts, t)
        p = torch.exp(logp - logp.max())
        return p / p.sum()
    return exact.log_prob(pts, t, y).exp()


class _Data:
    """A FlowModel seen as a field in data coordinates (what the views show)."""

    def __init__(self, model: FlowModel):
        self.m = model

    def velocity(self, x, t, y=None):
        return self.m.velocity(x.float(), t.float(), y)

    def score(self, x, t, y=None):
        return self.m.score(x.float(), t.float(), y)

    def velocity_and_score(self, x, t, y=None):
        return self.m.velocity_and_score(x.float(), t.float(), y)


class _Pausing:
    """A field that calls ``pause()`` before each evaluation (see ComputeWorker.compute_now)."""

    def __init__(self, field, pause: Callable[[], None]):
        self.f, self.pause = field, pause

    def velocity(self, x, t, y=None):
        self.pause()
        return self.f.velocity(x, t, y)

    def score(self, x, t, y=None):
        self.pause()
        return self.f.score(x, t, y)

    def velocity_and_score(self, x, t, y=None):
        self.pause()
        return velocity_and_score(self.f, x, t, y)


def _schedule(name: str):
    from ..core.schedules import get_schedule

    return get_schedule(name)
