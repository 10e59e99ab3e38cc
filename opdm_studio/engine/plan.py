"""Which frames to colour, with which two keyframes, and which ones reuse another frame's colours.

Rules:
- each target frame gets its previous and next keyframe; ``t`` is its position between them;
- frames before the first keyframe or after the last use the nearest keyframe in both slots;
- keyframes are copied through unchanged (their colour is the truth);
- a held drawing (the same drawing exposed on several frames) is coloured once and reused; when a
  keyframe belongs to the hold, the whole hold takes the keyframe's colours.

Pure logic on integers: no images, no torch, so it is cheap to call from the GUI for previews.
"""
from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from opdm_studio.errors import ProjectError


@dataclass(frozen=True)
class PlanItem:
    """One frame of a plan."""

    index: int        # frame index in the cut
    kind: str         # "key": copy the keyframe; "color": run the method; "held": reuse ``source``
    prev: int         # previous keyframe index (== next outside the keyed range)
    next: int         # next keyframe index
    t: float          # position between prev (0) and next (1); 0 when prev == next
    source: int       # frame whose colours this one takes (itself for "color", the key for "key")

    @property
    def keys(self) -> tuple[int, int]:
        """(prev, next) keyframe pair."""
        return (self.prev, self.next)


def key_pair(index: int, keys: Sequence[int]) -> tuple[int, int, float]:
    """(prev, next, t) for frame ``index`` given sorted keyframe indices ``keys`` (non-empty)."""
    pos = bisect.bisect_right(keys, index)
    if pos == 0:
        return keys[0], keys[0], 0.0
    prev = keys[pos - 1]
    if prev == index or pos == len(keys):
        return prev, prev, 0.0
    nxt = keys[pos]
    return prev, nxt, (index - prev) / float(nxt - prev)


def make_plan(frames: Iterable[int], keys: Iterable[int], n_frames: int,
              hold_of: Callable[[int], int] | Sequence[int] | None = None) -> list[PlanItem]:
    """Plan the colouring of ``frames`` (indices, any order, duplicates ignored).

    Args:
        frames: the target range.
        keys: keyframe indices (at least one).
        n_frames: number of frames in the cut (for range checks).
        hold_of: for each frame, the index of the first frame of the hold it belongs to (``== i``
            for a new drawing), e.g. ``cut.hold_of``; None = every frame is a new drawing.

    Returns:
        Items in frame order. A "held" item's source is always a key or an earlier "color" item of
        the same plan, so a runner processing items in order has the colours when it needs them.
    """
    key_list = sorted(set(int(k) for k in keys))
    if not key_list:
        raise ProjectError("no keyframes: mark at least one coloured keyframe before colouring")
    targets = sorted(set(int(f) for f in frames))
    for i in key_list + targets:
        if not 0 <= i < n_frames:
            raise ProjectError(f"frame index {i} is outside the cut (0..{n_frames - 1})")
    head: Callable[[int], int]
    if hold_of is None:
        def head(i: int) -> int:
            return i
    elif callable(hold_of):
        head = hold_of
    else:
        seq = list(hold_of)

        def head(i: int) -> int:
            return int(seq[i])

    key_set = set(key_list)
    # Keys grouped by the hold they belong to: a key k is in the hold of frame i iff both share
    # the hold's first frame. Only keys and targets are asked (each ask may read a drawing).
    key_holds: dict[int, list[int]] = {}
    for k in key_list:
        key_holds.setdefault(int(head(k)), []).append(k)

    items: list[PlanItem] = []
    representative: dict[int, PlanItem] = {}  # hold head -> item coloured for the group in this plan
    for i in targets:
        prev, nxt, t = key_pair(i, key_list)
        if i in key_set:
            items.append(PlanItem(i, "key", i, i, 0.0, i))
            continue
        h = int(head(i))
        group_keys = key_holds.get(h, [])
        if group_keys:
            # The drawing of a keyframe: its colours are known exactly; take the nearest key of the hold.
            src = min(group_keys, key=lambda k: abs(k - i))
            items.append(PlanItem(i, "held", src, src, 0.0, src))
            continue
        if h in representative:
            rep = representative[h]
            items.append(PlanItem(i, "held", rep.prev, rep.next, rep.t, rep.index))
            continue
        item = PlanItem(i, "color", prev, nxt, t, i)
        representative[h] = item
        items.append(item)
    return items


class FileHolds:
    """``hold_of`` from the drawings' file contents: a frame whose file is byte-identical to the
    previous frame's repeats its drawing.

    Decoding every drawing to compare pixels (``Cut.hold_of``) costs ~0.3 s per 2K frame before
    the first frame can start; hashing the files costs milliseconds (and the digests serve the
    results' sources and the file checks too). Identical bytes always mean an identical drawing;
    the rare re-saved held drawing with different bytes is merely coloured twice, never wrongly
    reused.
    """

    def __init__(self, frames: Sequence[Any], digests: Any) -> None:
        self._frames = frames        # the cut's frame infos (``.path``)
        self._digests = digests      # the project's file digests (``.facts(path)``)
        self._head: dict[int, int] = {}

    def _d(self, i: int) -> str:
        # An unreadable file gets a unique marker: never held, reported when it is coloured.
        facts = self._digests.facts(self._frames[i].path)
        return facts.digest if facts.problem is None else f"{facts.digest}:{i}"

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
