"""Quality check of the engine's training against a bare PyTorch loop trained the same way
(same model, init, data, batch, optimizer and cosine lr schedule): the energy distance of 4000
samples (Heun, 50 steps) to the target, for each. Issue 2's bar: within 10% of the bare loop."""

from __future__ import annotations

import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import torch  # noqa: E402
from _common import emit, parser, setup  # noqa: E402

from flowscope.core.data import load_target  # noqa: E402
from flowscope.core.flow_model import FlowModel  # noqa: E402
from flowscope.core.metrics import energy_distance  # noqa: E402
from flowscope.core.models import ModelConfig, build_model  # noqa: E402
from flowscope.train.trainer import MixtureSampler, TrainConfig, Trainer  # noqa: E402


def bare(target, mc: ModelConfig, tc: TrainConfig) -> FlowModel:
    torch.manual_seed(tc.seed)
    net = build_model(mc)
    opt = torch.optim.Adam(net.parameters(), lr=tc.lr)
    data = MixtureSampler(target.exact, torch.device("cpu"), FlowModel(net, mc).normalization)
    for k in range(tc.steps):
        for g in opt.param_groups:
            g["lr"] = tc.lr * 0.5 * (1 + math.cos(math.pi * k / tc.steps))
        z, _ = data(tc.batch_size)
        t, eps = torch.rand(tc.batch_size), torch.randn_like(z)
        x_t = t[:, None] * z + (1 - t[:, None]) * eps
        loss = ((net(x_t, t) - (z - eps)) ** 2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return FlowModel(net.eval(), mc)


def main() -> int:
    ap = parser(__doc__.split("\n")[0])
    ap.add_argument("--data", default="checkerboard")
    ap.add_argument("--steps", type=int, default=3000)
    a = ap.parse_args()
    setup(a)
    steps = 300 if a.quick else a.steps
    target = load_target(a.data)
    mc = ModelConfig()
    tc = TrainConfig(steps=steps, seed=a.seed, device="cpu", normalize="none")
    ref = target.sample(4000, seed=123)
    out = {}
    for name, fn in (
        ("flowscope", lambda: Trainer(target, mc, tc).run().model()),
        ("bare", lambda: bare(target, mc, tc)),
    ):
        t0 = time.perf_counter()
        model = fn()
        secs = time.perf_counter() - t0
        x = model.sample(4000, steps=50, solver="heun", seed=7)
        out[name] = {"seconds": round(secs, 1), "energy_distance": energy_distance(x, ref)}
    floor = energy_distance(target.sample(4000, seed=321), ref)
    ratio = out["flowscope"]["energy_distance"] / out["bare"]["energy_distance"]
    emit(
        "quality_vs_bare",
        {
            "data": a.data,
            "steps": steps,
            **out,
            "target_vs_target_floor": floor,
            "ratio_flowscope_over_bare": round(ratio, 3),
            "within_10_percent_or_better": ratio <= 1.10,
        },
        a,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
