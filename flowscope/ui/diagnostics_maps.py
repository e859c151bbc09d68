"""The diagnostic heatmaps of the explorer (heatmap choices after the exact p_t): their names,
tooltip, and how a DiagMapResult is drawn (colour map, levels and colour-bar label)."""

from __future__ import annotations

from . import formulas as F
from .colorbar import diverging_colormap

#: combo-box labels, in the order of train.compute.DIAGNOSTIC_SOURCES
DIAGNOSTIC_LABELS = [
    "error map ‖u_θ − u_t‖² p_t (weighted)",
    "error map ‖u_θ − u_t‖² (unweighted)",
    "continuity residual ∂p_t/∂t + ∇·(p_t u_θ)",
    "model log-density log p_1",
    "exact log-density log p_1",
]
_ERR = F.NORM2.format(F.U_THETA + " − " + F.U_T)
DIAGNOSTIC_TIP = (
    f"diagnostics (need a trained model): the field error {_ERR}"
    f" times {F.P_T} (where it costs samples) or not; the continuity residual "
    f"∂{F.P_T}/∂t + ∇·({F.P_T} {F.U_THETA}) with the exact {F.P_T} (0 for the exact field; "
    "blue/red: the network moves too little/too much mass out); the model's log p<sub>1</sub> "
    "(log-likelihood ODE) next to the exact one"
)


def show_map(view, res) -> None:
    """Draw a DiagMapResult in both explorer plots with its colour bar."""
    cmap = diverging_colormap() if res.diverging else None
    view.set_heatmap("both", res.values, res.bounds, res.levels, cmap, res.label)
