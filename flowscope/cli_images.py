"""The image half of the command line: ``flowscope train`` on image datasets (a U-Net) and
``flowscope sample`` from image models (PNG grids, class x guidance grids, .npy arrays)."""

from __future__ import annotations

import sys
from pathlib import Path

from .cli import LR_IMG, STEPS_IMG, CliError, finish_distributed, run_trainer


def train_images(a) -> int:
    """`flowscope train` on an image dataset: a U-Net with the image defaults."""
    from .core.images import load_image_dataset
    from .core.models import ModelConfig
    from .train.trainer import TrainConfig, Trainer

    ds = load_image_dataset(a.data, size=a.size, grayscale=a.grayscale)
    for note in ds.notes:
        print(f"flowscope: {note}", file=sys.stderr)
    from .core.images.unet import unet_size

    n_cls = 0 if a.unconditional else ds.num_classes
    size = unet_size(ds.shape)  # channels, levels, attention from the image size
    if a.channels:
        size["channels"] = a.channels
    mc = ModelConfig(
        arch="unet",
        image_shape=ds.shape,
        parameterization=a.objective,
        num_classes=n_cls,
        **size,
    )
    tc = TrainConfig(
        steps=a.steps or STEPS_IMG,
        batch_size=a.batch or 128,
        lr=a.lr or LR_IMG,
        warmup_steps=0,
        num_threads=a.threads,
        schedule=a.schedule,
        seed=a.seed,
        device=a.device,
        ema_decay=0.999 if a.ema is None else (a.ema or None),
        label_dropout=a.label_dropout,
        amp=getattr(a, "amp", "auto"),
        compile=getattr(a, "compile", None),
    )
    trainer = Trainer(ds, mc, tc, distributed=getattr(a, "distributed", None))
    run_trainer(trainer, a, ds.name)
    model = trainer.model()
    if finish_distributed(a, trainer, model):
        return 1 if trainer.error else 0
    final = trainer.summary()["final_loss"]
    model.metadata["training"].update({"loss_floor": None, "excess_loss": None})
    model.metadata["data"] = {
        "source": str(a.data),
        "name": ds.name,
        "images": len(ds),
        "shape": list(ds.shape),
        "value_range": list(ds.value_range),
    }
    from .cli_io import save_model

    out = save_model(model, a.out)
    if trainer.error:
        print(f"flowscope: {trainer.error}", file=sys.stderr)
    c, h, w = ds.shape
    print(
        f"saved {out}  ({trainer.step_count} steps on {trainer.device}; {len(ds)} images "
        f"{c}x{h}x{w}, {n_cls or 'no'} classes)"
    )
    if final is not None:
        print(f"final loss {final:.4f}   loss floor: n/a (no closed form for image data)")
    return 1 if trainer.error else 0


def _parse_ws(text: str) -> list[float]:
    """--grid-w through the same parser as the GUI's guidance-scale field."""
    from .core.samplers import parse_guidance_scales

    try:
        return list(parse_guidance_scales(text))
    except ValueError as e:
        raise CliError(f"--grid-w: {e}") from None


def sample_images(a, model, y, out: Path) -> int:
    """Image models: --out .png (a grid of samples, or class x w with --grid) or .npy."""

    from .core.images.grid import grid_rows, guidance_grid
    from .core.render import save_image_grid

    if out.suffix.lower() == ".csv":
        raise CliError("image samples go to a .png grid or an .npy array (N, C, H, W), not .csv")
    opts = dict(steps=a.steps, solver=a.solver, sigma=a.sigma, sigma_schedule=a.sigma_schedule)
    _, h, _ = model.config.image_shape
    scale = max(1, 32 // h)
    if a.grid:
        if not model.config.conditional:
            raise CliError("--grid needs a class-conditional model (trained on labelled images)")
        ws, per = _parse_ws(a.grid_w), a.n or 1
        classes = list(range(model.config.num_classes)) if y is None else [y]
        cells = guidance_grid(model, classes, ws, per, a.seed, **opts)
        x, nrow = grid_rows(cells)
    else:
        x = model.sample(a.n or 64, y=y, w=a.w, seed=a.seed, **opts)
        nrow = None
    from .cli_io import check_samples_finite, write_output
    from .core.safeio import save_npy

    check_samples_finite(x)

    if out.suffix.lower() == ".npy":
        write_output(out, lambda tmp: save_npy(tmp, x.numpy()))
    else:
        vr = model.value_range
        write_output(out, lambda tmp: save_image_grid(x, tmp, nrow, value_range=vr, scale=scale))
    if a.grid:
        names = model.class_names or [str(c) for c in range(model.config.num_classes)]
        rows = ", ".join(names[c] for c in classes)
        print(
            f"wrote a {len(classes)} x {len(ws)} grid to {out} (rows: classes {rows}; "
            f"columns: w = {', '.join(f'{w:g}' for w in ws)}; {per} sample(s) per cell)"
        )
    else:
        print(f"wrote {x.shape[0]} samples of shape {tuple(x.shape[1:])} to {out}")
    return 0
