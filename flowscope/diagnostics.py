"""``flowscope.diagnostics``: where, when and why a field is wrong, measured against the exact
answer (the public name of :mod:`flowscope.core.diagnostics`; see its docstring)."""

from .core.diagnostics import *  # noqa: F403
from .core.diagnostics import __all__  # noqa: F401
