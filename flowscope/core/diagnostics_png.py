"""The diagnostics report (the dict ``flowscope diagnose`` writes as JSON) as a one-page PNG,
drawn with Pillow alone: error by t (log scale), the decomposition as bars, NLL and
memorization as text."""

from __future__ import annotations

import math
from pathlib import Path

W, H = 1200, 760
BLUE, ORANGE, GREY, BLACK = (31, 119, 180), (230, 120, 20), (150, 150, 150), (20, 20, 20)
BAR_COLOURS = [(31, 119, 180), (44, 160, 44), (214, 39, 40), (127, 127, 127)]


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1 has one fixed size
        return ImageFont.load_default()


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def _curves(draw, box, t, series, font) -> None:
    """Lines of positive values against t in [0, 1], log-scaled y, inside box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=GREY)
    vals = [v for _, ys, _ in series for v in ys if v is not None and v > 0]
    if not vals:
        draw.text((x0 + 10, y0 + 10), "no positive values to plot", fill=BLACK, font=font)
        return
    lo = math.floor(math.log10(min(vals)))
    hi = math.ceil(math.log10(max(vals)))
    hi = hi if hi > lo else lo + 1

    def px(tt, v):
        fx = x0 + (x1 - x0) * tt
        fy = y1 - (y1 - y0) * (math.log10(v) - lo) / (hi - lo)
        return fx, fy

    for k in range(lo, hi + 1):
        _, yy = px(0, 10.0**k)
        draw.line([(x0, yy), (x0 + 5, yy)], fill=GREY)
        draw.text((x0 - 48, yy - 7), f"1e{k}", fill=BLACK, font=font)
    for k in range(6):
        xx, _ = px(k / 5, 10.0**lo)
        draw.text((xx - 8, y1 + 4), f"{k / 5:.1f}", fill=BLACK, font=font)
    draw.text(((x0 + x1) / 2 - 40, y1 + 20), "t (0 noise, 1 data)", fill=BLACK, font=font)
    for i, (label, ys, colour) in enumerate(series):
        pts = [px(tt, v) for tt, v in zip(t, ys) if v is not None and v > 0]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        for p in pts:
            draw.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], fill=colour)
        draw.text((x1 - 250, y0 + 8 + 16 * i), label, fill=colour, font=font)


def _bars(draw, box, items, font) -> None:
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=GREY)
    finite = [v for _, v in items if v is not None and math.isfinite(v)]
    top = max(finite) if finite and max(finite) > 0 else 1.0
    slot = (x1 - x0) / len(items)
    for i, (label, v) in enumerate(items):
        bx = x0 + slot * i + slot * 0.2
        if v is not None and math.isfinite(v):
            bh = (y1 - y0 - 30) * max(v, 0.0) / top
            draw.rectangle([bx, y1 - bh, bx + slot * 0.6, y1], fill=BAR_COLOURS[i % 4])
            draw.text((bx, y1 - bh - 16), _fmt(v), fill=BLACK, font=font)
        draw.text((bx, y1 + 4), label, fill=BLACK, font=font)


def save_report_png(report: dict, path: str | Path) -> Path:
    """Draw ``report`` (as written by ``flowscope diagnose``) into ``path`` (a PNG)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(img)
    small, big = _font(13), _font(18)
    target = report.get("target", {})
    draw.text(
        (20, 12),
        f"flowscope diagnose: {report.get('model', '')}   target: {target.get('source', '')}",
        fill=BLACK,
        font=big,
    )
    e = report["error_by_t"]
    title = "error by t: E_{x~p_t} ||u_model - u_t||^2 and the excess training loss"
    draw.text((80, 50), title, fill=BLACK, font=small)
    series = [("field_mse (data coords)", e["field_mse"], BLUE)]
    if e.get("excess_loss") is not None:
        series.append((f"excess_loss ({e.get('objective')})", e["excess_loss"], ORANGE))
    _curves(draw, (80, 75, 620, 420), e["t"], series, small)
    d = report["decomposition"]
    solver = f"{d['solver_name']}, {d['steps']} steps" + (
        f", sigma {d['sigma']:g}" if d["sigma"] else ""
    )
    draw.text((680, 50), f"energy distance to the target ({solver})", fill=BLACK, font=small)
    items = [(k, d[k]) for k in ("total", "network", "solver", "floor")]
    _bars(draw, (680, 75, 1170, 420), items, small)
    lines = [
        "decomposition: total = the model with the chosen sampler; network = the model with a "
        f"fine solver ({d['fine_solver']}, {d['fine_steps']} steps);",
        "solver = the exact field with the chosen sampler; floor = the exact field with the fine "
        f"solver (what {d['n']} samples resolve). Same noise for all four.",
    ]
    n = report["nll"]
    lines += [
        "",
        f"negative log-likelihood at t = {n['t']:g} ({n['n']} fresh points, nats/point): "
        f"model {_fmt(n['model'])} +- {_fmt(n['model_se'])}   exact (entropy floor) "
        f"{_fmt(n['exact'])} +- {_fmt(n['exact_se'])}",
        f"  {n['note']}",
    ]
    m = report.get("memorization")
    if m is not None:
        lines += [
            "",
            f"memorization (point set, {m['n_train']} points): share of samples within "
            f"{m['radius']:g} x the typical spacing of a training point {_fmt(m['share'])};",
            f"  nearest-neighbour distance ratio to the {m['baseline']} baseline "
            f"{_fmt(m['nn_ratio'])} (0 copies the points, 1 generalizes)",
        ]
    timing = report.get("timing_s", {})
    if timing:
        lines += ["", "seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timing.items())]
    y = 470
    for line in lines:
        draw.text((40, y), line, fill=BLACK, font=small)
        y += 19
    out = Path(path).expanduser()
    img.save(out)
    return out
