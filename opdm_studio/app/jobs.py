"""The window's background jobs, one at a time: colouring a range and exporting, on the worker.

:class:`JobRunner` owns the long-lived worker thread (:mod:`.worker`), knows which job runs and
how the last one ended, and re-emits the worker's signals on the GUI side. The jobs themselves
are engine calls: :func:`colorize_job` here, ``export_job`` in :mod:`.export_dialog`.
"""
from __future__ import annotations

import time
from collections.abc import Iterable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from opdm_studio.app.i18n import translate
from opdm_studio.app.worker import Job, Outcome, WorkerThread


class JobRunner(QObject):
    """Runs one :class:`Job` at a time on the worker thread; talks back by signals only."""

    started = Signal(str)          # the job's kind
    progress = Signal(object)      # Progress (throttled by the worker)
    finished = Signal(object)      # Outcome; ``kind`` is None again when it arrives

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = WorkerThread()
        self.worker = self._thread.worker
        self.kind: str | None = None               # "colorize" | "export" while a job runs
        self.last_outcome: Outcome | None = None   # how the last job ended
        # Queued to this object's (the GUI) thread: the slots below run there, in order.
        self.worker.progress.connect(self.progress)
        self.worker.finished.connect(self._on_finished)

    @property
    def busy(self) -> bool:
        """True while a job runs."""
        return self.kind is not None

    def start(self, job: Job) -> None:
        """Run ``job`` in the worker thread (one at a time)."""
        self.kind = job.kind
        self.started.emit(job.kind)
        self.worker.submit(job)

    def cancel(self) -> bool:
        """Ask the running job to stop after its current step; False if none runs."""
        if self.busy:
            self.worker.cancel()
        return self.busy

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Process events until no job runs (scripts, tests, the screenshot tool)."""
        end = time.perf_counter() + timeout_s
        while self.busy and time.perf_counter() < end:
            QApplication.processEvents()
            time.sleep(0.005)
        QApplication.processEvents()
        return not self.busy

    def stop(self) -> None:
        """Cancel any job and end the worker thread (at shutdown)."""
        self._thread.stop()

    def _on_finished(self, outcome: Outcome) -> None:
        self.kind = None
        self.last_outcome = outcome
        self.finished.emit(outcome)


def frames_to_colour(doc, selected: list[int]) -> tuple[list[int], str]:
    """What Colorize colours for a timeline selection, and that in words: the selected range;
    when the selection holds only keyframes, the intervals they bound (a lone keyframe: the
    intervals on both sides of it; a cut with one keyframe: every frame); nothing selected:
    every frame."""
    n, label = doc.n_frames, doc.frame_label
    if not selected:
        return list(range(n)), translate("jobs", "all {n} frames").format(n=n)
    keys = doc.keys()
    first, last = min(selected), max(selected)
    if set(selected) <= set(keys):
        if len(set(selected)) == 1:
            k = first
            first = max((x for x in keys if x < k), default=0)
            last = min((x for x in keys if x > k), default=n - 1)
            if len(keys) == 1:
                return list(range(n)), translate("jobs", "all {n} frames (the cut's only keyframe was "
                                                         "selected)").format(n=n)
            what = translate("jobs", "frames {first}-{last}, the intervals of keyframe {key}").format(
                first=label(first), last=label(last), key=label(k))
        else:
            what = translate("jobs", "frames {first}-{last}, between the selected keyframes").format(
                first=label(first), last=label(last))
        return list(range(first, last + 1)), what
    if first == last:
        return [first], translate("jobs", "frame {frame}").format(frame=label(first))
    return list(range(first, last + 1)), translate("jobs", "frames {first}-{last}").format(
        first=label(first), last=label(last))


def colorize_job(project, frames: Iterable[int], what: str | None = None, force: bool = False) -> Job:
    """A job colouring ``frames`` of ``project`` with the engine's run (results saved one by one);
    ``what`` says which frames, in words, for the status line; ``force`` colours finished frames
    again (the command line's ``--force``)."""
    from opdm_studio.engine.run import Colorizer
    frames = list(frames)
    # The layer files the run writes go to the project's own folder, which this app made;
    # replacing them is the point of a re-run (the engine otherwise refuses files a promoted
    # keyframe's earlier result wrote, because promotion drops that result's record).
    own_folder = project.output_dir.resolve() == project.root.resolve()

    def run(cancel):
        return Colorizer(project, overwrite=own_folder).run(frames=frames, cancel=cancel, force=force)
    what = what or translate("jobs", "{n} frame(s)").format(n=len(frames))
    return Job("colorize", run, meta={"frames": frames, "what": what})


def outcome_text(outcome: Outcome) -> str:
    """The status line after a job: done, cancelled, or stopped by an error."""
    colour = outcome.kind == "colorize"
    n, total, seconds = outcome.done, outcome.total, f"{outcome.seconds:.1f}"
    if outcome.error is not None:
        text = (translate("jobs", "Colouring stopped by an error after {n} frame(s).") if colour else
                translate("jobs", "Export stopped by an error after {n} frame(s)."))
    elif outcome.cancelled:
        text = (translate("jobs", "Colouring cancelled: {n} of {total} frame(s) finished and kept.") if colour
                else translate("jobs", "Export cancelled: {n} of {total} frame(s) finished and kept."))
    elif colour and outcome.meta and outcome.meta.get("what"):
        text = translate("jobs", "Coloured {what}: {n} frame(s) in {seconds} s.")
    elif colour:
        text = translate("jobs", "Coloured {n} frame(s) in {seconds} s.")
    else:
        text = translate("jobs", "Exported {n} frame(s) in {seconds} s.")
    what = outcome.meta.get("what") if outcome.meta else None
    return text.format(n=n, total=total, seconds=seconds, what=what)
