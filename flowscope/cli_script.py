"""``flowscope export --format script``: a model directory's run as a standalone Python script.

The script is built from what model.json keeps: the model config, the training config (with its
seed, schedule, objective and score weighting) and the data source. Sampling uses the defaults of
``flowscope sample`` unless the export command is given other sampling options.
"""

from __future__ import annotations

from pathlib import Path


def export_script(a, error: type[Exception]) -> int:
    from .cli_io import check_out_file, write_output
    from .core.checkpoint import read_checkpoint
    from .core.data.presets import is_preset
    from .core.models import ModelConfig
    from .core.script_export import run_script

    out = Path(a.out).expanduser()
    if out.suffix.lower() != ".py":
        raise error("--format script writes a Python file: name it e.g. run.py")
    check_out_file(out)
    _, meta = read_checkpoint(a.model)
    try:
        mc = ModelConfig.from_dict(meta["model_config"])
        tc = dict(meta["training"]["config"])
    except (KeyError, TypeError, ValueError):
        raise error(
            f"{a.model} does not record its training settings (model.json training.config); "
            "only models trained by flowscope can be exported as a script"
        ) from None
    if mc.is_image:
        raise error("--format script is for 2D models; image models train on a dataset folder")
    if a.n < 1 or a.steps < 1:
        raise error("--n and --steps must be >= 1")
    if a.label is not None and not 0 <= a.label < mc.num_classes:
        raise error(
            f"--label {a.label} out of range: this model has {mc.num_classes} classes"
            if mc.num_classes
            else "--label given but this model was trained without classes"
        )
    source = str((meta.get("data") or {}).get("source") or "")
    if source == "drawing" or not source:
        raise error(
            "this model was trained on a drawing (or an unknown source) whose strokes are not in "
            "the model folder; export the script from the app: File > Export > Run as Python script"
        )
    if not is_preset(source) and Path(source).expanduser().exists():
        source = str(Path(source).expanduser().resolve())
    text = run_script(
        source,
        mc,
        tc,
        n=a.n,
        steps=a.steps,
        solver=a.solver,
        sigma=a.sigma,
        sigma_schedule=a.sigma_schedule,
        w=a.w,
        y=a.label,
        seed=a.seed,
    )
    write_output(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    print(f"wrote {out}: run it with  python {out.name}")
    return 0
