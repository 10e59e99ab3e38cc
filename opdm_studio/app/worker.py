"""Long work off the GUI thread: a worker QObject living on one long-lived QThread.

A *job* is a function ``job(cancel) -> iterator of ProgressEvent`` (the engine's ``Colorizer.run``
or the export loop). The worker drives the iterator in its thread, turns events into throttled signals
(at most ~20 progress signals a second, however fast frames finish), and stops when the cancel
token is set: the engine checks it between steps, so Esc takes effect within one step and every
frame finished before it is kept. The GUI talks to the worker only through signals and
:meth:`ColorizeWorker.cancel` (the engine's thread-safe CancelToken).
"""
from __future__ import annotations

import logging
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from opdm_studio.app.i18n import translate
from opdm_studio.errors import Cancelled, OPDMError
from opdm_studio.pipelines.base import CancelToken

log = logging.getLogger("opdm_studio.app.worker")

MIN_INTERVAL_S = 0.05   # throttle: <= 20 progress signals per second


@dataclass
class Job:
    """A unit of background work: ``run(cancel)`` yields engine ProgressEvents."""

    kind: str                                   # "colorize" | "export"
    run: Callable[[CancelToken], Iterable[Any]]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Progress:
    """One throttled progress report."""

    fraction: float             # 0..1 over the whole job
    done: int                   # frames finished (or skipped as already finished)
    total: int                  # frames in the job
    eta_s: float | None
    message: str
    frames: list[int]           # cut indices finished since the previous report
    previews: dict[int, Any] = field(default_factory=dict)   # first pictures of frames being coloured


@dataclass
class Outcome:
    """How a job ended."""

    kind: str
    done: int
    total: int
    seconds: float
    cancelled: bool = False
    error: BaseException | None = None
    user_error: bool = False
    details: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


#: The cut run's own sentences (English, as the command line prints them) the status line says
#: in the interface language.
_ENGINE_TEXT = ((re.compile(r"^(\d+) of (\d+) frames to colour$"), "start"),
                (re.compile(r"^(\d+) frames coloured in ([\d.]+) s$"), "finished"))


def engine_text(message: str) -> str:
    """An engine progress message in the interface language (unknown ones as they are)."""
    for pattern, kind in _ENGINE_TEXT:
        m = pattern.match(message)
        if m is None:
            continue
        if kind == "start":
            return translate("worker", "{n} of {total} frames to colour").format(n=m[1], total=m[2])
        return translate("worker", "{n} frames coloured in {seconds} s").format(n=m[1], seconds=m[2])
    return message


def describe(ev: Any) -> str:
    """Status-line text of an engine event: what runs now (adapting to the keys, colouring a
    frame, deciding an interval's paint), in the interface language."""
    phase = getattr(ev, "phase", "")
    if ev.kind == "step" and phase == "adapt":
        return translate("worker", "adapting to keys {first} and {last}: step {step}/{steps}").format(
            first=ev.keys[0], last=ev.keys[1], step=ev.step, steps=ev.steps)
    if ev.kind == "decide":
        return translate("worker", "deciding the paint between keys {first} and {last}").format(
            first=ev.keys[0], last=ev.keys[1])
    if ev.kind in ("frame", "step"):
        return translate("worker", "colouring {name} ({frame}/{frames})").format(
            name=ev.name, frame=ev.frame, frames=ev.frames)
    if ev.kind == "done":
        return translate("worker", "{name} finished ({frame}/{frames})").format(
            name=ev.name, frame=ev.frame, frames=ev.frames)
    return engine_text(ev.message or "")


class ColorizeWorker(QObject):
    """Runs one :class:`Job` at a time in its thread; reports by signals only."""

    progress = Signal(object)      # Progress
    finished = Signal(object)      # Outcome
    _submit = Signal(object)       # internal: hands a Job to the worker thread

    def __init__(self) -> None:
        super().__init__()
        self._cancel = CancelToken()
        self._busy = threading.Event()
        self._submit.connect(self._run)

    @property
    def busy(self) -> bool:
        """True while a job runs."""
        return self._busy.is_set()

    def submit(self, job: Job) -> None:
        """Start ``job`` in the worker thread (call from the GUI thread)."""
        if self._busy.is_set():
            raise RuntimeError("a job is already running")
        self._cancel = CancelToken()
        self._busy.set()
        self._submit.emit(job)

    def cancel(self) -> None:
        """Ask the running job to stop after its current step (thread-safe)."""
        self._cancel.cancel()

    @Slot(object)
    def _run(self, job: Job) -> None:
        t0 = time.perf_counter()
        done = total = 0
        fraction, eta = 0.0, None
        pending: list[int] = []
        previews: dict[int, Any] = {}
        last_emit = 0.0
        message = ""
        cancel = self._cancel
        cancelled = False
        outcome: Outcome
        try:
            for ev in job.run(cancel):
                total = ev.frames or total
                fraction = ev.fraction
                eta = ev.eta
                if ev.kind == "done" and ev.index >= 0:
                    pending.append(int(ev.index))
                    previews.pop(int(ev.index), None)
                if ev.kind == "preview" and ev.index >= 0:
                    previews[int(ev.index)] = ev.picture
                if ev.kind in ("done", "skip"):
                    done = ev.frame
                if ev.kind == "cancelled":
                    cancelled = True
                message = describe(ev) or message
                now = time.perf_counter()
                # Throttle: the GUI repaints at most ~20 times a second whatever the job does.
                if now - last_emit >= MIN_INTERVAL_S:
                    self._emit(fraction, done, total, eta, message, pending, previews)
                    pending, previews = [], {}
                    last_emit = now
                if cancel.cancelled and job.kind != "colorize":
                    break  # the engine checks the token itself; other jobs stop here
            outcome = Outcome(job.kind, done, total, time.perf_counter() - t0,
                              cancelled=cancelled or cancel.cancelled)
        except Cancelled:
            outcome = Outcome(job.kind, done, total, time.perf_counter() - t0, cancelled=True)
        except OPDMError as exc:
            outcome = Outcome(job.kind, done, total, time.perf_counter() - t0, error=exc, user_error=True)
        except Exception as exc:  # a bug must not kill the thread: log it and tell the GUI
            details = traceback.format_exc()
            log.error("unexpected error in %s job:\n%s", job.kind, details)
            outcome = Outcome(job.kind, done, total, time.perf_counter() - t0, error=exc, details=details)
        outcome.meta = job.meta
        self._emit(fraction, done, total, None, message, pending, previews)
        self._busy.clear()
        self.finished.emit(outcome)

    def _emit(self, fraction: float, done: int, total: int, eta: float | None, message: str,
              frames: list[int], previews: dict[int, Any] | None = None) -> None:
        self.progress.emit(Progress(fraction, done, total, eta, message, list(frames), dict(previews or {})))


class WorkerThread:
    """Owns the long-lived QThread and the worker moved onto it."""

    def __init__(self) -> None:
        self.thread = QThread()
        self.thread.setObjectName("opdm-worker")
        self.worker = ColorizeWorker()
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def stop(self, wait_ms: int = 10000) -> None:
        """Cancel any job and end the thread (at shutdown)."""
        self.worker.cancel()
        self.thread.quit()
        self.thread.wait(wait_ms)
