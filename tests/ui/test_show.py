"""flowscope.show(field): the 2D explorer on a field from the user's own code.

The field is written here against Meta's flow_matching conventions (not imported): a velocity
network called as model(x, t) with t = 0 noise, t = 1 data, trained for a few steps with the
conditional flow matching loss on x_t = t x_1 + (1 - t) x_0, target x_1 - x_0."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QEventLoop, QTimer

import flowscope
from flowscope.app_show import event_loop_running
from flowscope.core.data import load_target
from flowscope.core.external import ExternalField
from flowscope.core.samplers import sample_ode

ROOT = Path(__file__).resolve().parents[2]


class MetaStyleVelocity(torch.nn.Module):
    """flow_matching's examples: an MLP on [x, t], forward(x, t) -> velocity, t = 0 noise."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(3, hidden), torch.nn.SiLU(), torch.nn.Linear(hidden, hidden),
            torch.nn.SiLU(), torch.nn.Linear(hidden, 2),
        )  # fmt: skip

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1, 1).expand(x.shape[0], 1).to(x.dtype)
        return self.net(torch.cat([x, t], dim=1))


def trained_meta_style_model(steps: int = 150) -> MetaStyleVelocity:
    torch.manual_seed(0)
    model = MetaStyleVelocity()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    target = load_target("two_moons")
    for _ in range(steps):
        x1 = target.exact.sample(256, dtype=torch.float32)
        x0 = torch.randn_like(x1)
        t = torch.rand(256)
        xt = t[:, None] * x1 + (1 - t[:, None]) * x0
        loss = ((model(xt, t) - (x1 - x0)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _show_inside_running_loop(**kwargs):
    """Call flowscope.show from inside a Qt event loop (as from Jupyter with %gui qt)."""
    out = {}
    loop = QEventLoop()

    def call():
        try:
            out["running"] = event_loop_running()
            out["win"] = flowscope.show(**kwargs)
        except Exception as e:  # noqa: BLE001 - re-raised below, out of the event loop
            out["error"] = e
        finally:
            loop.quit()

    QTimer.singleShot(0, call)
    loop.exec()
    if "error" in out:
        raise out["error"]
    return out["running"], out["win"]


def test_show_does_not_block_inside_a_running_loop_and_shows_the_field(qtbot, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", "")
    assert not event_loop_running()  # a script: no loop runs here, show() would block
    model = trained_meta_style_model()
    running, win = _show_inside_running_loop(field=model, target="two_moons")
    qtbot.addWidget(win)
    assert running and win.isVisible()  # it returned at once, the window open
    assert not win.training_panel.isEnabled()
    assert "showing an external field" in win.training_panel.status.text()
    s = win.state
    qtbot.waitUntil(
        lambda: win.traj is not None and win.traj.source == "learned"
        and win.traj.ode.shape[1] == s.n_particles,
        timeout=120_000,
    )  # fmt: skip
    # the particles are the ODE of this very field from the window's seed
    field = ExternalField(model)
    x0 = torch.randn((s.n_particles, 2), generator=torch.Generator().manual_seed(int(s.seed)))
    ref = sample_ode(field, x0, s.steps, s.solver, return_trajectory=True)
    assert ref.xs is not None
    np.testing.assert_allclose(win.traj.ode[-1], ref.xs[-1].numpy(), atol=2e-5)
    np.testing.assert_allclose(win.traj.ode[len(ref.xs) // 2], ref.xs[len(ref.xs) // 2].numpy(),
                               atol=2e-5)  # fmt: skip
    # ... and they are not the exact field's (the test would pass for any field otherwise)
    exact = sample_ode(load_target("two_moons").exact, x0.double(), s.steps, s.solver).x
    assert float((exact.float() - ref.xs[-1]).abs().max()) > 0.05
    # the arrows at t are this field's velocity
    s.set(t=0.3, playing=False)
    qtbot.waitUntil(lambda: win.field is not None and abs(win.field.t - 0.3) < 1e-9,
                    timeout=60_000)  # fmt: skip
    fr = win.field
    u = field.velocity(torch.from_numpy(fr.origins), 0.3).numpy()
    np.testing.assert_allclose(fr.ode_field, u, atol=1e-5)


def test_show_without_target_uses_the_fields_own_samples(qtbot, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", "")

    def towards_three(x, t):  # the exact condot velocity toward the point (3, 0): (z - x)/(1 - t)
        return (torch.tensor([3.0, 0.0]) - x) / (1 - t[:, None]).clamp_min(1e-3)

    _, win = _show_inside_running_loop(field=towards_three, block=False)
    qtbot.addWidget(win)
    means = win.target.exact.means.numpy()
    np.testing.assert_allclose(means.mean(0), [3.0, 0.0], atol=0.05)
    assert win.target.name == "the field's own samples"


def test_show_blocks_in_a_script_until_the_window_closes(tmp_path):
    script = tmp_path / "show_script.py"
    script.write_text(textwrap.dedent("""
        import torch
        import flowscope

        def velocity(x, t):  # Meta's flow_matching convention: t = 0 noise, t = 1 data
            return torch.stack([-x[:, 1], x[:, 0]], 1) * (1 - t[:, None])

        win = flowscope.show(velocity, target="eight_gaussians")
        print("returned after close; visible:", win.isVisible())
    """))
    env = dict(os.environ, FLOWSCOPE_SHOW_CLOSE_AFTER_MS="3000", FLOWSCOPE_HOME="",
               PYTHONPATH=str(ROOT))  # fmt: skip
    r = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert "returned after close; visible: False" in r.stdout
