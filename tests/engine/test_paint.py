"""The engine's paint decision per interval (engine.paint)."""
import numpy as np

from opdm_studio.engine.paint import FrameDecision
from opdm_studio.imaging.paint_tracks import ALONE, TrackPaint
from opdm_studio.imaging.palette import Palette
from opdm_studio.imaging.regions import find_regions
from opdm_studio.imaging.snapping import region_stats


def test_the_review_view_hatches_the_unsure_part_of_a_region_left_as_guessed():
    mask = np.zeros((40, 40), bool)
    mask[:, 20] = True                                  # two regions: left and right
    reg = find_regions(mask, gap=0)
    left = reg.labels[5, 5]
    guess = np.full((40, 40, 3), 120, np.uint8)
    pal = Palette(np.array([[120, 120, 120]], np.uint8))
    n = reg.count + 1
    paint = np.full(n, -1, np.int32)
    paint[left] = 0                                     # left painted, right kept as guessed
    tp = TrackPaint(paint, np.ones(n, np.float32), np.zeros(n, bool), np.full(n, -1), np.full(n, ALONE, np.uint8))
    warp = np.ones((40, 40), np.float32)
    warp[:20, :] = 0.1                                  # the warp is unsure in the top half
    fd = FrameDecision(tp, region_stats(guess, reg, pal, mask), reg, warp)
    cmap = fd.confidence_map()
    assert (cmap[:20, 25:] < 0.5).all() and (cmap[20:, 25:] == 1.0).all()
    assert (cmap[:, :20] == 1.0).all()                  # a painted region keeps its confidence
    assert np.array_equal(fd.snap(pal, mask).confidence_map, cmap)


def test_evidence_kept_for_the_interval_paints_as_the_frame_measured_there_and_then():
    """The evidence a run keeps per sampled frame (no second copy of the guess, no distance to
    the ink) paints the frame exactly as stats measured when it is painted, fringe included."""
    from dataclasses import replace

    from opdm_studio.engine.fixes import RegionCache
    from opdm_studio.engine.paint import IntervalPainter
    from opdm_studio.synth.cut import generate_cut
    cut = generate_cut(5, (96, 64), seed=4, holds=False)
    cache = RegionCache(lambda i: cut.lines[i])
    painter = IntervalPainter(cache, "auto")
    pal = Palette(np.unique(cut.colors[0].reshape(-1, 3), axis=0))
    rng = np.random.default_rng(0)
    guesses = {f: np.clip(cut.colors[f].astype(int) + rng.integers(-9, 10, cut.colors[f].shape), 0, 255)
               .astype(np.uint8) for f in (1, 2, 3)}
    keys = {0: cut.colors[0], 4: cut.colors[4]}
    kept = {f: painter.evidence(f, g, pal) for f, g in guesses.items()}
    assert all(kept[f].stats.guess is guesses[f] and kept[f].stats.ink_distance.size == 0 for f in kept)
    decided = painter.decide(pal, keys, guesses, kept)
    fresh = painter.decide(pal, keys, guesses)
    for f in guesses:
        reg = decided[f].regions
        full = replace(decided[f], stats=region_stats(guesses[f], reg, pal, reg.line_mask))
        for fringe in (0, 2):
            a = decided[f].snap(pal, reg.line_mask, fringe=fringe)
            b = full.snap(pal, reg.line_mask, fringe=fringe)
            c = fresh[f].snap(pal, reg.line_mask, fringe=fringe)
            assert np.array_equal(a.image, b.image) and np.array_equal(a.image, c.image)
            assert np.array_equal(a.color_only, b.color_only)


def _pencil_cut() -> tuple[np.ndarray, dict[int, np.ndarray], Palette]:
    """Three identical drawings in light pencil (gray 200: lighter than the line mask sees, so the
    whole frame is one paint region) closing a box the keys paint A on paper white."""
    drawing = np.full((64, 96), 255, np.uint8)
    box = (slice(20, 44), slice(30, 60))
    drawing[19:45, 29] = drawing[19:45, 60] = 200
    drawing[19, 29:61] = drawing[44, 29:61] = 200
    key = np.full((64, 96, 3), 255, np.uint8)
    key[box] = (200, 60, 40)
    pal = Palette(np.array([[255, 255, 255], [200, 60, 40]], np.uint8))
    return drawing, {0: key, 2: key}, pal


def test_a_shape_the_pencil_closes_painted_in_two_paints_is_flagged_where_its_region_is_open():
    """A drawing whose strokes are too light for the line mask is one region the keys paint in
    several paints: kept as guessed, no region rule judges it. The box the strokes close is one
    paint on the keys; a guess painting half of it paper white is hatched there (flags only: the
    painted colours stay the guess's), and a guess painting it flat is not."""
    from opdm_studio.engine.fixes import RegionCache
    from opdm_studio.engine.paint import IntervalPainter
    from opdm_studio.imaging.paint_tracks import SEVERAL
    drawing, keys, pal = _pencil_cut()
    cache = RegionCache(lambda i: drawing)
    assert cache.regions(1).count == 1                 # the pencil box is no region of its own
    half = keys[0].copy()
    half[20:44, 45:60] = 255                           # the box's right half left paper white
    painter = IntervalPainter(cache, "auto")
    fd = painter.decide(pal, keys, {1: half})[1]
    assert (fd.paint.source[1:] == SEVERAL).all() and not fd.paint.snapped.any()
    cmap = fd.confidence_map()
    assert (cmap[24:40, 34:56] < 0.5).all()            # the box, both halves: review it
    assert (cmap[:12] >= 0.5).all() and (cmap[:, :20] >= 0.5).all()   # the paper around: not
    assert np.array_equal(fd.snap(pal, cache.regions(1).line_mask).color_only, half)
    flat = painter.decide(pal, keys, {1: keys[0].copy()})[1]
    assert (flat.confidence_map() >= 0.5).all()


def _box_interval(noise: int) -> tuple[np.ndarray, dict[int, np.ndarray], Palette]:
    """A 200x200 drawing with a small closed box (paint A) on paper; keys with ``noise`` levels of
    noise (0: exact cel paint; 20: frames from compressed video)."""
    drawing = np.full((200, 200), 255, np.uint8)
    drawing[20, 20:33] = drawing[32, 20:33] = drawing[20:33, 20] = drawing[20:33, 32] = 0
    key = np.full((200, 200, 3), 255, np.uint8)
    key[21:32, 21:32] = (200, 60, 40)
    key[drawing == 0] = 0
    rng = np.random.default_rng(2)
    key = np.clip(key.astype(int) + rng.integers(-noise, noise + 1, key.shape), 0, 255).astype(np.uint8)
    pal = Palette(np.array([[255, 255, 255], [200, 60, 40], [40, 60, 200]], np.uint8))
    return drawing, {0: key, 2: key}, pal


def test_with_exact_keys_a_small_region_keeps_the_paint_the_warp_carried_into_it():
    """The network's correction painted the box another paint than the keys' warp carried into it
    (the refine pipeline's Guess.base): with exact-paint keys the box takes the warp's paint; with
    noisy keys, or without the warp, the guess stays."""
    from opdm_studio.engine.fixes import RegionCache
    from opdm_studio.engine.paint import IntervalPainter
    from opdm_studio.pipelines.base import Guess
    for noise, expect in ((0, (200, 60, 40)), (20, (40, 60, 200))):
        drawing, keys, pal = _box_interval(noise)
        cache = RegionCache(lambda i, d=drawing: d)
        warp = keys[0].copy()
        guess = warp.copy()
        guess[21:32, 21:32] = (40, 60, 200)
        painter = IntervalPainter(cache, "auto")
        assert painter.keys_exact(keys, pal) == (noise == 0)
        fd = painter.decide(pal, keys, {1: Guess(guess, np.ones((200, 200), np.float32), warp)})[1]
        out = fd.snap(pal, cache.regions(1).line_mask).color_only
        assert tuple(out[26, 26]) == expect
        bare = painter.decide(pal, keys, {1: Guess(guess, np.ones((200, 200), np.float32))})[1]
        assert tuple(bare.snap(pal, cache.regions(1).line_mask).color_only[26, 26]) == (40, 60, 200)
        # The cut run measures in place: the pending frame's own colours, no second copy.
        own = guess.copy()
        ev = painter.evidence(1, Guess(own, None, warp), pal, keys, in_place=True)
        assert ev.stats.guess is own and tuple(own[26, 26]) == tuple(warp[26, 26] if noise == 0 else guess[26, 26])
