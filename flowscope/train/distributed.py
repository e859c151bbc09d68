"""Data-parallel training under torchrun: one process per device, DistributedDataParallel.

``torchrun --nproc-per-node 2 -m flowscope train --data FOLDER --out DIR`` starts two processes;
each one calls :func:`init_from_env` (gloo on the CPU, NCCL on CUDA), trains on its own shard of
the images (image i goes to rank i mod world_size, like torch's DistributedSampler) with its own
random stream (seed + rank) for times and noise, and DDP averages the gradients, so every rank
holds the same weights after every step. Rank 0 logs and writes the model directory (the usual
format). Points (2D) targets have no finite dataset to split: each rank draws its own samples.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..core.images.dataset import ImageDataset


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in a torchrun job."""

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device: str = "auto") -> DistributedContext | None:
    """Join the torchrun job described by the environment (RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR, MASTER_PORT); None when not started by torchrun or with one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or "RANK" not in os.environ:
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but CUDA is not available")
    backend = "nccl" if cuda else "gloo"
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"process {local_rank} has no GPU of its own ({torch.cuda.device_count()} "
                "visible): start at most one process per GPU, or train with --device cpu"
            )
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistributedContext(dist.get_rank(), dist.get_world_size(), local_rank, backend)


def close(ctx: DistributedContext | None) -> None:
    if ctx is not None and dist.is_initialized():
        dist.destroy_process_group()


def shard_dataset(dataset: ImageDataset, rank: int, world_size: int) -> ImageDataset:
    """Images rank, rank + world_size, ... (a DistributedSampler-like split; class names kept)."""
    if len(dataset) < world_size:
        raise ValueError(f"{len(dataset)} images cannot be split over {world_size} processes")
    labels = None if dataset.labels is None else dataset.labels[rank::world_size]
    return ImageDataset(
        dataset.images[rank::world_size].clone(),
        labels,
        dataset.class_names if labels is not None else None,
        dataset.value_range,
        dataset.name,
        dataset.source,
        dataset.notes,
    )


def gather_summary(ctx: DistributedContext, trainer) -> dict:
    """What every rank saw and ended with, gathered on all ranks (call it on every rank):
    shard sizes, a checksum of each rank's first batch, and of its final weights."""
    net = trainer.ema if trainer.ema is not None else trainer.net
    weights = float(sum(p.detach().double().sum().item() for p in net.parameters()))
    mine = {
        "shard_size": len(trainer.dataset) if trainer.dataset is not None else None,
        "first_batch_sum": trainer.first_batch_sum,
        "weight_sum": weights,
    }
    every: list = [None] * ctx.world_size
    dist.all_gather_object(every, mine)
    return {
        "world_size": ctx.world_size,
        "backend": ctx.backend,
        "shard_sizes": [e["shard_size"] for e in every],
        "first_batch_sums": [e["first_batch_sum"] for e in every],
        "weight_sums": [e["weight_sum"] for e in every],
    }
