"""The posterior lens with a non-Gaussian source p_init (issue 14): the posterior is over the
K_src x K_tgt component pairs (i, j) of the bridge x_t = alpha_t x_1 + beta_t x_0, and the
exact u_t(x) is their posterior average (core/lens_bridge.py). Drawn: the target's components
coloured by p(j | x, t) = sum_i p(i, j | x, t) (grey -> red) and the source's by
p(i | x, t) = sum_j p(i, j | x, t) (grey -> blue); the thin arrows are the heaviest pair fields
u_t(x | i, j) = d_alpha_t E[x_1 | x, ij] + d_beta_t E[x_0 | x, ij]."""

from __future__ import annotations

import numpy as np

from ..core.bridge import ExactBridge
from ..core.lens import LensMixture
from ..core.lens_bridge import LensBridge
from ..core.schedules import get_schedule

PLAIN = {
    "velocity": "uₜ(x) = Σᵢⱼ p(i, j | x, t) uₜ(x | i, j)",
    "score": "∇log pₜ(x) = Σᵢⱼ p(i, j | x, t) ∇log pₜ(x | i, j)",
}
TOOLTIP = (
    "<p>With a non-Gaussian source p<sub>init</sub> = Σ<sub>i</sub> ρ<sub>i</sub> "
    "N(ν<sub>i</sub>, g<sub>i</sub>² I) the posterior is over the pairs (i, j): "
    "p(i, j | x, t) ∝ ρ<sub>i</sub> π<sub>j</sub> N(x; α<sub>t</sub>μ<sub>j</sub> + "
    "β<sub>t</sub>ν<sub>i</sub>, (α<sub>t</sub>²h<sub>j</sub>² + β<sub>t</sub>²g<sub>i</sub>²) I); "
    "u<sub>t</sub>(x | i, j) = α′<sub>t</sub> E[x<sub>1</sub> | x, ij] + β′<sub>t</sub> "
    "E[x<sub>0</sub> | x, ij]. Red: target p(j | x, t); blue: source p(i | x, t).</p>"
)
SOURCE_GREY = np.array([0.35, 0.35, 0.35, 0.35], np.float32)
SOURCE_BLUE = np.array([0.1, 0.3, 0.9, 1.0], np.float32)
#: source components drawn (an even subsample beyond, plus the 100 heaviest)
MAX_SOURCE_POINTS = 3000


def lens_model(exact, source, schedule: str) -> LensMixture | LensBridge:
    """The lens's numpy model: the target's mixture for N(0, I) (source None), else the bridge."""
    ex = exact if exact.schedule.name == schedule else exact.with_schedule(get_schedule(schedule))
    if source is None:
        return LensMixture(ex)
    return LensBridge(ExactBridge(source, ex))


def _source_colors(means: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = len(w)
    if k <= MAX_SOURCE_POINTS:
        keep: slice | np.ndarray = slice(None)
    else:
        mask = np.zeros(k, bool)
        mask[:: -(-k // MAX_SOURCE_POINTS)] = True
        mask[np.argpartition(-w, 100)[:100]] = True
        keep = np.flatnonzero(mask)
    r = np.sqrt(w[keep] / max(float(w.max()), 1e-300)).astype(np.float32)[:, None]
    return means[keep].astype(np.float32), SOURCE_GREY + r * (SOURCE_BLUE - SOURCE_GREY)


def lens_points(mix, p, posterior_colors) -> tuple[np.ndarray, np.ndarray]:
    """(xy, rgba) of the coloured components: the target's (and the source's for a bridge)."""
    if not isinstance(mix, LensBridge):
        return posterior_colors(mix.means, p.weights)
    txy, trgba = posterior_colors(mix.means, p.target_weights)
    sxy, srgba = _source_colors(mix.source_means, p.source_weights)
    return np.concatenate([sxy, txy]), np.concatenate([srgba, trgba])


def caption_lines(mix, p, quantity: str) -> tuple[str, str]:
    """(formula line, 'top M of K ...' line) of the lens caption."""
    if not isinstance(mix, LensBridge):
        return "", ""
    ks, kt = mix.shape
    return PLAIN[quantity], (
        f"top {len(p.index)} of {ks} × {kt} pairs: {100 * p.mass:.0f}% of p(i, j | x, t)"
        "\nred: p(j | x, t) · blue: p(i | x, t) (source)"
    )


__all__ = ["TOOLTIP", "caption_lines", "lens_model", "lens_points"]
