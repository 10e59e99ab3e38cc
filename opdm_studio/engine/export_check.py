"""Checks before export (no Qt): which frames of a range an export would leave out (not
coloured), which it would write out of date (coloured with other keyframes, settings or
drawings than today's), and the unpainted-pixel check (塗り残し) on what it would write.

The app's export dialog lists these before anything is written and lets the colourist go on
or cancel; the viewer's Unpainted view hatches a frame's unpainted pixels.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from opdm_studio.engine.composite import shown_layers
from opdm_studio.engine.fixes import key_paint_colours
from opdm_studio.errors import CutError, ProjectError
from opdm_studio.imaging.unpainted import Unpainted, find_unpainted

if TYPE_CHECKING:
    from opdm_studio.engine.fixes import Fixer
    from opdm_studio.engine.project import Project


@dataclass
class ExportCheck:
    """What an export of ``frames`` would do that the colourist should know first."""

    frames: list[int]                                  # the range asked for (indices)
    missing: list[int] = field(default_factory=list)   # not coloured: left out
    outdated: list[int] = field(default_factory=list)  # written as they are, out of date
    unpainted: dict[int, Unpainted] = field(default_factory=dict)   # frames with unpainted pixels
    checked: int = 0                                   # frames the unpainted check has looked at

    @property
    def exported(self) -> list[int]:
        """The frames the export writes."""
        missing = set(self.missing)
        return [i for i in self.frames if i not in missing]

    @property
    def clean(self) -> bool:
        """True when nothing needs a word before writing."""
        return not (self.missing or self.outdated or self.unpainted)


def coloured(project: Project, index: int) -> bool:
    """True when frame ``index`` has colour to export (a keyframe or a coloured result)."""
    res = project.results.get(index)
    return index in project.keyframes or (res is not None and res.color_path is not None)


def check_range(project: Project, frames: Iterable[int]) -> ExportCheck:
    """The quick part of the check (no image read): frames left out and frames out of date."""
    frames = sorted(set(frames))
    out = ExportCheck(frames)
    for i in frames:
        if not coloured(project, i):
            out.missing.append(i)
        elif i not in project.keyframes and project.is_outdated(i):
            out.outdated.append(i)
    return out


_KEY_PAINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def key_paints(project: Project) -> list[tuple[int, int, int]]:
    """The keyframes' flat paint colours (read once per set of keys)."""
    sig = tuple(sorted((k, key.source, str(key.path)) for k, key in project.keyframes.items()))
    with _LOCK:
        hit = _KEY_PAINTS.get(project)
    if hit is not None and hit[0] == sig:
        return hit[1]
    images = []
    for k in sorted(project.keyframes):
        try:
            images.append((project.key_color(k), project.cut.line(k)))
        except (ProjectError, CutError, OSError):
            continue        # a missing paint file is reported where the key is used
    colours = key_paint_colours(images)
    with _LOCK:
        _KEY_PAINTS[project] = (sig, colours)
    return colours


def paints(project: Project) -> list[tuple[int, int, int]]:
    """The colour model's paints: the keys' paint and the palette's swatches as shown now (a
    white or dark paint of the model is paint, not a hole)."""
    pal = project.palette
    return [*key_paints(project), *(pal.shown_rgb(s) for s in pal.live())]


def unpainted_in(project: Project, index: int, color: np.ndarray) -> Unpainted:
    """The unpainted pixels of frame ``index``'s colour layer ``color``: off the drawing's
    lines, in paper white or ink that no paint of the colour model explains."""
    return find_unpainted(color, ~project.cut.line_mask(index), paints(project))


def check_frame(project: Project, fixer: Fixer, index: int) -> Unpainted:
    """The unpainted check on coloured frame ``index`` as the export writes it (fixes and the
    palette's colours on)."""
    color, _ = shown_layers(project, fixer, index)
    return unpainted_in(project, index, color)


def check_unpainted(project: Project, fixer: Fixer, check: ExportCheck,
                    stop: Callable[[], bool] | None = None) -> Iterator[int]:
    """Run the unpainted check over the frames ``check`` exports, filling ``check.unpainted``;
    yields each frame after it is checked (``stop`` returning True ends it early)."""
    for i in check.exported:
        if stop is not None and stop():
            return
        found = check_frame(project, fixer, i)
        if not found.clean:
            check.unpainted[i] = found
        check.checked += 1
        yield i


def spans(numbers: Iterable[int]) -> str:
    """Frame numbers as spans: ``13-16, 20``."""
    nums = sorted(set(numbers))
    parts: list[str] = []
    start = prev = None
    for n in [*nums, None]:
        if n is not None and prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    return ", ".join(parts)
