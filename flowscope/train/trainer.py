"""The Trainer: step-wise flow / score / noise training on a mixture target or an image dataset.

Usable from a plain loop (``trainer.step()``), a thread (``trainer.run()`` with ``pause()``,
``resume()``, ``stop()`` from another thread) or the CLI. It publishes immutable snapshots (CPU
copies of the weights) at most ``snapshot_hz`` times a second, keeps the loss history (also binned
by t), and stops with a message on a NaN/Inf loss, putting back the last good weights.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..core.couplings import PairBank, check_coupling, ot_pair
from ..core.defaults import BATCH_2D, EMA_2D, LR_2D, STEPS_2D, WARMUP_2D
from ..core.device import pick_device
from ..core.exact import ExactMarginal
from ..core.flow_model import FlowModel, Normalization
from ..core.images.dataset import ImageDataset
from ..core.losses import (
    check_weighting,
    loss_formula,
    per_sample_loss,
    sample_training_times,
)
from ..core.models import ModelConfig, build_model
from ..core.paths import sample_path
from ..core.schedules import get_schedule
from .distributed import DistributedContext, shard_dataset
from .image_batches import ImageBatches, image_model_config

T_BINS = 10


AMP_MODES = ("auto", "bf16", "fp16", "off")


def amp_dtype(amp: str, device_type: str, bf16_ok: bool) -> torch.dtype | None:
    """The autocast dtype of a training step, or None for float32: mixed precision only on CUDA,
    and only when asked ('bf16'; 'fp16' with loss scaling). 'auto' is float32: on an H200
    (bench/gpu.py, bench/results/gpu-cuda-20261130.json) bf16 autocast trained the data-sized
    U-Nets at batch 128 at 0.75-0.87x their float32 speed (cuDNN's convolutions already use TF32):
    these models are too small for the casts to pay. 'bf16' falls back to fp16 where the GPU
    lacks bf16 (``bf16_ok``)."""
    if device_type != "cuda" or amp in ("off", "auto"):
        return None
    if amp == "fp16" or not bf16_ok:
        return torch.float16
    return torch.bfloat16


def use_compile(flag: bool | None) -> bool:
    """Whether to torch.compile the training forward: only when asked (``True``). On an H200 a
    compiled U-Net was no faster (0.84-0.98x of eager at batch 128) after 2-25 s of compiling
    before its first step, and the 32x32x3 one had not finished compiling after 90 s: a window
    that waits that long before training shows nothing. On a CPU it needs a C++ compiler too."""
    return bool(flag)


@dataclass(frozen=True)
class TrainConfig:
    """Optimization settings. ``steps=None`` trains until stopped (the GUI's live mode).

    lr_schedule: 'auto' (cosine decay to 0 over ``steps`` when steps is set, else constant),
    'constant' or 'cosine'; warmup_steps: the lr first rises linearly from lr / warmup_steps to lr
    over this many steps (0: no warm-up). The defaults are the 2D recipe of core/defaults.py.
    label_dropout: probability eta of replacing a label by the null label
    (CFG). ema_decay: None or e.g. 0.999 (snapshots and saved models then use the EMA weights);
    it is warmed up: step k uses min(ema_decay, (1 + k) / (10 + k)), so an early EMA is not stuck
    near the random initialization (with a constant 0.999 it would lag ~1000 steps).
    normalize: 'none', 'standardize' (mean and overall std of the data) or 'auto' (standardize only
    when the data is far from unit scale: max |x| > 10 or std < 0.1).
    """

    steps: int | None = STEPS_2D
    batch_size: int = BATCH_2D
    lr: float = LR_2D
    lr_schedule: str = "auto"
    warmup_steps: int = WARMUP_2D
    weight_decay: float = 0.0
    schedule: str = "condot"
    seed: int = 0
    device: str = "auto"
    label_dropout: float = 0.1
    ema_decay: float | None = EMA_2D
    snapshot_hz: float = 10.0
    normalize: str = "auto"
    num_threads: int | None = None
    #: the score objective's lambda(t): 'beta2' (E || beta_t s + eps ||^2) or 'none'
    score_weighting: str = "beta2"
    #: how a batch's x_0 is paired with its x_1: 'independent' or 'ot' (minibatch OT)
    coupling: str = "independent"
    #: mixed precision on CUDA: 'bf16', 'fp16' (with loss scaling) or 'off'; 'auto' is float32,
    #: measured fastest for these models (amp_dtype); the CPU always trains in float32
    amp: str = "auto"
    #: torch.compile the training forward: True; None or False = no (use_compile: measured)
    compile: bool | None = None

    def __post_init__(self):
        if self.steps is not None and int(self.steps) < 1:
            raise ValueError("steps must be >= 1 (or None to train until stopped)")
        if int(self.batch_size) < 1:
            raise ValueError("batch_size must be >= 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError("lr must be a positive number")
        if self.lr_schedule not in ("auto", "constant", "cosine"):
            raise ValueError("lr_schedule must be 'auto', 'constant' or 'cosine'")
        if int(self.warmup_steps) < 0:
            raise ValueError("warmup_steps must be >= 0")
        if not 0.0 <= self.label_dropout <= 1.0:
            raise ValueError("label_dropout must be in [0, 1]")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError("ema_decay must be in (0, 1) or None")
        if self.normalize not in ("none", "standardize", "auto"):
            raise ValueError("normalize must be 'none', 'standardize' or 'auto'")
        check_weighting(self.score_weighting)
        check_coupling(self.coupling)
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}")
        get_schedule(self.schedule)


@dataclass(frozen=True)
class Snapshot:
    """An immutable picture of training: CPU weights, step and loss. Safe to pass to any thread."""

    step: int
    loss: float
    state_dict: dict
    config: ModelConfig
    schedule: str
    normalization: Normalization
    target_version: int
    steps_per_sec: float
    wall_time: float
    class_names: list | None = None
    #: the source mixture x_0 is drawn from (data coordinates), None for N(0, I)
    source: ExactMarginal | None = None

    def to_model(self, device: str | torch.device = "cpu") -> FlowModel:
        meta = {"class_names": self.class_names, "training": {"steps": self.step}}
        model = FlowModel.from_state(
            self.state_dict, self.config, self.schedule, self.normalization, meta, device
        )
        model.source = self.source
        return model


@dataclass
class LossHistory:
    """steps, losses: one entry per step; bin_loss[b] / bin_count[b]: mean loss for t in bin b."""

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    bin_sum: list[float] = field(default_factory=lambda: [0.0] * T_BINS)
    bin_count: list[float] = field(default_factory=lambda: [0.0] * T_BINS)

    def by_t(self) -> list[float]:
        """Mean loss in each of T_BINS equal time bins over [0, 1] (nan where empty)."""
        return [s / c if c else math.nan for s, c in zip(self.bin_sum, self.bin_count)]

    def copy(self) -> LossHistory:
        return LossHistory(
            list(self.steps), list(self.losses), list(self.bin_sum), list(self.bin_count)
        )


class MixtureSampler:
    """Fast device-resident draws (z, labels) from an ExactMarginal: inverse-CDF component choice
    plus isotropic Gaussian width. labels is None for unlabelled targets."""

    def __init__(self, exact: ExactMarginal, device: torch.device, norm: Normalization):
        shift = torch.tensor(norm.shift, dtype=torch.float64)
        mu = (exact.means - shift) / norm.scale
        self.mu = mu.to(device, torch.float32)
        self.h = (exact.widths / norm.scale).to(device, torch.float32)[:, None]
        cdf = torch.cumsum(exact.weights, 0)
        self.cdf = (cdf / cdf[-1]).to(device, torch.float32)
        self.labels = None if exact.labels is None else exact.labels.to(device)
        self.has_width = bool((exact.widths > 0).any())
        self.device = device

    def __call__(self, n: int, generator: torch.Generator | None = None):
        u = torch.rand(n, device=self.device, generator=generator)
        idx = torch.searchsorted(self.cdf, u).clamp_max(self.mu.shape[0] - 1)
        z = self.mu[idx]
        if self.has_width:
            z = z + self.h[idx] * torch.randn(z.shape, device=self.device, generator=generator)
        return z, (None if self.labels is None else self.labels[idx])


def _ddp(net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    from torch.nn.parallel import DistributedDataParallel

    if device.type != "cuda":
        return DistributedDataParallel(net)
    index = device.index if device.index is not None else torch.cuda.current_device()
    return DistributedDataParallel(net, device_ids=[index])


def _target_exact(target) -> ExactMarginal:
    exact = getattr(target, "exact", target)
    if not isinstance(exact, ExactMarginal):
        raise TypeError(
            "target must be an ExactMarginal, have an .exact ExactMarginal, or be an ImageDataset"
        )
    return exact


# a target swap waiting for the training thread: (exact, dataset, class names)
_PendingTarget = tuple[ExactMarginal | None, ImageDataset | None, list[str] | None]


class Trainer:
    """Train a flow / score / noise network on a target (an ExactMarginal or a data Target) or on
    an :class:`~flowscope.core.images.ImageDataset` (then ``exact`` is None, ``dataset`` is set,
    the model defaults to a U-Net and the normalization maps [-1, 1] to the data's value range).

    >>> trainer = Trainer(load_target("two_moons"), ModelConfig(), TrainConfig(steps=2000))
    >>> trainer.run()                 # or: while not trainer.done: trainer.step()
    >>> model = trainer.model()       # a FlowModel with the current (or EMA) weights

    ``distributed`` (a train.distributed.DistributedContext, under torchrun): the images are
    sharded by rank, the random stream is seed + rank, and DistributedDataParallel averages the
    gradients; the logged loss is the mean over the ranks.
    """

    def __init__(
        self,
        target,
        model_config: ModelConfig | None = None,
        config: TrainConfig | None = None,
        on_snapshot: Callable[[Snapshot], None] | None = None,
        distributed: DistributedContext | None = None,
        source: ExactMarginal | None = None,
        pairs: PairBank | None = None,
    ):
        """``source``: draw x_0 from this mixture (data coordinates) instead of N(0, I) (a
        data-to-data bridge); ``pairs``: train on these fixed (x_0, x_1) pairs, data coordinates
        (reflow; the target then only sets the normalization and metadata)."""
        self.config = config or TrainConfig()
        self.distributed = distributed
        rank = distributed.rank if distributed is not None else 0
        if isinstance(target, ImageDataset) and distributed is not None:
            target = shard_dataset(target, rank, distributed.world_size)
        if isinstance(target, ImageDataset):
            exact, dataset = None, target
            mc = image_model_config(dataset, model_config)
        else:
            exact, dataset = _target_exact(target), None
            mc = model_config or ModelConfig(dim=exact.dim)
            if mc.dim != exact.dim or mc.is_image:
                raise ValueError(f"model dim {mc.dim} does not match the data dim {exact.dim}")
        self.model_config = mc
        self.schedule = get_schedule(self.config.schedule)
        self.device, self.device_message = pick_device(self.config.device)
        self.on_snapshot = on_snapshot
        self.class_names = getattr(target, "class_names", None) or None
        self.normalization = self._normalization(exact, dataset)
        torch.manual_seed(self.config.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(self.config.seed + rank)
        self.net = build_model(mc).to(self.device)
        #: what the training step calls: the net, or its DDP wrapper (gradients averaged)
        self._forward: Callable[..., torch.Tensor] = (
            self.net if distributed is None else _ddp(self.net, self.device)
        )
        self.amp_dtype = amp_dtype(self.config.amp, self.device.type,
                                   self.device.type == "cuda" and torch.cuda.is_bf16_supported())
        self._scaler = (torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16
                        else None)  # fmt: skip
        self.compiled = use_compile(self.config.compile)
        if self.compiled:
            self._forward = torch.compile(self._forward)
        #: called as on_step(trainer) after every step (checkpoints)
        self.on_step: Callable[[Trainer], None] | None = None
        #: sum of the first batch's data (tells ranks' shards apart in a distributed run)
        self.first_batch_sum: float | None = None
        self.optimizer = self._make_optimizer()
        self.ema = copy.deepcopy(self.net).requires_grad_(False) if self.config.ema_decay else None
        self.step_count = 0
        self.target_version = 0
        self._sampler = self._make_sampler(exact, dataset)
        self.exact: ExactMarginal | None = exact
        self.dataset: ImageDataset | None = dataset
        self._pending_target: _PendingTarget | None = None
        self.history = LossHistory()
        self.message = self.device_message
        self.error: str | None = None
        self.latest_snapshot: Snapshot | None = None
        self._last_good: dict | None = None
        self._resume = threading.Event()
        self._resume.set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last_pub = -math.inf
        self._rate_t0, self._rate_step, self.steps_per_sec = time.perf_counter(), 0, 0.0
        self._warned_labels = False
        #: called by run() before each step: a session sets it to yield to a user's request
        #: (priority.UserWork.yield_while_active)
        self.before_step: Callable[[], object] | None = None
        self._setup_coupling(source, pairs)

    # ------------------------------------------------------------------ setup
    def _normalization(
        self, exact: ExactMarginal | None, dataset: ImageDataset | None
    ) -> Normalization:
        if dataset is not None:
            return Normalization.from_value_range(*dataset.value_range)
        if exact is None:
            raise ValueError("a Trainer needs a target (ExactMarginal or Target) or image dataset")
        mode = self.config.normalize
        if mode == "none":
            return Normalization(tuple([0.0] * exact.dim))
        pts = exact.sample(20000, seed=0, dtype=torch.float64)
        if mode == "auto" and pts.abs().max() <= 10 and pts.std() >= 0.1:
            return Normalization(tuple([0.0] * exact.dim))
        return Normalization.standardize(pts)

    def _make_sampler(self, exact: ExactMarginal | None, dataset: ImageDataset | None):
        if dataset is not None:
            return ImageBatches(dataset, self.device)
        if exact is None:
            raise ValueError("a Trainer needs a target (ExactMarginal or Target) or image dataset")
        return MixtureSampler(exact, self.device, self.normalization)

    def _setup_coupling(self, source: ExactMarginal | None, pairs: PairBank | None) -> None:
        """The hook of how a batch (x_0, x_1) is drawn: source, coupling or fixed pairs."""
        plain = source is None and pairs is None and self.config.coupling == "independent"
        if not plain:
            if self.dataset is not None:
                raise ValueError("a source, OT coupling or reflow pairs need a 2D target")
            if self.model_config.parameterization != "velocity":
                raise ValueError(
                    "a source, OT coupling or reflow pairs train the velocity only: the score "
                    "and noise targets assume x_0 ~ N(0, I) independent of x_1"
                )
        if source is not None and source.dim != self.model_config.dim:
            raise ValueError(
                f"the source is {source.dim}-D; this model is {self.model_config.dim}-D"
            )
        self.source = source
        self._source_sampler = (
            None if source is None else MixtureSampler(source, self.device, self.normalization)
        )
        self._pairs = None if pairs is None else pairs.to(self.device, self.normalization)
        #: seconds spent in the coupling (OT assignment) and the number of coupled batches
        self.coupling_seconds, self.coupling_batches = 0.0, 0

    def _draw_batch(self, n: int):
        """(x_1, labels, x_0) of one batch in the network's coordinates; x_0 None = N(0, I)
        drawn by sample_path (unchanged default)."""
        if self._pairs is not None:
            x0, z, labels = self._pairs(n, self.generator)
            return z, labels, x0
        z, labels = self._sampler(n, self.generator)
        x0 = None if self._source_sampler is None else self._source_sampler(n, self.generator)[0]
        if self.config.coupling == "ot":
            if x0 is None:
                x0 = torch.randn(z.shape, device=z.device, dtype=z.dtype, generator=self.generator)
            t0 = time.perf_counter()
            x0 = ot_pair(x0, z)
            self.coupling_seconds += time.perf_counter() - t0
            self.coupling_batches += 1
        return z, labels, x0

    def _make_optimizer(self) -> torch.optim.Optimizer:
        kw: dict[str, Any] = {"lr": self.config.lr, "weight_decay": self.config.weight_decay}
        if self.device.type == "cuda":
            kw["fused"] = True
        return (
            torch.optim.AdamW(self.net.parameters(), **kw)
            if kw["weight_decay"]
            else torch.optim.Adam(self.net.parameters(), **kw)
        )

    def _lr_at(self, step: int) -> float:
        c = self.config
        warm = min(1.0, (step + 1) / c.warmup_steps) if c.warmup_steps else 1.0
        sched = c.lr_schedule
        if sched == "auto":
            sched = "cosine" if c.steps else "constant"
        if sched == "constant" or not c.steps:
            return c.lr * warm
        frac = min(step / c.steps, 1.0)
        return c.lr * warm * 0.5 * (1.0 + math.cos(math.pi * frac))

    # ------------------------------------------------------------------ control
    @property
    def done(self) -> bool:
        c = self.config
        return (
            self.error is not None
            or self._stop.is_set()
            or (c.steps is not None and self.step_count >= c.steps)
        )

    def pause(self) -> None:
        """Pause ``run()`` at the next step boundary (from any thread)."""
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def stop(self) -> None:
        """End ``run()`` at the next step boundary (also wakes a paused run)."""
        self._stop.set()
        self._resume.set()

    def set_target(self, target) -> None:
        """Swap the training data without restarting (thread-safe; applied at the next step).

        An image model takes an ImageDataset of the same image shape (its value range may
        differ: the new data is trained in [-1, 1] and the normalization keeps the first one's)."""
        mc = self.model_config
        pending: _PendingTarget
        if mc.is_image:
            if not isinstance(target, ImageDataset) or target.shape != mc.image_shape:
                got = getattr(target, "shape", "not an image dataset")
                raise ValueError(
                    f"this model trains on images of shape {mc.image_shape}; the new data is {got}"
                )
            pending = (None, target, target.class_names or None)
        else:
            exact = _target_exact(target)
            if exact.dim != mc.dim:
                raise ValueError(f"the new target is {exact.dim}-D; this model is {mc.dim}-D")
            pending = (exact, None, getattr(target, "class_names", self.class_names))
        with self._lock:
            self._pending_target = pending

    # ------------------------------------------------------------------ training
    def _apply_pending_target(self) -> None:
        with self._lock:
            pending, self._pending_target = self._pending_target, None
        if pending is not None:
            exact, dataset, names = pending
            self._sampler = self._make_sampler(exact, dataset)
            self.exact, self.dataset, self.class_names = exact, dataset, names
            self.target_version += 1

    def _labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        mc = self.model_config
        if not mc.conditional:
            return None
        null = mc.null_label
        if labels is None:
            return torch.full((n,), null, dtype=torch.long, device=self.device)
        if not self._warned_labels and int(labels.max()) >= null:
            self._warned_labels = True
            self.message = f"the target has classes beyond {null - 1}; those train as unlabelled"
        labels = torch.where(labels >= null, torch.full_like(labels, null), labels)
        p = self.config.label_dropout
        if p > 0:
            drop = torch.rand(n, device=self.device, generator=self.generator) < p
            labels = torch.where(drop, torch.full_like(labels, null), labels)
        return labels

    def _train_step(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c, mc = self.config, self.model_config
        n = c.batch_size
        z, labels, x0 = self._draw_batch(n)
        t = sample_training_times(
            n, self.schedule, mc.parameterization, self.device, generator=self.generator
        )
        path = sample_path(self.schedule, z, t, eps=x0, generator=self.generator)
        if self.first_batch_sum is None:
            self.first_batch_sum = float(z.double().sum())
        y = self._labels(labels, n)
        if self.amp_dtype is None:
            pred = self._forward(path.x_t, t, y)
        else:
            with torch.autocast(self.device.type, dtype=self.amp_dtype):
                pred = self._forward(path.x_t, t, y)
            pred = pred.float()  # the loss in float32
        per = per_sample_loss(pred, path, mc.parameterization, c.score_weighting)
        loss = per.mean()
        self.optimizer.zero_grad(set_to_none=True)
        if self._scaler is not None:  # fp16: scale the loss so small gradients do not vanish
            self._scaler.scale(loss).backward()
            self._scaler.step(self.optimizer)
            self._scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        if self.ema is not None and c.ema_decay is not None:  # an EMA exists iff ema_decay is set
            k = self.step_count
            decay = min(c.ema_decay, (1.0 + k) / (10.0 + k))
            with torch.no_grad():
                torch._foreach_lerp_(
                    list(self.ema.parameters()), list(self.net.parameters()), 1.0 - decay
                )
        if self.distributed is not None:  # log the mean over ranks; NaN stops every rank
            loss = loss.detach().clone()
            torch.distributed.all_reduce(loss)
            loss /= self.distributed.world_size
        return loss, per.detach(), t

    def step(self, n: int = 1) -> float:
        """Run up to n optimizer steps now (ignores pause); returns the last loss (nan if none)."""
        last = math.nan
        for _ in range(int(n)):
            if self.done:
                break
            self._apply_pending_target()
            lr = self._lr_at(self.step_count)
            for g in self.optimizer.param_groups:
                g["lr"] = lr
            loss, per, t = self._train_step()
            value = loss.item()
            if not math.isfinite(value):
                self._on_bad_loss(value)
                break
            self.step_count += 1
            self.history.steps.append(self.step_count)
            self.history.losses.append(value)
            if self.step_count % 8 == 0:
                self._record_bins(per, t)
            last = value
            self._maybe_publish(value)
            if self.on_step is not None:
                self.on_step(self)
        return last

    def _record_bins(self, per: torch.Tensor, t: torch.Tensor) -> None:
        b = (t * T_BINS).long().clamp_(0, T_BINS - 1)
        sums = torch.bincount(b, weights=per.float(), minlength=T_BINS).tolist()
        counts = torch.bincount(b, minlength=T_BINS).tolist()
        h = self.history
        for i in range(T_BINS):
            h.bin_sum[i] += sums[i]
            h.bin_count[i] += counts[i]

    def _on_bad_loss(self, value: float) -> None:
        good = self._last_good
        if good is not None:
            self.net.load_state_dict(good["net"])
            if self.ema is not None:
                self.ema.load_state_dict(good["ema"])
        kept = good["step"] if good is not None else 0
        self.error = (
            f"training stopped: the loss became {value} at step {self.step_count + 1}; the weights "
            f"from step {kept} are kept. Try a lower learning rate or another objective."
        )
        self.message = self.error

    def _maybe_publish(self, loss: float, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_pub < 1.0 / max(self.config.snapshot_hz, 1e-9):
            return
        dt = now - self._rate_t0
        if dt > 0.25 or force:
            self.steps_per_sec = (self.step_count - self._rate_step) / max(dt, 1e-9)
            self._rate_t0, self._rate_step = now, self.step_count
        self._last_pub = now
        snap = self.snapshot(loss)
        # without EMA the snapshot already is a CPU copy of the net: keep it, do not copy twice
        net_copy = snap.state_dict if self.ema is None else {
            k: v.detach().to("cpu", copy=True) for k, v in self.net.state_dict().items()
        }  # fmt: skip
        self._last_good = {
            "step": self.step_count,
            "net": net_copy,
            "ema": None if self.ema is None else snap.state_dict,
        }
        self.latest_snapshot = snap
        if self.on_snapshot is not None:
            self.on_snapshot(snap)

    def load_weights(self, state_dict: dict, step: int = 0) -> None:
        """Continue from saved weights: the network and its EMA both start from them (a fresh
        EMA would otherwise lag ~1 / (1 - decay) steps behind), the optimizer starts fresh."""
        self.net.load_state_dict(state_dict)
        if self.ema is not None:
            self.ema.load_state_dict(state_dict)
        self.step_count = int(step)
        self.publish()

    def restart_rate(self) -> None:
        """Measure steps/s from now on (training resumes after a pause)."""
        self._rate_t0, self._rate_step = time.perf_counter(), self.step_count

    def publish(self) -> Snapshot:
        """Publish a snapshot now (outside the rate limit), e.g. after a manual step."""
        last = self.history.losses[-1] if self.history.losses else math.nan
        self._maybe_publish(last, force=True)
        snap = self.latest_snapshot
        if snap is None:  # cannot happen: a forced publish always sets it
            raise RuntimeError("publish() made no snapshot")
        return snap

    def snapshot(self, loss: float | None = None) -> Snapshot:
        """An immutable CPU copy of the current (EMA if enabled) weights."""
        src = self.ema if self.ema is not None else self.net
        state = {k: v.detach().to("cpu", copy=True) for k, v in src.state_dict().items()}
        if loss is None:
            loss = self.history.losses[-1] if self.history.losses else math.nan
        return Snapshot(
            self.step_count,
            loss,
            state,
            self.model_config,
            self.schedule.name,
            self.normalization,
            self.target_version,
            self.steps_per_sec,
            time.time(),
            self.class_names,
            self.source,
        )

    def run(
        self,
        steps: int | None = None,
        callback: Callable[[Trainer], None] | None = None,
        callback_every: int = 50,
    ) -> Trainer:
        """Train until done (config.steps reached, stop() or an error), honouring pause().

        ``steps`` runs at most that many more steps. callback(trainer) runs every
        ``callback_every`` steps (for progress bars).
        """
        if self.config.num_threads:
            torch.set_num_threads(int(self.config.num_threads))
        budget = math.inf if steps is None else int(steps)
        done = 0
        while not self.done and done < budget:
            if not self._resume.is_set():
                self._resume.wait()
                continue
            if self.before_step is not None:
                self.before_step()
            self.step(1)
            done += 1
            if callback is not None and self.step_count % callback_every == 0:
                callback(self)
        if self.history.losses and self.error is None:
            self._maybe_publish(self.history.losses[-1], force=True)
        return self

    def model(self) -> FlowModel:
        """The current weights (EMA if enabled) as a FlowModel on the training device."""
        src = self.ema if self.ema is not None else self.net
        meta = {
            "class_names": self.class_names,
            "training": self.summary(),
        }
        net = copy.deepcopy(src).eval()
        model = FlowModel(net, self.model_config, self.schedule, self.normalization, meta)
        model.target = self.exact  # saved beside the weights (target.safetensors)
        model.source = self.source  # saved beside them too (source.safetensors)
        return model

    def summary(self) -> dict:
        h = self.history
        tail = h.losses[-100:]
        return {
            "steps": self.step_count,
            "final_loss": (sum(tail) / len(tail)) if tail else None,
            "loss": loss_formula(self.model_config.parameterization, self.config.score_weighting),
            "config": {k: v for k, v in vars(self.config).items()},
            "device": str(self.device),
            "target_version": self.target_version,
            "error": self.error,
            "coupling": "reflow" if self._pairs is not None else self.config.coupling,
            "coupling_ms_per_step": (
                1000.0 * self.coupling_seconds / self.coupling_batches
                if self.coupling_batches
                else None
            ),
            "source": None if self.source is None else repr(self.source),
            # mean loss per t bin [k / T_BINS, (k + 1) / T_BINS) over the whole run (one step
            # in 8); None where no t fell. Diagnostics recompute the final weights' loss.
            "loss_by_t": [None if math.isnan(v) else v for v in h.by_t()],
        }
