"""Reflow in the app (issue 14): Run > "Reflow from the current model", triggered as a user does.

The pairs are drawn on the compute side from the current model (x_1 = its Heun ODE from x_0),
a new round trains on exactly those pairs from the current weights, and after a short round on
eight gaussians the straightness gap KE - C of the learned flow is far smaller than before."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("PySide6")

from flowscope.core.straightness import straightness  # noqa: E402
from flowscope.state import AppState  # noqa: E402
from flowscope.train.reflow import ODE_STEPS, PAIRS  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402
from flowscope.ui.reflow_action import TEXT  # noqa: E402


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_COMPUTE_PROCESS", "0")
    monkeypatch.setenv("FLOWSCOPE_TRAIN_PROCESS", "0")  # the trainer's pairs are readable
    state = AppState(target_source="eight_gaussians", n_particles=300, steps=10, width=64,
                     depth=2, batch_size=256, lr=2e-3, playing=False)  # fmt: skip
    w = MainWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    w.resize(1300, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def _action(win, text):
    for a in win.findChildren(type(win.menuBar().actions()[0])):
        if a.text().replace("&", "") == text:
            return a
    raise AssertionError(f"no action {text!r}")


def _train(win, qtbot, n):
    assert win.sessions.train_steps(n, lambda: qtbot.wait(20), timeout=300)
    return win.sessions.snapshot


def test_reflow_action_trains_a_straighter_round_on_the_models_pairs(win, qtbot):
    action = _action(win, TEXT)
    assert action.parent() is win and "Run" in [a.text().replace("&", "") for a in
                                                win.menuBar().actions()]  # fmt: skip
    action.trigger()  # no model yet: said, nothing starts
    assert win.reflow.round == 0 and "train a model first" in win.statusBar().currentMessage()

    snap0 = _train(win, qtbot, 800)
    model0 = snap0.to_model()
    gap0 = straightness(model0, 1000, 50)["gap"]
    assert gap0 > 0.1  # independent coupling: curved paths

    action.trigger()
    qtbot.waitUntil(lambda: win.reflow.round == 1, timeout=120_000)
    assert win.reflow.before["gap"] == pytest.approx(gap0, rel=1e-4)  # the same model measured
    trainer = win.session.trainer
    bank = win.reflow.pairs
    assert len(bank) == PAIRS and trainer._pairs is not None
    # the trainer trains on these pairs (identity normalization: the same numbers)
    np.testing.assert_array_equal(trainer._pairs.x0.numpy(), bank.x0.numpy())
    np.testing.assert_array_equal(trainer._pairs.x1.numpy(), bank.x1.numpy())
    # ... which are (x_0, ODE(x_0)) of the model before the round
    x1 = model0.sample(64, steps=ODE_STEPS, solver="heun", x0=bank.x0[:64])
    np.testing.assert_allclose(bank.x1[:64].numpy(), x1.numpy(), atol=1e-4)
    # the round continues from the model's weights and is training
    assert win.sessions.running
    assert win.reflow.label.text().startswith("reflow round 1")
    # the straightness line drops measurements of the model before the round
    assert win.straightness.result is None
    assert "reflow round 1: measuring" in win.straightness.label.text()
    win.sessions.pause()
    # a batch the trainer draws is made of those pairs: (x_1, labels, x_0)
    x1b, _, x0b = trainer._draw_batch(32)
    both = torch.cat([bank.x0, bank.x1], 1)
    d = (
        torch.cdist(
            torch.cat([x0b, x1b], 1).cpu(), both, compute_mode="donot_use_mm_for_euclid_dist"
        )
        .min(1)
        .values
    )
    assert float(d.max()) < 1e-5
    w0 = snap0.state_dict

    snap1 = _train(win, qtbot, 600)
    assert any(not torch.equal(w0[k], snap1.state_dict[k]) for k in w0)
    gap1 = straightness(snap1.to_model(), 1000, 50)["gap"]
    assert gap1 < 0.4 * gap0, (gap0, gap1)
    # the straightness line shows the learned gap of the round
    win.straightness.tick()
    qtbot.waitUntil(lambda: win.straightness.result is not None
                    and win.straightness.result.step == snap1.step, timeout=60_000)  # fmt: skip
    assert win.straightness.result.learned["gap"] == pytest.approx(gap1, rel=0.2, abs=0.02)
    assert "reflow round 1" in win.straightness.label.text()

    # a second round from the reflowed model, then Reset ends reflow
    win.reflow.button.click()
    qtbot.waitUntil(lambda: win.reflow.round == 2, timeout=120_000)
    assert win.reflow.before["gap"] == pytest.approx(gap1, rel=0.05, abs=0.01)
    _action(win, "Reset weights").trigger()
    assert win.reflow.round == 0 and win.reflow.label.text() == ""
    assert win.session is None or win.session.trainer._pairs is None
