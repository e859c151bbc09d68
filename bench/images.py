"""Image mode on the CPU: U-Net training speed on digits and wall time to recognizable digits.

"Recognizable", defined so that a program can check it: a small MLP classifier (scikit-learn's
MLPClassifier, 128 hidden units, fit here on 1500 real digits; its accuracy on the 297 held-out
real digits is reported as ``classifier_real_accuracy``) labels at least 80% of class-conditional
samples as the class they were drawn for. Samples: 20 per class (200), w = 1, Heun with 20 steps,
the EMA weights the CLI saves. The clock counts only training steps (evaluation pauses it).

Settings are the CLI image defaults: U-Net with 32 base channels, batch 128, lr 2e-3 with cosine
decay over --steps (1000), EMA 0.999 (warmed up), CondOT flow matching, label dropout 0.1.
The machine's load average is recorded: other processes on these 2 cores slow every figure.

    .venv/bin/python bench/images.py [--quick] [--save] [--grid PNG]
    .venv/bin/python bench/images.py --speed-only [--save]   # steps/s per image shape only

``speed_by_shape``: training steps/s (batch 128, EMA on, float32 on the CPU) of the U-Net the CLI
sizes for each shape (core.images.unet.unet_size): 8x8 digits (the real data), 28x28
MNIST-shaped and 32x32x3 CIFAR-shaped synthetic images (uniform noise: the speed does not
depend on the pixels), with the parameter count and the median of timed blocks.
"""

from __future__ import annotations

import datetime as _dt
import os
import time

import numpy as np
import torch
from _common import RESULTS, emit, log, parser, rnd, setup

from flowscope.core.images import ImageDataset, load_image_dataset
from flowscope.core.models import ModelConfig
from flowscope.core.render import save_image_grid
from flowscope.train.trainer import TrainConfig, Trainer

THRESHOLDS = (0.8, 0.9)


def blas_one_thread():
    """OpenBLAS with 2 threads on a busy 2-core machine fits the classifier 30x slower (spinning
    threads); one thread takes ~2 s."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def fit_classifier(seed: int):
    """(classifier on pixel values 0..16, its accuracy on held-out real digits)."""
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    d = load_digits()
    clf = MLPClassifier((128,), max_iter=1000, random_state=seed)
    with blas_one_thread():
        clf.fit(d.data[:1500] / 16.0, d.target[:1500])
        return clf, float(clf.score(d.data[1500:] / 16.0, d.target[1500:]))


def accuracy(trainer: Trainer, clf, per_class: int, seed: int) -> float:
    """Fraction of w = 1 class-conditional samples the classifier assigns to their class."""
    y = torch.arange(10).repeat_interleave(per_class)
    x = trainer.model().sample(len(y), steps=20, solver="heun", y=y, w=1.0, seed=seed)
    with blas_one_thread():
        pred = clf.predict(x.reshape(len(y), -1).numpy() / 16.0)
    return float((pred == y.numpy()).mean())


def shape_speed(shape: tuple[int, int, int], steps: int) -> float:
    """Steps/s of the default U-Net (batch 128) on random images of ``shape`` (e.g. MNIST's)."""
    ds = ImageDataset(torch.rand(512, *shape) * 2 - 1, torch.arange(512) % 10, value_range=(0, 1))
    mc = ModelConfig(arch="unet", image_shape=shape, channels=32, num_classes=10)
    tr = Trainer(ds, mc, TrainConfig(steps=None, batch_size=128, device="cpu", ema_decay=0.999))
    tr.step(1)  # warm-up
    t0 = time.perf_counter()
    tr.step(steps)
    return steps / (time.perf_counter() - t0)


SHAPES = {"digits_8x8": (1, 8, 8), "mnist_28x28": (1, 28, 28), "cifar_32x32x3": (3, 32, 32)}


def sized_speed(name: str, shape: tuple[int, int, int], steps: int, blocks: int) -> dict:
    """Steps/s of the data-sized U-Net on ``shape`` (the median over ``blocks`` timed blocks of
    ``steps`` steps, after one warm-up step)."""
    from flowscope.core.images.unet import unet_size

    if name == "digits_8x8":
        ds = load_image_dataset("digits")
    else:
        g = torch.Generator().manual_seed(0)
        ds = ImageDataset(torch.rand(1024, *shape, generator=g) * 2 - 1, torch.arange(1024) % 10,
                          value_range=(0, 1))  # fmt: skip
    size = unet_size(shape)
    mc = ModelConfig(arch="unet", image_shape=shape, num_classes=10, **size)
    tr = Trainer(ds, mc, TrainConfig(steps=None, batch_size=128, device="cpu", ema_decay=0.999))
    tr.step(1)
    rates = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        tr.step(steps)
        rates.append(steps / (time.perf_counter() - t0))
    rate = float(np.median(rates))
    log(f"{name}: {rate:.2f} steps/s ({size})")
    return {
        "shape": list(shape), **size, "batch": 128,
        "parameters": sum(q.numel() for q in tr.net.parameters()),
        "steps_per_s": rnd(rate), "images_per_s": rnd(128 * rate),
        "blocks": [rnd(r) for r in rates],
    }  # fmt: skip


def speed_by_shape(quick: bool) -> dict:
    steps = {"digits_8x8": 20, "mnist_28x28": 4, "cifar_32x32x3": 2}
    return {name: sized_speed(name, shape, 2 if quick else steps[name], 1 if quick else 3)
            for name, shape in SHAPES.items()}  # fmt: skip


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000, help="training steps (the CLI default)")
    p.add_argument("--every", type=int, default=25, help="evaluate every N steps")
    p.add_argument("--per-class", type=int, default=20, help="samples per class per evaluation")
    p.add_argument("--grid", default=None, help="write a 10 x 10 sample grid PNG here")
    p.add_argument("--speed-only", action="store_true", help="only steps/s per image shape")
    args = p.parse_args()
    if args.speed_only:
        setup(args)
        load0 = os.getloadavg()
        result = {
            "definition": "training steps/s of the data-sized U-Net (unet_size), batch 128, "
            "EMA 0.999, float32 on the CPU; median of 3 timed blocks after a warm-up step",
            "speed_by_shape": speed_by_shape(args.quick),
            "load_average_before_after": [rnd(load0[0], 3), rnd(os.getloadavg()[0], 3)],
        }
        emit("images_speed", result, args)
        return
    if args.quick:
        args.steps, args.every, args.per_class = 150, 50, 10
    setup(args)
    load0 = os.getloadavg()
    clf, real_acc = fit_classifier(args.seed)
    log(f"classifier accuracy on held-out real digits: {real_acc:.3f}")
    ds = load_image_dataset("digits")
    mc = ModelConfig(arch="unet", image_shape=ds.shape, channels=32, num_classes=ds.num_classes)
    tc = TrainConfig(
        steps=args.steps, batch_size=128, lr=2e-3, ema_decay=0.999, seed=args.seed, device="cpu"
    )
    trainer = Trainer(ds, mc, tc)
    n_params = sum(q.numel() for q in trainer.net.parameters())
    curve, first, train_s, eval_s = [], {}, 0.0, 0.0
    while not trainer.done:
        # dense evaluations until the higher threshold is met, then every 10 x --every
        every = args.every if len(first) < len(THRESHOLDS) else 10 * args.every
        t0 = time.perf_counter()
        trainer.step(min(every, args.steps - trainer.step_count))
        train_s += time.perf_counter() - t0
        t1 = time.perf_counter()
        acc = accuracy(trainer, clf, args.per_class, args.seed + 1)
        eval_s += time.perf_counter() - t1
        loss = float(np.mean(trainer.history.losses[-every:]))
        curve.append({"step": trainer.step_count, "train_s": rnd(train_s), "accuracy": acc})
        log(f"step {trainer.step_count:5d}  train {train_s:6.1f} s  loss {loss:.3f}  acc {acc:.3f}")
        for th in THRESHOLDS:
            if th not in first and acc >= th:
                first[th] = {"step": trainer.step_count, "train_s": rnd(train_s)}
    model = trainer.model()
    t0 = time.perf_counter()
    y = torch.arange(10).repeat_interleave(10)
    x = model.sample(len(y), steps=20, solver="heun", y=y, w=1.0, seed=args.seed + 2)
    sample_s = time.perf_counter() - t0
    grid = args.grid
    if grid is None and args.save and not args.quick:
        grid = RESULTS / f"images-cpu-{_dt.date.today():%Y%m%d}.png"
    if grid:
        save_image_grid(x, grid, nrow=10, value_range=model.value_range, scale=4)
        log(f"wrote the sample grid (rows: classes 0-9) to {grid}")
    mnist_speed = shape_speed((1, 28, 28), 2 if args.quick else 15)
    result = {
        "definition": "recognizable = an MLPClassifier fit on 1500 real digits labels >= 80% of "
        "w=1 class-conditional samples (20 per class, Heun 20 steps, EMA weights) correctly",
        "config": {"channels": 32, "batch": 128, "lr": 2e-3, "ema": 0.999, "steps": args.steps},
        "parameters": n_params,
        "steps_per_s": rnd(trainer.step_count / train_s),
        "train_seconds": rnd(train_s),
        "eval_seconds": rnd(eval_s),
        "classifier_real_accuracy": rnd(real_acc),
        "time_to_recognizable_s": first.get(0.8, {}).get("train_s"),
        "steps_to_recognizable": first.get(0.8, {}).get("step"),
        "time_to_90pct_s": first.get(0.9, {}).get("train_s"),
        "steps_to_90pct": first.get(0.9, {}).get("step"),
        "final_accuracy": curve[-1]["accuracy"] if curve else None,
        "final_loss": rnd(float(np.mean(trainer.history.losses[-100:]))),
        "sample_images_per_s_heun20": rnd(len(y) / sample_s),
        "mnist_shape_steps_per_s": rnd(mnist_speed),
        "speed_by_shape": speed_by_shape(args.quick),
        "load_average_before_after": [rnd(load0[0], 3), rnd(os.getloadavg()[0], 3)],
        "curve": curve,
    }
    emit("images", result, args)


if __name__ == "__main__":
    main()
