"""Unit tests of the app's parts: timeline model on long cuts, worker throttling, settings store."""
from __future__ import annotations

import time

import numpy as np
from PIL import Image

from opdm_studio.app.settings import AppSettings, qsettings
from opdm_studio.app.worker import Job, WorkerThread
from opdm_studio.engine.run import ProgressEvent


def test_timeline_with_500_frames_makes_only_visible_thumbnails(qtbot, window, tmp_path):
    folder = tmp_path / "long_cut"
    folder.mkdir()
    img = Image.new("L", (32, 18), 255)
    for i in range(500):
        img.save(folder / f"{i:04d}.png")
    t0 = time.perf_counter()
    assert window.open_cut(folder)
    assert window.frames.rowCount() == 500
    window.timeline.set_current_frame(250)
    thumbs = window.frames.thumbs
    qtbot.waitUntil(lambda: thumbs.wait(100) and thumbs.cached > 0, timeout=10000)
    made = thumbs.requested
    # Only the tiles on screen (and a margin) were decoded, not the whole cut.
    assert 0 < made < 100
    window.acts.last.trigger()
    assert window.current_frame() == 499
    assert time.perf_counter() - t0 < 60  # sanity bound, not a speed target


def _fake_job(n_events: int, sleep_s: float):
    def run(cancel):
        for k in range(1, n_events + 1):
            cancel.raise_if_cancelled()
            time.sleep(sleep_s)
            yield ProgressEvent("done", k, n_events, index=k - 1, name=str(k))
    return Job("colorize", run)


def test_worker_throttles_progress_and_reports_every_frame(qtbot):
    wt = WorkerThread()
    try:
        reports, outcomes = [], []
        wt.worker.progress.connect(reports.append)
        wt.worker.finished.connect(outcomes.append)
        t0 = time.perf_counter()
        wt.worker.submit(_fake_job(400, 0.001))
        qtbot.waitUntil(lambda: bool(outcomes), timeout=20000)
        seconds = time.perf_counter() - t0
        assert outcomes[0].done == 400 and not outcomes[0].cancelled
        # <= ~20 reports a second (+ the first and the final one), yet every frame is reported.
        assert len(reports) <= seconds * 20 + 3
        assert sorted(f for r in reports for f in r.frames) == list(range(400))
        assert reports[-1].fraction == 1.0
    finally:
        wt.stop()


def test_worker_cancel_and_errors(qtbot):
    from opdm_studio.errors import ProjectError
    wt = WorkerThread()
    try:
        outcomes = []
        wt.worker.finished.connect(outcomes.append)
        wt.worker.submit(_fake_job(10000, 0.001))
        qtbot.wait(50)
        wt.worker.cancel()
        qtbot.waitUntil(lambda: bool(outcomes), timeout=10000)
        assert outcomes[0].cancelled and 0 < outcomes[0].done < 10000

        def bad_user(cancel):
            yield ProgressEvent("start", 0, 1)
            raise ProjectError("frame 0001.png has no colour")

        def bad_bug(cancel):
            yield ProgressEvent("start", 0, 1)
            raise ZeroDivisionError("oops")
        wt.worker.submit(Job("colorize", bad_user))
        qtbot.waitUntil(lambda: len(outcomes) == 2, timeout=10000)
        assert outcomes[1].user_error and "0001.png" in str(outcomes[1].error)
        wt.worker.submit(Job("colorize", bad_bug))
        qtbot.waitUntil(lambda: len(outcomes) == 3, timeout=10000)
        assert not outcomes[2].user_error and "ZeroDivisionError" in outcomes[2].details
        assert not wt.worker.busy  # the thread survived both
    finally:
        wt.stop()


def test_settings_store_is_isolated_and_robust(tmp_path):
    from opdm_studio import paths
    s = AppSettings.load()
    assert s == AppSettings()  # fresh home: defaults
    s.add_recent(tmp_path / "a")
    s.add_recent(tmp_path / "b")
    s.add_recent(tmp_path / "a")
    s.save()
    assert qsettings().fileName().startswith(str(paths.data_dir()))
    again = AppSettings.load()
    assert again.recent == [str((tmp_path / "a").resolve()), str((tmp_path / "b").resolve())]
    q = qsettings()
    q.setValue("colorize/steps", "many")
    q.setValue("colorize/method", "magic")
    q.sync()
    broken = AppSettings.load()
    assert broken.steps == 10 and broken.method == "model"
    q.setValue("colorize/method", "opdm")       # the model method's old name, in older settings
    q.sync()
    assert AppSettings.load().method == "model"


def test_compose_review_highlights_low_confidence():
    from opdm_studio.app.viewer import REVIEW_TINT, compose

    class Doc:
        def line(self, i):
            return np.full((8, 8), 255, np.uint8)

        def result_color(self, i):
            return np.full((8, 8, 3), 100, np.uint8)

        def composite(self, i):             # the drawing is blank paper: the colour alone
            return self.result_color(i)

        def confidence(self, i):
            c = np.ones((8, 8), np.float32)
            c[:4] = 0.1
            return c
    img, note, _ = compose(Doc(), 0, "review")
    assert (img[4:] == 100).all()
    tinted = img[:4].reshape(-1, 3).astype(float)
    assert np.abs(tinted - REVIEW_TINT).sum(axis=1).min() < np.abs(100 - REVIEW_TINT).sum()
    assert "50.0%" in note


def test_pyside_keeps_references_to_none_and_true(qtbot):
    """shiboken6 6.12.0 on Python 3.11 drops a reference to None per call and to True per emit,
    and the interpreter aborts after ~1000 calls; pyproject pins a version without the bug."""
    import sys

    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QLabel

    class Probe(QObject):
        sig = Signal()

    probe, label = Probe(), QLabel()
    n0, t0 = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(500):
        label.setText("x")
        probe.sig.emit()
    assert sys.getrefcount(None) >= n0 - 50
    assert sys.getrefcount(True) >= t0 - 50
