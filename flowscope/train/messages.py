"""Everything that crosses between the window and its training process, as frozen dataclasses
(ARCHITECTURE.md, "typed messages"). They travel pickled *by value* (process_session.pack), never
through multiprocessing's own pickler, which moves tensors into shared memory in place.

Commands go to the trainer child; events come back. Each side dispatches on the type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .trainer import Snapshot

# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Resume:
    """Train continuously (steps/s restarts from now)."""


@dataclass(frozen=True)
class Pause:
    """Stop training after the current steps and publish a snapshot."""


@dataclass(frozen=True)
class Publish:
    """Publish a snapshot now (paused or not)."""


@dataclass(frozen=True)
class Step:
    """n steps now (while paused), then a snapshot, then :class:`Ack` with ``token``."""

    n: int
    token: int


@dataclass(frozen=True)
class SetTarget:
    """Swap the data (a drawing edited while training): same run, new target."""

    target: Any


@dataclass(frozen=True)
class LoadWeights:
    """Continue from saved weights (a CPU state dict) at step ``step``."""

    state_dict: dict
    step: int


@dataclass(frozen=True)
class Stop:
    """Publish what is left and end the session (the process waits for the next one)."""


@dataclass(frozen=True)
class Begin:
    """Start a session in an idle trainer process: build a Trainer from these (each pickled by
    value, see process_session.pack; source and pairs may be None)."""

    target: bytes
    model_config: Any
    config: Any
    source: bytes | None = None
    pairs: bytes | None = None


@dataclass(frozen=True)
class Exit:
    """End the trainer process (sent between sessions)."""


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Hello:
    """The child built its trainer: the device it trains on (and why, if not the asked one)."""

    device: str
    device_message: str
    normalization: Any


@dataclass(frozen=True)
class Published:
    """A snapshot and the loss-history entries since the last one."""

    snapshot: Snapshot
    steps: list
    losses: list
    bin_sum: list
    bin_count: list
    steps_per_sec: float
    error: str | None


@dataclass(frozen=True)
class TrainError:
    """Training stopped on a bad loss (the last good weights are kept)."""

    error: str


@dataclass(frozen=True)
class Fatal:
    """The trainer could not be built (nothing more comes for this session)."""

    error: str


@dataclass(frozen=True)
class Ack:
    """A :class:`Step` command is done and its snapshot was published before this."""

    token: int


@dataclass(frozen=True)
class Bye:
    """The session ended after a :class:`Stop` (nothing more comes for it)."""


# ----------------------------------------------------------------------------- compute side
# Between the window and its compute child (train/compute_process.py): a target goes to the
# child once per target version; requests then carry only its key.


@dataclass(frozen=True)
class ComputeTarget:
    """The exact target of key ``key`` (its fingerprint: mixture and schedule); the child keeps
    the last few and resolves :class:`TargetRef` in later requests against them."""

    key: str
    exact: Any  # an ExactMarginal


@dataclass(frozen=True)
class TargetRef:
    """Stands for the ExactMarginal of key ``key`` in a request sent to the compute child."""

    key: str


@dataclass(frozen=True)
class ComputeJob:
    """A render request for the compute child; ``urgent``: a user's action asked for it."""

    request: Any
    urgent: bool = False
