"""Shared helpers for the benchmarks: options, machine info, timing, medians, JSON output.

Every benchmark prints ONE JSON object to stdout (progress goes to stderr) and, with ``--save``,
also writes it to ``bench/results/<name>-<device>-<YYYYMMDD>.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def parser(description: str) -> argparse.ArgumentParser:
    """An ArgumentParser with the options every benchmark shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="smoke-test sizes (< 60 s)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--save", action="store_true", help="also write the JSON to bench/results/")
    p.add_argument("--seed", type=int, default=0)
    return p


def setup(args: argparse.Namespace) -> None:
    """Apply the shared options (thread count)."""
    if args.threads:
        torch.set_num_threads(int(args.threads))


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def machine_info(device: str = "cpu") -> dict:
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "device": device,
    }


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call of fn."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleave(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Time each fn ``repeats`` times, alternating ABAB... so drift hits all of them alike."""
    out: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(repeats):
        for name, fn in fns.items():
            out[name].append(timed(fn))
        log(
            f"  repeat {r + 1}/{repeats}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in out.items())
        )
    return out


def median(xs) -> float:
    return float(statistics.median(xs))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2**20


def rnd(x: float, digits: int = 4) -> float:
    """Round to ``digits`` significant digits (keeps the JSON readable)."""
    return float(f"{x:.{digits}g}")


def emit(name: str, result: dict, args: argparse.Namespace, device: str = "cpu") -> dict:
    """Add machine info and options, print the JSON and, with --save on a full run, store it."""
    result = {
        "benchmark": name,
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "options": vars(args),
        "machine": machine_info(device),
        **result,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.save:
        if args.quick:
            log("--save ignored for a --quick run (only full runs are kept)")
        else:
            RESULTS.mkdir(parents=True, exist_ok=True)
            day = _dt.date.today().strftime("%Y%m%d")
            path = RESULTS / f"{name}-{device}-{day}.json"
            path.write_text(text + "\n")
            log(f"saved {path}")
    return result
