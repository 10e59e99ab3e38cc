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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from opdm_studio.imaging.palette import Palette
from opdm_studio.imaging.regions import Regions
from opdm_studio.imaging.snapping import RegionStats, auto_choice, region_stats

#: A key region is one flat paint when this share of its core agrees with its nearest paint ...
KEY_FLAT_AGREEMENT = 0.9
#: ... which is this close to the region's robust mean (CIELAB): the keys' paint is exact.
KEY_FLAT_DISTANCE = 4.0
#: A key pixel is its paint exactly when no channel differs by more than this ...
EXACT_LEVELS = 2
#: ... and keys are exact paint when at least this share of their paint pixels is (cel paint:
#: 99.9 %, a hand-painted demo 90 %; keys taken from compressed video: 5-24 %).
EXACT_SHARE = 0.5
#: A flat key in a track counts as many guesses.
KEY_WEIGHT = 4.0
#: Regions whose confidence is below this are flagged for review (the engine's review threshold).
FLAG_BELOW = 0.5
#: A track is painted flat when at least this share of its in-betweens snap alone to its paint ...
TRACK_SNAP_SHARE = 0.5
#: ... and then each of its frames whose guess agrees with that paint on this share of the region
#: (the frame-alone rule asks 0.95-0.98), is near it and no larger than a paint area.
SUPPORT_AGREEMENT = 0.8
#: Whether a track with a flat key must also snap alone on most frames to be painted.
KEY_NEEDS_SNAP = True
MAX_DISTANCE = 12.0
MAX_FRACTION = 0.6
#: The frame-alone rule's tolerance (CIELAB) of a guess agreeing with a paint.
AGREE_TOL = 6.0
#: A guess contradicts its track's key when it picks another paint with at least this confidence.
CONTRADICTION = 0.3
#: With exact-paint keys, a region the keys' warp fills with one paint on at least this share of
#: it (``RegionStats.agreement`` of the warp) ...
WARP_PAINT_AGREEMENT = 0.4
#: ... and no larger than this share of the frame takes that paint, flat, whatever the network's
#: correction made of it (chosen on the synthetic cuts 2024 and 0 and on Anita's extracted
#: lines; docs/evaluation.md, "The warp's paint in small regions").
WARP_PAINT_FRACTION = 0.005
#: A region whose mean warp confidence (the pipeline's, 1 = the keys' warp matches the drawing's
#: lines) is below this is flagged: on konobi 007's windows (drawing regions, G=8 and 16) 99.6 %
#: of such regions were wrong, 20 % of the wrong ones, 15 % of the frame's area.
WARP_FLAG = 0.4

# How a region's paint was decided (``TrackPaint.source``): alone (in no track), its track's key,
# its track's vote, kept as guessed, kept as guessed because its track's keys show several tones
# there (an unclosed line, shading: :mod:`~opdm_studio.imaging.shapes` judges such a region by
# the shapes the drawing's strokes close in it).
ALONE, KEY, VOTE, KEPT, SEVERAL = 0, 1, 2, 3, 4


@dataclass
class IntervalFrame:
    """One drawing of a key interval: its regions, and the guess's statistics (in-betweens with a
    guess) or the key's paint (keys). A drawing with neither only links the track through."""

    regions: Regions
    stats: RegionStats | None = None
    key_rgb: np.ndarray | None = None
    warp: np.ndarray | None = None      # per region: the keys' warp confidence, where known


@dataclass
class TrackPaint:
    """The decision for one in-between, per region (arrays indexed by label, 0 = the lines).

    ``paint`` palette index painted flat, -1 where the guess is kept; ``confidence`` in [0, 1];
    ``flagged`` regions to review; ``track`` the track id (-1: the region is in no track with
    another drawing); ``source`` how it was decided (ALONE, KEY, VOTE, KEPT, SEVERAL).
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


def _pair_edges(link: tuple[np.ndarray, ...], na: int, nb: int) -> np.ndarray:
    """Edges (label in a, label in b) of one drawing pair: the sure matches from ``a`` to ``b``,
    and (when ``link`` has them) those from ``b`` back to ``a`` between regions the first left
    unmatched."""
    best, sure = link[0][:na], link[1][:na]
    la = np.flatnonzero(sure & (best > 0) & (best < nb))
    la = la[la > 0]
    out = np.stack([la, best[la]], axis=1)
    if len(link) == 4:
        back, bsure = link[2][:nb], link[3][:nb]
        lb = np.flatnonzero(bsure & (back > 0) & (back < na))
        lb = lb[lb > 0]
        free_a = np.ones(na, bool)
        free_a[la] = False
        free_b = np.ones(nb, bool)
        free_b[best[la]] = False
        lb = lb[free_b[lb] & free_a[back[lb]]]
        out = np.concatenate([out, np.stack([back[lb], lb], axis=1)])
    return out


def link_tracks(frames: list[IntervalFrame], links: Sequence[tuple[np.ndarray, ...]]
                ) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, track of every node): node ``offsets[f] + label`` is region ``label`` of drawing
    ``f``; ``links[f]`` = (best, sure) from drawing f to f + 1 (Correspondence.matches),
    optionally followed by (best, sure) from f + 1 back to f."""
    sizes = [fr.regions.count + 1 for fr in frames]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    edges = []
    for f, link in enumerate(links):
        e = _pair_edges(link, sizes[f], sizes[f + 1])
        edges.append(np.stack([offsets[f] + e[:, 0], offsets[f + 1] + e[:, 1]], axis=1))
    e = np.concatenate(edges) if edges else np.zeros((0, 2), np.int64)
    return offsets, _components(int(offsets[-1]), e)


def key_evidence(frame: IntervalFrame, palette: Palette
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(paint index, flat, exact pixels) of every region of a key drawing: the key's own paint
    there, whether the region is one paint (within the source's noise), and how many of its
    pixels are that paint exactly (within :data:`EXACT_LEVELS` in every channel)."""
    assert frame.key_rgb is not None
    reg = frame.regions
    st = region_stats(frame.key_rgb, reg, palette, reg.line_mask)
    flat = (st.agreement >= KEY_FLAT_AGREEMENT) & (st.distance <= KEY_FLAT_DISTANCE)
    flat[0] = False
    paint = palette.colors[np.maximum(st.palette_index, 0)].astype(np.int16)
    diff = np.abs(frame.key_rgb.astype(np.int16) - paint[reg.labels]).max(axis=2)
    exact = np.bincount(reg.labels.ravel(), weights=(diff <= EXACT_LEVELS).ravel(),
                        minlength=reg.count + 1)
    exact[0] = 0.0
    return st.palette_index.astype(np.int64), flat, exact


def exact_paint(frames: list[IntervalFrame], evidence: Mapping[int, tuple[np.ndarray, ...]]) -> bool:
    """Whether the keys are exact flat paint (cel paint: most of their paint pixels are their
    region's palette colour to within :data:`EXACT_LEVELS`), as opposed to paint with noise or
    texture (frames from compressed video, scans), which a flat fill would not match.
    ``evidence``: :func:`key_evidence` of each key drawing (by its index in ``frames``)."""
    exact = sum(float(ev[2].sum()) for ev in evidence.values())
    total = sum(float(frames[f].regions.areas[1:].sum()) for f in evidence)
    return total > 0 and exact >= EXACT_SHARE * total


def warped_paint(guess: np.ndarray, warp: np.ndarray, warp_stats: RegionStats, regions: Regions,
                 palette: Palette, in_place: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The small regions the keys' warp fills with one paint, given back to the warp: (the guess
    with each of them painted flat with the warp's paint, to decide on; the guess with the
    warp's own pixels there, to paint from: the keys' line anti-aliasing stays; bool per region:
    given back). For exact-paint keys only (:func:`exact_paint`): the warp carries the keys'
    paint exactly, and where it fills a small region with one paint (at least
    :data:`WARP_PAINT_AGREEMENT` of it, the region no larger than :data:`WARP_PAINT_FRACTION` of
    the frame) the network's correction broke the region far more often than it mended it.
    ``warp`` uint8 (H, W, 3) as the guess; ``warp_stats``: :func:`region_stats` of it.
    ``in_place``: the warp's pixels are written into ``guess`` itself (no second full-size copy
    kept; the flat one is the caller's to drop once measured)."""
    take = (warp_stats.agreement >= WARP_PAINT_AGREEMENT) & (
        warp_stats.fraction <= WARP_PAINT_FRACTION) & (warp_stats.palette_index >= 0)
    take[0] = False
    if not take.any() or len(palette) == 0:
        return guess, guess, take
    mask = take[regions.labels]
    flat = guess.copy()
    flat[mask] = palette.colors[np.maximum(warp_stats.palette_index, 0)][regions.labels[mask]]
    shown = guess if in_place else guess.copy()
    shown[mask] = warp[mask]
    return flat, shown, take


@dataclass
class _Nodes:
    """Evidence of every node (region of a drawing) of an interval, flat arrays."""

    track: np.ndarray       # track (root node) of each node
    is_key: np.ndarray      # a key drawing's region
    key_flat: np.ndarray    # ... that is one flat paint
    has_guess: np.ndarray   # an in-between's region with a guess
    paint: np.ndarray       # nearest paint (the key's own, or the guess's)
    warp: np.ndarray        # the keys' warp confidence over the region (1 where unknown)
    weight: np.ndarray      # vote weight of the guess (its confidence) or KEY_WEIGHT
    alone: np.ndarray       # the frame-alone decision would snap it


def _nodes(frames: list[IntervalFrame], palette: Palette, offsets: np.ndarray, track: np.ndarray,
           evidence: Mapping[int, tuple[np.ndarray, ...]]) -> _Nodes:
    total = int(offsets[-1])
    nd = _Nodes(track, np.zeros(total, bool), np.zeros(total, bool), np.zeros(total, bool),
                np.full(total, -1, np.int64), np.ones(total), np.zeros(total), np.zeros(total, bool))
    for f, fr in enumerate(frames):
        sl = slice(int(offsets[f]) + 1, int(offsets[f + 1]))    # label 0 (lines) is no node
        if fr.key_rgb is not None:
            paint, flat, _ = evidence[f]
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
            if fr.warp is not None:
                nd.warp[sl] = fr.warp[1:]
    return nd


def _track_votes(nd: _Nodes, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per track (indexed by root node): (winning paint, its share of the guesses' votes, keys'
    state: 0 no key region, 1 flat key regions, 2 key regions none of them flat)."""
    total = len(nd.track)
    # Flat keys outvote guesses; among guesses, each votes with its confidence. Votes are summed
    # per (track, paint) pair that occurs, not over every paint of every track.
    sel = (nd.paint >= 0) & (nd.weight > 0) & (nd.key_flat | nd.has_guess)
    cells, inv = np.unique(nd.track[sel] * k + nd.paint[sel], return_inverse=True)
    w = nd.weight[sel]
    wk = np.bincount(inv, weights=np.where(nd.key_flat[sel], w, 0.0), minlength=len(cells))
    wg = np.bincount(inv, weights=np.where(nd.has_guess[sel], w, 0.0), minlength=len(cells))
    track_of, paint_of = cells // k, cells % k
    score = wk * 1e3 + wg                          # a key's word first, the guesses break ties
    # Two keys with different flat paints: the guesses choose among those two only.
    split = (np.bincount(track_of[wk > 0], minlength=total) > 1)[track_of]
    score = np.where(split, np.where(wk > 0, wg + 1e-6, -1.0), score)
    order = np.lexsort((-score, track_of))
    first = order[np.r_[True, track_of[order][1:] != track_of[order][:-1]]] if len(order) else order
    best = np.zeros(total, np.int64)
    best[track_of[first]] = paint_of[first]
    share = np.zeros(total)
    share[track_of[first]] = wg[first] / np.maximum(
        np.bincount(track_of, weights=wg, minlength=total)[track_of[first]], 1e-9)
    has_flat = np.bincount(nd.track[nd.key_flat], minlength=total) > 0
    has_key = np.bincount(nd.track[nd.is_key], minlength=total) > 0
    return best, share, np.where(has_flat, 1, np.where(has_key, 2, 0))


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


def _track_snaps(nd: _Nodes, best: np.ndarray) -> np.ndarray:
    """Per track: whether it is painted flat, i.e. at least :data:`TRACK_SNAP_SHARE` of its
    in-betweens would be snapped alone, and to the track's paint."""
    total = len(nd.track)
    guessed = np.bincount(nd.track[nd.has_guess], minlength=total)
    agreeing = nd.alone & (nd.paint == best[nd.track])
    snaps = np.bincount(nd.track[agreeing], minlength=total)
    return snaps >= TRACK_SNAP_SHARE * np.maximum(guessed, 1)


def _confidence(own_conf: np.ndarray, paint: np.ndarray, t_best: np.ndarray, t_keys: np.ndarray,
                t_share: np.ndarray, agree: np.ndarray, agreement: np.ndarray,
                distance: np.ndarray, spread: np.ndarray, linked: np.ndarray,
                exact: bool, warp: np.ndarray) -> np.ndarray:
    """Each region's confidence in [0, 1]; below :data:`FLAG_BELOW` it is flagged for review.

    With exact keys every region ends as one paint or is flagged: a painted region is as sure as
    its guess agrees with the paint (and, without a key on its track, as its track's guesses
    agree); a region left as guessed is flagged unless its track's keys show several tones
    there. Either way a region whose guess contradicts the flat paint its track's key shows is
    flagged, and so is a flat guess in a colour no key has (an invented colour), and a region
    where the keys' warp onto the drawing is unsure (mean confidence below :data:`WARP_FLAG`).
    """
    painted = paint >= 0
    backed = np.where(t_keys == 1, 1.0, np.where(linked, t_share, 0.0))
    conf = np.where(painted, 0.5 + 0.5 * np.minimum(agreement, np.maximum(backed, agreement * 0.9)),
                    own_conf)
    several = linked & (t_keys == 2)
    conf = np.where(several & ~painted, 1.0, conf)
    if exact:
        conf = np.where(~painted & ~several, np.minimum(own_conf, FLAG_BELOW) * 0.8, conf)
    else:
        conf = np.where(painted | several, np.maximum(conf, FLAG_BELOW), np.maximum(own_conf, FLAG_BELOW))
    contradicts = linked & (t_keys == 1) & ~agree & (own_conf >= CONTRADICTION)
    conf = np.where(contradicts, np.minimum(conf, 1.0 - own_conf) * 0.9, conf)
    invented = (spread <= 0.5 * AGREE_TOL) & (distance > MAX_DISTANCE)
    conf = np.where(invented & ~painted, np.minimum(conf, FLAG_BELOW * 0.9), conf)
    # Where the keys' warp onto the drawing is unsure, so is whatever the region shows.
    return np.where(warp < WARP_FLAG, np.minimum(conf, FLAG_BELOW * warp / WARP_FLAG), conf)


@dataclass
class _Votes:
    """Per track (indexed by root node): the winning paint, its share of the guesses' votes, the
    keys' state (0 none, 1 a flat key, 2 keys in several tones), whether it is painted; and
    whether the keys are exact paint at all."""

    best: np.ndarray
    share: np.ndarray
    keys: np.ndarray
    snaps: np.ndarray
    exact: bool


def _node_decision(nd: _Nodes, votes: _Votes, sl: slice, st: RegionStats,
                   mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(paint, source, confidence) of the regions of one in-between (node slice ``sl``).

    A region is painted with its track's paint when the track is painted (most of its frames
    snap to that paint on their own) and this frame's guess is near enough that paint (its own
    nearest paint, on :data:`SUPPORT_AGREEMENT` of the region, the region no larger than a paint
    area is); the frames of a track then all snap or all keep, which does not flicker. Regions in
    no track are decided alone. Confidence: how well the frame's guess, the track and its keys
    agree (calibrated on ground truth: docs/evaluation.md).
    """
    best, share, keys, snaps, exact = votes.best, votes.share, votes.keys, votes.snaps, votes.exact
    root = nd.track[sl]
    members = np.bincount(nd.track, minlength=len(nd.track))[root]
    t_best, t_keys, t_share, t_snap = best[root], keys[root], share[root], snaps[root]
    own, alone = nd.paint[sl], nd.alone[sl]
    agreement, distance = st.agreement[1:], st.distance[1:]
    fraction, spread = st.fraction[1:], st.spread[1:]
    agree = own == t_best
    support = agree & (agreement >= SUPPORT_AGREEMENT) & (distance <= MAX_DISTANCE) & (
        fraction <= MAX_FRACTION)
    linked = members > 1
    paint = np.where(alone & exact, own, -1)
    source = np.full(len(own), ALONE, np.uint8)
    conf = st.confidence[1:].copy()
    painted = linked & (t_snap | ((t_keys == 1) & ~KEY_NEEDS_SNAP)) & support & (t_keys != 2)
    paint[linked] = np.where(painted, t_best, -1)[linked]
    source[linked] = np.where(t_keys == 1, KEY, np.where(
        painted, VOTE, np.where(t_keys == 2, SEVERAL, KEPT)))[linked]
    conf = _confidence(conf, paint, t_best, t_keys, t_share, agree, agreement, distance, spread,
                       linked, exact, nd.warp[sl])
    if mode == "all":
        paint = np.where(paint >= 0, paint, np.where(linked & (t_keys == 1), t_best, own))
    return paint, source, conf


def decide_tracks(frames: list[IntervalFrame], palette: Palette,
                  links: Sequence[tuple[np.ndarray, ...]], mode: str = "auto"
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
    evidence = {f: key_evidence(fr, palette) for f, fr in enumerate(frames) if fr.key_rgb is not None}
    nd = _nodes(frames, palette, offsets, track, evidence)
    best, share, keys = _track_votes(nd, n_paints)
    # Keys that are not exact paint (noise, texture) are matched by no flat fill: every region
    # keeps its guess, and the tracks only judge (review flags).
    exact = exact_paint(frames, evidence)
    votes = _Votes(best, share, keys, _track_snaps(nd, best) & exact, exact)
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
