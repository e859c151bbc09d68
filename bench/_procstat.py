"""Reading other processes' and threads' CPU time from /proc (Linux), for the GUI benchmarks."""

from __future__ import annotations

import os

__all__ = ["xserver_pid", "schedstat", "steal_seconds"]


def xserver_pid() -> int | None:
    """The pid of the X server (Xvfb / Xorg) of this DISPLAY, if visible."""
    display = os.environ.get("DISPLAY", "").split(".")[0]
    for pid in filter(str.isdigit, os.listdir("/proc")) if os.path.isdir("/proc") else []:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if not args or os.path.basename(args[0]) not in ("Xvfb", "Xorg"):
            continue
        if display and display not in args:  # another session's server
            continue
        return int(pid)
    return None


def schedstat(task_path: str) -> tuple[float, float]:
    """(seconds on a CPU, seconds waiting in the run queue) so far of a task, e.g.
    ``/proc/thread-self`` or ``/proc/<pid>/task/<tid>``, in nanosecond resolution (/proc's stat
    counts 10 ms clock ticks); (0, 0) when it is gone or Linux does not say."""
    try:
        with open(f"{task_path}/schedstat") as f:
            run, wait = f.read().split()[:2]
        return int(run) * 1e-9, int(wait) * 1e-9
    except (OSError, ValueError):
        return 0.0, 0.0


def steal_seconds() -> float | None:
    """Seconds the hypervisor ran something else while this VM's CPUs wanted to run, so far
    (all CPUs; /proc/stat counts clock ticks). A task stolen from is neither on a CPU nor in the
    run queue by its own accounts: such a stretch reads as 'blocked'. None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
