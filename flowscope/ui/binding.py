"""Two-way binding between AppState parameters and Qt controls, with no echo loops.

A control's user change calls ``state.set(name=value)``; the field's own signal
(``state.events.<name>``) updates the control with its Qt signals blocked, so it never re-emits
what it was just told. Ranges and choices come from the field's metadata (:meth:`Binder.span`).
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QAbstractButton, QComboBox, QDoubleSpinBox, QSpinBox

from ..state import Evented


class Binder:
    def __init__(self, state: Evented):
        self.state = state

    def span(self, name: str, control) -> None:
        """Give ``control`` (a slider or spin box) the range of ``name``'s metadata."""
        lo, hi = self.state.control_range(name)
        control.setRange(lo, hi)

    def _add(self, name: str, widget, setter) -> None:
        def guarded(value) -> None:  # one parameter: psygnal passes only the new value
            blocker = QSignalBlocker(widget)
            setter(value)
            del blocker

        self.state.events[name].connect(guarded)
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
