"""The CUDA path against the CPU, in one run: speed and correctness of what runs on a GPU.

flowscope trains on CUDA when there is one (TrainConfig(device="auto")); CI has no GPU, so this
benchmark is where the GPU path is measured. Every section runs the same code on both devices
(the CPU of the same machine with torch's default threads) and reports ratios, and each checks
that what the GPU computed is right, not only fast:

- ``two_d``: the default MLP on checkerboard (the GUI's 2D recipe, batch 512 and 4096): steps/s on
  each device; then the same seed trained for ``--steps-2d`` steps on each, and the energy distance
  of 2000 model samples (ODE Heun 50 steps) to 2000 exact target samples, beside the ED of fresh
  target samples (the floor). A GPU model must reach the CPU model's quality.
- ``unet``: the data-sized U-Net (unet_size) at batch 128 on 8x8, 28x28 and 32x32x3 images:
  steps/s in float32 (the default), bf16 autocast, and bf16 + torch.compile (both opt-in:
  measured slower, see trainer.amp_dtype); the CPU in float32. Median of timed blocks after
  warm-up (compile's warm-up is reported).
- ``digits``: the default image recipe (float32 on CUDA too, EMA 0.999) trained on the bundled
  digits; an MLP classifier fit on real digits must label >= 80% of the class-conditional samples
  (w = 1, Heun 20 steps) as the class they were drawn for (bench/images.py's test).
- ``sampling``: particles per second of the 2D ODE (Heun 50 steps, 100k particles) and images per
  second of the U-Net sampler (Heun 20 steps, 1000 images), per device.

    python bench/gpu.py [--quick] [--save]      # on a machine with CUDA; --quick also runs on a CPU
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, log, parser, rnd  # noqa: E402

from flowscope.core.data import load_target  # noqa: E402
from flowscope.core.images import ImageDataset, load_image_dataset  # noqa: E402
from flowscope.core.images.unet import unet_size  # noqa: E402
from flowscope.core.metrics import energy_distance  # noqa: E402
from flowscope.core.models import ModelConfig  # noqa: E402
from flowscope.train.trainer import TrainConfig, Trainer  # noqa: E402


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def rate(trainer: Trainer, device: str, steps: int, blocks: int) -> tuple[float, list[float]]:
    """Median steps/s over ``blocks`` timed blocks of ``steps`` steps (the caller warmed up)."""
    rates = []
    for _ in range(blocks):
        sync(device)
        t0 = time.perf_counter()
        trainer.step(steps)
        sync(device)
        rates.append(steps / (time.perf_counter() - t0))
    return statistics.median(rates), [rnd(r) for r in rates]


def two_d(devices: list[str], quick: bool, steps_2d: int) -> dict:
    target = load_target("checkerboard")
    out: dict = {"target": "checkerboard", "model": "default MLP (ModelConfig())"}
    for batch in (512, 4096):
        for dev in devices:
            tr = Trainer(target, ModelConfig(), TrainConfig(steps=None, batch_size=batch,
                                                            device=dev, seed=0))  # fmt: skip
            tr.step(20)
            r, blocks = rate(tr, dev, 50 if quick else 300, 3)
            out[f"steps_per_s_{dev}_batch{batch}"] = rnd(r)
            log(f"2D batch {batch} on {dev}: {r:.0f} steps/s")
        if "cuda" in devices:
            out[f"cuda_over_cpu_batch{batch}"] = rnd(
                out[f"steps_per_s_cuda_batch{batch}"] / out[f"steps_per_s_cpu_batch{batch}"]
            )
    ref = target.exact.sample(2000, seed=5678)
    out["ed_floor_fresh_target_samples"] = rnd(
        energy_distance(target.exact.sample(2000, seed=1234), ref, max_points=None, seed=0)
    )
    for dev in devices:
        tr = Trainer(target, ModelConfig(), TrainConfig(steps=steps_2d, device=dev, seed=0))
        sync(dev)
        t0 = time.perf_counter()
        tr.run()
        sync(dev)
        wall = time.perf_counter() - t0
        x = tr.model().sample(2000, steps=50, solver="heun", seed=1234).cpu()
        ed = energy_distance(x, ref, max_points=None, seed=0)
        out[f"trained_{steps_2d}_steps_{dev}"] = {
            "wall_s": rnd(wall), "ed": rnd(ed), "final_loss": tr.summary()["final_loss"],
            "device_used": str(tr.device),
        }  # fmt: skip
        log(f"2D {steps_2d} steps on {dev}: {wall:.1f} s, ED {ed:.5f}")
    return out


SHAPES = {"digits_8x8": (1, 8, 8), "mnist_28x28": (1, 28, 28), "cifar_32x32x3": (3, 32, 32)}
MODES = {"fp32": ("off", False), "bf16": ("bf16", False), "bf16_compile": ("bf16", True)}


def unet(devices: list[str], quick: bool) -> dict:
    out: dict = {"batch": 128}
    g = torch.Generator().manual_seed(0)
    for name, shape in SHAPES.items():
        ds = ImageDataset(torch.rand(1024, *shape, generator=g) * 2 - 1, torch.arange(1024) % 10,
                          value_range=(0, 1))  # fmt: skip
        size = unet_size(shape)
        mc = ModelConfig(arch="unet", image_shape=shape, num_classes=10, **size)
        row: dict = {"shape": list(shape), **size}
        for dev in devices:
            modes = MODES if dev == "cuda" else {"fp32": ("off", False)}
            for mode, (amp, comp) in modes.items():
                tc = TrainConfig(steps=None, batch_size=128, device=dev, ema_decay=0.999,
                                 amp=amp, compile=comp, lr=2e-3)  # fmt: skip
                tr = Trainer(ds, mc, tc)
                sync(dev)
                t0 = time.perf_counter()
                tr.step(3)  # warm-up (compile traces here)
                sync(dev)
                warm = time.perf_counter() - t0
                if dev == "cpu":
                    steps, blocks = (2, 1) if quick or shape != (1, 8, 8) else (10, 3)
                else:
                    steps, blocks = (5, 1) if quick else (100, 3)
                r, blk = rate(tr, dev, steps, blocks)
                row[f"{dev}_{mode}"] = {"steps_per_s": rnd(r), "images_per_s": rnd(128 * r),
                                        "warmup_s": rnd(warm), "blocks": blk}  # fmt: skip
                row.setdefault("parameters", sum(p.numel() for p in tr.net.parameters()))
                log(f"U-Net {name} {dev} {mode}: {r:.1f} steps/s (warm-up {warm:.1f} s)")
        if "cuda" in devices:
            cpu = row["cpu_fp32"]["steps_per_s"]
            row["cuda_default_over_cpu"] = rnd(row["cuda_fp32"]["steps_per_s"] / cpu)
            row["cuda_fp32_over_cpu"] = rnd(row["cuda_fp32"]["steps_per_s"] / cpu)
        out[name] = row
    return out


def digits(device: str, quick: bool) -> dict:
    from images import accuracy, fit_classifier  # bench/images.py: the same test

    clf, real_acc = fit_classifier(0)
    ds = load_image_dataset("digits")
    mc = ModelConfig(arch="unet", image_shape=ds.shape, num_classes=ds.num_classes,
                     **unet_size(ds.shape))  # fmt: skip
    steps = 100 if quick else 1000
    tc = TrainConfig(steps=steps, batch_size=128, lr=2e-3, ema_decay=0.999, device=device, seed=0)
    tr = Trainer(ds, mc, tc)
    curve, wall = [], 0.0
    while not tr.done:
        sync(device)
        t0 = time.perf_counter()
        tr.step(min(100 if quick else 250, steps - tr.step_count))
        sync(device)
        wall += time.perf_counter() - t0
        acc = accuracy_on(tr, clf, device, accuracy)
        curve.append({"step": tr.step_count, "train_s": rnd(wall), "accuracy": rnd(acc)})
        log(f"digits on {device}: step {tr.step_count} {wall:.1f} s accuracy {acc:.3f}")
    return {
        "device": device, "amp_dtype": str(tr.amp_dtype), "compiled": bool(tr.compiled),
        "classifier_real_accuracy": rnd(real_acc), "steps": steps,
        "final_accuracy": curve[-1]["accuracy"], "recognizable": curve[-1]["accuracy"] >= 0.8,
        "curve": curve,
    }  # fmt: skip


def accuracy_on(tr: Trainer, clf, device: str, accuracy) -> float:
    """bench/images.py's accuracy, with the samples brought to the CPU for the classifier."""
    model = tr.model()
    sample = model.sample

    def cpu_sample(*a, **k):
        return sample(*a, **k).float().cpu()

    model.sample = cpu_sample  # type: ignore[method-assign]

    class _T:  # accuracy() calls trainer.model()
        def model(self):
            return model

    return accuracy(_T(), clf, 20, 1)


def sampling(devices: list[str], quick: bool) -> dict:
    out: dict = {}
    target = load_target("checkerboard")
    n2d = 10_000 if quick else 100_000
    ds = load_image_dataset("digits")
    mc = ModelConfig(arch="unet", image_shape=ds.shape, num_classes=10, **unet_size(ds.shape))
    nimg = 100 if quick else 1000
    for dev in devices:
        model = Trainer(target, ModelConfig(), TrainConfig(steps=1, device=dev)).model()
        model.sample(1000, steps=50, solver="heun", seed=0)
        sync(dev)
        t0 = time.perf_counter()
        model.sample(n2d, steps=50, solver="heun", seed=0)
        sync(dev)
        out[f"particles_per_s_2d_heun50_{dev}"] = rnd(n2d / (time.perf_counter() - t0))
        imodel = Trainer(ds, mc, TrainConfig(steps=1, batch_size=16, device=dev)).model()
        y = torch.arange(10).repeat_interleave(nimg // 10)
        imodel.sample(10, steps=2, solver="heun", y=y[:10], w=1.0, seed=0)
        sync(dev)
        t0 = time.perf_counter()
        imodel.sample(len(y), steps=20, solver="heun", y=y, w=1.0, seed=0)
        sync(dev)
        out[f"images_per_s_unet_heun20_{dev}"] = rnd(nimg / (time.perf_counter() - t0))
        log(f"sampling on {dev}: {out}")
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps-2d", type=int, default=None, help="2D quality run (default 6000)")
    p.add_argument("--only", default=None, help="sections, e.g. two_d,unet,digits,sampling")
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not args.quick:
        log("no CUDA device: run with --quick for a CPU smoke test")
        raise SystemExit(2)
    devices = ["cpu", "cuda"] if cuda else ["cpu"]
    steps_2d = args.steps_2d or (300 if args.quick else 6000)
    only = set(args.only.split(",")) if args.only else {"two_d", "unet", "digits", "sampling"}
    info = {"cuda": cuda, "cpu_threads": torch.get_num_threads()}
    if cuda:
        info.update(gpu=torch.cuda.get_device_name(0),
                    capability=list(torch.cuda.get_device_capability(0)),
                    bf16=torch.cuda.is_bf16_supported(),
                    cuda_version=torch.version.cuda)  # fmt: skip
    result: dict = {"gpu_info": info}
    t0 = time.perf_counter()
    for name, fn in (("two_d", lambda: two_d(devices, args.quick, steps_2d)),
                     ("unet", lambda: unet(devices, args.quick)),
                     ("digits", lambda: digits(devices[-1], args.quick)),
                     ("sampling", lambda: sampling(devices, args.quick))):  # fmt: skip
        if name in only:
            s = time.perf_counter()
            result[name] = fn()
            result[name]["section_wall_s"] = rnd(time.perf_counter() - s)
    result["wall_s"] = rnd(time.perf_counter() - t0)
    result["load_average"] = rnd(os.getloadavg()[0], 3)
    np.set_printoptions(precision=4)
    emit("gpu", result, args, device="cuda" if cuda else "cpu")


if __name__ == "__main__":
    main()
