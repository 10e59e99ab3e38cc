"""Paint decided per region *track* over a key interval, not per frame.

A colourist judges each closed region of each frame: one paint of the colour model, the same all
along the region's life through the frames, or flagged for review. Deciding every frame alone
(:func:`~opdm_studio.imaging.snapping.snap_to_palette`) snaps a region on one frame and not on
the next, which flickers in playback, and leaves regions mottled where the guess wavers.

Here the drawings of a key interval (the previous key, the in-betweens, the next key) are linked
region by region: a region of one drawing and its sure match in the next
(:meth:`~opdm_studio.imaging.tracking.Correspondence.matches`) belong to the same *track*. Each
track then gets one decision (:func:`decide_tracks`):

- a track that reaches a key where the key's region is one flat paint takes that paint (when the
  two keys disagree, the paint most of the track's guesses pick among the two);
- a track the keys show in several tones (soft shading, effects, several paints behind an
  unclosed line) keeps the guess all along: off-palette colour survives only there;
- a track that reaches no key takes the paint its guesses pick when they agree, else keeps the
  guess and is flagged where the guess is mottled.

Every region of every in-between gets a confidence: how far the evidence for its paint goes
(calibrated on ground truth, see :data:`FLAG_BELOW` and docs/evaluation.md), and regions below
the line are flagged. numpy / OpenCV only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opdm_studio.imaging.palette import Palette
from opdm_studio.imaging.regions import Regions
from opdm_studio.imaging.snapping import RegionStats, auto_choice, region_stats

#: A key region is one flat paint when this share of its core agrees with its nearest paint ...
KEY_FLAT_AGREEMENT = 0.9
#: ... which is this close to the region's robust mean (CIELAB): the keys' paint is exact.
KEY_FLAT_DISTANCE = 4.0
#: A flat key in a track counts as many guesses.
KEY_WEIGHT = 4.0
#: Regions whose confidence is below this are flagged for review (the engine's review threshold).
FLAG_BELOW = 0.5
#: A guess is mottled (several tones in one region) when its core's spread exceeds this (CIELAB).
MOTTLED_SPREAD = 6.0

# How a region's paint was decided (``TrackPaint.source``).
ALONE, KEY, VOTE, KEPT = 0, 1, 2, 3


@dataclass
class IntervalFrame:
    """One drawing of a key interval: its regions, and the guess's statistics (in-betweens with a
    guess) or the key's paint (keys). A drawing with neither only links the track through."""

    regions: Regions
    stats: RegionStats | None = None
    key_rgb: np.ndarray | None = None


@dataclass
class TrackPaint:
    """The decision for one in-between, per region (arrays indexed by label, 0 = the lines).

    ``paint`` palette index painted flat, -1 where the guess is kept; ``confidence`` in [0, 1];
    ``flagged`` regions to review; ``track`` the track id (-1: the region is in no track with
    another drawing); ``source`` how it was decided (ALONE, KEY, VOTE, KEPT).
    """

    paint: np.ndarray
    confidence: np.ndarray
    flagged: np.ndarray
    track: np.ndarray
    source: np.ndarray

    @property
    def snapped(self) -> np.ndarray:
        """bool per region: painted flat."""
        return self.paint >= 0


def _components(n: int, edges: np.ndarray) -> np.ndarray:
    """Connected components of ``n`` nodes under ``edges`` (E, 2): the smallest node of each."""
    root = np.arange(n, dtype=np.int64)
    if len(edges) == 0:
        return root
    u, v = edges[:, 0], edges[:, 1]
    while True:
        lo = np.minimum(root[u], root[v])
        new = root.copy()
        np.minimum.at(new, u, lo)
        np.minimum.at(new, v, lo)
        new = new[new]                     # pointer jumping: paths shrink geometrically
        if np.array_equal(new, root):
            return root
        root = new


def link_tracks(frames: list[IntervalFrame], links: list[tuple[np.ndarray, np.ndarray]]
                ) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, track of every node): node ``offsets[f] + label`` is region ``label`` of drawing
    ``f``; ``links[f]`` = (best, sure) from drawing f to f + 1 (Correspondence.matches)."""
    sizes = [fr.regions.count + 1 for fr in frames]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    edges = []
    for f, (best, sure) in enumerate(links):
        la = np.flatnonzero(sure[:sizes[f]] & (best[:sizes[f]] > 0) & (best[:sizes[f]] < sizes[f + 1]))
        la = la[la > 0]
        edges.append(np.stack([offsets[f] + la, offsets[f + 1] + best[la]], axis=1))
    e = np.concatenate(edges) if edges else np.zeros((0, 2), np.int64)
    return offsets, _components(int(offsets[-1]), e)


def key_evidence(frame: IntervalFrame, palette: Palette) -> tuple[np.ndarray, np.ndarray]:
    """(paint index, flat) of every region of a key drawing: the key's own paint there."""
    st = region_stats(frame.key_rgb, frame.regions, palette, frame.regions.line_mask)
    flat = (st.agreement >= KEY_FLAT_AGREEMENT) & (st.distance <= KEY_FLAT_DISTANCE)
    flat[0] = False
    return st.palette_index.astype(np.int64), flat


@dataclass
class _Nodes:
    """Evidence of every node (region of a drawing) of an interval, flat arrays."""

    track: np.ndarray       # track (root node) of each node
    is_key: np.ndarray      # a key drawing's region
    key_flat: np.ndarray    # ... that is one flat paint
    has_guess: np.ndarray   # an in-between's region with a guess
    paint: np.ndarray       # nearest paint (the key's own, or the guess's)
    weight: np.ndarray      # vote weight of the guess (its confidence) or KEY_WEIGHT
    alone: np.ndarray       # the frame-alone decision would snap it


def _nodes(frames: list[IntervalFrame], palette: Palette, offsets: np.ndarray,
           track: np.ndarray) -> _Nodes:
    total = int(offsets[-1])
    nd = _Nodes(track, np.zeros(total, bool), np.zeros(total, bool), np.zeros(total, bool),
                np.full(total, -1, np.int64), np.zeros(total), np.zeros(total, bool))
    for f, fr in enumerate(frames):
        sl = slice(int(offsets[f]) + 1, int(offsets[f + 1]))    # label 0 (lines) is no node
        if fr.key_rgb is not None:
            paint, flat = key_evidence(fr, palette)
            nd.is_key[sl] = True
            nd.key_flat[sl] = flat[1:]
            nd.paint[sl] = paint[1:]
            nd.weight[sl] = np.where(flat[1:], KEY_WEIGHT, 0.0)
        elif fr.stats is not None:
            st = fr.stats
            snapped, _ = auto_choice(st, fr.regions, len(palette), "auto")
            nd.has_guess[sl] = True
            nd.paint[sl] = st.palette_index[1:]
            nd.weight[sl] = st.confidence[1:]
            nd.alone[sl] = snapped[1:]
    return nd


def _track_votes(nd: _Nodes, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per track (indexed by root node): (winning paint, its share of the votes, keys' state:
    0 no key region, 1 flat key regions, 2 key regions none of them flat)."""
    total = len(nd.track)
    voter = (nd.paint >= 0) & (nd.weight > 0)
    # Flat keys outvote guesses; among guesses, each votes with its confidence.
    key_votes = voter & nd.key_flat
    guess_votes = voter & nd.has_guess
    cell = nd.track * k + np.maximum(nd.paint, 0)
    vk = np.bincount(cell[key_votes], weights=nd.weight[key_votes], minlength=total * k)
    vg = np.bincount(cell[guess_votes], weights=nd.weight[guess_votes], minlength=total * k)
    votes = (vk * 1e3 + vg).reshape(total, k)      # a key's word first, the guesses break ties
    best = np.argmax(votes, axis=1)
    g = vg.reshape(total, k)
    share = g[np.arange(total), best] / np.maximum(g.sum(axis=1), 1e-9)
    has_flat = np.bincount(nd.track[nd.key_flat], minlength=total) > 0
    has_key = np.bincount(nd.track[nd.is_key], minlength=total) > 0
    keys = np.where(has_flat, 1, np.where(has_key, 2, 0))
    # Two keys with different flat paints: the guesses choose among those two only.
    kv = vk.reshape(total, k)
    split = (kv > 0).sum(axis=1) > 1
    if split.any():
        among = np.where(kv[split] > 0, g[split] + 1e-6, -1.0)
        best[split] = np.argmax(among, axis=1)
    return best, share, keys


def _alone(fr: IntervalFrame, n_paints: int, mode: str) -> TrackPaint:
    """The frame-alone decision (no track to follow): :func:`auto_choice` as it stands."""
    st = fr.stats
    assert st is not None
    snapped, flagged = auto_choice(st, fr.regions, n_paints, mode)
    n = len(snapped)
    conf = np.where(flagged, np.minimum(st.confidence, FLAG_BELOW - 1e-3),
                    np.maximum(st.confidence, FLAG_BELOW))
    conf[0] = 1.0
    return TrackPaint(np.where(snapped, st.palette_index, -1).astype(np.int32),
                      conf.astype(np.float32), flagged, np.full(n, -1, np.int64),
                      np.full(n, ALONE, np.uint8))


def _node_decision(nd: _Nodes, votes: tuple[np.ndarray, np.ndarray, np.ndarray],
                   sl: slice, st: RegionStats, mode: str) -> tuple[np.ndarray, ...]:
    """(paint, source, confidence) of the regions of one in-between (node slice ``sl``)."""
    best, share, keys = votes
    root = nd.track[sl]
    members = np.bincount(nd.track, minlength=len(nd.track))[root]
    t_best, t_keys, t_share = best[root], keys[root], share[root]
    own, weight, alone = nd.paint[sl], nd.weight[sl], nd.alone[sl]
    agree = own == t_best
    spread = st.spread[1:]
    paint = np.where(alone, own, -1)
    source = np.full(len(own), ALONE, np.uint8)
    conf = st.confidence[1:].copy()
    # A flat key paint along the track: the region takes it.
    from_key = t_keys == 1
    paint[from_key] = t_best[from_key]
    source[from_key] = KEY
    conf[from_key] = np.where(agree, 0.75 + 0.25 * weight, 0.5 * (1.0 - weight))[from_key]
    # Keys in several tones here: the guess stays, nothing to review.
    kept = t_keys == 2
    paint[kept] = -1
    source[kept] = KEPT
    conf[kept] = 1.0
    # No key on the track: the guesses' common paint, when they agree.
    linked = (t_keys == 0) & (members > 1)
    vote = linked & (t_share >= 0.6)
    paint[vote] = t_best[vote]
    source[vote] = VOTE
    conf[vote] = (t_share * np.where(agree, 1.0, 0.5))[vote]
    unsure = linked & ~vote
    paint[unsure] = -1
    source[unsure] = KEPT
    conf[unsure] = np.where(spread > MOTTLED_SPREAD, 0.3, 0.6)[unsure]
    if mode == "all":
        paint = np.where(paint >= 0, paint, own)
    return paint, source, conf


def decide_tracks(frames: list[IntervalFrame], palette: Palette,
                  links: list[tuple[np.ndarray, np.ndarray]], mode: str = "auto"
                  ) -> list[TrackPaint | None]:
    """One decision per region track over a key interval (see the module doc): for every drawing
    with a guess, its :class:`TrackPaint`; None for the keys and for drawings without a guess.

    ``links[f]``: (best, sure) from drawing f to f + 1. ``mode`` "off" keeps every guess (the
    frame-alone confidences), "all" paints every region (the track's paint where it has one).
    """
    n_paints = len(palette)
    if mode == "off" or n_paints == 0:
        return [_alone(fr, n_paints, mode) if fr.stats is not None else None for fr in frames]
    offsets, track = link_tracks(frames, links)
    nd = _nodes(frames, palette, offsets, track)
    votes = _track_votes(nd, n_paints)
    out: list[TrackPaint | None] = []
    for f, fr in enumerate(frames):
        if fr.stats is None:
            out.append(None)
            continue
        sl = slice(int(offsets[f]) + 1, int(offsets[f + 1]))
        paint, source, conf = _node_decision(nd, votes, sl, fr.stats, mode)
        n = fr.regions.count + 1
        full_paint = np.concatenate([[-1], paint]).astype(np.int32)
        full_conf = np.concatenate([[1.0], np.clip(conf, 0.0, 1.0)]).astype(np.float32)
        flagged = full_conf < FLAG_BELOW
        flagged[0] = False
        tr = np.concatenate([[-1], np.where(np.bincount(track, minlength=len(track))[track[sl]] > 1,
                                            track[sl], -1)])
        out.append(TrackPaint(full_paint, full_conf, flagged, tr.astype(np.int64),
                              np.concatenate([[ALONE], source]).astype(np.uint8)))
        assert len(full_paint) == n
    return out
