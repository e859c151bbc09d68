"""Who runs first (ARCHITECTURE.md, "Threads, processes and priorities"). Qt-free.

Highest first: what a user's action asked for (a control moved, a target changed); the trainer;
background refreshes (learned trajectories while training). Operating-system priorities express
only part of this: an unprivileged process may lower its priority but never raise it again, and
SCHED_IDLE work starves whenever a browser uses the CPU (PITFALLS.md, item 16); a niced trainer
lost a quarter of its speed to the window's frames (:data:`TRAINER_NICE`). So all our processes
run at normal priority and order themselves:

- :class:`UserWork` is a flag shared by the window, its compute child and its trainer (thread or
  child process). The compute side raises it while it computes work that a control change asked
  for; the trainer waits between its steps while it is up. The flag carries a deadline
  (:data:`YIELD_MAX_S` after it was raised), so a trainer never stalls longer than that per user
  action, even if nobody lowers it (a compute child that died mid-request).
- :class:`DutyCycle` paces background work: it sleeps between field evaluations so that a
  background request uses at most a share of a core, and the trainer keeps its own.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable

#: the trainer child's nice value: the window's (0). Niced (5, a weight of 335 against 1024),
#: the trainer left the GUI thread three quarters of a core they shared instead of half, and
#: bench/gui_latency.py's mean wait for a core in each action's longest gap fell 8.0-8.4 ->
#: 2.6-7.4 ms (the longest pauses stayed 32-57 ms against 42-49, noisy). But every wake of the
#: GUI thread then preempted the trainer: in gui_soak (animation playing, the t slider moving)
#: it trained at 0.59-0.74 of its solo speed against 0.82-0.93 at 0 (3 alternating pairs), below
#: the goal of 0.9. Nice 2 did not help the pauses. Not SCHED_IDLE or nice 19 either
#: (PITFALLS.md, item 16).
TRAINER_NICE = 0
#: a trainer waits at most this long per raise of the flag (a user's request takes ~0.1-1 s)
YIELD_MAX_S = 1.5
#: how often a waiting trainer looks at the flag again
YIELD_POLL_S = 0.004
#: after a new target or a new session (objective, schedule, project), the trainer waits this
#: long: the window redraws the target, the axes and the curves in those turns, and on 2 cores
#: a trainer beside the compute child left the GUI thread waiting for a core. Seven alternating
#: pairs of bench/gui_latency.py runs: actions over 50 ms 4 -> 1, the GUI thread's wait for a
#: core in each action's longest gap 8.3 -> 6.0 ms on average. Training starts a second later.
WINDOW_HOLD_S = 1.0
#: background requests (learned trajectories while training) use at most this share of a core:
#: beside a window drawing at 30 fps (~0.6 core) and the trainer (1 core), 2 cores have ~0.3 left
BACKGROUND_DUTY = 0.2


class UserWork:
    """'A user's action is being answered': raised by the compute side, honoured by trainers.

    The values are shared memory (``RawValue``), so they cross to spawned children as a Process
    argument and cost a memory read to check. Each holds a wall-clock deadline until which
    trainers yield (0: lowered): one is the compute side's (raised and lowered around a user's
    request), the other the window's own (:meth:`hold_for_window`, which only expires), so that
    the compute side lowering its flag does not end the window's hold."""

    def __init__(self, ctx=None):
        ctx = ctx or mp.get_context("spawn")
        self._until = ctx.RawValue("d", 0.0)
        self._window_until = ctx.RawValue("d", 0.0)

    def raise_(self, seconds: float = YIELD_MAX_S) -> None:
        """Trainers yield from now until :meth:`lower`, for at most ``seconds``."""
        self._until.value = time.time() + float(seconds)

    def lower(self) -> None:
        self._until.value = 0.0

    def hold_for_window(self, seconds: float = WINDOW_HOLD_S) -> None:
        """Trainers yield for the next ``seconds``: the window answers a user's action on its own
        GUI thread in that time (a new session's target, axes and curves). Never shortens an
        earlier hold; nothing lowers it."""
        self._window_until.value = max(self._window_until.value, time.time() + float(seconds))

    @property
    def active(self) -> bool:
        return self._until.value > time.time() or self.window_holding

    @property
    def window_holding(self) -> bool:
        """True while the window's own hold lasts (:meth:`hold_for_window`)."""
        return self._window_until.value > time.time()

    def yield_while_active(self, sleep: Callable[[float], None] = time.sleep) -> float:
        """Wait while the flag is up (bounded by its deadline); returns the seconds waited."""
        if not self.active:
            return 0.0
        t0 = time.perf_counter()
        while self.active and time.perf_counter() - t0 < YIELD_MAX_S:
            sleep(YIELD_POLL_S)
        return time.perf_counter() - t0


_shared: UserWork | None = None


def user_work() -> UserWork:
    """This process's flag (made on first use); the window hands it to its children."""
    global _shared
    if _shared is None:
        _shared = UserWork()
    return _shared


class DutyCycle:
    """Keeps a stretch of work to ``duty`` of the wall time: call :meth:`pace` between pieces
    of work; it waits ``worked * (1 / duty - 1)`` through ``wait(seconds)`` (which may return
    early, e.g. when a more urgent request arrives)."""

    def __init__(self, duty: float = BACKGROUND_DUTY, wait: Callable[[float], object] = time.sleep):
        if not 0.0 < duty <= 1.0:
            raise ValueError(f"duty must be in (0, 1], got {duty}")
        self.duty, self.wait = duty, wait
        self._since = time.perf_counter()

    def restart(self) -> None:
        """Work starts now (after time spent on other requests, which is not paced here)."""
        self._since = time.perf_counter()

    def pace(self) -> None:
        if self.duty >= 1.0:
            return
        worked = time.perf_counter() - self._since
        if worked > 0:
            self.wait(worked * (1.0 / self.duty - 1.0))
        self._since = time.perf_counter()
