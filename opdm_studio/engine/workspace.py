"""The workspace: the open cut as the app shows it, over the engine's Project (no Qt here).

It decides where a cut's project lives (:mod:`~opdm_studio.engine.project_home`), answers the
timeline's questions (key? coloured? flagged?), builds the images the viewer shows (the engine's
one composite, :func:`~opdm_studio.engine.composite.frame_composite`, what the export writes),
keeps a small cache of decoded results, maps the app's colouring choices onto the project's
settings, and holds the fill tool's :class:`~opdm_studio.engine.fixes.Fixer`.
It says nothing to the user: the window's sentences (in the interface language) are built from
its answers; its own errors guard edits the window checks before (and says why) first.
Whoever shows it listens (:meth:`Workspace.listen`) to hear which frames' pictures changed: the
app's Qt adapter (``app/document.py``) turns that into a signal for its widgets.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self

import numpy as np

from opdm_studio.engine.composite import compose, frame_composite, trace_treatment
from opdm_studio.engine.fixes import FillOutcome, Flagged, fixer_for, key_paint_colours
from opdm_studio.engine.hints import HintSet, swatch_of_region
from opdm_studio.engine.picture_cache import PictureCache
from opdm_studio.engine.project import FrameResult, KeyFrame, Project
from opdm_studio.engine.project_home import open_project, project_root_for, sample_cut_path
from opdm_studio.engine.review import next_flagged
from opdm_studio.engine.strokes import Shape
from opdm_studio.engine.swatches import RGB, Swatch, SwatchPalette
from opdm_studio.errors import CutError, ProjectError

if TYPE_CHECKING:
    from opdm_studio.engine.project import ColorizeSettings

__all__ = ["ColouringChoices", "Workspace", "project_root_for", "sample_cut_path"]

#: Told which frames' pictures changed (None: every frame).
ChangeListener = Callable[[list[int] | None], None]


class ColouringChoices(Protocol):
    """The colouring choices the app's settings hold (``AppSettings`` has them)."""

    model: str          # "default" (the shipped model) or a checkpoint path
    steps: int
    device: str
    working_size: int
    snapping: str       # "auto" | "off" | "all"
    gap: int


class Workspace:
    """One open cut with its project (keyframes, results, settings), as the app shows it."""

    RESULT_CACHE = 24  # decoded result frames kept for fast scrubbing

    def __init__(self, project: Project) -> None:
        self.project = project
        self.cut = project.cut
        self._pictures = PictureCache(self.RESULT_CACHE)
        self._listeners: list[ChangeListener] = []
        # The fill tool's logic over the project's hints and palette (regions cached per frame).
        self.fixer = fixer_for(project)
        self._palette_keys: tuple | None = None
        self.model_problem: str | None = None    # why the cut's colour model was not read
        self._warm_stop = threading.Event()
        self.stale_layers: set[int] = set()      # frames whose layer files must be written again
        self._previews: dict[int, np.ndarray] = {}   # first colours of frames a run is colouring

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, folder: str | os.PathLike) -> Self:
        """Open a cut folder (or a project folder / file); resumes the cut's existing project."""
        return cls(open_project(folder))

    # ------------------------------------------------------------------ frames

    @property
    def n_frames(self) -> int:
        """Number of frames in the cut."""
        return len(self.cut)

    @property
    def name(self) -> str:
        """Name of the cut."""
        return self.cut.name

    @property
    def size(self) -> tuple[int, int]:
        """(W, H) of the drawings."""
        return self.cut.size

    def frame_name(self, i: int) -> str:
        """File name of frame ``i``."""
        return self.cut.frames[i].name

    def frame_label(self, i: int) -> str:
        """Short label for the timeline: the animation frame number."""
        return str(self.cut.frames[i].number)

    def line(self, i: int) -> np.ndarray:
        """Line drawing uint8 (H, W), 255 paper."""
        return self.cut.line(i)

    def line_rgb(self, i: int) -> np.ndarray:
        """Line drawing as RGB."""
        return np.repeat(self.cut.line(i)[..., None], 3, axis=2)

    # ------------------------------------------------------------------ settings

    def apply_settings(self, choices: ColouringChoices, method: str) -> ColorizeSettings:
        """Make the app's colouring choices the project's settings; returns them, validated.

        ``method`` is the one colouring uses now ("flow" while no model is usable, whatever the
        stored preference). Settings the app does not edit (seed, dtype, layers, naming) are
        kept; on a bad value (:class:`ProjectError`) the project keeps its settings unchanged.
        """
        new = replace(self.project.settings, method=method,
                      model=None if choices.model == "default" else choices.model,
                      steps=choices.steps, device=choices.device,
                      working_size=choices.working_size, snap=choices.snapping, gap=choices.gap)
        self.project.settings = new.validate()
        self.set_gap(new.gap)
        return new

    # ------------------------------------------------------------------ keys and results

    def is_key(self, i: int) -> bool:
        """True if frame ``i`` is a keyframe."""
        return i in self.project.keyframes

    def keys(self) -> list[int]:
        """Sorted keyframe indices."""
        return self.project.key_indices()

    def can_be_key(self, i: int) -> bool:
        """True if frame ``i`` has a colour to be a keyframe with (painted or coloured result)."""
        return self.cut.has_color(i) or self.has_result(i)

    def neighbours(self, i: int) -> tuple[int | None, int | None]:
        """(previous, next) keyframe that colour frame ``i`` (itself if it is a key)."""
        keys = self.keys()
        if i in self.project.keyframes:
            return i, i
        prev = max((k for k in keys if k < i), default=None)
        nxt = min((k for k in keys if k > i), default=None)
        return prev, nxt

    def has_result(self, i: int) -> bool:
        """True if frame ``i`` has a coloured result."""
        r = self.project.results.get(i)
        return r is not None and r.color_path is not None

    def is_outdated(self, i: int) -> bool:
        """True if frame ``i``'s result was made with other keyframes or colouring settings than
        the current ones (shown until the next Colorize replaces it)."""
        return self.project.is_outdated(i)

    def result_info(self, i: int) -> FrameResult | None:
        """The engine's record of frame ``i``'s result."""
        return self.project.results.get(i)

    def is_flagged(self, i: int) -> bool:
        """True if some regions of frame ``i`` were flagged for review."""
        r = self.project.results.get(i)
        return r is not None and r.flagged > 0

    def key_color(self, i: int) -> np.ndarray | None:
        """Colour image of keyframe ``i`` in the palette's current colours, None if no key."""
        if i not in self.project.keyframes:
            return None
        return self._pictures.get(("key", i), lambda: self.fixer.shown_key(i, self.project.key_color(i)))

    def result_color(self, i: int) -> np.ndarray | None:
        """Colour-only result of frame ``i`` (or the key colour for a key), None if none: its
        fixes applied, in the palette's current colours."""
        if i in self.project.keyframes:
            return self.key_color(i)
        if not self.has_result(i):
            return None
        return self._pictures.get(("color", i), lambda: self.fixer.shown(i, self.project.stored_color(i)))

    def confidence(self, i: int) -> np.ndarray | None:
        """Confidence map float32 (H, W) of frame ``i``'s result (1 on fixed regions), None if
        none stored."""
        if not self.has_result(i) or i in self.project.keyframes:
            return None

        def make() -> np.ndarray | None:
            conf = self.project.result_confidence(i)
            fixed = self.fixer.fixed_mask(i)
            if conf is not None and fixed.any():
                conf = np.where(fixed, np.float32(1.0), conf)
            return conf
        return self._pictures.get(("conf", i), make)

    def composite(self, i: int) -> np.ndarray | None:
        """The finished picture of frame ``i`` (None if it has no colour yet): the engine's one
        composite, byte for byte what the export writes (trace lines as the keys treat them)."""
        if i not in self.project.keyframes and not self.has_result(i):
            return None
        # The treatment is part of the key: it changes with the keys, and so does the picture.
        treatment = trace_treatment(self.project)
        return self._pictures.get(("composite", i, treatment),
                                  lambda: frame_composite(self.project, self.fixer, i))

    def preview(self, i: int) -> np.ndarray | None:
        """The first picture of frame ``i`` while a run colours it (its colours so far under its
        lines, through the one composite), None when there is none."""
        rgb = self._previews.get(i)
        if rgb is None:
            return None
        return self._pictures.get(("preview", i), lambda: compose(self.project, i, rgb).composite)

    def set_preview(self, i: int, rgb: np.ndarray) -> None:
        """Show ``rgb`` (uint8 (H, W, 3), no lines) as frame ``i``'s colours until it is finished."""
        self._previews[i] = rgb
        self.forget(i)

    def drop_preview(self, i: int) -> None:
        """Frame ``i`` is finished (or its run is over): show its result, not its preview."""
        self._previews.pop(i, None)
        self.forget(i)

    def clear_previews(self) -> None:
        """Drop every preview: the run is over."""
        for i in sorted(self._previews):
            self.drop_preview(i)

    def thumbnail_source(self, i: int) -> np.ndarray:
        """Image for the timeline tile: the coloured frame, else its preview while a run colours
        it, else the drawing (thread-safe)."""
        try:
            img = self.composite(i)
            if img is None:
                img = self.preview(i)
        except (ProjectError, CutError, OSError):
            img = None
        return img if img is not None else self.line(i)

    def listen(self, listener: ChangeListener) -> None:
        """Call ``listener(frames)`` whenever the pictures of ``frames`` (None: all) changed."""
        self._listeners.append(listener)

    def forget(self, i: int | None = None) -> None:
        """Drop cached images of frame ``i`` (or all) after its result or key changed, and tell
        the listeners."""
        self._pictures.forget(i)
        for listener in list(self._listeners):
            listener(None if i is None else [i])

    # ------------------------------------------------------------------ edits (undoable callers)

    def key_state(self, i: int) -> tuple[KeyFrame | None, FrameResult | None]:
        """Snapshot of frame ``i``'s key and result, to restore on undo."""
        return self.project.keyframes.get(i), self.project.results.get(i)

    def restore_key_state(self, i: int, state: tuple[KeyFrame | None, FrameResult | None]) -> None:
        """Put back a snapshot taken by :meth:`key_state`."""
        key, res = state
        if key is None:
            self.project.keyframes.pop(i, None)
        else:
            self.project.keyframes[i] = key
        if res is None:
            self.project.results.pop(i, None)
        else:
            self.project.results[i] = res
        self.forget(i)
        self.sync_palette()

    def mark_key(self, i: int) -> None:
        """Make frame ``i`` a keyframe: a coloured result is promoted, else the painted colour."""
        if self.has_result(i) and self.project.results[i].status != "keyframe":
            # The frame's fixes are part of what becomes the keyframe's truth.
            self.project.promote_result(i, self.fixer.fixed(i, self.project.stored_color(i)))
        elif self.cut.has_color(i):
            self.project.set_keyframe(i)
        else:
            raise ProjectError(
                f"frame {self.frame_name(i)} has no colour yet: drop a coloured image on it "
                "(or colour it first) to make it a keyframe")
        self.forget(i)
        self.sync_palette()

    def unmark_key(self, i: int) -> None:
        """Stop using frame ``i`` as a keyframe."""
        self.project.remove_keyframe(i)
        self.forget(i)
        self.sync_palette()

    def set_key_image(self, i: int, image_path: str | os.PathLike) -> None:
        """Give keyframe ``i`` its colour from an image file (checked against the cut size)."""
        before = self.key_state(i)
        try:
            self.project.set_keyframe(i, color_path=image_path)
            self.forget(i)
            self.project.key_color(i)  # read it now so a wrong size is reported at the drop
        except Exception:
            self.restore_key_state(i, before)
            raise
        self.sync_palette()

    # ------------------------------------------------------------------ palette and fixes

    @property
    def palette(self) -> SwatchPalette:
        """The project's swatches."""
        return self.project.palette

    @property
    def hints(self) -> HintSet:
        """The project's fixes and where they were carried."""
        return self.project.hints

    def palette_keys(self) -> tuple:
        """What the palette's swatches are taken from: the keyframes and their paint sources."""
        return tuple(sorted((i, k.source, k.path) for i, k in self.project.keyframes.items()))

    def palette_synced(self) -> bool:
        """True when every keyframe's paint colours have their swatches."""
        return self.palette_keys() == self._palette_keys

    def key_paint(self, keys: tuple) -> list[RGB] | None:
        """The flat paint colours of keyframes ``keys`` (reads their paint: slow, so the window
        calls it on another thread); None when a paint file cannot be read."""
        try:
            images = [(self.project.key_color(i), self.line(i)) for i, *_ in keys]
        except (ProjectError, CutError, OSError):
            return None      # a missing paint file: shown where the key is, tried again later
        return key_paint_colours(images)

    def apply_key_paint(self, keys: tuple, colours: list[RGB] | None) -> list[Swatch]:
        """Give the paint colours read by :meth:`key_paint` their swatches (unless the keys
        changed meanwhile); returns the swatches added."""
        if colours is None or keys != self.palette_keys():
            return []
        self._palette_keys = keys
        try:        # the names of the cut's colour model (its palette.json, ...), once per project
            self.palette.attach_model(self.cut.folder)
        except ProjectError as exc:
            self.model_problem = str(exc)
        return self.palette.sync(colours)

    def sync_palette(self) -> list[Swatch]:
        """Give every keyframe paint colour a swatch, at once (after a key change); returns the
        swatches added. Reads the keys' paint only when the keys changed."""
        keys = self.palette_keys()
        if keys == self._palette_keys:
            return []
        return self.apply_key_paint(keys, self.key_paint(keys))

    def set_gap(self, gap: int) -> None:
        """Regions are found with another gap closing from now on."""
        if gap != self.fixer.regions.gap:
            self.fixer.regions.set_gap(gap)
            self.forget()

    def warm_fixes(self, frame: int) -> None:
        """Find the regions of ``frame``'s keyframe interval (up to 12 frames each way) and how
        they follow each other, in a background thread, so that a fill there carries at once."""
        self._warm_stop.set()
        if frame < 0 or self.is_key(frame):
            return
        lo, hi = self.fixer.interval(frame)
        lo, hi = max(lo - 1, frame - 12, 0), min(hi + 1, frame + 12, self.n_frames - 1)
        order = sorted(range(lo, hi + 1), key=lambda f: abs(f - frame))
        frames = list(range(lo, hi + 1))
        if all(self.fixer.regions.has_pair(a, b) for a, b in zip(frames, frames[1:], strict=False)):
            return
        stop = self._warm_stop = threading.Event()
        near = sorted(order[:25])
        threading.Thread(target=self.fixer.regions.warm, args=(near, stop), daemon=True,
                         name="opdm-warm-fixes").start()

    def stop_warming(self) -> None:
        """Stop the background region finding (closing the cut)."""
        self._warm_stop.set()

    def fill(self, i: int, x: int, y: int, swatch: str, carry: bool = True) -> FillOutcome:
        """The fill tool: region (x, y) of coloured frame ``i`` gets ``swatch``, carried to the
        same region in the neighbouring frames of its keyframe interval."""
        if not self.has_result(i) and i not in self.project.keyframes:
            raise ProjectError(f"frame {self.frame_label(i)} has no colour yet: colour it "
                               "(Ctrl+Enter) before fixing its regions")
        out = self.fixer.fill(i, x, y, swatch, carry=carry)
        for f in out.frames:
            self.forget(f)
        return out

    def paint(self, i: int, shape: Shape, swatch: str, carry: bool = True) -> FillOutcome:
        """The brush or the lasso: the pixels of ``shape`` on coloured frame ``i`` get
        ``swatch``; the regions it covers whole are carried like a fill."""
        if not self.has_result(i) and i not in self.project.keyframes:
            raise ProjectError(f"frame {self.frame_label(i)} has no colour yet: colour it "
                               "(Ctrl+Enter) before painting on it")
        out = self.fixer.paint(i, shape, swatch, carry=carry)
        for f in out.frames:
            self.forget(f)
        return out

    def pick(self, i: int, x: int, y: int) -> tuple[RGB, Swatch | None]:
        """The colour of the region under (x, y) of frame ``i`` and its swatch (None if its
        colour is not a swatch's; the colour shown for a pixel on a line)."""
        color = self.result_color(i)
        if color is None:
            raise ProjectError(f"frame {self.frame_label(i)} has no colour to pick from")
        label = self.fixer.region_at(i, x, y)
        if i in self.project.keyframes:
            base = self.project.key_color(i)
        else:
            base = self.fixer.fixed(i, self.project.stored_color(i))
        if label == 0:
            px = tuple(int(v) for v in color[y, x])
            return (px[0], px[1], px[2]), None
        rgb, sw = swatch_of_region(base, self.fixer.regions.labels(i), label, self.palette)
        if sw is not None:
            return self.palette.shown_rgb(sw), self.palette.resolve(sw.id)
        return rgb, None

    def fix_marks(self, i: int) -> tuple[int, list[int]]:
        """(fixes made on frame ``i``, frames whose fixes were carried to it)."""
        carried = sorted(self.hints.frames_carried().get(i, set()))
        return len(self.hints.own(i)), carried

    def fixes_state(self) -> tuple[HintSet, SwatchPalette]:
        """Snapshot of the fixes and the palette, to restore on undo."""
        return self.hints.copy(), self.palette.copy()

    def restore_fixes(self, state: tuple[HintSet, SwatchPalette]) -> None:
        """Put back a snapshot taken by :meth:`fixes_state` (the same objects stay in use)."""
        hints, palette = state
        self.hints.fixes, self.hints.next_id = dict(hints.fixes), hints.next_id
        self.palette.restore(palette)        # swatches, merging tolerance, colour model
        self.forget()

    def coloured_frames(self) -> list[int]:
        """Frames with a coloured result (keyframes excluded)."""
        return [i for i in range(self.n_frames) if self.has_result(i) and not self.is_key(i)]

    def next_flagged(self, frame: int, after: int | None) -> Flagged | None:
        """The next region flagged for review after region ``after`` of ``frame``, through the
        whole cut and round to its start (None when no region is left to review)."""
        def conf(i: int) -> np.ndarray | None:
            try:
                return self.confidence(i)
            except (ProjectError, CutError, OSError):
                return None
        return next_flagged(self.fixer, frame, after, self.coloured_frames(), conf)

    def mark_stale(self, frames: list[int] | None) -> None:
        """The layer files the runs wrote for ``frames`` (None: all) no longer show their fixes
        or the palette's colours: :meth:`save` writes them again."""
        self.stale_layers.update(range(self.n_frames) if frames is None else frames)

    def save(self) -> Path:
        """Save the project file (atomic), after writing again the layer files whose fixes or
        palette colours changed."""
        from opdm_studio.engine.export import refresh_layers
        if self.stale_layers:
            refresh_layers(self.project, self.stale_layers)
            self.stale_layers.clear()
        path = self.project.save()
        return path
