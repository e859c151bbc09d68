"""Formulas render as markup, never with combining characters (a dot above U+0307 was drawn
detached, so students read u_t(x|z) = alpha_t z + beta_t eps for alpha-dot_t z + beta-dot_t eps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QComboBox,
    QGroupBox,
    QLabel,
    QTextBrowser,
    QWidget,
)

import flowscope  # noqa: E402
from flowscope.state import AppState, ImageState  # noqa: E402
from flowscope.ui import formulas as F  # noqa: E402
from flowscope.ui.formulas import combining_characters  # noqa: E402
from flowscope.ui.help import CHEATSHEET_HTML, cheatsheet_dialog  # noqa: E402


def test_no_source_file_of_the_package_has_combining_characters():
    root = Path(flowscope.__file__).parent
    found = {
        str(p.relative_to(root)): combining_characters(p.read_text(encoding="utf-8"))
        for p in root.rglob("*.py")
    }
    assert {k: v for k, v in found.items() if v} == {}
    assert combining_characters("a\u0307") == ["U+0307"]  # the check itself finds them


def test_cheatsheet_has_every_formula_with_primes_and_subscripts(qtbot, tmp_path):
    for formula in (F.PATH, F.U_COND, F.LOSS_CFM, F.FLOOR, F.SCORE_FROM_U, F.SDE, F.CFG):
        assert formula in CHEATSHEET_HTML
    dialog = cheatsheet_dialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    text = dialog.findChild(QTextBrowser).toPlainText()
    assert combining_characters(text) == []
    # as plain text the subscripts run on: u_t(x | z) = alpha'_t z + beta'_t eps
    assert "ut(x | z) = α′t z + β′t ε" in text
    assert "st(x) = (αt ut(x) − α′t x) / (βt2 α′t − αt βt β′t)" in text
    assert "α′t = dαt/dt" in text  # the prime is defined where it is first used
    html = dialog.findChild(QTextBrowser).toHtml()
    assert "vertical-align:sub" in html and "vertical-align:super" in html
    # a picture with text in it (QTextBrowser is a raster widget: grab() works)
    shot = dialog.grab()
    shot.save(str(tmp_path / "cheatsheet.png"))
    img = shot.toImage()
    assert img.width() >= 700 and img.height() >= 600
    ptr = img.convertToFormat(img.Format.Format_Grayscale8)
    gray = np.frombuffer(ptr.constBits(), np.uint8, ptr.bytesPerLine() * ptr.height())
    assert 0.005 < (gray < 100).mean() < 0.2  # dark glyphs on a light page


def _ui_texts(window) -> dict[str, str]:
    """Every text a user can see in the window: labels, buttons, tooltips, combo items,
    group titles, menu actions."""
    out = {}
    for w in window.findChildren(QWidget):
        name = f"{type(w).__name__}:{w.objectName()}@{id(w):x}"
        out[f"{name}.toolTip"] = w.toolTip()
        if isinstance(w, (QLabel, QAbstractButton)):
            out[f"{name}.text"] = w.text()
        if isinstance(w, QGroupBox):
            out[f"{name}.title"] = w.title()
        if isinstance(w, QComboBox):
            for i in range(w.count()):
                out[f"{name}[{i}]"] = w.itemText(i)
    for a in window.findChildren(__import__("PySide6.QtGui", fromlist=["QAction"]).QAction):
        out[f"action {a.text()}"] = a.text() + a.toolTip() + a.statusTip()
    return out


def test_no_text_in_either_window_has_combining_characters(qtbot, tmp_path, monkeypatch):
    from flowscope.ui.image_window import ImageWindow
    from flowscope.ui.main_window import MainWindow

    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path))
    monkeypatch.setenv("FLOWSCOPE_COMPUTE_PROCESS", "0")
    main = MainWindow(AppState(target_source="gaussian", n_particles=100), ask_to_save=False)
    qtbot.addWidget(main)
    images = ImageWindow(ImageState(channels=8), ask_to_save=False)
    qtbot.addWidget(images)
    try:
        texts = {**_ui_texts(main), **_ui_texts(images)}
        titles = [p.titleLabel.text for p in main.explorer.plots()]
    finally:
        main.shutdown()
        images.shutdown()
    bad = {k: combining_characters(v) for k, v in texts.items() if combining_characters(v)}
    assert bad == {}
    joined = "\n".join(texts.values())
    # the tooltips show formulas as markup with subscripts, not as ASCII
    assert F.EULER_MARUYAMA in joined and F.CFG in joined and F.LOSS_CFM in joined
    assert "d_alpha" not in joined and "sigma_t^2" not in joined
    assert F.ODE in titles[0] and F.SDE in titles[1]  # the formula on the title's second line
