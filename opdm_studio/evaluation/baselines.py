"""Colouring methods for the protocol: the plug-in signature and the four honest baselines.

A *method* is any callable ``method(task: Task) -> uint8 (H, W, 3)`` that colours ``task``'s target
drawing from the two keyframes; ``evaluate_cmd`` adds the OPDM model as one more method. Baselines
(exact settings reproduce the reference figures in docs/evaluation.md):

- ``nearest``: the temporally nearest keyframe (the earlier one at the exact middle).
- ``flowwarp``: line-art optical flow to the nearest key, backward warp of its colours
  (:func:`opdm_studio.imaging.flow.flowwarp`).
- ``blend``: flowwarp from both keys, mixed ``(1 - t) * prev + t * next``.
- ``regionfill``: each closed region of the target's line art takes the per-channel median of the
  flowwarp colours inside it; line pixels keep the flowwarp colour.
- ``flow`` (extra row): the engine's fast method, :func:`opdm_studio.imaging.flow.propagate_two`.
- ``flowchain`` (extra row): flow chained through the window's drawings, frame to frame, refined
  and fused per pixel (:class:`opdm_studio.imaging.chain.ChainPropagator`); needs the task's
  ``window_lines``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from opdm_studio.imaging.chain import ChainPropagator
from opdm_studio.imaging.flow import flowwarp, propagate_two
from opdm_studio.imaging.regions import find_regions


@dataclass
class Task:
    """One in-between to colour: the two keys (colour + line drawing), the target drawing, t, and
    the window's drawings for methods that use the drawings between the keys."""

    prev_rgb: np.ndarray       # uint8 (H, W, 3)
    next_rgb: np.ndarray       # uint8 (H, W, 3)
    prev_line: np.ndarray      # uint8 (H, W), 255 paper / 0 ink
    next_line: np.ndarray      # uint8 (H, W)
    target_line: np.ndarray    # uint8 (H, W)
    t: float                   # temporal position in (0, 1): 0 = prev key, 1 = next key
    target_mask: np.ndarray | None = None   # bool (H, W) ink mask of the target, if known
    # Every drawing of the window, prev key .. next key (the protocol passes the same list object
    # to every frame of a window, so a method may cache per window), and the target's index in it.
    window_lines: Sequence[np.ndarray] | None = None
    index: int | None = None

    def nearest_is_prev(self) -> bool:
        """True when the previous key is temporally nearest (ties go to the previous key)."""
        return self.t <= 0.5


# A method returns the coloured target, or (rgb, seconds) when it shares work between several rows
# and reports the time one frame really costs.
Method = Callable[[Task], "np.ndarray | tuple[np.ndarray, float]"]


def nearest(task: Task) -> np.ndarray:
    """Copy the temporally nearest keyframe."""
    return (task.prev_rgb if task.nearest_is_prev() else task.next_rgb).copy()


def flowwarp_nearest(task: Task) -> np.ndarray:
    """Warp the nearest key's colours along line-art flow."""
    if task.nearest_is_prev():
        return flowwarp(task.target_line, task.prev_rgb, task.prev_line)
    return flowwarp(task.target_line, task.next_rgb, task.next_line)


def blend(task: Task) -> np.ndarray:
    """Flowwarp from both keys, weighted by temporal distance."""
    a = flowwarp(task.target_line, task.prev_rgb, task.prev_line).astype(np.float32)
    b = flowwarp(task.target_line, task.next_rgb, task.next_line).astype(np.float32)
    return np.clip((1.0 - task.t) * a + task.t * b + 0.5, 0, 255).astype(np.uint8)


def _target_mask(task: Task) -> np.ndarray:
    if task.target_mask is not None:
        return task.target_mask
    # Binary drawings (the protocol's) are exact; for gray hand-drawn lines mid-gray is ink.
    return task.target_line < 128


def region_labels(line_mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Closed regions of a line mask: (labels int32, 0 = line, count incl. 0).

    The engine's regions (``imaging.regions.find_regions``, with its gap closing), so that the
    baseline fills the regions a colourist fills.
    """
    regions = find_regions(line_mask)
    labels = np.asarray(regions.labels, np.int32)
    return labels, int(labels.max()) + 1


def median_per_region(rgb: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Replace each labelled region (label > 0) by its per-channel median colour; label 0 kept."""
    flat = labels.ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(count + 1))
    src = rgb.reshape(-1, 3)
    out = src.copy()
    for r in range(1, count):
        idx = order[bounds[r]:bounds[r + 1]]
        if len(idx):
            out[idx] = np.median(src[idx], axis=0).astype(np.uint8)
    return out.reshape(rgb.shape)


def regionfill(task: Task) -> np.ndarray:
    """Each closed region of the target takes the median flowwarp colour inside it."""
    warped = flowwarp_nearest(task)
    labels, count = region_labels(_target_mask(task))
    return median_per_region(warped, labels, count)


def flow_two(task: Task) -> np.ndarray:
    """The engine's `flow` method: per pixel, the more consistent of the two keys' warps."""
    return propagate_two(task.target_line, task.prev_rgb, task.prev_line,
                         task.next_rgb, task.next_line, task.t).rgb


class FlowChain:
    """``flowchain``: chained line-art flow over the task's window; one
    :class:`~opdm_studio.imaging.chain.ChainPropagator` per window, reused by its frames, so each
    consecutive pair's flow is computed once per window. Without ``window_lines`` the interval is
    the two keys and the target."""

    def __init__(self) -> None:
        self._lines: Sequence[np.ndarray] | None = None    # held: its id cannot be reused meanwhile
        self._chain: ChainPropagator | None = None

    def __call__(self, task: Task) -> np.ndarray:
        """Colour the task's target from the window's chain."""
        if task.window_lines is None or task.index is None:
            lines: Sequence[np.ndarray] = [task.prev_line, task.target_line, task.next_line]
            index = 1
        else:
            lines, index = task.window_lines, task.index
        if self._chain is None or self._lines is not lines:
            self._lines, self._chain = lines, ChainPropagator(lines)
        return self._chain.propagate(index, task.prev_rgb, task.next_rgb).rgb


BASELINES: dict[str, Method] = {
    "nearest": nearest,
    "flowwarp": flowwarp_nearest,
    "blend": blend,
    "regionfill": regionfill,
    "flow": flow_two,
    "flowchain": FlowChain(),
}
