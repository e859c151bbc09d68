"""flowscope: see and train flow-matching and diffusion models, with the exact answer beside them.

Public API (no Qt is imported here):
- ``flowscope.load(path) -> FlowModel``
- ``flowscope.show(field, target=None, schedule="condot", classes=None)``: the 2D explorer on
  your own velocity field (a function, torch module, FlowModel or OnnxField); imports Qt then
- ``flowscope.ExactMarginal(means, weights=None, widths=None, labels=None, schedule="condot")``
- ``flowscope.data.load_target(name_or_path) -> Target``
- ``flowscope.images.load_image_dataset("digits" | folder | .npz | IDX) -> ImageDataset``
- ``flowscope.diagnostics``: error_by_t, error_map, continuity_residual, decompose, nll,
  memorization (a field against the exact answer)
"""

from ._version import __version__

__all__ = [
    "__version__",
    "ExactMarginal",
    "FlowModel",
    "ModelConfig",
    "Trainer",
    "TrainConfig",
    "load",
    "show",
    "data",
    "diagnostics",
    "images",
]


def __getattr__(name):  # lazy: `import flowscope` stays cheap (torch loads on first use)
    if name == "ExactMarginal":
        from .core.exact import ExactMarginal

        return ExactMarginal
    if name in ("FlowModel", "load"):
        from .core import flow_model

        return getattr(flow_model, name)
    if name == "show":  # by name: the Qt-free layers' type check must not follow it into Qt
        import importlib

        return importlib.import_module(".app_show", __name__).show
    if name == "ModelConfig":
        from .core.models import ModelConfig

        return ModelConfig
    if name in ("Trainer", "TrainConfig"):
        from .train import trainer

        return getattr(trainer, name)
    if name == "data":
        from .core import data

        return data
    if name == "diagnostics":
        import importlib

        return importlib.import_module(".diagnostics", __name__)
    if name == "images":
        from .core import images

        return images
    raise AttributeError(f"module 'flowscope' has no attribute {name!r}")
