"""The app leaves its start-up objects out of the cyclic garbage collector (a full collection
over ~240k of them stalled the GUI thread for 100-600 ms every few seconds)."""

import argparse
import gc
import weakref

import flowscope.app as app_module


class _Node:
    pass


def test_freeze_takes_existing_objects_out_and_later_cycles_are_still_collected():
    before = gc.get_freeze_count()
    try:
        app_module.freeze_startup_objects()
        assert gc.get_freeze_count() > before + 1000  # pytest + torch alone are far more
        node = _Node()
        node.me = node  # a reference cycle made after the freeze
        ref = weakref.ref(node)
        del node
        gc.collect()
        assert ref() is None
    finally:
        gc.unfreeze()


def test_showing_the_window_freezes_before_running(monkeypatch):
    calls: list[str] = []

    class Win:
        def show(self):
            calls.append("show")

    monkeypatch.setattr(app_module, "freeze_startup_objects", lambda: calls.append("freeze"))
    code = app_module._show_and_run(
        None, Win(), argparse.Namespace(), lambda app, win, args: calls.append("run") or 0
    )
    assert code == 0 and calls == ["show", "freeze", "run"]
