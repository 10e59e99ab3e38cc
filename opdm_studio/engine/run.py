"""Colour the frames of a cut between its keyframes: :class:`Colorizer`.

:meth:`Colorizer.run` is a generator of :class:`ProgressEvent`: it follows a
:mod:`~opdm_studio.engine.plan`, writes each finished frame (layers + stored result + project file)
before starting the next, and checks a :class:`CancelToken` between sampler steps. A cancelled
frame is discarded, finished frames stay, the project file is valid at every instant, and a later
run resumes with the frames that have no finished result.

No Qt here: the GUI drives :meth:`Colorizer.run` from its worker thread and throttles the events.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opdm_studio.engine.frame import (
    FrameColorizer,
    FrameOutput,
    frame_seed,
    line_mask_of,
)
from opdm_studio.engine.layers import (
    check_free,
    key_layers,
    layer_paths,
    store_result,
    write_layers,
)
from opdm_studio.engine.models import load_model, resolve_model
from opdm_studio.engine.plan import PlanItem, make_plan
from opdm_studio.engine.project import ColorizeSettings, FrameResult, Project
from opdm_studio.errors import Cancelled, ExportError, ProjectError
from opdm_studio.imaging.export import make_layers
from opdm_studio.pipelines.base import CancelToken

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


class _FileHolds:
    """``hold_of`` from the drawings' file contents: a frame whose file is byte-identical to the
    previous frame's repeats its drawing.

    Decoding every drawing to compare pixels (``Cut.hold_of``) costs ~0.3 s per 2K frame before
    the first frame can start; hashing the files costs milliseconds. Identical bytes always mean
    an identical drawing; the rare re-saved held drawing with different bytes is merely coloured
    twice, never wrongly reused.
    """

    def __init__(self, cut: Any) -> None:
        self._cut = cut
        self._digest: dict[int, bytes] = {}
        self._head: dict[int, int] = {}

    def _d(self, i: int) -> bytes:
        if i not in self._digest:
            path = self._cut.frames[i].path
            h = hashlib.blake2b(digest_size=16)
            try:
                with open(path, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            except OSError:
                h.update(str(path).encode())   # unreadable: unique, reported when it is coloured
            self._digest[i] = h.digest()
        return self._digest[i]

    def __call__(self, i: int) -> int:
        if i in self._head:
            return self._head[i]
        j = i
        while j > 0 and self._d(j) == self._d(j - 1):
            j -= 1
            if j in self._head:
                j = self._head[j]
                break
        self._head[i] = j
        return j


# Time of a held or key frame (copy + write) relative to a coloured one, for the ETA.
_LIGHT_WEIGHT = 0.05


class Colorizer:
    """Colours the frames of a :class:`Project` between its keyframes (see the module doc).

    ``model``: a LoadedModel or an OPDM instance to use instead of the project's model choice (tests, benchmarks,
    the GUI's already loaded model). ``overwrite``: replace existing files the project did not
    write. Not thread-safe; run it from one worker thread and cancel through the token.
    """

    def __init__(self, project: Project, model: Any = None, overwrite: bool = False) -> None:
        self.project = project
        self.overwrite = overwrite
        self._model = model
        self._fc: FrameColorizer | None = None

    # -- planning ----------------------------------------------------------------------------
    def plan(self, frames: Iterable[int] | None = None) -> list[PlanItem]:
        """The plan for ``frames`` (indices; None = the whole cut)."""
        cut = self.project.cut
        n = len(cut)
        return make_plan(range(n) if frames is None else frames, self.project.key_indices(), n,
                         hold_of=_FileHolds(cut))

    def frame_colorizer(self) -> FrameColorizer:
        """The per-frame colouriser for the project's settings (loads the model for ``opdm``)."""
        settings = self.project.settings
        if self._fc is not None and self._fc.settings == settings:
            return self._fc
        model = None
        if settings.method == "opdm":
            model = self._model
            if model is None:
                model = load_model(resolve_model(settings.model), settings.device, settings.dtype)
        # A copy: later edits of the project's settings must not change a running colouriser.
        self._fc = FrameColorizer(settings.method, model, ColorizeSettings.from_dict(settings.to_dict()))
        return self._fc

    def _item_done(self, item: PlanItem) -> bool:
        res = self.project.results.get(item.index)
        if item.kind == "key":
            return res is not None and res.status == "keyframe"
        want = "done" if item.kind == "color" else "held"
        if res is None or res.status != want:
            return False
        if item.kind == "held" and res.source_index != item.source:
            return False
        return self.project.is_finished(item.index, item.keys)

    # -- running -----------------------------------------------------------------------------
    def run(self, frames: Iterable[int] | None = None, cancel: CancelToken | None = None,
            force: bool = False) -> Iterator[ProgressEvent]:
        """Colour ``frames`` (indices; None = all), yielding :class:`ProgressEvent` as it goes.

        Frames with a finished result are skipped (their missing layer files are re-written from
        the stored result) unless ``force``. Raises :class:`ExportError` before any work when an
        output file exists that this project did not write (unless ``overwrite``).
        """
        project = self.project
        settings = project.settings.validate()
        cancel = cancel or CancelToken()
        t0 = time.perf_counter()
        items = self.plan(frames)
        total = len(items)
        out_dir = project.output_dir
        targets = {it.index: layer_paths(project, it.index, settings.layers, out_dir,
                                         settings.template, settings.psd) for it in items}
        todo = [it for it in items if force or not self._item_done(it)]
        todo_set = {it.index for it in todo}
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
        project.save()   # the project exists (and is valid) before the first frame is written

        st = {"left": sum(1.0 if it.kind == "color" else _LIGHT_WEIGHT for it in todo),
              "done": 0.0, "completed": 0, "sampled": 0, "work_t0": None}
        last_output: list[tuple[int, FrameOutput]] = []   # colours reused by the next held frames
        pending: list[tuple[int, PlanItem, str, float, Future]] = []
        # One background thread snaps and writes frame i while the sampler works on frame i+1:
        # on a 2-core CPU the two overlap almost fully (OpenCV and zlib release the GIL).
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opdm-finish")

        def eta(extra: float = 0.0) -> float | None:
            if st["work_t0"] is None or st["done"] + extra <= 0:
                return None
            rate = (time.perf_counter() - st["work_t0"]) / (st["done"] + extra)
            return max(0.0, (st["left"] - extra) * rate)

        def event(kind: str, pos: int, item: PlanItem | None = None, **kw: Any) -> ProgressEvent:
            return ProgressEvent(kind, pos, total, item.index if item else -1,
                                 project.frame_name(item.index) if item else "",
                                 elapsed=time.perf_counter() - t0, completed=st["sampled"], **kw)

        def record(item: PlanItem, output: FrameOutput, result: FrameResult,
                   frame_t0: float) -> None:
            result.seconds = time.perf_counter() - frame_t0
            result.finished = time.time()
            project.results[item.index] = result
            project.save()
            weight = 1.0 if item.kind == "color" else _LIGHT_WEIGHT
            st["done"] += weight
            st["left"] -= weight
            st["completed"] += 1
            if item.kind == "color":
                last_output[:] = [(item.index, output)]

        def settle() -> Iterator[ProgressEvent]:
            # The frame finishing in the background: wait, record, report (errors re-raise here).
            while pending:
                pos_, item_, _name, frame_t0, fut = pending.pop()
                output_, result_ = fut.result()
                record(item_, output_, result_, frame_t0)
                yield event("done", pos_, item_, step=1, steps=1, eta=eta(), result=result_,
                            output=output_)

        def finish_color(item: PlanItem, guess: np.ndarray, palette: Any) -> tuple[FrameOutput, FrameResult]:
            cut = project.cut
            output = fc.finish(guess, cut.line(item.index), cut.line_rgb(item.index), palette=palette)
            result = FrameResult(item.index, "done", keys=item.keys, method=settings.method,
                                 recipe=settings.recipe())
            self._write_frame(item, output, result, targets[item.index])
            return output, result

        try:
            yield event("start", 0, message=f"{len(todo)} of {total} frames to colour")
            for pos, item in enumerate(items, start=1):
                if item.index not in todo_set:
                    yield from settle()
                    res = project.results[item.index]
                    missing = {k: p for k, p in targets[item.index].items() if not p.exists()}
                    if missing:
                        self._rewrite_missing(item, res, missing)
                        project.save()
                    st["completed"] += 1
                    st["sampled"] += 1
                    yield event("skip", pos, item, eta=eta(), result=res)
                    continue
                if cancel.cancelled:
                    yield from settle()
                    yield from self._cancelled(event("cancelled", pos, item))
                    return
                frame_t0 = time.perf_counter()
                if st["work_t0"] is None:
                    st["work_t0"] = frame_t0
                yield event("frame", pos, item, eta=eta())
                if item.kind in ("key", "held"):
                    yield from settle()
                    if item.kind == "key":
                        output, result = self._key_frame(item)
                    else:
                        output, result = self._held_frame(item, last_output[0] if last_output else None)
                    self._write_frame(item, output, result, targets[item.index])
                    record(item, output, result, frame_t0)
                    st["sampled"] += 1
                    yield event("done", pos, item, step=1, steps=1, eta=eta(), result=result,
                                output=output)
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
                        yield event("step", pos, item, step=j, steps=k, eta=eta(j / max(k, 1)))
                except Cancelled:
                    # The frame being sampled is dropped; the one finishing is kept.
                    yield from settle()
                    yield from self._cancelled(event("cancelled", pos, item))
                    return
                # Progress counts this frame from here: only snapping and writing are left.
                st["sampled"] += 1
                yield from settle()
                pending.append((pos, item, project.frame_name(item.index), frame_t0,
                                pool.submit(finish_color, item, guess, fc.palette)))
            yield from settle()
        finally:
            # Closed early (the GUI quit, an error): the frame in flight still gets recorded.
            for _pos, item_, _name, frame_t0, fut in pending:
                try:
                    output_, result_ = fut.result()
                    record(item_, output_, result_, frame_t0)
                except Exception:  # its error was or will be reported by the caller's path
                    pass
            pending.clear()
            pool.shutdown(wait=True)
        yield event("finished", total, eta=0.0,
                    message=f"{len(todo)} frames coloured in {time.perf_counter() - t0:.1f} s")

    def _write_frame(self, item: PlanItem, output: FrameOutput, result: FrameResult,
                     targets: dict[str, Path]) -> None:
        """Write a finished frame's layers and stored result (not yet recorded in the project)."""
        # The snapped image is the composite (lines over the colour layer); keys: the paint itself.
        result.outputs = write_layers(self.project, item.index, output.color_only,
                                       output.composite, targets)
        if item.kind != "key":
            result.color_path, result.confidence_path = store_result(
                self.project, item.index, output.color_only, output.confidence_map)
            result.confidence = output.confidence
            result.flagged = output.flagged
            result.regions = output.regions

    def _cancelled(self, ev: ProgressEvent) -> Iterator[ProgressEvent]:
        # The unfinished frame wrote nothing; the project file already holds every finished one.
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
        return (yield from fc.iter_guess(cut.line(item.index), prev_rgb, next_rgb,
                                         cut.line(item.prev), cut.line(item.next), item.t, cancel,
                                         seed, pair_id=("project", id(project), item.keys)))

    def _key_frame(self, item: PlanItem) -> tuple[FrameOutput, FrameResult]:
        """A keyframe is copied through: its painted image is the composite, unchanged."""
        color_only, composite = key_layers(self.project, item.index)
        conf = np.ones(color_only.shape[:2], np.float32)
        out = FrameOutput(composite, color_only, composite, conf, 1.0, 0, 0)
        return out, FrameResult(item.index, "keyframe", keys=item.keys, method=None)

    def _held_frame(self, item: PlanItem,
                    last: tuple[int, FrameOutput] | None) -> tuple[FrameOutput, FrameResult]:
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
            cut = project.cut
            # Same drawing as the source, so its lines go on top of the stored colours.
            composite = make_layers(color, line_mask_of(cut.line(item.index)),
                                    cut.line_rgb(item.index)).composite
            out = FrameOutput(composite, color, color, conf if conf is not None else
                              np.ones(color.shape[:2], np.float32), res.confidence or 0.0,
                              res.flagged, res.regions)
        from_key = src in project.keyframes      # a key's colours do not depend on the settings
        method = None if from_key else project.settings.method
        recipe = None if from_key else project.settings.recipe()
        return out, FrameResult(item.index, "held", keys=item.keys, method=method, source_index=src,
                                recipe=recipe)

    def _rewrite_missing(self, item: PlanItem, res: FrameResult, missing: dict[str, Path]) -> None:
        """Write layer files of a finished frame that are missing (e.g. a layer added later)."""
        project = self.project
        if res.status == "keyframe":
            out, _ = self._key_frame(item)
            color, composite = out.color_only, out.composite
        else:
            color = project.result_color(item.index)
            composite = None
        written = write_layers(project, item.index, color, composite, missing)
        res.outputs.update(written)
