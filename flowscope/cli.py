"""Command line: ``flowscope [gui]``, ``train``, ``sample``, ``export``, ``diagnose``, ``reflow``.

Every user error (missing or unreadable file, empty drawing, NaN points, a pickle given as a model,
an unknown preset) ends with exit status 2 and one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .core.defaults import BATCH_2D, DEPTH_2D, EMA_2D, LR_2D, STEPS_2D, WARMUP_2D, WIDTH_2D

EXIT_USAGE = 2
#: image defaults: recognizable digits after ~150 steps; 1000 steps take ~3 min on 2 CPU cores
STEPS_IMG = 1000
LR_IMG = 2e-3
#: torch threads of 2D training: a small MLP gains little from more, and on a busy machine extra
#: threads only fight the other processes for the cores
THREADS_2D = 1


class CliError(Exception):
    """An error to show as one line."""


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowscope",
        description="See and train flow-matching and diffusion models (t=0 noise, t=1 data).",
    )
    p.add_argument("--version", action="version", version=f"flowscope {__version__}")
    sub = p.add_subparsers(dest="command")

    g = sub.add_parser("gui", help="open the desktop explorer (the default)")
    g.add_argument("--demo", metavar="PRESET", help="start on this preset")
    g.add_argument(
        "--images",
        metavar="DATA",
        nargs="?",
        const="digits",
        help="open image mode on DATA (default digits; a folder, FILE.npz or an IDX file)",
    )
    g.add_argument("--train-steps", type=int, default=0, help="train this many steps first")
    g.add_argument("--t", type=float, default=None, help="show this time t in [0, 1]")
    g.add_argument("--screenshot", metavar="PNG", help="save a screenshot and exit")
    g.add_argument(
        "--heatmap",
        choices=("exact", "histogram", "guided", "error", "error_unweighted", "continuity",
                 "model_logp", "exact_logp"),
        default=None,
        help="show this heatmap (diagnostic ones need --train-steps)",
    )  # fmt: skip
    g.add_argument("--panel", choices=("curves", "diagnostics"), default=None,
                   help="show this tab beside the controls")  # fmt: skip

    o = sub.add_parser("open", help="open the desktop window on a trained model (ONNX or folder)")
    o.add_argument("model", help="an .onnx file, a model folder or its model.json")
    o.add_argument("--t", type=float, default=None, help="show this time t in [0, 1]")
    o.add_argument("--screenshot", metavar="PNG", help="save a screenshot and exit")

    t = sub.add_parser("train", help="train a model on a preset, a data file or image dataset")
    t.add_argument(
        "--data",
        required=True,
        help="2D: preset name, image or point file (csv/npy); images (a U-Net): digits, a folder "
        "(one subfolder per class), FILE.npz or FILE-idx3-ubyte[.gz]",
    )
    t.add_argument(
        "--steps", type=int, default=None, help=f"default {STEPS_2D} (images {STEPS_IMG})"
    )
    t.add_argument("--out", required=True, help="model directory to write")
    t.add_argument("--objective", choices=("velocity", "score", "noise"), default="velocity")
    t.add_argument(
        "--score-weighting",
        choices=("beta2", "none"),
        default="beta2",
        help="score objective's loss weight lambda(t): beta2 = E||beta_t s + eps||^2 (default, "
        "as in denoising score matching), none = E||s + eps/beta_t||^2",
    )
    t.add_argument("--schedule", default="condot", help="condot, cosine, vp, sqrt or polyN")
    t.add_argument("--width", type=int, default=WIDTH_2D, help="MLP width (2D)")
    t.add_argument("--depth", type=int, default=DEPTH_2D, help="MLP hidden layers (2D)")
    t.add_argument("--channels", type=int, default=None,
                   help="U-Net base channels (images; default: sized by the image size)")
    t.add_argument("--checkpoint-every", type=int, default=0, metavar="N",
                   help="write OUT/checkpoints/step-N/ every N steps (model + training state)")
    t.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in OUT/checkpoints (same settings)")
    t.add_argument("--amp", choices=("auto", "bf16", "fp16", "off"), default="auto",
                   help="mixed precision on CUDA (auto: float32, measured fastest for these "
                        "models; CPU: float32)")
    comp = t.add_mutually_exclusive_group()
    comp.add_argument("--compile", dest="compile", action="store_true", default=None,
                      help="torch.compile the network (default: off; no faster here, and it "
                           "compiles for seconds to minutes before the first step)")
    comp.add_argument("--no-compile", dest="compile", action="store_false")
    t.add_argument("--size", type=int, default=None, help="resize images to SIZE x SIZE")
    color = t.add_mutually_exclusive_group()
    color.add_argument("--grayscale", dest="grayscale", action="store_true", default=None)
    color.add_argument("--rgb", dest="grayscale", action="store_false")
    t.add_argument("--batch", type=int, default=None, help=f"default {BATCH_2D} (images 128)")
    t.add_argument("--lr", type=float, default=None, help=f"default {LR_2D:g} (images {LR_IMG:g})")
    t.add_argument(
        "--warmup",
        type=int,
        default=WARMUP_2D,
        metavar="STEPS",
        help="2D: linear lr warm-up steps before the cosine decay (default %(default)s)",
    )
    t.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"torch CPU threads (2D default {THREADS_2D}; images: torch's default)",
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    t.add_argument(
        "--ema",
        type=float,
        default=None,
        metavar="DECAY",
        help=f"e.g. 0.999; 0 = off (default {EMA_2D}, images 0.999)",
    )
    t.add_argument("--label-dropout", type=float, default=0.1, help="CFG null-label rate eta")
    t.add_argument("--unconditional", action="store_true", help="ignore the data's class labels")
    t.add_argument(
        "--coupling",
        choices=("independent", "ot"),
        default="independent",
        help="pairing of x_0 and x_1 in a batch: independent (default) or minibatch optimal "
        "transport (straighter paths; 2D, velocity objective)",
    )
    t.add_argument(
        "--source",
        metavar="PRESET|FILE",
        default=None,
        help="2D: draw x_0 from this data instead of N(0, I) (a data-to-data bridge; velocity "
        "objective, ODE sampling only)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("sample", help="draw samples from a trained model")
    s.add_argument("--model", required=True, help="model directory (or FILE.onnx, 2D)")
    s.add_argument("--n", type=int, default=None, help="default 4000 (images 64; --grid: 1)")
    s.add_argument("--out", required=True, help="FILE.npy, FILE.csv or FILE.png")
    s.add_argument("--steps", type=int, default=50)
    s.add_argument("--solver", choices=("euler", "heun", "rk4"), default="heun")
    s.add_argument("--sigma", type=float, default=0.0, help="SDE diffusion sigma (0 = ODE)")
    s.add_argument("--sigma-schedule", choices=("constant", "linear", "sqrt"), default="constant")
    s.add_argument("--w", type=float, default=1.0, help="guidance scale (with --label)")
    s.add_argument("--label", default=None, help="class index or name (conditional models)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--grid",
        action="store_true",
        help="image models: a class x w grid (rows classes, columns w; --n samples per cell)",
    )
    s.add_argument("--grid-w", default="0,1,2,4", help="the w of the --grid columns")

    e = sub.add_parser(
        "export",
        help="export the velocity v(x, t[, y]) as .pt2 or ONNX, or the run as a Python script",
    )
    e.add_argument("--model", required=True, help="model directory")
    e.add_argument("--format", choices=("pt2", "onnx", "script"), default=None)
    e.add_argument("--out", required=True, help="FILE.pt2, FILE.onnx or (script) FILE.py")
    es = e.add_argument_group("sampling in the script (--format script; as in `sample`)")
    es.add_argument("--n", type=int, default=4000)
    es.add_argument("--steps", type=int, default=50)
    es.add_argument("--solver", choices=("euler", "heun", "rk4"), default="heun")
    es.add_argument("--sigma", type=float, default=0.0)
    es.add_argument("--sigma-schedule", choices=("constant", "linear", "sqrt"), default="constant")
    es.add_argument("--w", type=float, default=1.0)
    es.add_argument("--label", type=int, default=None, help="class index (conditional models)")
    es.add_argument("--seed", type=int, default=0)

    from .cli_diagnose import add_diagnose_parser
    from .cli_reflow import add_reflow_parser

    add_diagnose_parser(sub)
    add_reflow_parser(sub)
    return p


# ----------------------------------------------------------------------------- commands


def run_trainer(trainer, a, name: str) -> None:
    """Train with a progress bar on stderr; Ctrl+C stops and keeps the weights so far."""
    from tqdm import tqdm

    if trainer.device_message:
        print(f"flowscope: {trainer.device_message}", file=sys.stderr)
    bar = tqdm(
        total=trainer.config.steps,
        desc=f"train {name}",
        unit="step",
        disable=a.quiet,
        file=sys.stderr,
        dynamic_ncols=True,
    )

    def progress(tr) -> None:
        bar.update(tr.step_count - bar.n)
        if tr.history.losses:
            bar.set_postfix(loss=f"{tr.history.losses[-1]:.4f}", refresh=False)

    _checkpointing(trainer, a)
    try:
        trainer.run(callback=progress, callback_every=25)
    except KeyboardInterrupt:
        trainer.stop()
        print("\nflowscope: interrupted; saving the weights trained so far", file=sys.stderr)
    progress(trainer)
    bar.close()


def _checkpointing(trainer, a) -> None:
    """--resume: continue from OUT/checkpoints' newest; --checkpoint-every N: save there (rank 0
    of a distributed run)."""
    from .train.checkpoints import ResumeError, latest_checkpoint, resume_training

    every = int(getattr(a, "checkpoint_every", 0) or 0)
    if every < 0:
        raise CliError("--checkpoint-every must be >= 0")
    if getattr(a, "resume", False):
        ck = latest_checkpoint(a.out)
        if ck is None:
            print(f"flowscope: no checkpoint in {a.out}/checkpoints; starting at step 0",
                  file=sys.stderr)  # fmt: skip
        else:
            try:
                step = resume_training(trainer, ck)
            except ResumeError as e:
                raise CliError(str(e)) from None
            print(f"flowscope: resuming from {ck} (step {step})", file=sys.stderr)
    dist = trainer.distributed
    if every and (dist is None or dist.rank == 0):
        from .train.checkpoints import save_training_checkpoint

        extra = {"data": {"source": str(a.data)}}

        def save(tr) -> None:
            if tr.step_count % every == 0:
                save_training_checkpoint(tr, a.out, extra=extra)

        trainer.on_step = save


def _is_image_data(text: str) -> bool:
    from .core.data.presets import is_preset
    from .core.images import is_image_source

    return not is_preset(text) and is_image_source(text)


def _cmd_train(a) -> int:
    from .cli_io import check_finite, check_model_dir, check_ranges

    if a.steps is not None and a.steps < 1:
        raise CliError("--steps must be >= 1")
    if a.batch is not None and a.batch < 1:
        raise CliError("--batch must be >= 1")
    check_finite(lr=a.lr, ema=a.ema, label_dropout=a.label_dropout)
    check_ranges(a)
    check_model_dir(a.out)  # before minutes of training, not after
    if _is_image_data(a.data) and (a.source is not None or a.coupling != "independent"):
        raise CliError("--source and --coupling ot are for 2D data, not images")
    from .train.distributed import close, init_from_env

    a.distributed = init_from_env(a.device)  # under torchrun: DDP, rank 0 logs and saves
    if a.distributed is not None and not a.distributed.is_main:
        a.quiet = True
    try:
        if _is_image_data(a.data):
            from .cli_images import train_images

            return train_images(a)
        return _train_points(a)
    finally:
        close(a.distributed)


def finish_distributed(a, trainer, model) -> bool:
    """Under torchrun: record what every rank saw in the model's metadata (every rank must call
    this); True on the ranks that stop here (all but rank 0, which saves)."""
    ctx = getattr(a, "distributed", None)
    if ctx is None:
        return False
    from .train.distributed import gather_summary

    model.metadata["training"]["distributed"] = gather_summary(ctx, trainer)
    return not ctx.is_main


def _train_points(a) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: no spinning threads
    import torch

    from .core.data import load_target
    from .core.metrics import energy_distance, loss_floor_estimate
    from .core.models import ModelConfig
    from .core.support import describe_excess, support_report
    from .train.trainer import TrainConfig, Trainer

    a.steps = a.steps or STEPS_2D
    target = load_target(a.data)
    for note in getattr(target, "notes", ()):
        print(f"flowscope: {note}", file=sys.stderr)
    source = None if a.source is None else load_target(a.source)
    n_cls = 0 if a.unconditional else int(getattr(target, "num_classes", 0))
    mc = ModelConfig(
        dim=2, width=a.width, depth=a.depth, parameterization=a.objective, num_classes=n_cls
    )
    tc = TrainConfig(
        steps=a.steps,
        batch_size=a.batch or BATCH_2D,
        lr=a.lr or LR_2D,
        warmup_steps=a.warmup,
        schedule=a.schedule,
        seed=a.seed,
        device=a.device,
        ema_decay=EMA_2D if a.ema is None else (a.ema or None),
        label_dropout=a.label_dropout,
        num_threads=a.threads or THREADS_2D,
        score_weighting=a.score_weighting,
        coupling=a.coupling,
    )
    trainer = Trainer(
        target, mc, tc, distributed=getattr(a, "distributed", None),
        source=None if source is None else source.exact,
    )  # fmt: skip
    run_trainer(trainer, a, target.name)
    model = trainer.model()
    if finish_distributed(a, trainer, model):
        return 1 if trainer.error else 0
    exact = target.exact.affine(trainer.normalization.shift, trainer.normalization.scale)
    exact = exact.with_schedule(trainer.schedule)
    est = None
    if source is None and a.coupling == "independent":
        # L_min is that of the independent N(0, I) path; it does not apply to bridges or OT
        est = loss_floor_estimate(
            exact, a.objective, a.label_dropout if n_cls else None, n=50000, seed=a.seed,
            weighting=a.score_weighting,
        )  # fmt: skip
    floor = None if est is None else est.value
    final = trainer.summary()["final_loss"]
    with torch.no_grad():
        gen = model.sample(4000, seed=a.seed + 1)
    ref = target.sample(4000, seed=a.seed + 2)
    ref = ref.points if hasattr(ref, "points") else ref
    ed = energy_distance(gen, ref)
    sup = support_report(gen, target.exact)
    model.metadata["training"].update(
        {
            "loss_floor": floor,
            "loss_floor_stderr": None if est is None else est.stderr,
            "excess_loss": None if final is None or floor is None else final - floor,
            "energy_distance": ed,
            "support_share": sup.support,
            "precision_log_p": sup.precision,
        }
    )
    model.metadata["data"] = {
        "source": str(a.data),
        "name": target.name,
        "bounds": list(target.bounds),
    }
    if source is not None:
        model.metadata["source_data"] = {"source": str(a.source), "name": source.name}
    from .cli_io import save_model

    out = save_model(model, a.out)
    if trainer.error:
        print(f"flowscope: {trainer.error}", file=sys.stderr)
    print(f"saved {out}  ({trainer.step_count} steps on {trainer.device})")
    if final is not None and (floor is None or est is None):
        print(f"final loss {final:.4f}   (coupling {a.coupling}; no closed-form loss floor)")
    elif final is not None:
        print(
            f"final loss {final:.4f}   loss floor L_min {floor:.4f} ± {2 * est.stderr:.4f}   "
            f"{describe_excess(final, floor, est.stderr)}"
        )
    print(f"energy distance to the target {ed:.4f}")
    at = "" if sup.t == 1.0 else f" (measured at t = {sup.t:g}: the target has point masses)"
    print(
        f"support: {100 * sup.support:.1f}% of samples where p_data >= 1% of its maximum; "
        f"precision: mean log p_data {sup.precision:.3f}{at}"
    )
    return 1 if trainer.error else 0


def _parse_label(model, label):
    if label is None:
        return None
    if not model.config.conditional:
        raise CliError("--label given but this model was trained without classes")
    names = model.class_names or []
    if label in names:
        return names.index(label)
    try:
        y = int(label)
    except ValueError:
        raise CliError(f"unknown class {label!r}; classes are {names}") from None
    if not 0 <= y < model.config.num_classes:
        raise CliError(f"class index {y} out of range 0..{model.config.num_classes - 1}")
    return y


def _cmd_sample(a) -> int:
    import numpy as np

    from .core.flow_model import load
    from .core.render import save_density_png

    out = Path(a.out)
    if out.suffix.lower() not in (".npy", ".csv", ".png"):
        raise CliError("--out must end in .npy, .csv or .png")
    if a.n is not None and a.n < 1:
        raise CliError("--n must be >= 1")
    from .cli_io import (
        check_finite,
        check_out_file,
        check_sample_count,
        check_samples_finite,
        write_output,
    )
    from .core.safeio import save_npy

    check_finite(w=a.w, sigma=a.sigma)
    check_out_file(out)
    if str(a.model).lower().endswith(".onnx"):
        from .cli_onnx import sample_onnx

        return sample_onnx(a, out, CliError)
    model = load(a.model)
    check_sample_count(a.n, model.kind)
    y = _parse_label(model, a.label)
    if model.kind == "image":
        from .cli_images import sample_images

        return sample_images(a, model, y, out)
    if a.grid:
        raise CliError("--grid is for image models; this model samples 2D points")
    a.n = a.n or 4000
    pts = model.sample(
        a.n,
        steps=a.steps,
        solver=a.solver,
        sigma=a.sigma,
        w=a.w,
        y=y,
        seed=a.seed,
        sigma_schedule=a.sigma_schedule,
    ).numpy()
    check_samples_finite(pts)
    if out.suffix.lower() == ".npy":
        write_output(out, lambda tmp: save_npy(tmp, pts))
    elif out.suffix.lower() == ".csv":
        fmt = dict(delimiter=",", header="x,y", comments="", fmt="%.6f")
        write_output(out, lambda tmp: np.savetxt(tmp, pts, **fmt))
    else:
        bounds = (model.metadata.get("data") or {}).get("bounds")
        write_output(out, lambda tmp: save_density_png(pts, tmp, tuple(bounds) if bounds else None))
    print(f"wrote {a.n} samples to {out}")
    return 0


def _cmd_export(a) -> int:
    if a.format == "script" or (a.format is None and a.out.lower().endswith(".py")):
        from .cli_script import export_script

        return export_script(a, CliError)
    from .core.export import export_velocity
    from .core.flow_model import load

    model = load(a.model)
    out = export_velocity(model, a.out, a.format)
    print(f"exported v(x, t{', y' if model.config.conditional else ''}) to {out}")
    return 0


def _cmd_diagnose(a) -> int:
    from .cli_diagnose import cmd_diagnose

    return cmd_diagnose(a)


def _cmd_reflow(a) -> int:
    from .cli_reflow import cmd_reflow

    return cmd_reflow(a)


def _cmd_open(a) -> int:
    try:
        from .app import leave_process
        from .app_open import run_open
    except ImportError as e:
        raise CliError(
            f"the desktop app needs the GUI packages ({e.name or e}); "
            "install them with: pip install 'flowscope[gui]'"
        ) from None
    leave_process(run_open(a))


def _cmd_gui(a) -> int:
    try:
        from .app import leave_process, run_app
    except ImportError as e:
        raise CliError(
            f"the desktop app needs the GUI packages ({e.name or e}); "
            "install them with: pip install 'flowscope[gui]'"
        ) from None
    leave_process(run_app(a))


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ("gui", "open", "train", "sample", "export", "diagnose", "reflow")
    commands += ("-h", "--help", "--version")
    if not argv or argv[0] not in commands:
        argv = ["gui", *argv]  # `flowscope` and `flowscope --demo ...` open the GUI
    args = parser.parse_args(argv)
    handlers = {"train": _cmd_train, "sample": _cmd_sample, "export": _cmd_export, "gui": _cmd_gui}
    handlers["diagnose"] = _cmd_diagnose
    handlers["reflow"] = _cmd_reflow
    handlers["open"] = _cmd_open
    try:
        return handlers[args.command](args)
    except (CliError, ValueError, OSError) as e:
        msg = str(e) or type(e).__name__
        if isinstance(e, FileNotFoundError) and e.filename:
            msg = f"file not found: {e.filename}"
        print(f"flowscope: error: {msg}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
