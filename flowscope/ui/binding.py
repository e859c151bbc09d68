"""Two-way binding between AppState parameters and Qt controls, with no echo loops.

A control's user change calls ``state.set(name=value)``; a state change updates the control
with its signals blocked, so it never re-emits what it was just told.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QAbstractButton, QComboBox, QDoubleSpinBox, QSpinBox

from ..state import Evented


class Binder:
    def __init__(self, state: Evented):
        self.state = state
        self._setters: dict[str, list] = {}
        state.subscribe(self._on_state_changed)

    def _on_state_changed(self, name: str, value) -> None:
        for setter in self._setters.get(name, []):
            setter(value)

    def _add(self, name: str, widget, setter) -> None:
        def guarded(value, w=widget):
            blocker = QSignalBlocker(w)
            setter(value)
            del blocker

        self._setters.setdefault(name, []).append(guarded)
        guarded(getattr(self.state, name))

    def custom(self, name: str, widget, setter) -> None:
        """Show ``name`` with ``setter(value)`` (signals blocked); the widget writes back itself."""
        self._add(name, widget, setter)

    def combo(self, name: str, combo: QComboBox, values: list) -> None:
        """A combo box whose item i stands for values[i]."""
        self._add(
            name, combo, lambda v: combo.setCurrentIndex(values.index(v)) if v in values else None
        )
        combo.currentIndexChanged.connect(lambda i: self.state.set(**{name: values[i]}))

    def check(self, name: str, button: QAbstractButton) -> None:
        self._add(name, button, lambda v: button.setChecked(bool(v)))
        button.toggled.connect(lambda v: self.state.set(**{name: bool(v)}))

    def spin(self, name: str, spin: QSpinBox | QDoubleSpinBox) -> None:
        self._add(name, spin, spin.setValue)
        spin.valueChanged.connect(
            lambda v: self.state.set(**{name: type(getattr(self.state, name))(v)})
        )

    def slider(self, name: str, slider, cast=float) -> None:
        """A superqt labelled slider (valueChanged carries the value)."""
        self._add(name, slider, lambda v: slider.setValue(cast(v)))
        slider.valueChanged.connect(lambda v: self.state.set(**{name: cast(v)}))
