"""Help > Formula cheat-sheet: MATH.md's conventions in one page (formulas from formulas.py)."""

from __future__ import annotations

from . import formulas as F
from .formulas import ALPHA, BETA, P_T, SIGMA, sub, sup

_MU, _PI, _H, _S, _W = sub("μ", "i"), sub("π", "i"), sub("h", "i"), sub("s", "i"), sub("w", "i")

CHEATSHEET_HTML = f"""
<h3>Conventions</h3>
<p><b>t = 0 is noise, t = 1 is data.</b> {sub("X", "0")} ~ N(0, I),
{sub("X", "1")} ~ {sub("p", "data")}.</p>
<h3>Gaussian path</h3>
<p>{F.COND_PATH}, &nbsp; {F.PATH}.
CondOT: {ALPHA} = t, {BETA} = 1 − t.<br>
{F.DERIVATIVES}.</p>
<h3>Conditional targets</h3>
<p>{F.U_COND} (CondOT: z − ε); &nbsp; {F.SCORE_COND}.</p>
<h3>Losses</h3>
<p>flow matching: {F.LOSS_CFM}<br>
score matching: {F.LOSS_DSM} &nbsp;
noise prediction: {F.LOSS_NOISE}<br>
The loss has a floor {F.FLOOR} &gt; 0; excess loss = L − {F.L_MIN} → 0.</p>
<h3>Velocity ↔ score</h3>
<p>{F.SCORE_FROM_U};<br>CondOT: {F.SCORE_FROM_U_CONDOT}.</p>
<h3>Sampling</h3>
<p>ODE: {F.ODE} (Euler, Heun, RK4; h = 1/n)<br>
SDE: {F.SDE}: same marginals {P_T} for every {SIGMA} ≥ 0.
Dropping the {sup(SIGMA, "2")}/2 score term breaks this.</p>
<h3>Classifier-free guidance</h3>
<p>{F.CFG};
w = 0 unconditional, 1 conditional, &gt; 1 amplified. Training drops labels with rate η.</p>
<h3>Exact marginal of a drawn density</h3>
<p>{sub("p", "data")} = Σ {_PI} N({_MU}, {sup(_H, "2")} I):
{sup(_S, "2")} = {sup(ALPHA, "2")} {sup(_H, "2")} + {sup(BETA, "2")},
{_W}(x, t) = softmax(log {_PI} − ‖x − {ALPHA} {_MU}‖<sup>2</sup> / 2{sup(_S, "2")}
− d log {_S}),<br>
{F.EXACT_U}, &nbsp; ∇log {P_T}(x) = Σ {_W} ({ALPHA} {_MU} − x) / {sup(_S, "2")}
({sub("s′", "i")} = d{_S}/dt).</p>
<h3>Keys</h3>
<p>T train/pause · Space play/pause time · Ctrl+Z / Ctrl+Shift+Z undo/redo drawing ·
B brush · E eraser · 1-4 class · [ ] brush width · Ctrl+S save · Ctrl+O open · F1 this sheet</p>
"""

IMAGE_KEYS_HTML = """
<h3>Keys (image mode)</h3>
<p>T train/pause · S one step · N new noise · Ctrl+R reset weights · Ctrl+O open a dataset ·
Ctrl+E export the grid (PNG) · Ctrl+Shift+E export the model · F1 this sheet</p>
"""


def cheatsheet_dialog(parent=None, image_mode: bool = False):
    """The cheat-sheet as a resizable dialog: a QTextBrowser renders the HTML (sub/superscripts
    included) and scrolls when the window is small."""
    from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

    html = CHEATSHEET_HTML
    if image_mode:
        html = html.split("<h3>Keys</h3>")[0] + IMAGE_KEYS_HTML
    dialog = QDialog(parent)
    dialog.setWindowTitle("flowscope formula cheat-sheet")
    lay = QVBoxLayout(dialog)
    text = QTextBrowser(dialog)
    text.setObjectName("cheatsheet")
    text.setOpenExternalLinks(False)
    font = text.font()
    font.setPointSizeF(font.pointSizeF() * 1.15)  # sub/superscripts stay legible
    text.setFont(font)
    text.setHtml(html)
    lay.addWidget(text)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, parent=dialog)
    buttons.rejected.connect(dialog.reject)
    lay.addWidget(buttons)
    dialog.resize(860, 780)
    return dialog
