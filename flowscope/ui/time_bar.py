"""The time bar under the explorer: play / pause, the time slider t in [0, 1] and loop, bound to
the state's ``t``, ``playing`` and ``loop``."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QStyle, QWidget
from superqt import QLabeledDoubleSlider

from . import formulas as F


class TimeBar(QWidget):
    """Moving the slider pauses playback; the slider follows ``state.t`` while playing."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        self.play_button = QPushButton()
        self.play_button.setMinimumWidth(84)  # 'Pause' / 'Play' beside the icon
        self.play_button.setToolTip("play / pause the time sweep t = 0 → 1 (Space)")
        self.play_button.clicked.connect(lambda: state.set(playing=not state.playing))
        bar.addWidget(self.play_button)
        self._set_play_icon(state.playing)
        bar.addWidget(QLabel("time t"))
        self.t_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.t_slider.setRange(0.0, 1.0)
        self.t_slider.setDecimals(2)
        self.t_slider.setToolTip(
            F.tooltip(
                f"t = 0: noise {F.sub('X', '0')} ~ N(0, I);  "
                f"t = 1: data {F.sub('X', '1')} ~ {F.sub('p', 'data')}.",
                F.PATH,
            )
        )
        self.t_slider.setValue(float(state.t))
        self.t_slider.valueChanged.connect(self._on_t_slider_moved)
        bar.addWidget(self.t_slider, 1)
        self.loop_box = QCheckBox("loop")
        self.loop_box.setToolTip("play t = 0 -> 1 again and again")
        self.loop_box.setChecked(state.loop)
        self.loop_box.toggled.connect(lambda on: state.set(loop=bool(on)))
        bar.addWidget(self.loop_box)
        state.subscribe(self._on_state_changed)

    def _on_state_changed(self, name: str, value) -> None:
        if name == "t" and abs(self.t_slider.value() - value) > 1e-9:
            self.t_slider.blockSignals(True)
            self.t_slider.setValue(float(value))
            self.t_slider.blockSignals(False)
        elif name == "playing":
            self._set_play_icon(bool(value))

    def _set_play_icon(self, playing: bool) -> None:
        sp = QStyle.StandardPixmap
        icon = sp.SP_MediaPause if playing else sp.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        # the state in words (t plays from launch); the views show it too (MainWindow)
        self.play_button.setText("Pause" if playing else "Play")

    def _on_t_slider_moved(self, value: float) -> None:
        self.state.set(t=float(value), playing=False)
