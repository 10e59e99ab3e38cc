"""THE composite of a frame: what the app's viewer shows and what every export writes.

A finished frame is its colour layer with the drawing's lines on top
(:func:`~opdm_studio.imaging.export.make_layers`), where the drawing's colour-trace lines (red,
blue or another pencil colour, which bound paint zones) take the treatment the cut's painted
keyframes show for them: kept in their colour, or painted over with the neighbouring paint. The
treatment is learnt from the keys (:func:`~opdm_studio.imaging.lineart.learn_trace_treatment`)
and kept per project until a key's drawing or paint changes. Regions still end at trace lines:
only the finished picture follows the treatment, not the line masks of regions and snapping.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from opdm_studio.engine.fixes import Fixer, frame_layers
from opdm_studio.engine.sources import key_source_path
from opdm_studio.errors import CutError, ProjectError
from opdm_studio.imaging.export import Layers, make_layers
from opdm_studio.imaging.lineart import (
    TraceTreatment,
    find_trace_lines,
    learn_trace_treatment,
    line_mask_from_drawing,
    luminance,
)

if TYPE_CHECKING:
    from opdm_studio.engine.project import Project

__all__ = ["compose", "frame_composite", "key_layers", "paint_shows_lines", "shown_layers",
           "trace_treatment"]

_TREATMENTS: weakref.WeakKeyDictionary[Project, tuple[tuple, TraceTreatment]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def paint_shows_lines(paint: np.ndarray, line_mask: np.ndarray, line_rgb: np.ndarray) -> bool:
    """True when a key's paint shows its drawing's lines (it is its own composite): most of the
    drawing's black ink (all ink when it has no other) is dark in the paint too."""
    ink = line_mask & ~find_trace_lines(line_rgb, line_mask).mask
    if not ink.any():
        ink = line_mask
    return bool(ink.any()) and float(np.mean(luminance(paint)[ink] < 128)) > 0.5


def _key_signature(project: Project) -> tuple:
    """What the treatment is learnt from: each key's paint source and the files' digests."""
    digests, cut = project.digests, project.cut
    out = []
    for k, key in sorted(project.keyframes.items()):
        paint = key_source_path(project, k)
        out.append((k, key.source, key.path, digests.digest(cut.frames[k].path),
                    digests.digest(paint) if paint is not None else "none"))
    return tuple(out)


def _painted_keys(project: Project) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(paint, drawing RGB, ink mask) of every key whose paint shows its lines."""
    cut = project.cut
    for k, key in sorted(project.keyframes.items()):
        if key.source == "result":
            continue        # a promoted result is a colour layer: it says nothing about lines
        try:
            paint = project.key_color(k)
        except (ProjectError, CutError, OSError):
            continue        # a missing paint file is reported where the key is used
        line_rgb, mask = cut.line_rgb(k), line_mask_from_drawing(cut.line(k))
        if paint_shows_lines(paint, mask, line_rgb):
            yield paint, line_rgb, mask


def trace_treatment(project: Project) -> TraceTreatment:
    """How ``project``'s keyframes treat the trace lines (learnt once per set of keys)."""
    sig = _key_signature(project)
    with _LOCK:
        hit = _TREATMENTS.get(project)
    if hit is not None and hit[0] == sig:
        return hit[1]
    treatment = learn_trace_treatment(_painted_keys(project))
    with _LOCK:
        _TREATMENTS[project] = (sig, treatment)
    return treatment


def compose(project: Project, index: int, color: np.ndarray,
            paint: np.ndarray | None = None) -> Layers:
    """THE composite of frame ``index``: its colour layer, line layer and composite from
    ``color`` and the drawing, trace lines as the keys treat them. ``paint``: a painted key's own
    image, which is the composite byte for byte (its layers still follow the treatment)."""
    cut = project.cut
    layers = make_layers(color, line_mask_from_drawing(cut.line(index)), cut.line_rgb(index),
                         trace_treatment(project))
    return layers if paint is None else replace(layers, composite=paint)


def key_layers(project: Project, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(colour-only, composite) of keyframe ``index``.

    A painted key that already shows the drawing's lines is its own composite, byte for byte
    (the colourist's paint is the truth); a colour-only key (a promoted result, or a paint file
    without lines) gets the original lines put on top.
    """
    rgb = project.key_color(index)
    cut = project.cut
    own = (project.keyframes[index].source != "result"
           and paint_shows_lines(rgb, line_mask_from_drawing(cut.line(index)), cut.line_rgb(index)))
    layers = compose(project, index, rgb, paint=rgb if own else None)
    return layers.color, layers.composite


def shown_layers(project: Project, fixer: Fixer, index: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(colour layer, composite or None) of a coloured frame as shown and written: a key's paint,
    a held copy of a key as the key, else the stored result; fixes and palette colours on.
    A composite of None is :func:`compose`'s from the colour layer."""
    key = index in project.keyframes
    res = project.results.get(index)
    src = res.source_index if res is not None and res.status == "held" else None
    if key:
        color, composite = key_layers(project, index)
    elif src is not None and src in project.keyframes:
        color, composite = key_layers(project, src)     # as the cut run writes it
    else:
        color, composite = project.stored_color(index), None
    return frame_layers(fixer, index, color, composite, key=key)


def frame_composite(project: Project, fixer: Fixer, index: int) -> np.ndarray:
    """The picture of coloured frame ``index``: the viewer shows it, the export writes it."""
    color, composite = shown_layers(project, fixer, index)
    return composite if composite is not None else compose(project, index, color).composite
