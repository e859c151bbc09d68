"""``flowscope diagnose``: a saved 2D model against the exact answer, as JSON (and a PNG).

The report holds ``error_by_t`` (t, field_mse, excess_loss), ``decomposition`` (total, network,
solver, floor), ``nll`` (model, exact) and, for point-set targets, ``memorization``. The target
comes from the model directory (target.safetensors), or ``--data``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from .cli import CliError

#: Monte Carlo sizes of the report: field error / excess loss points, likelihood points
ERROR_N = 8192
NLL_N = 1000
#: accepted ranges of the counts (larger ones would run for hours)
STEPS, N, BINS = (1, 10_000), (2, 100_000), (1, 1000)


def add_diagnose_parser(sub) -> None:
    d = sub.add_parser(
        "diagnose",
        help="where, when and why a 2D model is wrong, measured against the exact answer",
    )
    d.add_argument("--model", required=True, help="model directory")
    d.add_argument(
        "--data",
        default=None,
        help="the target (preset or file); default: the one kept in the model directory",
    )
    d.add_argument("--steps", type=int, default=50, help="sampler steps of the decomposition")
    d.add_argument("--solver", choices=("euler", "heun", "rk4"), default="heun")
    d.add_argument("--sigma", type=float, default=0.0, help="SDE diffusion sigma (0 = ODE)")
    d.add_argument("--n", type=int, default=2000, help="samples for the decomposition")
    d.add_argument("--bins", type=int, default=20, help="time bins of error_by_t")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", required=True, help="report.json")
    d.add_argument("--png", default=None, help="also draw the report as a one-page PNG")


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise CliError(f"{name} must be a finite number, got {value}")
    return value


def _check_args(a) -> tuple[Path, Path | None]:
    out = Path(a.out).expanduser()
    if out.suffix.lower() != ".json":
        raise CliError("--out must end in .json")
    png = None if a.png is None else Path(a.png).expanduser()
    if png is not None and png.suffix.lower() != ".png":
        raise CliError("--png must end in .png")
    for name, v, (lo, hi) in (
        ("--steps", a.steps, STEPS),
        ("--n", a.n, N),
        ("--bins", a.bins, BINS),
    ):
        if not lo <= v <= hi:
            raise CliError(f"{name} must be between {lo} and {hi}, got {v}")
    if _finite("--sigma", a.sigma) < 0:
        raise CliError("--sigma must be >= 0")
    from .cli_io import check_out_file

    check_out_file(out)  # before the work, not after it
    if png is not None:
        check_out_file(png)
    return out, png


def _target(a, model):
    """(ExactMarginal in data coordinates, where it came from)."""
    from .core.data import load_target
    from .core.data.presets import is_preset

    if a.data is not None:
        return load_target(a.data).exact, str(a.data)
    if model.target is not None:
        return model.target, "model directory (target.safetensors)"
    source = str((model.metadata.get("data") or {}).get("source") or "")
    if source and is_preset(source):
        print(
            f"flowscope: {a.model} keeps no target; using the preset {source!r} it names",
            file=sys.stderr,
        )
        return load_target(source).exact, f"preset {source} (named in model.json)"
    raise CliError(
        f"{a.model} keeps no training target (saved by an older flowscope); "
        "give it with --data PRESET_OR_FILE"
    )


def _clean(v):
    """JSON-safe: tensors -> lists, nan/inf -> None."""
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    return v


def build_report(model, exact, a) -> dict:
    """Run every diagnostic of a 2D model against ``exact``; a JSON-ready dict."""
    from . import diagnostics as D

    timing = {}
    t0 = time.perf_counter()
    e = D.error_by_t(model, exact, bins=a.bins, n=max(ERROR_N, a.bins), seed=a.seed)
    timing["error_by_t"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    dec = D.decompose(model, exact, a.steps, a.solver, a.sigma, n=a.n, seed=a.seed)
    timing["decompose"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lik = D.nll(model, exact, n=NLL_N, seed=a.seed)
    timing["nll"] = time.perf_counter() - t0
    report = {
        "error_by_t": {
            "t": e.t,
            "field_mse": e.field_mse,
            "field_mse_se": e.field_mse_se,
            "excess_loss": e.excess_loss,
            "excess_loss_se": e.excess_loss_se,
            "loss": e.loss,
            "loss_floor": e.loss_floor,
            "objective": e.objective,
            "score_weighting": e.weighting,
            "scale": e.scale,
            "n": e.n,
            "note": "field_mse in data coordinates; losses in the training units (velocity: "
            "field_mse ~ scale^2 * excess_loss)",
        },
        "decomposition": {
            "total": dec.total,
            "network": dec.network,
            "solver": dec.solver,
            "floor": dec.floor,
            "metric": "energy distance to fresh target samples",
            "steps": dec.steps,
            "solver_name": dec.solver_name,
            "sigma": dec.sigma,
            "fine_steps": dec.fine_steps,
            "fine_solver": dec.fine_solver,
            "n": dec.n,
        },
        "nll": {
            "model": lik.model,
            "exact": lik.exact,
            "model_se": lik.model_se,
            "exact_se": lik.exact_se,
            "t": lik.t,
            "n": lik.n,
            "steps": lik.steps,
            "note": lik.note,
        },
    }
    if bool((exact.widths == 0).all()):
        t0 = time.perf_counter()
        m = D.memorization(dec.samples, exact.means)
        timing["memorization"] = time.perf_counter() - t0
        report["memorization"] = {
            "share": m.share,
            "nn_ratio": m.nn_ratio,
            "spacing": m.spacing,
            "radius": m.radius,
            "baseline": m.baseline,
            "n_samples": m.n_samples,
            "n_train": m.n_train,
        }
    report["timing_s"] = timing
    return report


def cmd_diagnose(a) -> int:
    from .core.flow_model import load

    out, png = _check_args(a)
    t_start = time.perf_counter()
    model = load(a.model)
    if model.kind != "2d":
        raise CliError(
            "diagnose needs a 2D model: image models have no exact oracle to compare against"
        )
    if model.source is not None:
        raise CliError(
            "diagnose compares against the N(0, I) path; this model bridges from a mixture "
            "source (flowscope.core.bridge.ExactBridge is its oracle)"
        )
    exact, source = _target(a, model)
    if exact.dim != model.config.dim:
        raise CliError(f"the target is {exact.dim}-D but the model is {model.config.dim}-D")
    body = build_report(model, exact, a)
    report = {
        "model": str(a.model),
        "target": {
            "source": source,
            "components": exact.n_components,
            "point_set": bool((exact.widths == 0).all()),
            "schedule": model.schedule.name,
        },
        **body,
    }
    report["timing_s"]["total"] = time.perf_counter() - t_start
    report = _clean(report)
    from .cli_io import write_output

    text = json.dumps(report, indent=2) + "\n"
    write_output(out, lambda tmp: tmp.write_text(text))
    if png is not None:
        from .core.diagnostics_png import save_report_png

        write_output(png, lambda tmp: save_report_png(report, tmp))
    d, n = report["decomposition"], report["nll"]
    print(
        f"energy distance: total {d['total']:.4g}  network {d['network']:.4g}  "
        f"solver {d['solver']:.4g}  floor {d['floor']:.4g}"
    )
    print(f"NLL at t = {n['t']:g}: model {n['model']:.4f}  exact {n['exact']:.4f} (nats/point)")
    if "memorization" in report:
        m = report["memorization"]
        print(f"memorization: share {m['share']:.3f}  nearest-neighbour ratio {m['nn_ratio']:.3f}")
    print(f"wrote {out}" + (f" and {png}" if png is not None else ""))
    return 0
