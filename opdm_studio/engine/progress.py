"""The progress of a cut run: :class:`ProgressEvent` (what the GUI and the CLI are told),
:class:`RunProgress` (counters and the ETA) and :class:`FinishingQueue` (snapping and writing
frame i in a background thread while frame i+1 samples). No Qt here.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from opdm_studio.engine.frame import FrameOutput
from opdm_studio.engine.plan import PlanItem
from opdm_studio.engine.project import FrameResult, Project


@dataclass(slots=True)
class ProgressEvent:
    """One progress report of :meth:`Colorizer.run` (cheap: no image copies).

    kind: "start" (plan ready), "frame" (a frame starts), "step" (a sampler step finished),
    "done" (a frame finished and is saved; ``result`` and ``output`` set), "skip" (already
    finished earlier), "finished" (all done), "cancelled" (stopped; finished frames kept).
    """

    kind: str
    frame: int                   # 1-based position in the plan (0 for start/finished)
    frames: int                  # number of frames in the plan
    index: int = -1              # frame index in the cut
    name: str = ""
    step: int = 0                # 1-based sampler step within the frame
    steps: int = 0
    elapsed: float = 0.0         # seconds since run() started
    eta: float | None = None     # seconds left (None until one frame has been timed)
    result: FrameResult | None = None
    output: FrameOutput | None = None
    message: str = ""
    completed: int | None = None  # frames finished or finishing (the engine sets it; None = use frame)

    @property
    def fraction(self) -> float:
        """Overall progress in [0, 1] (finished frames, refined by the sampler's steps)."""
        if self.frames <= 0 or self.kind == "finished":
            return 1.0
        inner = (self.step / self.steps) if (self.kind == "step" and self.steps) else 0.0
        if self.completed is not None:
            # A frame can still be finishing in the background while the next one samples.
            return min(1.0, (self.completed + inner) / self.frames)
        done = self.frame if self.kind in ("done", "skip") else max(0, self.frame - 1) + inner
        return min(1.0, done / self.frames)


# Time of a held or key frame (copy + write) relative to a coloured one, for the ETA.
_LIGHT_WEIGHT = 0.05


def _weight(item: PlanItem) -> float:
    return 1.0 if item.kind == "color" else _LIGHT_WEIGHT


class RunProgress:
    """The counters of one run and its ETA: the work left and done (coloured frames weigh 1,
    copies and keys little), and the frames sampled (progress counts a frame once only its
    snapping and writing are left)."""

    def __init__(self, project: Project, total: int, todo: Iterable[PlanItem]) -> None:
        self.project = project
        self.total = total
        self.t0 = time.perf_counter()
        self.left = sum(_weight(it) for it in todo)
        self.done = 0.0
        self.sampled = 0
        self.work_t0: float | None = None

    def frame_started(self) -> float:
        """Note the start of a frame's work; returns its start time."""
        now = time.perf_counter()
        if self.work_t0 is None:
            self.work_t0 = now
        return now

    def frame_recorded(self, item: PlanItem) -> None:
        """A frame is finished and recorded."""
        self.done += _weight(item)
        self.left -= _weight(item)

    def eta(self, extra: float = 0.0) -> float | None:
        """Seconds left, from the rate so far (``extra``: the part of the current frame done)."""
        if self.work_t0 is None or self.done + extra <= 0:
            return None
        rate = (time.perf_counter() - self.work_t0) / (self.done + extra)
        return max(0.0, (self.left - extra) * rate)

    def event(self, kind: str, pos: int, item: PlanItem | None = None, **kw: Any) -> ProgressEvent:
        """A :class:`ProgressEvent` of this run."""
        return ProgressEvent(kind, pos, self.total, item.index if item else -1,
                             self.project.frame_name(item.index) if item else "",
                             elapsed=time.perf_counter() - self.t0, completed=self.sampled, **kw)


class FinishingQueue:
    """One background thread snaps and writes frame i while the sampler works on frame i+1: on
    a 2-core CPU the two overlap almost fully (OpenCV and zlib release the GIL). At most one
    frame is in flight; :meth:`settle` waits for it (its errors re-raise there)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opdm-finish")
        self._pending: list[tuple[int, PlanItem, float, Future]] = []

    def submit(self, pos: int, item: PlanItem, frame_t0: float, fn: Any, *args: Any) -> None:
        """Finish frame ``item`` in the background: ``fn(*args)`` returns (output, result)."""
        self._pending.append((pos, item, frame_t0, self._pool.submit(fn, *args)))

    def settle(self) -> Iterator[tuple[int, PlanItem, float, FrameOutput, FrameResult]]:
        """Wait for the frame in flight: (position, item, start time, output, result)."""
        while self._pending:
            pos, item, frame_t0, fut = self._pending.pop()
            output, result = fut.result()
            yield pos, item, frame_t0, output, result

    def close(self, record: Any) -> None:
        """Closed early (the GUI quit, an error): the frame in flight still gets recorded."""
        try:
            for _pos, item, frame_t0, fut in self._pending:
                try:
                    output, result = fut.result()
                    record(item, output, result, frame_t0)
                except Exception:  # its error was or will be reported by the caller's path
                    pass
            self._pending.clear()
        finally:
            self._pool.shutdown(wait=True)
