"""``flowscope sample --model FILE.onnx``: samples from an exported velocity (2D models).

The ONNX graph is run by onnxruntime (no Python code is loaded from the file); the conventions
come from the metadata ``flowscope export`` writes (see core.onnx_field)."""

from __future__ import annotations

from pathlib import Path


def sample_onnx(a, out: Path, error: type[Exception]) -> int:
    import numpy as np

    from .cli_io import check_sample_count, check_samples_finite, write_output
    from .core.onnx_field import OnnxField
    from .core.safeio import save_npy

    field = OnnxField(a.model)
    if field.kind != "2d" or len(field.sample_shape) != 1:
        raise error("sampling an ONNX file is for 2D models; use the model directory for images")
    check_sample_count(a.n, "2d")
    if a.grid:
        raise error("--grid is for image models; this model samples 2D points")
    y = None
    if a.label is not None:
        names = field.class_names or []
        if not field.conditional:
            raise error("--label given but this model was exported without classes")
        if a.label in names:
            y = names.index(a.label)
        else:
            try:
                y = int(a.label)
            except ValueError:
                raise error(f"unknown class {a.label!r}; classes are {names}") from None
            if not 0 <= y < field.num_classes:
                raise error(f"class index {y} out of range 0..{field.num_classes - 1}")
    n = a.n or 4000
    pts = field.sample(
        n, steps=a.steps, solver=a.solver, sigma=a.sigma, w=a.w, y=y, seed=a.seed,
        sigma_schedule=a.sigma_schedule,
    ).numpy()  # fmt: skip
    check_samples_finite(pts)
    suffix = out.suffix.lower()
    if suffix == ".npy":
        write_output(out, lambda tmp: save_npy(tmp, pts))
    elif suffix == ".csv":
        fmt = dict(delimiter=",", header="x,y", comments="", fmt="%.6f")
        write_output(out, lambda tmp: np.savetxt(tmp, pts, **fmt))
    else:
        from .core.render import save_density_png

        write_output(out, lambda tmp: save_density_png(pts, tmp, None))
    print(f"wrote {n} samples to {out}")
    return 0
