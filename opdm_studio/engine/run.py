"""Colour the frames of a cut between its keyframes: :class:`Colorizer`.

:meth:`Colorizer.run` is a generator of :class:`ProgressEvent`: it checks everything that can
fail before the first file is written (output folder and names, drawings and keys, the model),
follows a :mod:`~opdm_studio.engine.plan`, claims each frame's files, writes them and records
the result in the project's results log, and checks a :class:`CancelToken` between sampler
steps. A cancelled frame is discarded, finished frames stay, the project is valid at every
instant, and the same run again resumes with the frames that have no finished result (the
files of an unfinished frame were claimed, so they are replaced rather than refused).

Pieces: :class:`_Work` (what a run does, decided and checked up front), :class:`_Progress`
(counters, ETA, events), :class:`_FinishingQueue` (snapping and writing frame i in a background
thread while frame i+1 samples).

No Qt here: the GUI drives :meth:`Colorizer.run` from its worker thread and throttles the events.
"""
from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opdm_studio.engine.composite import compose, trace_treatment
from opdm_studio.engine.fixes import fixer_for, frame_layers
from opdm_studio.engine.frame import (
    FrameColorizer,
    FrameOutput,
    frame_seed,
)
from opdm_studio.engine.layers import (
    check_free,
    key_layers,
    output_targets,
    store_result,
    write_layers,
)
from opdm_studio.engine.models import load_model, resolve_model
from opdm_studio.engine.plan import FileHolds, PlanItem, make_plan
from opdm_studio.engine.project import ColorizeSettings, FrameResult, Project
from opdm_studio.errors import Cancelled, ExportError, OPDMError, ProjectError
from opdm_studio.pipelines.base import CancelToken, Interval

__all__ = ["CancelToken", "Colorizer", "ProgressEvent"]


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


class _Progress:
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


class _FinishingQueue:
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


@dataclass
class _Work:
    """What a run does, decided and checked before anything is written."""

    items: list[PlanItem]                  # the plan
    todo: set[int]                         # frames (indices) to colour, copy or re-use
    targets: dict[int, dict[str, Path]]    # output files of every frame of the cut
    fc: FrameColorizer | None              # None when nothing needs the method
    recipe: dict[str, Any]                 # the recipe of every result made now


class Colorizer:
    """Colours the frames of a :class:`Project` between its keyframes (see the module doc).

    ``model``: a LoadedModel or an OPDM instance to use instead of the project's model choice
    (tests, benchmarks, the GUI's already loaded model). ``overwrite``: replace existing files
    the project did not write (never in a folder the project reads). Not thread-safe; run it
    from one worker thread and cancel through the token.
    """

    def __init__(self, project: Project, model: Any = None, overwrite: bool = False) -> None:
        self.project = project
        self.overwrite = overwrite
        self._model = model
        self._fc: FrameColorizer | None = None
        self.fixer = fixer_for(project)   # the colourist's fixes and palette, on what is written

    # -- planning ----------------------------------------------------------------------------
    def plan(self, frames: Iterable[int] | None = None) -> list[PlanItem]:
        """The plan for ``frames`` (indices; None = the whole cut)."""
        n = len(self.project.cut)
        return make_plan(range(n) if frames is None else frames, self.project.key_indices(), n,
                         hold_of=FileHolds(self.project.cut.frames, self.project.digests))

    def effective_settings(self) -> ColorizeSettings:
        """A copy of the project's settings as they run: the working size never above the
        drawing's short side (upsampling a small drawing costs time and adds nothing)."""
        settings = ColorizeSettings.from_dict(self.project.settings.to_dict())
        w, h = self.project.cut.size
        settings.working_size = min(settings.working_size, max(32, min(w, h)))
        return settings

    def frame_colorizer(self) -> FrameColorizer:
        """The per-frame colouriser for the project's settings (loads the model for ``opdm``)."""
        # A copy: later edits of the project's settings must not change a running colouriser.
        settings = self.effective_settings()
        if self._fc is not None and self._fc.settings == settings:
            return self._fc
        model = None
        if settings.method == "opdm":
            model = self._model
            if model is None:
                model = load_model(resolve_model(settings.model), settings.device, settings.dtype)
        self._fc = FrameColorizer(settings.method, model, settings)
        return self._fc

    def _item_done(self, item: PlanItem) -> bool:
        project = self.project
        res = project.results.get(item.index)
        if item.kind == "key":
            return (res is not None and res.status == "keyframe"
                    and project.sources_current(item.index))
        want = "done" if item.kind == "color" else "held"
        if res is None or res.status != want:
            return False
        if item.kind == "held" and res.source_index != item.source:
            return False
        return project.is_finished(item.index, item.keys)

    def _prepare(self, frames: Iterable[int] | None, force: bool) -> _Work:
        """Plan and check everything that can fail before the first file is written: the output
        folder and names, the data folder, every drawing and key to read, files in the way,
        the model. Then the project file is saved (it is valid before any frame is written)."""
        project = self.project
        settings = project.settings.validate()
        self.fixer.regions.set_gap(settings.gap)
        project.cut.refresh()           # drawings or paint edited since they were read
        items = self.plan(frames)
        out_dir = project.output_dir
        project.check_data_dir()
        targets = output_targets(project, range(len(project.cut)), settings.layers, out_dir,
                                 settings.template, settings.psd)
        todo = [it for it in items if force or not self._item_done(it)]
        project.check_inputs([it.index for it in todo], {k for it in todo for k in it.keys})
        check_free([p for it in todo for p in targets[it.index].values()],
                   project.owned_outputs(), self.overwrite)
        fc: FrameColorizer | None = None
        if any(it.kind == "color" for it in todo):
            # Load the model (or fail: no model installed, bad checkpoint, no GPU) before
            # anything is written.
            fc = self.frame_colorizer()
            fc.reset()   # key images may have changed since the last run
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(f"cannot create the output folder {out_dir}: {exc.strerror or exc}") from exc
        project.save()
        return _Work(items, {it.index for it in todo}, targets, fc, project.current_recipe())

    # -- running -----------------------------------------------------------------------------
    def run(self, frames: Iterable[int] | None = None, cancel: CancelToken | None = None,
            force: bool = False) -> Iterator[ProgressEvent]:
        """Colour ``frames`` (indices; None = all), yielding :class:`ProgressEvent` as it goes.

        Frames with a finished result made from the current settings, keys and source files are
        skipped (their missing layer files are re-written from the stored result) unless
        ``force``. Raises before writing anything when an output file exists that this project
        did not write (:class:`ExportError`, unless ``overwrite``), when two frames would share
        an output file, when the output folder is one the project reads, and when a drawing or
        key to read is unreadable or of the wrong size.
        """
        project = self.project
        cancel = cancel or CancelToken()
        work = self._prepare(frames, force)
        items, targets, fc = work.items, work.targets, work.fc
        progress = _Progress(project, len(items), [it for it in items if it.index in work.todo])
        event = progress.event
        last_output: list[tuple[int, FrameOutput]] = []   # colours reused by the next held frames
        queue = _FinishingQueue()

        def record(item: PlanItem, output: FrameOutput, result: FrameResult, frame_t0: float) -> None:
            result.seconds = time.perf_counter() - frame_t0
            result.finished = time.time()
            project.record_result(result)
            progress.frame_recorded(item)
            if item.kind == "color":
                last_output[:] = [(item.index, output)]

        def settle() -> Iterator[ProgressEvent]:
            for pos_, item_, frame_t0_, output_, result_ in queue.settle():
                record(item_, output_, result_, frame_t0_)
                yield event("done", pos_, item_, step=1, steps=1, eta=progress.eta(),
                            result=result_, output=output_)

        def finish_color(item: PlanItem, guess: np.ndarray, palette: Any,
                         sources: dict[str, str]) -> tuple[FrameOutput, FrameResult]:
            cut = project.cut
            assert fc is not None
            output = fc.finish(guess, cut.line(item.index), cut.line_rgb(item.index), palette=palette,
                               treatment=trace_treatment(project))
            result = FrameResult(item.index, "done", keys=item.keys, method=fc.settings.method,
                                 recipe=work.recipe, sources=sources)
            self._write_frame(item, output, result, targets[item.index])
            return output, result

        try:
            yield event("start", 0, message=f"{len(work.todo)} of {len(items)} frames to colour")
            for pos, item in enumerate(items, start=1):
                if item.index not in work.todo:
                    yield from settle()
                    res = project.results[item.index]
                    missing = {k: p for k, p in targets[item.index].items() if not p.exists()}
                    if missing:
                        self._rewrite_missing(item, res, missing)
                        project.record_result(res)
                    progress.sampled += 1
                    yield event("skip", pos, item, eta=progress.eta(), result=res)
                    continue
                if cancel.cancelled:
                    yield from settle()
                    yield from self._cancelled(event("cancelled", pos, item))
                    return
                frame_t0 = progress.frame_started()
                # What the result is made from, read before its pixels: an edit made while the
                # frame is coloured leaves it out of date rather than wrongly current.
                sources = project.sources_of(item.index, item.keys)
                yield event("frame", pos, item, eta=progress.eta())
                if item.kind in ("key", "held"):
                    yield from settle()
                    if item.kind == "key":
                        output, result = self._key_frame(item)
                    else:
                        output, result = self._held_frame(item, last_output[0] if last_output else None,
                                                          work.recipe)
                    result.sources = sources
                    self._write_frame(item, output, result, targets[item.index])
                    record(item, output, result, frame_t0)
                    progress.sampled += 1
                    yield event("done", pos, item, step=1, steps=1, eta=progress.eta(),
                                result=result, output=output)
                    continue
                assert fc is not None
                gen = self._color_guess(fc, item, cancel)
                try:
                    while True:
                        try:
                            j, k = next(gen)
                        except StopIteration as stop:
                            guess = stop.value
                            break
                        yield event("step", pos, item, step=j, steps=k,
                                    eta=progress.eta(j / max(k, 1)))
                except Cancelled:
                    # The frame being sampled is dropped; the one finishing is kept.
                    yield from settle()
                    yield from self._cancelled(event("cancelled", pos, item))
                    return
                # Progress counts this frame from here: only snapping and writing are left.
                progress.sampled += 1
                yield from settle()
                queue.submit(pos, item, frame_t0, finish_color, item, guess, fc.palette, sources)
            yield from settle()
        finally:
            queue.close(record)
            try:
                project.save()      # fold the results log into the project file
            except OPDMError:
                pass                # the log keeps every result; the next save folds it
        yield event("finished", len(items), eta=0.0,
                    message=f"{len(work.todo)} frames coloured in "
                            f"{time.perf_counter() - progress.t0:.1f} s")

    def _write_frame(self, item: PlanItem, output: FrameOutput, result: FrameResult,
                     targets: dict[str, Path]) -> None:
        """Write a finished frame's layers and stored result (not yet recorded in the project)."""
        # Claimed first: if the work stops between these writes and the result's record, the
        # same command finds files it knows it wrote, and replaces them.
        self.project.claim_outputs(targets.values())
        # The snapped image is the composite (lines over the colour layer); keys: the paint itself.
        # The layers get the frame's fixes and the palette's colours; the stored result does not.
        color, composite = frame_layers(self.fixer, item.index, output.color_only,
                                        output.composite, key=item.kind == "key")
        result.outputs = write_layers(self.project, item.index, color, composite, targets)
        if item.kind != "key":
            result.color_path, result.confidence_path = store_result(
                self.project, item.index, output.color_only, output.confidence_map)
            result.confidence = output.confidence
            result.flagged = output.flagged
            result.regions = output.regions

    def _cancelled(self, ev: ProgressEvent) -> Iterator[ProgressEvent]:
        # The unfinished frame wrote nothing; the results log already holds every finished one.
        self.project.save()
        ev.message = f"stopped before {ev.name}; finished frames are kept"
        yield ev

    def _color_guess(self, fc: FrameColorizer, item: PlanItem,
                     cancel: CancelToken) -> Generator[tuple[int, int], None, np.ndarray]:
        """Generator of sampler steps returning the frame's full-resolution guess."""
        project = self.project
        cut = project.cut
        prev_rgb = project.key_color(item.prev)
        next_rgb = prev_rgb if item.next == item.prev else project.key_color(item.next)
        seed = frame_seed(project.settings.seed, item.index)
        interval = None
        if item.prev < item.index < item.next:
            # The drawings between the keys: the flow is chained through them (once per interval).
            first, last = item.prev, item.next
            interval = Interval(key=("project", id(project), first, last),
                                load=lambda: [cut.line(i) for i in range(first, last + 1)],
                                position=item.index - first, length=last - first + 1)
        return (yield from fc.iter_guess(cut.line(item.index), prev_rgb, next_rgb,
                                         cut.line(item.prev), cut.line(item.next), item.t, cancel,
                                         seed, pair_id=("project", id(project), item.keys),
                                         interval=interval))

    def _key_frame(self, item: PlanItem) -> tuple[FrameOutput, FrameResult]:
        """A keyframe is copied through: its painted image is the composite, unchanged."""
        color_only, composite = key_layers(self.project, item.index)
        conf = np.ones(color_only.shape[:2], np.float32)
        out = FrameOutput(composite, color_only, composite, conf, 1.0, 0, 0)
        return out, FrameResult(item.index, "keyframe", keys=item.keys, method=None)

    def _held_frame(self, item: PlanItem, last: tuple[int, FrameOutput] | None,
                    recipe: dict[str, Any]) -> tuple[FrameOutput, FrameResult]:
        """A held drawing takes the colours of its source frame (a key or a coloured frame)."""
        project = self.project
        src = item.source
        if src in project.keyframes:
            out, _ = self._key_frame(PlanItem(src, "key", src, src, 0.0, src))
        elif last is not None and last[0] == src:
            out = last[1]
        else:
            color = project.result_color(src)
            if color is None:
                raise ProjectError(f"frame {project.frame_name(src)} has no result to reuse for "
                                   f"{project.frame_name(item.index)}")
            conf = project.result_confidence(src)
            res = project.results[src]
            # Same drawing as the source, so its lines go on top of the stored colours.
            composite = compose(project, item.index, color).composite
            out = FrameOutput(composite, color, color, conf if conf is not None else
                              np.ones(color.shape[:2], np.float32), res.confidence or 0.0,
                              res.flagged, res.regions)
        from_key = src in project.keyframes      # a key's colours do not depend on the settings
        method = None if from_key else project.settings.method
        return out, FrameResult(item.index, "held", keys=item.keys, method=method, source_index=src,
                                recipe=None if from_key else recipe)

    def _rewrite_missing(self, item: PlanItem, res: FrameResult, missing: dict[str, Path]) -> None:
        """Write layer files of a finished frame that are missing (e.g. a layer added later)."""
        project = self.project
        if res.status == "keyframe":
            out, _ = self._key_frame(item)
            color, composite = out.color_only, out.composite
        else:
            color = project.stored_color(item.index)
            composite = None
        project.claim_outputs(missing.values())
        color, composite = frame_layers(self.fixer, item.index, color, composite,
                                        key=res.status == "keyframe")
        written = write_layers(project, item.index, color, composite, missing)
        res.outputs.update(written)
