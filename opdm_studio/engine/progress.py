"""The progress of a cut run: :class:`ProgressEvent` (what the GUI and the CLI are told),
:class:`RunProgress` (counters and the ETA) and :class:`FinishingQueue` (snapping and writing
frame i in a background thread while frame i+1 samples). No Qt here.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from opdm_studio.engine.frame import FrameOutput
from opdm_studio.engine.plan import PlanItem
from opdm_studio.engine.project import FrameResult, Project


@dataclass(slots=True)
class ProgressEvent:
    """One progress report of :meth:`Colorizer.run` (cheap: no image copies).

    kind: "start" (plan ready), "frame" (a frame starts), "step" (a step of the frame's work
    finished: ``phase`` says which), "decide" (an interval's paint is being decided), "preview"
    (a first picture of a frame before it is finished: ``picture``, its colours without lines),
    "done" (a frame finished and is saved; ``result`` and ``output`` set), "skip" (already finished
    earlier), "finished" (all done), "cancelled" (stopped; finished frames kept). ``message``:
    what runs, in a sentence (the command line's words; the app says it from the fields).
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
    phase: str = ""              # what runs: "adapt" (to the keys), "sample", "decide", "" (other)
    keys: tuple[str, str] = ("", "")   # the interval's keyframes (file names), for adapt / decide
    share: float | None = None   # share of the run's work done, by its timed cost (the engine sets it)
    picture: Any = None          # "preview": the frame's colours so far, uint8 (H, W, 3), no lines

    @property
    def fraction(self) -> float:
        """Overall progress in [0, 1] (finished frames, refined by the sampler's steps)."""
        if self.frames <= 0 or self.kind == "finished":
            return 1.0
        if self.share is not None:
            return min(1.0, max(0.0, self.share))
        inner = (self.step / self.steps) if (self.kind == "step" and self.steps) else 0.0
        if self.completed is not None:
            # A frame can still be finishing in the background while the next one samples.
            return min(1.0, (self.completed + inner) / self.frames)
        done = self.frame if self.kind in ("done", "skip") else max(0, self.frame - 1) + inner
        return min(1.0, done / self.frames)


#: The kinds of work a run does, each counted in units: a key interval's set-up before the network
#: adapts to it (the flow chained through its drawings), a step of adapting the network, a frame
#: sampled, a sampled frame measured over its regions (in the background), a frame's share of its
#: interval's paint decision, a frame finished (snapped, written), a key or held drawing copied.
WORK = ("setup", "adapt", "sample", "measure", "decide", "finish", "light")

#: Until a kind of work has been timed in this run, its seconds per unit relative to one sampled
#: frame's: the cut bench's default pipeline on a 2-core AMD EPYC (AVX2), 1080p, under load 6-15
#: (docs/benchmarks.md, "Progress and ETA"). Each kind's own timing replaces it once measured.
PRIOR = {"setup": 3.0, "adapt": 1.2, "sample": 1.0, "measure": 0.45, "decide": 0.07, "finish": 0.25,
         "light": 0.35}
#: The same for the model-free ``flow`` method, whose sampling (the chained flow's propagation) is
#: cheap next to measuring and writing a frame: `opdm-studio bench --cut --method flow` on the
#: same CPU, quiet (docs/benchmarks.md, "The model-free floor and the flow method's ETA"). With
#: the model's ratios its estimates were 50-80 % off: a measured frame's cost set every prior.
PRIORS = {"flow": {"setup": 15.0, "adapt": 1.2, "sample": 1.0, "measure": 1.8, "decide": 0.18,
                   "finish": 0.65, "light": 2.3}}
#: Kinds whose timing says what a sampled frame costs (a key's copy is mostly writing files).
_REFERENCE = ("adapt", "sample", "measure", "finish")


class RunProgress:
    """The counters of one run and its ETA.

    The ETA is the work left, kind by kind (:data:`WORK`: adaptation steps, frames to sample, to
    measure, to finish, drawings to copy), times each kind's seconds per unit as timed in this run
    (for a kind not seen yet, its ratio to what was timed: :data:`PRIOR`, or the method's own in
    :data:`PRIORS`): so it counts the adaptation of every key interval from the start, and a
    frame's finishing before the first one finished.
    The sum is scaled by the run's own pace: the time the work took so far over what the same
    model says it took (the measuring runs beside the sampling, a busy machine slows both, the
    first frame of an interval also chains its flow). ``clock``: the time source (tests give a
    fake one). Progress counts a frame once only its finishing is left (``sampled``).
    """

    def __init__(self, project: Project, total: int, todo: Iterable[PlanItem], adapt_steps: int = 0,
                 intervals: int = 0, measured: bool = True,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.project = project
        self.prior = PRIORS.get(project.settings.method, PRIOR)
        self.total = total
        self.clock = clock
        self.t0 = clock()
        todo = list(todo)
        coloured = sum(it.kind == "color" for it in todo)
        self.left = {"setup": int(intervals), "adapt": int(adapt_steps), "sample": coloured,
                     "measure": coloured * measured, "decide": coloured * measured,
                     "finish": coloured, "light": len(todo) - coloured}
        self.spent = dict.fromkeys(WORK, 0.0)
        self.timed = dict.fromkeys(WORK, 0)
        self.done = dict.fromkeys(WORK, 0)
        self.untimed_s = 0.0               # seconds of work left out of the timings
        self.sampled = 0
        self.work_t0: float | None = None
        self._lock = threading.Lock()     # measuring and finishing are timed in the background
        self._share = 0.0

    def frame_started(self) -> float:
        """Note the start of a frame's work; returns its start time."""
        now = self.clock()
        if self.work_t0 is None:
            self.work_t0 = now
        return now

    def note(self, kind: str, seconds: float, units: int = 1, timed: bool = True) -> None:
        """``units`` of work of ``kind`` are done; they took ``seconds``. ``timed=False``: not
        what such work usually takes (a first adaptation step also builds the network's copy
        and its optimiser), so left out of the timings and of the pace."""
        with self._lock:
            if timed:
                self.spent[kind] += max(0.0, float(seconds))
                self.timed[kind] += units
            else:
                self.untimed_s += max(0.0, float(seconds))
            self.done[kind] += units
            self.left[kind] = max(0, self.left[kind] - units)

    def _totals(self, unit: dict[str, float]) -> tuple[float, float, float]:
        """(seconds left, seconds timed so far, by the units' seconds; seconds of work left out
        of the timings). Measuring runs beside the sampling: it counts only for the time it needs
        beyond the sampling, still to do or done (the run waits for it before a decision)."""
        with self._lock:
            left = sum(self.left[k] * unit[k] for k in WORK if k != "measure")
            beside = self.left["measure"] * unit["measure"] - self.left["sample"] * unit["sample"]
            done = sum(self.timed[k] * unit[k] for k in WORK if k != "measure")
            waited = self.timed["measure"] * unit["measure"] - self.timed["sample"] * unit["sample"]
            return left + max(0.0, beside), done + max(0.0, waited), self.untimed_s

    def unit_seconds(self) -> dict[str, float] | None:
        """Seconds per unit of each kind of work: as timed, or from the prior ratios (None: nothing
        timed yet)."""
        with self._lock:
            known = {k: self.spent[k] / self.timed[k] for k in WORK if self.timed[k] and self.spent[k] > 0}
        ref = [v / self.prior[k] for k, v in known.items() if k in _REFERENCE]
        if not ref:
            return None
        frame = sum(ref) / len(ref)          # one sampled frame's seconds, from what was timed
        return {k: known.get(k, self.prior[k] * frame) for k in WORK}

    def eta(self, running: float = 0.0, kind: str = "sample") -> float | None:
        """Seconds left (None until some work was timed); ``running``: seconds already spent on
        the unit of ``kind`` in progress (at most what such a unit takes counts)."""
        unit = self.unit_seconds()
        if unit is None:
            return None
        left, done, untimed = self._totals(unit)
        left -= min(max(0.0, running), unit[kind])
        elapsed = self.clock() - self.work_t0 - untimed if self.work_t0 is not None else 0.0
        pace = min(2.0, max(0.5, elapsed / done)) if done > 0 and elapsed > 0 else 1.0
        return max(0.0, left * pace)

    def share(self) -> float:
        """The share of the run's work done, by its timed cost (0 until a frame's work was
        timed); it never goes back when a kind of work turns out dearer than first thought."""
        unit = self.unit_seconds()
        if unit is None:
            return self._share
        with self._lock:
            done = sum(self.done[k] * unit[k] for k in WORK if k != "measure")
        left, _, _ = self._totals(unit)
        with self._lock:
            self._share = max(self._share, done / (done + left) if done + left > 0 else 1.0)
            return self._share

    def event(self, kind: str, pos: int, item: PlanItem | None = None, **kw: Any) -> ProgressEvent:
        """A :class:`ProgressEvent` of this run."""
        kw.setdefault("share", self.share())
        return ProgressEvent(kind, pos, self.total, item.index if item else -1,
                             self.project.frame_name(item.index) if item else "",
                             elapsed=self.clock() - self.t0, completed=self.sampled, **kw)


class FinishingQueue:
    """One background thread snaps and writes frame i while the sampler works on frame i+1: on
    a 2-core CPU the two overlap almost fully (OpenCV and zlib release the GIL). At most one
    frame is in flight; :meth:`settle` waits for it (its errors re-raise there)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opdm-finish")
        self._pending: list[tuple[int, PlanItem, float, Future]] = []

    def background(self, fn: Any, *args: Any) -> Future:
        """Run ``fn(*args)`` on the finishing thread, after what is queued there (a sampled frame
        measured over its regions while the next one samples)."""
        return self._pool.submit(fn, *args)

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
