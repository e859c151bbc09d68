"""Image datasets in the Trainer: batches on the training device and the default model config."""

from __future__ import annotations

import torch

from ..core.images.dataset import ImageDataset
from ..core.models import ModelConfig


class ImageBatches:
    """Draws (x (n, C, H, W) in [-1, 1], labels (n,) or None) from an ImageDataset kept on the
    training device (the image counterpart of the trainer's MixtureSampler)."""

    def __init__(self, dataset: ImageDataset, device: torch.device):
        self.dataset = dataset.to(device)
        self.device = device

    def __call__(self, n: int, generator: torch.Generator | None = None):
        return self.dataset.sample_batch(n, generator, self.device)


def image_model_config(dataset: ImageDataset, mc: ModelConfig | None) -> ModelConfig:
    """The model config for an image dataset: a U-Net by default; checks the image shape."""
    if mc is None:  # sized by the data: channels, levels, attention (core.images.unet)
        from ..core.images.unet import unet_size

        return ModelConfig(arch="unet", image_shape=dataset.shape,
                           num_classes=dataset.num_classes, **unet_size(dataset.shape))  # fmt: skip
    if mc.image_shape != dataset.shape:
        got = "a points model" if mc.image_shape is None else f"images of shape {mc.image_shape}"
        raise ValueError(
            f"the model config is for {got} but the data are images of shape {dataset.shape}; "
            f"use ModelConfig(arch='unet', image_shape={dataset.shape}, ...)"
        )
    return mc
