"""The window controllers on their own: generations drop stale results, the session lifecycle
never waits for a child on the GUI thread, and train_steps is the synchronous path."""

import time
from dataclasses import dataclass

import pytest

pytest.importorskip("PySide6")

from flowscope.ui.controllers import RequestChannel, SessionController  # noqa: E402


@dataclass(frozen=True)
class _Req:
    KIND = "field"
    generation: int


@dataclass(frozen=True)
class _Res:
    generation: int


class _FakeWorker:
    """Answers on demand: ``finish(gen)`` makes the result of a submitted generation ready."""

    def __init__(self):
        self.submitted, self.ready, self.last_error = [], {}, None

    def submit(self, req, urgent=False):
        self.submitted.append(req)

    def finish(self, gen):
        self.ready["field"] = _Res(gen)

    def take(self, kind):
        return self.ready.pop(kind, None)

    def compute_now(self, req):
        return _Res(req.generation)


def test_request_channel_shows_newer_results_and_drops_older_ones(qapp):
    w = _FakeWorker()
    ch = RequestChannel(w, ("field",))
    shown = []
    ch.resultReady.connect(lambda kind, res: shown.append(res.generation))
    ch.submit("field", _Req)
    ch.submit("field", _Req)
    assert [r.generation for r in w.submitted] == [1, 2] and ch.stale("field")
    w.finish(1)
    ch.poll()  # older than the newest request but newer than what is shown: progressive
    w.finish(2)
    ch.poll()
    assert shown == [1, 2] and not ch.stale("field")
    w.finish(1)  # a late answer to an old request
    ch.poll()
    assert shown == [1, 2]
    ch.invalidate("field")  # e.g. the weights were reset: what is in flight is stale
    w.finish(2)
    ch.poll()
    assert shown == [1, 2] and ch.stale("field")
    assert ch.render_now("field", _Req).generation == ch.generation("field")
    assert shown[-1] == ch.generation("field")


def test_request_channel_reports_worker_errors_once(qapp):
    w = _FakeWorker()
    ch = RequestChannel(w, ("field",))
    errors = []
    ch.failed.connect(errors.append)
    w.last_error = "ValueError: boom"
    ch.poll()
    ch.poll()
    assert errors == ["ValueError: boom"]


class _FakeSession:
    def __init__(self):
        self.running, self.stops, self.step_count, self.latest_snapshot = False, [], 0, None

    def toggle(self):
        self.running = not self.running
        return self.running

    def stop(self, timeout=5.0, wait=True):
        self.stops.append(wait)
        self.running = False


def test_session_controller_lifecycle_never_waits_on_the_gui_thread(qapp):
    made = []

    def factory(**kw):
        made.append(_FakeSession())
        return made[-1]

    c = SessionController(factory)
    states = []
    c.runningChanged.connect(states.append)
    assert c.session is None and not c.mark_settings_changed()
    assert c.toggle() and c.running and states == [True]
    assert c.mark_settings_changed() and c.settings_changed
    c.reset()  # fresh weights, still training
    assert len(made) == 2 and made[0].stops == [False] and c.running
    assert not c.settings_changed
    c.discard()
    assert c.session is None and made[1].stops == [False] and states[-1] is False
    c.toggle()
    c.shutdown()
    assert made[2].stops == [True]  # closing: a bounded wait


def test_a_new_session_holds_the_trainer_while_the_window_redraws(qapp, monkeypatch):
    """Reset, a new objective or an opened project discard the session: the trainer waits a
    moment (priority.WINDOW_HOLD_S) so that the window's redraw has a core."""
    from flowscope.train import priority

    flag = priority.UserWork()
    monkeypatch.setattr(priority, "_shared", flag)
    c = SessionController(lambda **kw: _FakeSession())
    c.toggle()
    assert not flag.active
    c.reset()
    assert flag.active
    assert flag._window_until.value > time.time() + 0.5 * priority.WINDOW_HOLD_S


def test_session_controller_reports_a_factory_error(qapp):
    def factory(**kw):
        raise ValueError("the target has no points")

    c = SessionController(factory)
    errors = []
    c.failed.connect(lambda title, text: errors.append(text))
    assert not c.toggle() and c.session is None
    assert errors == ["the target has no points"]


def test_train_steps_is_the_synchronous_path(qapp):
    from flowscope.core.data import load_target
    from flowscope.core.models import ModelConfig
    from flowscope.train.session import TrainingSession
    from flowscope.train.trainer import TrainConfig

    target = load_target("eight_gaussians")

    def factory(**kw):
        mc = ModelConfig(width=16, depth=1)
        return TrainingSession(target, mc, TrainConfig(steps=None, batch_size=64))

    c = SessionController(factory)
    trained = []  # the windows show the training status on this signal (scripted mode)
    c.trained.connect(lambda: trained.append(c.snapshot.step))
    # wait() yields the GIL as an event loop would (a bare spin starved the trainer: 40 s)
    assert c.train_steps(30, wait=lambda: time.sleep(0.005))
    assert not c.running and c.snapshot.step >= 30
    assert trained == [c.snapshot.step]
    c.shutdown()


def test_both_windows_offer_the_same_control_ranges_from_the_state(qtbot, monkeypatch, tmp_path):
    """Choice lists and slider ranges are defined once (state, reading core), not per window:
    the SDE sigma slider was 0-3 in 2D and 0-2 in image mode, poly3 was missing from the UI."""
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path))
    monkeypatch.setenv("FLOWSCOPE_TRAIN_PROCESS", "0")
    from flowscope.core.schedules import SCHEDULE_NAMES
    from flowscope.state import AppState, ImageState
    from flowscope.ui.image_window import ImageWindow
    from flowscope.ui.panels import SamplingPanel, TrainingPanel

    sp = SamplingPanel(AppState())
    tp = TrainingPanel(AppState(), ["cpu"])
    iw = ImageWindow(ImageState(dataset="digits"), ask_to_save=False)
    qtbot.addWidget(sp)
    qtbot.addWidget(tp)
    qtbot.addWidget(iw)
    try:
        # the ranges are the fields' metadata, shared by both modes' sampler sub-model
        assert AppState.control_range("sigma") == ImageState.control_range("sigma") == (0, 3)
        assert AppState.control_range("steps") == ImageState.control_range("steps") == (2, 200)
        for widget in (sp.sigma, iw.sampling_panel.sigma):
            assert (widget.minimum(), widget.maximum()) == AppState.control_range("sigma")
        for widget in (sp.steps, iw.sampling_panel.steps):
            assert (widget.minimum(), widget.maximum()) == AppState.control_range("steps")
        pairs = [(sp.w, "w"), (sp.particles, "n_particles"), (tp.width_spin, "width"),
                 (tp.depth_spin, "depth"), (tp.batch_spin, "batch_size"), (tp.lr_spin, "lr"),
                 (tp.dropout, "label_dropout")]  # fmt: skip
        for widget, name in pairs:
            assert (widget.minimum(), widget.maximum()) == pytest.approx(
                AppState.control_range(name)
            ), name
        assert (iw.sampling_panel.strip_w.minimum(), iw.sampling_panel.strip_w.maximum()) == (
            ImageState.control_range("strip_w")
        )
        # row labels come from the metadata too
        form = sp.layout()
        assert form.labelForField(sp.steps).text() == AppState.label_of("steps")
        assert form.labelForField(sp.w).text() == AppState.label_of("w") == "guidance w"
        names = [tp.schedule.itemText(i) for i in range(tp.schedule.count())]
        assert len(names) == len(SCHEDULE_NAMES) and any("t³" in n for n in names)
    finally:
        iw.shutdown()
