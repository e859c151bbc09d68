"""The one place the version is written: pyproject.toml reads it (dynamic version) and
``flowscope.__version__`` re-exports it. A module of its own so that the layers below the package
root (core writes it into every checkpoint) need not import ``flowscope/__init__.py``."""

__version__ = "0.1.0"
