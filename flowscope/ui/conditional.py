"""Conditional mode: the explorer shows one conditional path p_t(x | z) instead of the marginal.

For a data point z (a random draw from the target with Z, or a click in the explorer) and the
current schedule: the heatmap is p_t(x | z) = N(alpha_t z, beta_t^2 I), the arrows are the
conditional field u_t(x | z) = (d_alpha_t - d_beta_t / beta_t alpha_t) z + d_beta_t / beta_t x
(the SDE plot: its drift u_t(x | z) + sigma_t^2 / 2 grad log p_t(x | z)), the score arrows
grad log p_t(x | z) = -(x - alpha_t z) / beta_t^2, and the particles start from the SAME noise as
the marginal view's and follow the conditional ODE (in closed form: X_t = alpha_t z + beta_t X_0)
and the conditional SDE. Toggling back shows the marginal particles again.

Threads: everything here is closed-form numpy, O(grid) per frame (96 x 96 + 21 x 21 points,
< 1 ms) and O(particles x steps) once per z (4000 x 50: a few ms, measured in the tests), so it
runs inline; nothing here calls the network.

The SDE is integrated with a linearly implicit Euler-Maruyama step (its drift is linear in x,
x_{k+1} = (x_k + h b_{k+1} z + sigma_k sqrt(h) eps) / (1 - h a_{k+1}) with drift a_t x + b_t z):
explicit Euler-Maruyama overshoots as beta_t -> 0, where the score term's rate sigma^2 / 2 beta_t^2
exceeds 2 / h; the implicit step is stable for every h and ends at z.

A non-Gaussian source p_init = sum_i rho_i N(nu_i, g_i^2 I) (the source combo): p_t(x | z) is
the mixture sum_i rho_i N(alpha_t z + beta_t nu_i, beta_t^2 g_i^2 I) (heatmap and score arrows
from core/conditional_bridge.py), the particles start from the source, and the conditional field
and ODE are unchanged (given z, x fixes x_0 = (x - alpha_t z) / beta_t). The SDE plot shows no
particles or drift then: it is covered by the note that the SDE needs a Gaussian source.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import QObject, Signal

from ..core.conditional_bridge import ConditionalSource
from ..core.schedules import get_schedule

GRID = 21
DENSITY_GRID = 96
T_EPS = 1e-6
SIGMA_SCHEDULES = {
    "constant": lambda s, t: np.full_like(t, s),
    "linear": lambda s, t: s * (1.0 - t),
    "sqrt": lambda s, t: s * np.sqrt(np.clip(1.0 - t, 0.0, None)),
}
TOOLTIP = (
    "<p><b>Conditional path</b> (C; Z: a new random z; click in the explorer: z there)</p>"
    "<p>p<sub>t</sub>(x | z) = N(α<sub>t</sub> z, β<sub>t</sub>² I); "
    "u<sub>t</sub>(x | z) = (α′<sub>t</sub> − β′<sub>t</sub>/β<sub>t</sub> α<sub>t</sub>) z + "
    "β′<sub>t</sub>/β<sub>t</sub> x (′: d/dt); "
    "ODE: X<sub>t</sub> = α<sub>t</sub> z + β<sub>t</sub> X<sub>0</sub>, "
    "from the marginal view's own noise X<sub>0</sub>.</p>"
)


def schedule_arrays(name: str, t: np.ndarray):
    """(alpha, beta, d_alpha, d_beta, beta d_beta) of schedule ``name`` at times t (numpy)."""
    import torch

    v = get_schedule(name)(torch.as_tensor(np.asarray(t, dtype=np.float64)))
    return tuple(q.numpy() for q in (v.alpha, v.beta, v.d_alpha, v.d_beta, v.beta_d_beta))


def conditional_paths(schedule: str, z, x0, ts, sigma: float, sigma_schedule: str, seed: int):
    """Conditional ODE (closed form) and SDE (linearly implicit Euler-Maruyama) trajectories
    from x0 (N, 2) at the times ts (K,) (0 = ts[0] < ... < ts[-1] = 1): two (K, N, 2) arrays."""
    z = np.asarray(z, dtype=np.float64).reshape(1, 2)
    x0 = np.asarray(x0, dtype=np.float64)
    ts = np.asarray(ts, dtype=np.float64)
    a, b, _, _, _ = schedule_arrays(schedule, ts)
    ode = a[:, None, None] * z[None] + b[:, None, None] * x0[None]
    sig = SIGMA_SCHEDULES.get(sigma_schedule, SIGMA_SCHEDULES["constant"])(float(sigma), ts)
    # the step's coefficients at t <= 1 - T_EPS, where beta_t > 0 and d_beta_t is finite
    a, b, da, db, _ = schedule_arrays(schedule, np.minimum(ts, 1.0 - T_EPS))
    b2 = b * b
    # drift = A x + B z with A = d_beta / beta - sigma^2 / (2 beta^2), B = d_alpha - (d_beta /
    # beta) alpha + sigma^2 alpha / (2 beta^2) (u_t(x | z) plus sigma^2 / 2 times the score);
    # near t = 1, A -> -inf and x_{k+1} -> B z / (-A) -> z
    k = len(ts) - 1
    sde = np.empty((k + 1,) + x0.shape, np.float32)
    sde[0] = x0
    if k == 0:
        return ode.astype(np.float32), sde
    noise = np.random.default_rng(int(seed)).standard_normal((k,) + x0.shape, np.float32)
    h = np.diff(ts)
    s2 = sig[:-1] ** 2
    coef_a = db[1:] / b[1:] - 0.5 * s2 / b2[1:]
    coef_b = da[1:] - db[1:] / b[1:] * a[1:] + 0.5 * s2 * a[1:] / b2[1:]
    inv = (1.0 / (1.0 - h * coef_a)).astype(np.float32)
    shift = (h * coef_b)[:, None] * z.astype(np.float32)  # (K, 2)
    amp = (sig[:-1] * np.sqrt(h)).astype(np.float32)
    x = sde[0]
    for j in range(k):
        x = (x + shift[j] + amp[j] * noise[j]) * inv[j]
        sde[j + 1] = x
    return ode.astype(np.float32), sde


def conditional_fields(schedule: str, z, t: float, pts: np.ndarray):
    """(u_t(x | z), grad log p_t(x | z)) at pts (M, 2); t is kept below 1 (beta_t > 0)."""
    t = min(float(t), 0.995)
    a, b, da, db, _ = (float(q[0]) for q in schedule_arrays(schedule, np.array([t])))
    z = np.asarray(z, dtype=np.float64).reshape(1, 2)
    u = (da - db / b * a) * z + db / b * pts
    s = -(pts - a * z) / (b * b)
    return u, s


class ConditionalMode(QObject):
    """Shows p_t(x | z) in the explorer in place of the marginal (hooks ExplorerController's
    ``override``). view: ExplorerView; controller: ExplorerController; state: AppState;
    target: a callable returning the current Target; lens_enabled: a callable (clicks then
    pin the lens instead of choosing z)."""

    toggled = Signal(bool)

    def __init__(self, view, controller, state, target, lens_enabled=lambda: False, parent=None,
                 source=None):  # fmt: skip
        super().__init__(parent)
        self.view, self.controller, self.state = view, controller, state
        self._target, self._lens_enabled = target, lens_enabled
        #: a callable returning p_init's ExactMarginal (None: N(0, I))
        self._source = source if source is not None else (lambda: None)
        self._csource: tuple | None = None  # (source, its ConditionalSource)
        self.active = False
        self.z: np.ndarray | None = None
        self.paths: tuple[np.ndarray, np.ndarray] | None = None  # (ode, sde) (K, N, 2)
        self._paths_key: tuple | None = None
        self._rng = np.random.default_rng(0)
        if hasattr(view, "visibleRangeChanged"):  # the arrows and heatmap cover what is shown
            view.visibleRangeChanged.connect(self.show_frame)
        self.markers = []
        for plot, widget in zip(view.plots(), view.widgets(), strict=True):
            star = pg.ScatterPlotItem(symbol="star", size=16, pen=pg.mkPen(0, 0, 0),
                                      brush=pg.mkBrush(250, 200, 0))  # fmt: skip
            star.setZValue(50)
            star.setVisible(False)
            plot.addItem(star, ignoreBounds=True)
            cap = QtWidgets.QGraphicsTextItem(plot.getViewBox())
            cap.setZValue(1001)
            cap.setPos(4, 26)
            cap.setVisible(False)
            self.markers.append((star, cap))
            widget.scene().sigMouseClicked.connect(lambda ev, p=plot: self._on_click(p, ev))
        state.subscribe(self._on_state)

    # ----------------------------------------------------------------- control
    def set_active(self, on: bool) -> None:
        on = bool(on)
        if on == self.active:
            return
        self.active = on
        if on and self.z is None:
            self.z = self.random_z()
        self.controller.override = self if on else None
        for star, cap in self.markers:
            star.setVisible(on)
            cap.setVisible(on)
        if not on:  # the marginal view again, with the same particles
            self.view.set_field("both", None, None, "score")
            self.controller.show_frame()
            self.controller.show_field()
        else:
            self.show_frame()
        self.toggled.emit(on)

    def random_z(self) -> np.ndarray:
        """A draw from the target: a component by weight, plus its width times N(0, I)."""
        ex = self._target().exact
        w = ex.weights.double().numpy()
        i = int(self._rng.choice(len(w), p=w / w.sum()))
        h = float(ex.widths[i])
        return ex.means[i].double().numpy() + h * self._rng.standard_normal(2)

    def new_random_z(self) -> None:
        self.set_z(self.random_z())
        if not self.active:
            self.set_active(True)

    def set_z(self, z) -> None:
        self.z = np.asarray(z, dtype=np.float64).reshape(2)
        if self.active:
            self.show_frame()

    def _on_click(self, plot, ev) -> None:
        if not self.active or self._lens_enabled():
            return
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        vb = plot.getViewBox()
        if vb.sceneBoundingRect().contains(ev.scenePos()):
            p = vb.mapSceneToView(ev.scenePos())
            self.set_z([p.x(), p.y()])

    def _on_state(self, name: str, value) -> None:
        if self.active and name in ("schedule", "sigma", "sigma_schedule", "seed", "steps",
                                    "source"):  # fmt: skip
            self.show_frame()

    # ----------------------------------------------------------------- drawing
    def schedule_name(self) -> str:
        snap = self.controller.snapshot()
        return snap.schedule if snap is not None else self.state.schedule

    def conditional_source(self) -> ConditionalSource | None:
        """The source's mixture in numpy, None for N(0, I)."""
        src = self._source()
        if src is None:
            return None
        if self._csource is None or self._csource[0] is not src:
            self._csource = (src, ConditionalSource(src))
        return self._csource[1]

    def _x0(self) -> np.ndarray:
        tr = self.controller.traj
        cs = self.conditional_source()
        if tr is not None:
            return tr.ode[0]  # the marginal view's own X_0 (drawn from the source p_init)
        rng = np.random.default_rng(self.state.seed)
        if cs is not None:
            return cs.sample_x0(self.state.n_particles, rng).astype(np.float32)
        return rng.standard_normal((self.state.n_particles, 2)).astype(np.float32)

    def ensure_paths(self) -> tuple[np.ndarray, np.ndarray]:
        s, tr = self.state, self.controller.traj
        key = (tuple(self.z), self.schedule_name(), s.sigma, s.sigma_schedule, s.seed, s.steps,
               id(tr), id(self._source()))  # fmt: skip
        if self.paths is None or key != self._paths_key:
            ts = tr.ts if tr is not None else np.linspace(0.0, 1.0, s.steps + 1)
            self.paths = conditional_paths(self.schedule_name(), self.z, self._x0(), ts,
                                           s.sigma, s.sigma_schedule, s.seed + 1)  # fmt: skip
            self._paths_key = key
        return self.paths

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(ODE, SDE) conditional particles at the current t (interpolated between frames)."""
        ode, sde = self.ensure_paths()
        k = len(ode) - 1
        f = min(max(self.state.t, 0.0), 1.0) * k
        i = min(int(f), max(k - 1, 0))
        w = f - i if k > 0 else 0.0
        j = min(i + 1, k)
        return (1 - w) * ode[i] + w * ode[j], (1 - w) * sde[i] + w * sde[j]

    def show_field(self) -> None:
        self.show_frame()

    def show_frame(self) -> None:
        if not self.active or self.z is None:
            return
        view, s, z = self.view, self.state, self.z
        ode, sde = self.positions()
        view.set_time(s.t)
        view.set_particles("ode", ode)
        view.set_particles("sde", sde)
        view.set_trails("both", None)
        bounds = self.plane()
        wx, wy = bounds[1] - bounds[0], bounds[3] - bounds[2]
        xs = np.linspace(bounds[0], bounds[1], max(2, round(GRID * wx / max(wx, wy))))
        ys = np.linspace(bounds[3], bounds[2], max(2, round(GRID * wy / max(wx, wy))))
        pts = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
        u, score = conditional_fields(self.schedule_name(), z, s.t, pts)
        cs = self.conditional_source()
        if cs is not None:  # the mixture's score; no SDE (the SDE plot says why)
            tc = np.array([min(s.t, 0.995)])
            a, b = (float(q[0]) for q in schedule_arrays(self.schedule_name(), tc)[:2])
            score = cs.score(pts, z, a, b)
            view.set_particles("sde", np.zeros((0, 2), np.float32))
            view.set_field("sde", None, None, "field")
            view.set_field("sde", None, None, "score")
            view.set_field("ode", pts, score, "score")
        else:
            sig = SIGMA_SCHEDULES.get(s.sigma_schedule, SIGMA_SCHEDULES["constant"])(
                float(s.sigma), np.array([min(s.t, 0.995)])
            )[0]
            drift = u if s.drop_score_term else u + 0.5 * sig * sig * score
            view.set_field("sde", pts, drift, "field")
            view.set_field("both", pts, score, "score")
        view.set_field("ode", pts, u, "field")
        view.set_density("both", self.density(bounds, s.t), bounds)
        a = float(schedule_arrays(self.schedule_name(), np.array([min(s.t, 1.0)]))[0][0])
        path = ("N(α<sub>t</sub> z, β<sub>t</sub>² I)" if cs is None else
                "Σ<sub>i</sub> ρ<sub>i</sub> N(α<sub>t</sub> z + β<sub>t</sub> ν<sub>i</sub>, "
                "β<sub>t</sub>² g<sub>i</sub>² I)<br>source p<sub>init</sub> = "
                "Σ<sub>i</sub> ρ<sub>i</sub> N(ν<sub>i</sub>, g<sub>i</sub>² I)")  # fmt: skip
        text = (
            "<div style='background:rgba(255,255,255,215);font-size:9pt'><b>conditional</b> "
            f"p<sub>t</sub>(x | z) = {path}<br>"
            f"z = ({z[0]:.2f}, {z[1]:.2f}), α<sub>t</sub> z = ({a * z[0]:.2f}, {a * z[1]:.2f})"
            "<br>C: marginal · Z: new z · click: z there</div>"
        )
        for star, cap in self.markers:
            star.setData([z[0]], [z[1]])
            cap.setHtml(text)

    def plane(self) -> tuple[float, float, float, float]:
        """What the plots show (wider or taller than the target's square when the window's
        aspect is not 1): the arrows and heatmap cover it, as in the marginal view."""
        visible = getattr(self.view, "visible_bounds", None)
        return tuple(self._target().bounds) if visible is None else visible()

    def density(self, bounds, t: float) -> np.ndarray:
        """p_t(x | z) on a DENSITY_GRID^2 grid (row 0 = top); beta_t floored at a pixel."""
        a, b = (float(q[0]) for q in schedule_arrays(self.schedule_name(), np.array([t]))[:2])
        pix = (bounds[1] - bounds[0]) / DENSITY_GRID
        xs = np.linspace(bounds[0], bounds[1], DENSITY_GRID)
        ys = np.linspace(bounds[3], bounds[2], DENSITY_GRID)
        cs = self.conditional_source()
        if cs is not None:  # the mixture sum_i rho_i N(alpha_t z + beta_t nu_i, beta_t^2 g_i^2)
            return cs.density_grid(xs, ys, self.z, a, b, floor=pix)
        b = max(b, pix)
        gx = np.exp(-0.5 * ((xs - a * self.z[0]) / b) ** 2)
        gy = np.exp(-0.5 * ((ys - a * self.z[1]) / b) ** 2)
        return np.outer(gy, gx) / (2 * np.pi * b * b)


__all__ = ["ConditionalMode", "conditional_fields", "conditional_paths", "TOOLTIP"]
