"""Qt-free training logic: the step-wise, pausable Trainer and its immutable snapshots."""

from .trainer import LossHistory, MixtureSampler, Snapshot, TrainConfig, Trainer

__all__ = ["LossHistory", "MixtureSampler", "Snapshot", "TrainConfig", "Trainer"]
