"""The posterior lens: hover (or click to pin) a point x of the explorer at the current t.

Drawn in both explorer plots: the target's components mu_i coloured by the posterior
p(i | x, t) (grey: none, red: all of it), the component fields u_t(x | z_i) of the heaviest as
thin arrows from x (opacity ~ weight), their posterior average, the exact u_t(x), as a thick
black arrow, and the network's u_theta(x) as a green one when a model exists. Every arrow is
drawn as (1 - t) u, one Euler step to t = 1: under CondOT a thin arrow then ends exactly at its
z_i and the black one at the posterior mean E[z | x_t = x].

Threads: the exact part is O(K) numpy for ONE point (core/lens.py: 0.8 ms for 20,000
components, measured), so it runs inline and follows the mouse; the network's arrow comes from the
compute side (train/lens.py, the 'lens' request kind) and is drawn when it arrives.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import QObject, QTimer, Signal

from ..core.lens import LensMixture, LensPoint
from ..core.lens_bridge import LensBridge
from ..train.lens import LensRequest
from .controllers.requests import RequestChannel
from .gl_points import GLPointsItem
from .lens_source import TOOLTIP as SOURCE_TOOLTIP
from .lens_source import caption_lines, lens_model, lens_points

#: thin arrows drawn (the heaviest components)
TOP = 12
#: target components drawn coloured (more are subsampled evenly; the heaviest always drawn)
MAX_TARGET_POINTS = 6000
POINT_SIZE = 7.0
#: the longest arrow is at most this fraction of the view's span
MAX_ARROW_FRACTION = 0.45
POLL_MS = 30
LEARNED_T_SLACK = 0.03
#: an update slower than this (ms; a bridge of ~10^6 pairs: ~100 ms) follows the mouse deferred
SLOW_MS = 30.0
THIN_RGB = (205, 60, 20)
EXACT_COLOR = (15, 15, 15, 255)
LEARNED_COLOR = (0, 160, 70, 255)  # not blue: the ODE particles are blue
FORMULA = "u<sub>t</sub>(x) = Σ<sub>i</sub> p(i | x, t) u<sub>t</sub>(x | z<sub>i</sub>)"
#: the same as plain text (the captions)
PLAIN = {
    "velocity": "uₜ(x) = Σᵢ p(i | x, t) uₜ(x | zᵢ)",
    "score": "∇log pₜ(x) = Σᵢ p(i | x, t) ∇log pₜ(x | zᵢ)",
}
TOOLTIP = (
    "<p><b>Posterior lens</b> (L): hover a point x, click to pin it.</p>"
    f"<p>{FORMULA}: the marginal field is the posterior average of the conditional fields.</p>"
    "<p>Target points: p(i | x, t) ∝ π<sub>i</sub> N(x; α<sub>t</sub> μ<sub>i</sub>, "
    "s<sub>i</sub>² I) (red = heavy). Thin red arrows: u<sub>t</sub>(x | z<sub>i</sub>) of the "
    "heaviest components; black: the exact u<sub>t</sub>(x); green: the network's "
    "u<sub>θ</sub>(x). Arrows are drawn as (1 − t)·u (one Euler step to t = 1): under CondOT a "
    "thin arrow ends at its z<sub>i</sub> and the black one at E[z | x<sub>t</sub> = x].</p>"
)


def arrow_path(origin: np.ndarray, vector: np.ndarray, head: float) -> np.ndarray:
    """Segment pairs (6, 2) of one arrow: the shaft and two head strokes (empty if zero)."""
    length = float(np.hypot(*vector))
    if not np.isfinite(length) or length <= 0:
        return np.zeros((0, 2))
    tip = origin + vector
    back = -vector / length * min(head, 0.35 * length)
    c, s = np.cos(np.deg2rad(25)), np.sin(np.deg2rad(25))
    left = np.array([c * back[0] - s * back[1], s * back[0] + c * back[1]])
    right = np.array([c * back[0] + s * back[1], -s * back[0] + c * back[1]])
    return np.array([origin, tip, tip, tip + left, tip, tip + right])


def _curve(color, width: float, z: float) -> pg.PlotCurveItem:
    item = pg.PlotCurveItem(connect="pairs", antialias=True, skipFiniteCheck=True)
    item.setPen(pg.mkPen(color, width=width))
    item.setZValue(z)
    return item


THIN_PENS = [pg.mkPen((*THIN_RGB, 50 + 205 * k // 15), width=1.2) for k in range(16)]


class Caption(QtWidgets.QGraphicsRectItem):
    """Plain text on a white box (a QGraphicsSimpleTextItem: an HTML text item cost ~14 ms of
    layout per update under load, more than the rest of the lens together)."""

    def __init__(self, parent) -> None:
        super().__init__(parent)
        self.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self.setBrush(QtGui.QBrush(QtGui.QColor(255, 255, 255, 215)))
        self.setPos(4, 26)
        self.setZValue(1001)
        self.text = QtWidgets.QGraphicsSimpleTextItem("", self)
        font = QtGui.QFont()
        font.setPointSizeF(9.0)
        self.text.setFont(font)
        self.text.setPos(4, 2)

    def set_text(self, text: str) -> None:
        self.text.setText(text)
        r = self.text.boundingRect()
        self.setRect(0, 0, r.width() + 8, r.height() + 4)

    def toPlainText(self) -> str:  # noqa: N802 - like QGraphicsTextItem
        return self.text.text()


def posterior_colors(means: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(xy, rgba) of the target's components coloured by their weights w (grey: none, red: the
    heaviest); beyond MAX_TARGET_POINTS an even subsample plus the 200 heaviest."""
    k = len(w)
    if k <= MAX_TARGET_POINTS:
        keep = slice(None)
    else:
        mask = np.zeros(k, bool)
        mask[:: -(-k // MAX_TARGET_POINTS)] = True
        mask[np.argpartition(-w, 200)[:200]] = True
        keep = np.flatnonzero(mask)
    r = np.sqrt(w[keep] / max(float(w.max()), 1e-300)).astype(np.float32)[:, None]
    grey = np.array([0.35, 0.35, 0.35, 0.45], np.float32)
    red = np.array([0.85, 0.15, 0.05, 1.0], np.float32)
    return means[keep].astype(np.float32), grey + r * (red - grey)


class LensOverlay:
    """The lens's items in one explorer plot. ``thin`` items carry ``lens_weight`` and
    ``lens_vector`` (w_i, u_t(x | z_i)); ``exact`` / ``learned`` carry ``lens_vector``."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.points = GLPointsItem(size=POINT_SIZE)
        self.points.setZValue(40)
        self.thin = [_curve((*THIN_RGB, 255), 1.2, 41) for _ in range(TOP)]
        self.exact = _curve(EXACT_COLOR, 3.0, 43)
        self.learned = _curve(LEARNED_COLOR, 2.5, 45)  # over the black one
        self.marker = pg.ScatterPlotItem(size=9, pen=pg.mkPen(0, 0, 0), brush=pg.mkBrush("w"))
        self.marker.setZValue(44)
        self.items: list = [self.points, *self.thin, self.exact, self.learned, self.marker]
        for item in self.items:
            plot.addItem(item, ignoreBounds=True)
        vb = plot.getViewBox()
        self.caption = Caption(vb)  # pinned to the ViewBox: ignores pan and zoom
        self.scale = 1.0  # arrows are drawn as scale * u
        self._caption = ""
        self.symbols = ("u_θ", "u_t")  # (network, exact): what the caption calls them
        self.set_visible(False)

    def set_visible(self, on: bool) -> None:
        for item in self.items:
            item.setVisible(on)
        self.caption.setVisible(on)

    def show(self, p: LensPoint, points, scale: float, head: float, caption: str):
        """points: (xy, rgba) of the coloured target (:func:`posterior_colors`)."""
        self.scale = float(scale)
        w = p.weights
        self.points.setData(*points)
        wmax = float(w[p.index].max()) if len(p.index) else 1.0
        for k, item in enumerate(self.thin):
            if k < len(p.index):
                i, v = int(p.index[k]), p.velocities[k]
                seg = arrow_path(p.x, scale * v, head)
                level = int(round(15 * float(w[i]) / max(wmax, 1e-300)))
                if getattr(item, "lens_level", None) != level:  # opacity ~ weight, 16 levels
                    item.setPen(THIN_PENS[level])
                    item.lens_level = level
                item.lens_weight, item.lens_vector = float(w[i]), v.copy()
            else:
                seg = np.zeros((0, 2))
                item.lens_weight, item.lens_vector = 0.0, np.zeros(2)
            self._set(item, seg)
        self.exact.lens_vector = p.velocity.copy()
        self._set(self.exact, arrow_path(p.x, scale * p.velocity, 1.4 * head))
        self.marker.setData([p.x[0]], [p.x[1]])
        self._caption = caption
        self.caption.set_text(caption)
        self.set_visible(True)

    def show_learned(self, x: np.ndarray | None, u: np.ndarray | None, head: float) -> None:
        self.learned.lens_vector = None if u is None else np.asarray(u).copy()
        seg = np.zeros((0, 2)) if x is None or u is None else arrow_path(x, self.scale * u, head)
        self._set(self.learned, seg)
        exact = getattr(self.exact, "lens_vector", None)
        if u is not None and exact is not None:
            err = float(np.hypot(*(np.asarray(u) - exact)))
            net, ex = self.symbols
            self.caption.set_text(f"{self._caption}\ngreen: {net}(x), |{net} − {ex}| = {err:.3f}")

    @staticmethod
    def _set(item: pg.PlotCurveItem, seg: np.ndarray) -> None:
        if len(seg) == 0:
            item.clear()
        else:
            item.setData(x=seg[:, 0], y=seg[:, 1], connect="pairs", skipFiniteCheck=True)


class PosteriorLens(QObject):
    """The lens's behaviour: follows the mouse in the explorer, pins on click, follows t.

    view: the ExplorerView; state: the AppState (t, label, schedule); target / snapshot:
    callables returning the current Target and training Snapshot (or None); worker: the compute
    worker (for u_theta)."""

    #: enabled or disabled (for a menu action / check box kept in step)
    toggled = Signal(bool)

    def __init__(self, view, state, target, snapshot, worker, parent=None, source=None) -> None:
        super().__init__(parent)
        self.view, self.state = view, state
        self._target, self._snapshot = target, snapshot
        #: a callable returning the source p_init's ExactMarginal (None: N(0, I)); with one, the
        #: posterior is over the bridge's (i, j) pairs (ui/lens_source.py)
        self._source = source if source is not None else (lambda: None)
        self.enabled = False
        self.pinned: np.ndarray | None = None
        self.hover: np.ndarray | None = None
        self.point: LensPoint | None = None  # what is shown now
        self.learned: np.ndarray | None = None  # u_theta at self.point (None: none yet)
        #: 'velocity': u_t(x | z_i) and u_t(x); 'score': grad log p_t(x | z_i) and the score
        self.quantity = "velocity"
        self._learned_res = None
        self.update_ms: list[float] = []  # the inline part's cost per update (measured)
        self._mixtures: dict = {}
        self.overlays = {}
        for side, plot, widget in zip(("ode", "sde"), view.plots(), view.widgets(), strict=True):
            self.overlays[side] = LensOverlay(plot)
            widget.scene().sigMouseMoved.connect(lambda pos, p=plot: self._on_move(p, pos))
            widget.scene().sigMouseClicked.connect(lambda ev, p=plot: self._on_click(p, ev))
        self.requests = RequestChannel(worker, ("lens",), self)
        self.requests.resultReady.connect(self._on_result)
        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self._on_poll)
        self._defer = QTimer(self, singleShot=True)
        self._defer.timeout.connect(self.refresh)
        state.subscribe(self._on_state)

    # ----------------------------------------------------------------- control
    def set_enabled(self, on: bool) -> None:
        on = bool(on)
        if on == self.enabled:
            return
        self.enabled = on
        if not on:
            for ov in self.overlays.values():
                ov.set_visible(False)
            self.point = None
        else:
            self.refresh()
        self.toggled.emit(on)

    def set_quantity(self, quantity: str) -> None:
        """'velocity' or 'score' (the component scores, the exact score, the network's s_theta:
        its own for the score / noise objectives, converted from u_theta for velocity)."""
        if quantity not in ("velocity", "score"):
            raise ValueError(f"quantity must be 'velocity' or 'score', got {quantity!r}")
        self.quantity = quantity
        res = self._learned_res
        self.learned = None if res is None else self._pick(res)
        self.refresh()

    def _pick(self, res) -> np.ndarray | None:
        v = res.score if self.quantity == "score" else res.velocity
        return v if np.all(np.isfinite(v)) else None  # s_theta of a bridge: NaN (undefined)

    def pin(self, x) -> None:
        """Pin the lens at x (data coordinates); None unpins (it follows the mouse again)."""
        self.pinned = None if x is None else np.asarray(x, dtype=np.float64).reshape(2)
        self.refresh()

    def _on_move(self, plot, pos) -> None:
        if not self.enabled or self.pinned is not None:
            return
        vb = plot.getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            return
        p = vb.mapSceneToView(pos)
        self.hover = np.array([p.x(), p.y()])
        last = self.update_ms[-1] if self.update_ms else 0.0
        if last > SLOW_MS:  # a million source x target pairs: follow the mouse at a lower rate
            if not self._defer.isActive():
                self._defer.start(int(min(2 * last, 500)))
            return
        self.refresh()

    def _on_click(self, plot, ev) -> None:
        if not self.enabled or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        vb = plot.getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        if self.pinned is not None:
            self.pin(None)
        else:
            p = vb.mapSceneToView(ev.scenePos())
            self.pin([p.x(), p.y()])

    def _on_state(self, name: str, value) -> None:
        if self.enabled and name in ("t", "label", "schedule", "target_source", "source"):
            self.refresh()

    # ----------------------------------------------------------------- computing
    def schedule_name(self) -> str:
        snap = self._snapshot()
        return snap.schedule if snap is not None else self.state.schedule

    def mixture(self) -> LensMixture | LensBridge | None:
        target = self._target()
        exact = getattr(target, "exact", None)
        if exact is None or not hasattr(exact, "means"):
            return None
        name, source = self.schedule_name(), self._source()
        key = (id(exact), id(source), name)
        mix = self._mixtures.get(key)
        if mix is None:  # the entry keeps exact and source alive: their ids stay unique
            self._mixtures = {key: (lens_model(exact, source, name), exact, source)}
        return self._mixtures[key][0]

    def refresh(self) -> None:
        """Recompute and redraw at the pinned (else hovered) point and the current t."""
        x = self.pinned if self.pinned is not None else self.hover
        if not self.enabled or x is None:
            return
        mix = self.mixture()
        if mix is None:
            return
        t0 = time.perf_counter()
        y = self.state.label if self.state.label >= 0 else None
        p = mix.at(x, self.state.t, y=y, top=TOP)
        self.point = p
        if self.quantity == "score":  # the same picture for the scores
            p = replace(p, velocities=p.scores, velocity=p.score)
        b = self.view.plots()[0].getViewBox().viewRange()
        span = max(b[0][1] - b[0][0], b[1][1] - b[1][0])
        scale = self._scale(p, span)
        head = 0.025 * span
        pinned = "pinned (click: release)" if self.pinned is not None else "click: pin"
        formula, tops = caption_lines(mix, p, self.quantity)
        caption = (
            f"{formula or PLAIN[self.quantity]}\nx = ({x[0]:.2f}, {x[1]:.2f}), {pinned}\n"
            + (tops or f"top {len(p.index)} of {mix.n_components}: {100 * p.mass:.0f}% of "
               "p(i | x, t)")
        )  # fmt: skip
        if self.quantity == "score" and isinstance(mix, LensBridge):
            caption += "\nthe network's score: undefined for a non-Gaussian source p_init"
        elif self.quantity == "score":  # the SDE's extra drift term, on its own
            st = self.state
            sig = {"linear": st.sigma * (1 - p.t), "sqrt": st.sigma * np.sqrt(1 - p.t)}.get(
                st.sigma_schedule, st.sigma
            )
            extra = 0.5 * sig * sig * p.velocity
            caption += (
                f"\nthe SDE's extra drift σₜ²/2 ∇log pₜ(x) = ({extra[0]:.2f}, "
                f"{extra[1]:.2f})"
            )
        if getattr(self.state, "coupling", "independent") != "independent":
            caption += "\nexact: the independent coupling's flow (the model: OT)"
        points = lens_points(mix, p, posterior_colors)
        symbols = ("u_θ", "u_t") if self.quantity == "velocity" else ("s_θ", "∇log p_t")
        for ov in self.overlays.values():
            ov.symbols = symbols
            ov.show(p, points, scale, head, caption)
            # the last u_theta stays drawn (at the new x) until the one for this x arrives
            ov.show_learned(p.x, self.learned, 1.4 * head)
        self.update_ms.append(1e3 * (time.perf_counter() - t0))
        del self.update_ms[:-200]
        self._request_learned(p, y)

    def _scale(self, p: LensPoint, span: float) -> float:
        # velocity: (1 - t) u (one Euler step to t = 1); score: beta_t^2 s (Tweedie: x + beta_t^2
        # grad log p_t(x) = E[alpha_t z | x_t = x], so a point component's arrow ends at alpha_t z)
        if self.quantity == "score":
            b = float(self.mixture().schedule_values(p.t)[1]) if self.mixture() else 1.0
            h = max(b * b, 1e-4)
        else:
            h = max(1.0 - p.t, 1e-3)
        lengths = [np.hypot(*p.velocity), *np.hypot(p.velocities[:, 0], p.velocities[:, 1])]
        if self.learned is not None:
            lengths.append(float(np.hypot(*self.learned)))
        longest = max(lengths) * h
        if longest > MAX_ARROW_FRACTION * span:
            h *= MAX_ARROW_FRACTION * span / longest
        return h

    def _request_learned(self, p: LensPoint, y) -> None:
        snap = self._snapshot()
        bridge_score = self.quantity == "score" and getattr(snap, "source", None) is not None
        if snap is None or bridge_score:  # s_theta: undefined for a non-Gaussian source
            self.learned = self._learned_res = None
            for ov in self.overlays.values():
                ov.show_learned(None, None, 0)
            return
        x, t = tuple(float(v) for v in p.x), float(p.t)
        self.requests.submit("lens", lambda gen: LensRequest(gen, snap, x, t, y, 1.0))
        self._poll.start()

    def _on_poll(self) -> None:
        self.requests.poll()
        if not self.requests.stale("lens"):
            self._poll.stop()

    def _on_result(self, kind: str, res) -> None:
        p = self.point
        # while t plays, an answer is a few frames late: shown if within LEARNED_T_SLACK
        if p is None or not np.allclose(res.x, p.x) or abs(res.t - p.t) > LEARNED_T_SLACK:
            return
        self._learned_res = res
        self.learned = self._pick(res)
        b = self.view.plots()[0].getViewBox().viewRange()
        head = 0.035 * max(b[0][1] - b[0][0], b[1][1] - b[1][0])  # = 1.4 x the thin heads
        for ov in self.overlays.values():
            ov.show_learned(p.x, self.learned, head)

    # ----------------------------------------------------------------- widgets
    def make_checkbox(self) -> QtWidgets.QCheckBox:
        """A 'posterior lens' check box kept in step with :meth:`set_enabled`."""
        box = QtWidgets.QCheckBox("posterior lens")
        box.setToolTip(TOOLTIP + SOURCE_TOOLTIP)
        box.toggled.connect(self.set_enabled)
        self.toggled.connect(lambda on: box.setChecked(on) if box.isChecked() != on else None)
        return box


__all__ = ["FORMULA", "TOOLTIP", "LensOverlay", "PosteriorLens", "arrow_path"]
