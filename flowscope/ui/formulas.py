"""The formulas of MATH.md as HTML for Qt rich text (labels, tooltips, the cheat-sheet, titles).

One definition per formula, so the cheat-sheet, the tooltips and the plot titles agree. Indices
are <sub>/<sup> markup, never Unicode combining characters: a dot above (U+0307) is drawn
detached by most fonts, and students then read alpha_t-dot as alpha_t. A time derivative is
written with a prime, α′_t = dα_t/dt (the prime is a character of its own and stays attached).
"""

from __future__ import annotations

import unicodedata


def sub(base: str, index: str) -> str:
    return f"{base}<sub>{index}</sub>"


def sup(base: str, power: str) -> str:
    return f"{base}<sup>{power}</sup>"


ALPHA, BETA, SIGMA = sub("α", "t"), sub("β", "t"), sub("σ", "t")
D_ALPHA, D_BETA = sub("α′", "t"), sub("β′", "t")  # time derivatives dα_t/dt, dβ_t/dt
X_T, U_T, S_T, P_T = sub("x", "t"), sub("u", "t"), sub("s", "t"), sub("p", "t")
U_THETA, S_THETA, EPS_THETA = sub("u", "θ"), sub("s", "θ"), sub("ε", "θ")
L_MIN = sub("L", "min")
NORM2 = "‖{}‖<sup>2</sup>"

DERIVATIVES = (
    f"{D_ALPHA} = d{ALPHA}/dt, {D_BETA} = d{BETA}/dt (the time derivatives; "
    f"CondOT: {D_ALPHA} = 1, {D_BETA} = −1)"
)
PATH = f"{X_T} = {ALPHA} z + {BETA} ε"
COND_PATH = f"{P_T}(x | z) = N({ALPHA} z, {sup(BETA, '2')} I)"
U_COND = f"{U_T}(x | z) = {D_ALPHA} z + {D_BETA} ε"
SCORE_COND = f"∇log {P_T}(x | z) = −ε / {BETA}"
LOSS_CFM = "E" + NORM2.format(f"{U_THETA}({X_T}, t) − ({D_ALPHA} z + {D_BETA} ε)")
LOSS_DSM = "E" + NORM2.format(f"{S_THETA}({X_T}, t) + ε / {BETA}")
LOSS_DSM_WEIGHTED = "E" + NORM2.format(f"{BETA} {S_THETA}({X_T}, t) + ε")  # λ(t) = β_t²
LOSS_NOISE = "E" + NORM2.format(f"{EPS_THETA}({X_T}, t) − ε")
FLOOR = f"{L_MIN} = E" + NORM2.format(f"{U_T}(x | z) − {U_T}(x)")
SCORE_FROM_U = (
    f"{S_T}(x) = ({ALPHA} {U_T}(x) − {D_ALPHA} x) / "
    f"({sup(BETA, '2')} {D_ALPHA} − {ALPHA} {BETA} {D_BETA})"
)
SCORE_FROM_U_CONDOT = "s = (t u − x) / (1 − t)"
ODE = f"d{sub('X', 't')} = {U_T}({sub('X', 't')}) dt"
SDE = f"d{sub('X', 't')} = [{U_T} + {sup(SIGMA, '2')}/2 ∇log {P_T}] dt + {SIGMA} d{sub('W', 't')}"
EULER_MARUYAMA = (
    f"{sub('X', 't+h')} = {sub('X', 't')} + h ({U_T} + {sup(SIGMA, '2')}/2 {S_T}) + {SIGMA} √h ε"
)
SDE_NO_SCORE = f"d{sub('X', 't')} = {U_T} dt + {SIGMA} d{sub('W', 't')}"
U_GUIDED = sub("\u0169", "t")  # ũ_t, the guided field (U+0169 is one precomposed character)
CFG = f"{U_GUIDED}(x | y) = (1 − w) {U_T}(x | ∅) + w {U_T}(x | y)"
EXACT_U = (
    f"{U_T}(x) = Σ {sub('w', 'i')} [{D_ALPHA} {sub('μ', 'i')} + "
    f"({sub('s′', 'i')}/{sub('s', 'i')})(x − {ALPHA} {sub('μ', 'i')})]"
)
ENERGY = "2E|X − Y| − E|X − X′| − E|Y − Y′|"


def tooltip(*lines: str) -> str:
    """Rich-text tooltip (Qt renders <sub>/<sup> in tooltips that start with a tag)."""
    return "<p style='white-space:pre'>" + "<br>".join(lines) + "</p>"


def combining_characters(text: str) -> list[str]:
    """The combining characters in ``text`` as 'U+XXXX' (there should be none)."""
    return [f"U+{ord(c):04X}" for c in text if unicodedata.combining(c)]
