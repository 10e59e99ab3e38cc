"""One run of the cut colouriser, as a list of steps: :class:`CutRun` (``Colorizer.run`` makes one).

:meth:`CutRun.events` walks the plan in order. A frame already finished is skipped; a keyframe or
a held drawing is copied through; an in-between is sampled (the network first adapting to its
key interval, with a first picture to show meanwhile), then kept with the interval's other
sampled frames while the finishing thread measures it over its regions. When the interval ends
(or :data:`CHUNK` frames wait), their paint is decided along the region tracks and they are
finished and written in order. A cancel, or the caller dropping the run, finishes the frames
already sampled; the frame being sampled is dropped. Progress events say what runs throughout.
"""
from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from opdm_studio.engine.composite import trace_treatment
from opdm_studio.engine.frame import FrameOutput
from opdm_studio.engine.paint import FrameDecision, IntervalPainter, PendingInterval
from opdm_studio.engine.plan import PlanItem
from opdm_studio.engine.progress import FinishingQueue, ProgressEvent, RunProgress
from opdm_studio.engine.project import FrameResult
from opdm_studio.errors import Cancelled, OPDMError
from opdm_studio.pipelines.base import CancelToken, Guess, step_phase

if TYPE_CHECKING:
    from opdm_studio.engine.run import Colorizer, Work

#: In-betweens of one key interval sampled before their paint is decided together (memory: a
#: 1080p guess is 6 MB, its region statistics about 14 MB more).
CHUNK = 24


class CutRun:
    """The state of one run (progress, the finishing thread, the interval being sampled) and its
    steps; :meth:`events` is the run."""

    def __init__(self, colorizer: Colorizer, work: Work, cancel: CancelToken) -> None:
        self.colorizer = colorizer
        self.project = colorizer.project
        self.work = work
        self.fc = work.fc
        self.cancel = cancel
        snap = self.fc.settings.snap if self.fc is not None else "off"
        self.painter = IntervalPainter(colorizer.fixer.regions, snap) if snap != "off" else None
        todo = [it for it in work.items if it.index in work.todo]
        self.progress = RunProgress(self.project, len(work.items), todo, *adapting(self.fc, todo),
                                    measured=self.painter is not None, clock=colorizer.clock)
        self.clock = self.progress.clock
        self.event = self.progress.event
        self.name = self.project.frame_name
        self.queue = FinishingQueue()
        self.pending = PendingInterval()
        self.last_output: list[tuple[int, FrameOutput]] = []   # colours reused by held frames
        self.set_up: set[tuple[int, int]] = set()   # key intervals whose first frame was sampled
        self._keys: tuple[tuple[int, int], dict[int, np.ndarray]] | None = None

    # -- the run ------------------------------------------------------------------------------
    def events(self) -> Iterator[ProgressEvent]:
        """The run: every frame of the plan in order, then the last interval; events as it goes."""
        work, pending = self.work, self.pending
        try:
            yield self.event("start", 0, message=f"{len(work.todo)} of {len(work.items)} frames to colour")
            if work.todo:
                # How the keys treat trace lines, learnt from every key once per run (4.7 s for a
                # 600-frame cut's 26 keys): not what the first frame needing it costs, which the
                # ETA would take for the cost of each such frame.
                trace_treatment(self.project)
            for pos, item in enumerate(work.items, start=1):
                if item.index not in work.todo:
                    yield from self.skip(pos, item)
                    continue
                if self.cancel.cancelled:
                    yield from self.stop(pos, item)
                    return
                frame_t0 = self.progress.frame_started()
                # What the result is made from, read before its pixels: an edit made while the
                # frame is coloured leaves it out of date rather than wrongly current.
                sources = self.project.sources_of(item.index, item.keys)
                yield self.event("frame", pos, item, eta=self.progress.eta(), phase="sample",
                                 message=f"colouring {self.name(item.index)}")
                if pending.keys is not None and (item.keys != pending.keys or item.kind == "key"
                                                 or pending.count >= CHUNK):
                    yield from self.flush()
                if item.kind == "held" and pending.keys is not None:
                    pending.add(pos, item, frame_t0, sources, None)   # after its source is finished
                    continue
                if item.kind in ("key", "held"):
                    yield from self.finish_plain(pos, item, frame_t0, sources)
                    continue
                try:
                    guess = yield from self.sample(pos, item, frame_t0)
                except Cancelled:
                    # The frame being sampled is dropped; the ones sampled before are finished.
                    yield from self.stop(pos, item)
                    return
                yield from self.keep(pos, item, frame_t0, sources, guess)
            yield from self.flush()
            yield from self.settle()
        except GeneratorExit:
            # Dropped by its caller (the window closed): the frames sampled so far are finished.
            for _ in self.flush():
                pass
            raise
        finally:
            self.queue.close(self.record)
            try:
                self.project.save()      # fold the results log into the project file
            except OPDMError:
                pass                     # the log keeps every result; the next save folds it
        yield self.event("finished", len(work.items), eta=0.0,
                         message=f"{len(work.todo)} frames coloured in "
                                 f"{self.clock() - self.progress.t0:.1f} s")

    # -- the steps ----------------------------------------------------------------------------
    def skip(self, pos: int, item: PlanItem) -> Iterator[ProgressEvent]:
        """A frame finished earlier: its missing layer files written again from its result."""
        yield from self.settle()
        res = self.project.results[item.index]
        targets = self.work.targets[item.index]
        missing = {k: p for k, p in targets.items() if not p.exists()}
        if missing:
            self.colorizer.rewrite_missing(item, res, missing)
            self.project.record_result(res)
        self.progress.sampled += 1
        yield self.event("skip", pos, item, eta=self.progress.eta(), result=res)

    def stop(self, pos: int, item: PlanItem) -> Iterator[ProgressEvent]:
        """Cancelled before ``item``: the frames sampled so far are finished, the project saved."""
        yield from self.flush()
        yield from self.settle()
        ev = self.event("cancelled", pos, item)
        # The unfinished frame wrote nothing; the results log already holds every finished one.
        self.project.save()
        ev.message = f"stopped before {ev.name}; finished frames are kept"
        yield ev

    def sample(self, pos: int, item: PlanItem, frame_t0: float
               ) -> Generator[ProgressEvent, None, Guess]:
        """Sample an in-between (a generator of events returning its :class:`Guess`): the
        interval's set-up and the network's adaptation to its keys first where they are due,
        each step timed as its kind of work."""
        fc, progress, clock = self.fc, self.progress, self.clock
        assert fc is not None
        previews: list[np.ndarray] = []
        setup = [0.0]     # the interval's set-up before adapting (its chained flow), seconds

        def show(picture: np.ndarray) -> None:
            previews.append(picture)
            setup[0] = clock() - frame_t0
            progress.note("setup", setup[0])
        gen = self.colorizer.color_guess(fc, item, self.cancel, show)
        keys = (self.name(item.prev), self.name(item.next))
        last_t, adapting_s = frame_t0, 0.0
        # The interval's planned adaptation steps, until they are run or found not needed (an
        # adapted copy kept from an earlier run of the interval, a frame not chained).
        adapt_due = 0 if item.keys in self.set_up else fc.adapt_steps(item.next - item.prev + 1)
        while True:
            try:
                step = next(gen)
            except StopIteration as stop:
                guess: Guess = stop.value
                break
            j, k = step
            if previews:
                yield self.event("preview", pos, item, picture=previews.pop(), eta=progress.eta())
            now, phase = clock(), step_phase(step)
            if phase != "adapt" and adapt_due:
                progress.note("adapt", 0.0, units=adapt_due, timed=False)
            adapt_due = 0 if phase != "adapt" else max(0, adapt_due - 1)
            if phase == "adapt":
                last_t = max(last_t, frame_t0 + setup[0])
                # The first step also builds the network's copy and its optimiser.
                progress.note("adapt", now - last_t, timed=j > 1)
                adapting_s += now - last_t
                k = fc.adapt_steps(item.next - item.prev + 1)
                text = f"adapting to keys {keys[0]} and {keys[1]}: step {j}/{k}"
            else:
                text = f"colouring {self.name(item.index)}: step {j}/{k}"
            last_t = now
            running = 0.0 if phase == "adapt" else now - frame_t0 - adapting_s - setup[0]
            yield self.event("step", pos, item, step=j, steps=k, phase=phase, keys=keys,
                             eta=progress.eta(running), message=text)
        if item.keys in self.set_up or setup[0] > 0:
            progress.note("sample", clock() - frame_t0 - adapting_s - setup[0])
        else:
            # The interval's first frame also set it up (its flow chained through the drawings)
            # with no mark between the two: it all counts as the interval's set-up.
            progress.note("setup", clock() - frame_t0 - adapting_s)
            progress.note("sample", 0.0, timed=False)
        self.set_up.add(item.keys)
        return guess

    def keep(self, pos: int, item: PlanItem, frame_t0: float, sources: dict[str, str],
             guess: Guess) -> Iterator[ProgressEvent]:
        """A sampled frame waits for its interval's decision, shown meanwhile, and is measured
        over its regions on the finishing thread while the next one samples."""
        assert self.fc is not None
        # Progress counts this frame from here: only deciding, snapping and writing are left.
        self.progress.sampled += 1
        # Shown until the interval's paint is decided and the frame is finished.
        yield self.event("preview", pos, item, picture=guess.rgb, eta=self.progress.eta())
        kept = self.pending.add(pos, item, frame_t0, sources, guess, self.fc.palette)
        if self.painter is not None and kept is not None:
            self.pending.evidence[item.index] = self.queue.background(
                self.measure, item.index, Guess(kept.rgb, kept.confidence, guess.base),
                self.fc.palette, self.key_colors(item.keys))

    def flush(self) -> Iterator[ProgressEvent]:
        """Decide the pending frames' paint along their tracks, then finish them in order."""
        pending, progress = self.pending, self.progress
        guessed = sorted(pending.guesses())
        if self.painter is not None and guessed and pending.keys is not None:
            keys = tuple(self.name(k) for k in pending.keys)
            yield self.event("decide", 0, phase="decide", keys=keys, eta=progress.eta(),
                             message=f"deciding the paint of {self.name(guessed[0])}-"
                                     f"{self.name(guessed[-1])} (keys {keys[0]} and {keys[1]})")
        decisions = self.decide()
        for pos, item, frame_t0, sources, guess in pending.take():
            if guess is None:
                yield from self.finish_plain(pos, item, frame_t0, sources)
                continue
            yield from self.settle()
            self.queue.submit(pos, item, frame_t0, self.finish_color, item, guess.rgb,
                              pending.palette, sources, decisions.get(item.index))

    def decide(self) -> dict[int, FrameDecision]:
        """The paint of the pending frames, decided along each region's track from key to key
        by the run's painter (none with snapping "off": each frame keeps its guess and
        frame-alone flags), from the evidence measured as they were sampled. Timed for the ETA
        once that evidence is in: the wait for the measuring still running in the background
        counts as measuring, beside the sampling (timed here too, the decision came out at 0.18 s
        a frame instead of 0.035 on a long flow cut, and the ETA up to 89 % over)."""
        pending = self.pending
        guesses = pending.guesses()
        if not guesses or pending.keys is None or self.painter is None:
            return {}
        evidence = {f: fut.result() for f, fut in pending.evidence.items()}
        t0 = self.clock()
        decisions = self.painter.decide(pending.palette, self.key_colors(pending.keys), guesses, evidence)
        if decisions:
            self.progress.note("decide", self.clock() - t0, units=len(decisions))
        return decisions

    def key_colors(self, keys: tuple[int, int]) -> dict[int, np.ndarray]:
        """The key interval's key colours (index -> uint8 (H, W, 3)), read once per interval."""
        if self._keys is None or self._keys[0] != keys:
            self._keys = (keys, {k: self.project.key_color(k) for k in set(keys)})
        return self._keys[1]

    def measure(self, f: int, guess: Guess, palette: Any, keys: dict[int, np.ndarray]) -> Any:
        """A sampled frame measured over its regions (on the finishing thread). The small regions
        its warp gives back (IntervalPainter.evidence) are written into the pending frame's own
        colours: an interval of 1080p frames holds no second copy of each. Whether the keys are
        exact paint, and the regions of the interval's first key, are made once per interval,
        outside the frame's timing (the ETA's)."""
        assert self.painter is not None
        if guess.base is not None:
            self.painter.keys_exact(keys, palette)
        if f > 0:       # the drawing before: the interval's key for its first frame, made once
            self.painter.regions.regions(f - 1)
        t0 = self.clock()
        evidence = self.painter.evidence(f, guess, palette, keys, in_place=True)
        self.progress.note("measure", self.clock() - t0)
        return evidence

    def finish_color(self, item: PlanItem, guess: np.ndarray, palette: Any, sources: dict[str, str],
                     decision: FrameDecision | None) -> tuple[FrameOutput, FrameResult]:
        """An in-between painted as decided, its lines on top, written (on the finishing thread)."""
        fc, cut = self.fc, self.project.cut
        assert fc is not None
        t0 = self.clock()
        output = fc.finish(guess, cut.line(item.index), cut.line_rgb(item.index), palette=palette,
                           treatment=trace_treatment(self.project), decision=decision)
        result = FrameResult(item.index, "done", keys=item.keys, method=fc.settings.method,
                             recipe=self.work.recipe, sources=sources)
        self.colorizer.write_frame(item, output, result, self.work.targets[item.index])
        self.progress.note("finish", self.clock() - t0)
        return output, result

    def finish_plain(self, pos: int, item: PlanItem, frame_t0: float,
                     sources: dict[str, str]) -> Iterator[ProgressEvent]:
        """A keyframe copied through, or a held drawing taking its source's colours."""
        yield from self.settle()
        t0 = self.clock()
        if item.kind == "key":
            output, result = self.colorizer.key_frame(item)
        else:
            output, result = self.colorizer.held_frame(
                item, self.last_output[0] if self.last_output else None, self.work.recipe)
        result.sources = sources
        self.colorizer.write_frame(item, output, result, self.work.targets[item.index])
        self.record(item, output, result, frame_t0)
        self.progress.note("light", self.clock() - t0)
        self.progress.sampled += 1
        yield self.event("done", pos, item, step=1, steps=1, eta=self.progress.eta(),
                         result=result, output=output)

    def settle(self) -> Iterator[ProgressEvent]:
        """Wait for the frame on the finishing thread, record it and say it is done."""
        for pos, item, frame_t0, output, result in self.queue.settle():
            self.record(item, output, result, frame_t0)
            yield self.event("done", pos, item, step=1, steps=1, eta=self.progress.eta(),
                             result=result, output=output)

    def record(self, item: PlanItem, output: FrameOutput, result: FrameResult, frame_t0: float) -> None:
        """A finished frame's result goes into the project's results log."""
        result.seconds = time.perf_counter() - frame_t0
        result.finished = time.time()
        self.project.record_result(result)
        if item.kind == "color":
            self.last_output[:] = [(item.index, output)]


def adapting(fc: Any, todo: list[PlanItem]) -> tuple[int, int]:
    """(steps of adapting the network, key intervals to set up): each key interval with frames to
    colour, once (``fc``: the run's FrameColorizer, None when nothing is coloured)."""
    if fc is None:
        return 0, 0
    intervals = {it.keys for it in todo if it.kind == "color"}
    steps = [fc.adapt_steps(b - a + 1) for a, b in intervals if a < b]
    return sum(steps), len(intervals)


__all__ = ["CHUNK", "CutRun", "adapting"]
