"""Colour the frames of a cut between its keyframes: :class:`Colorizer`.

:meth:`Colorizer.run` is a generator of :class:`ProgressEvent`: it checks everything that can
fail before the first file is written (output folder and names, drawings and keys, the model),
follows a :mod:`~opdm_studio.engine.plan`, claims each frame's files, writes them and records
the result in the project's results log, and checks a :class:`CancelToken` between sampler
steps. A cancelled frame is discarded, finished frames stay, the project is valid at every
instant, and the same run again resumes with the frames that have no finished result (the
files of an unfinished frame were claimed, so they are replaced rather than refused).

Paint is decided per region track over a key interval: the in-betweens of one interval (at most
:data:`~opdm_studio.engine.cut_run.CHUNK` at a time) are sampled first, then
:class:`~opdm_studio.engine.paint.IntervalPainter` decides every region's paint along its track
from key to key, then the frames are finished and written one by one (a cancel during sampling
still finishes the frames already sampled).

Pieces: :class:`Work` (what a run does, decided and checked up front); the frame-level steps
here (:meth:`Colorizer.color_guess`, :meth:`~Colorizer.key_frame`, :meth:`~Colorizer.held_frame`,
:meth:`~Colorizer.write_frame`); the run itself as a list of steps in
:mod:`~opdm_studio.engine.cut_run`; counters, ETA and the finishing thread in
:mod:`~opdm_studio.engine.progress`.

No Qt here: the GUI drives :meth:`Colorizer.run` from its worker thread and throttles the events.
"""
from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opdm_studio.engine.composite import compose
from opdm_studio.engine.cut_run import CutRun
from opdm_studio.engine.fixes import fixer_for, frame_layers
from opdm_studio.engine.frame import (
    FrameColorizer,
    FrameOutput,
    frame_seed,
)
from opdm_studio.engine.layers import (
    check_free,
    data_owned,
    data_paths,
    key_layers,
    output_targets,
    store_result,
    write_layers,
)
from opdm_studio.engine.models import load_model, resolve_model
from opdm_studio.engine.plan import FileHolds, PlanItem, make_plan
from opdm_studio.engine.progress import ProgressEvent
from opdm_studio.engine.project import ColorizeSettings, FrameResult, Project
from opdm_studio.errors import ExportError, ProjectError
from opdm_studio.pipelines.base import CancelToken, Guess, Interval

__all__ = ["CancelToken", "Colorizer", "ProgressEvent"]


@dataclass
class Work:
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

    #: The run's time source (progress and ETA); tests give a fake clock.
    clock = staticmethod(time.perf_counter)

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
        """The per-frame colouriser for the project's settings (loads the model for ``model``)."""
        # A copy: later edits of the project's settings must not change a running colouriser.
        settings = self.effective_settings()
        if self._fc is not None and self._fc.settings == settings:
            return self._fc
        model = None
        if settings.method == "model":
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

    def _prepare(self, frames: Iterable[int] | None, force: bool) -> Work:
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
        # The project's data folder too: a file there that no result of it names is someone's.
        check_free([project.root / rel for it in todo if it.kind != "key"
                    for rel in data_paths(project, it.index)], data_owned(project), self.overwrite)
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
        return Work(items, {it.index for it in todo}, targets, fc, project.current_recipe())

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
        work = self._prepare(frames, force)
        return (yield from CutRun(self, work, cancel or CancelToken()).events())

    def write_frame(self, item: PlanItem, output: FrameOutput, result: FrameResult,
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
            self.project.claim_outputs(self.project.root / rel
                                       for rel in data_paths(self.project, item.index))
            result.color_path, result.confidence_path = store_result(
                self.project, item.index, output.color_only, output.confidence_map)
            result.confidence = output.confidence
            result.flagged = output.flagged
            result.regions = output.regions

    def color_guess(self, fc: FrameColorizer, item: PlanItem, cancel: CancelToken,
                     preview: Any = None) -> Generator[tuple[int, int], None, Guess]:
        """Generator of sampler steps returning the frame's full-resolution guess (``preview``:
        called with a first picture where the pipeline has one before its guess)."""
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
                                         interval=interval, preview=preview))

    def key_frame(self, item: PlanItem) -> tuple[FrameOutput, FrameResult]:
        """A keyframe is copied through: its painted image is the composite, unchanged."""
        color_only, composite = key_layers(self.project, item.index)
        conf = np.ones(color_only.shape[:2], np.float32)
        out = FrameOutput(composite, color_only, composite, conf, 1.0, 0, 0)
        return out, FrameResult(item.index, "keyframe", keys=item.keys, method=None)

    def held_frame(self, item: PlanItem, last: tuple[int, FrameOutput] | None,
                    recipe: dict[str, Any]) -> tuple[FrameOutput, FrameResult]:
        """A held drawing takes the colours of its source frame (a key or a coloured frame)."""
        project = self.project
        src = item.source
        if src in project.keyframes:
            out, _ = self.key_frame(PlanItem(src, "key", src, src, 0.0, src))
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

    def rewrite_missing(self, item: PlanItem, res: FrameResult, missing: dict[str, Path]) -> None:
        """Write layer files of a finished frame that are missing (e.g. a layer added later)."""
        project = self.project
        if res.status == "keyframe":
            out, _ = self.key_frame(item)
            color, composite = out.color_only, out.composite
        else:
            color = project.stored_color(item.index)
            composite = None
        project.claim_outputs(missing.values())
        color, composite = frame_layers(self.fixer, item.index, color, composite,
                                        key=res.status == "keyframe")
        written = write_layers(project, item.index, color, composite, missing)
        res.outputs.update(written)
