"""Paint decided per region track over a key interval (imaging.paint_tracks)."""
import numpy as np

from opdm_studio.imaging.paint_tracks import ALONE, KEY, SEVERAL, IntervalFrame, decide_tracks
from opdm_studio.imaging.palette import Palette
from opdm_studio.imaging.regions import find_regions
from opdm_studio.imaging.snapping import region_stats, snap_to_palette

A, B, C = (200, 60, 60), (60, 60, 200), (60, 180, 60)
PALETTE = Palette(np.array([A, B, C], np.uint8))


def _drawing(extra_box: bool = False) -> np.ndarray:
    """48x48 ink mask: a frame border and a vertical line (left / right regions); optionally a
    closed box inside the right region."""
    m = np.zeros((48, 48), bool)
    m[0, :] = m[-1, :] = m[:, 0] = m[:, -1] = True
    m[:, 24] = True
    if extra_box:
        m[30:42, 32] = m[30:42, 42] = m[30, 32:43] = m[41, 32:43] = True
    return m


def _paint(mask: np.ndarray, left, right, box=None) -> np.ndarray:
    img = np.zeros(mask.shape + (3,), np.uint8)
    img[:, :24] = left
    img[:, 24:] = right
    if box is not None:
        img[31:41, 33:42] = box
    img[mask] = 0
    return img


def _identity_links(regions):
    n = regions.count + 1
    best = np.arange(n)
    best[0] = 0
    sure = np.ones(n, bool)
    sure[0] = False
    return best, sure


def test_a_track_takes_its_keys_paint_and_a_frame_that_contradicts_it_is_flagged():
    mask = _drawing()
    reg = find_regions(mask, gap=0)
    keys = _paint(mask, A, B)
    rng = np.random.default_rng(0)
    guesses = []
    for _ in range(3):
        g = keys.copy().astype(np.int16) + rng.integers(-2, 3, keys.shape)    # a clean guess
        guesses.append(np.clip(g, 0, 255).astype(np.uint8))
    guesses[1][2:46, 26:46] = C                                               # frame 2: right wrong
    guesses[2][8:40, 4:20] = np.clip(keys[8:40, 4:20].astype(np.int16)        # frame 3: left mottled
                                     + rng.integers(-60, 60, (32, 16, 3)), 0, 255).astype(np.uint8)
    frames = [IntervalFrame(reg, key_rgb=keys)]
    frames += [IntervalFrame(reg, stats=region_stats(g, reg, PALETTE, mask)) for g in guesses]
    frames += [IntervalFrame(reg, key_rgb=keys)]
    out = decide_tracks(frames, PALETTE, [_identity_links(reg)] * 4, "auto")
    assert out[0] is None and out[-1] is None
    left, right = reg.labels[24, 10], reg.labels[24, 36]
    assert out[1].paint[left] == 0 and out[1].paint[right] == 1               # A and B
    assert out[3].paint[right] == 1 and out[2].paint[left] == 0
    assert all(tp.source[left] == KEY and tp.track[left] >= 0 for tp in out[1:4])
    assert not out[1].flagged[[left, right]].any()
    # The frame whose guess picks another paint than its track's key is not painted over: flagged.
    assert out[2].paint[right] == -1 and out[2].flagged[right]
    # A region left mottled where the key is one flat paint is flagged, never left as is.
    for tp in out[1:4]:
        for k in (left, right):
            assert tp.paint[k] >= 0 or tp.flagged[k]


def test_every_frame_of_a_track_snaps_alike():
    mask = _drawing()
    reg = find_regions(mask, gap=0)
    keys = _paint(mask, A, B)
    rng = np.random.default_rng(2)
    guesses = [np.clip(keys.astype(np.int16) + rng.integers(-3, 4, keys.shape), 0, 255).astype(np.uint8)
               for _ in range(4)]
    # One frame's guess is just below the frame-alone rule's agreement on the left region ...
    guesses[2][10:14, 3:20] = (200, 100, 100)
    alone = snap_to_palette(guesses[2], reg, PALETTE, "auto", line_mask=mask)
    left = reg.labels[24, 10]
    assert not alone.snapped[left]
    frames = [IntervalFrame(reg, key_rgb=keys)]
    frames += [IntervalFrame(reg, stats=region_stats(g, reg, PALETTE, mask)) for g in guesses]
    frames += [IntervalFrame(reg, key_rgb=keys)]
    out = decide_tracks(frames, PALETTE, [_identity_links(reg)] * 5, "auto")
    # ... the track snaps it with the others: no region flickers between flat and guessed.
    assert [tp.paint[left] for tp in out[1:5]] == [0, 0, 0, 0]
    assert not any(tp.flagged[left] for tp in out[1:5])


def test_keys_from_video_are_not_painted_flat_but_contradictions_are_flagged():
    mask = _drawing()
    reg = find_regions(mask, gap=0)
    rng = np.random.default_rng(3)
    keys = np.clip(_paint(mask, A, B).astype(np.int16) + rng.integers(-6, 7, (48, 48, 3)), 0,
                   255).astype(np.uint8)                                       # compression noise
    keys[mask] = 0
    good = keys.copy()
    bad = keys.copy()
    bad[2:46, 26:46] = C
    frames = [IntervalFrame(reg, key_rgb=keys), IntervalFrame(reg, stats=region_stats(good, reg, PALETTE, mask)),
              IntervalFrame(reg, stats=region_stats(bad, reg, PALETTE, mask)), IntervalFrame(reg, key_rgb=keys)]
    out = decide_tracks(frames, PALETTE, [_identity_links(reg)] * 3, "auto")
    right = reg.labels[24, 36]
    assert (out[1].paint == -1).all() and (out[2].paint == -1).all()           # kept as guessed
    assert not out[1].flagged.any()
    assert out[2].flagged[right]


def test_keys_in_several_tones_keep_the_guess_and_flag_nothing():
    mask = _drawing()
    reg = find_regions(mask, gap=0)
    key = _paint(mask, A, B)
    ramp = np.linspace(0, 120, 22).astype(np.uint8)
    key[1:-1, 25:-1, 1] = ramp[None, :]                             # right: a gradient
    frames = [IntervalFrame(reg, key_rgb=key), IntervalFrame(reg, stats=region_stats(key, reg, PALETTE, mask)),
              IntervalFrame(reg, key_rgb=key)]
    out = decide_tracks(frames, PALETTE, [_identity_links(reg)] * 2, "auto")
    right = reg.labels[24, 36]
    assert out[1].paint[right] == -1 and out[1].source[right] == SEVERAL
    assert not out[1].flagged[right]
    assert out[1].paint[reg.labels[24, 10]] == 0


def test_a_region_in_no_track_is_decided_alone_and_mottled_is_flagged():
    mask0, mask1 = _drawing(), _drawing(extra_box=True)
    reg0, reg1 = find_regions(mask0, gap=0), find_regions(mask1, gap=0)
    keys = _paint(mask0, A, B)
    guess = _paint(mask1, A, B, box=C).astype(np.int16)
    rng = np.random.default_rng(1)
    guess[31:41, 33:42] += rng.integers(-60, 60, (10, 9, 3))          # the new box: mottled
    guess = np.clip(guess, 0, 255).astype(np.uint8)
    left0, right0 = reg0.labels[24, 10], reg0.labels[24, 36]
    left1, right1, box1 = reg1.labels[24, 10], reg1.labels[24, 30], reg1.labels[35, 37]
    # key -> frame: left and right go on; the box is new (no region of the key becomes it).
    best = np.zeros(reg0.count + 1, np.int64)
    best[left0], best[right0] = left1, right1
    sure = best > 0
    back = np.zeros(reg1.count + 1, np.int64)
    back[left1], back[right1] = left0, right0
    frames = [IntervalFrame(reg0, key_rgb=keys),
              IntervalFrame(reg1, stats=region_stats(guess, reg1, PALETTE, mask1)),
              IntervalFrame(reg0, key_rgb=keys)]
    out = decide_tracks(frames, PALETTE, [(best, sure), (back, back > 0)], "auto")[1]
    assert out.source[box1] == ALONE and out.track[box1] == -1
    assert out.paint[box1] == -1 and out.flagged[box1]
    assert out.paint[left1] == 0 and out.paint[right1] == 1 and not out.flagged[[left1, right1]].any()


def test_off_keeps_every_guess():
    mask = _drawing()
    reg = find_regions(mask, gap=0)
    keys = _paint(mask, A, B)
    frames = [IntervalFrame(reg, key_rgb=keys), IntervalFrame(reg, stats=region_stats(keys, reg, PALETTE, mask)),
              IntervalFrame(reg, key_rgb=keys)]
    out = decide_tracks(frames, PALETTE, [_identity_links(reg)] * 2, "off")[1]
    assert (out.paint == -1).all()


def test_a_region_the_keys_warp_is_unsure_of_is_flagged():
    mask = _drawing()
    reg = find_regions(mask, gap=0)
    keys = _paint(mask, A, B)
    left, right = reg.labels[24, 10], reg.labels[24, 36]
    warp = np.ones(reg.count + 1)
    warp[right] = 0.1                                    # the flow could not place this region
    frames = [IntervalFrame(reg, key_rgb=keys),
              IntervalFrame(reg, stats=region_stats(keys, reg, PALETTE, mask), warp=warp),
              IntervalFrame(reg, key_rgb=keys)]
    out = decide_tracks(frames, PALETTE, [_identity_links(reg)] * 2, "auto")[1]
    assert out.flagged[right] and not out.flagged[left]
    assert out.confidence[right] < out.confidence[left]


def test_a_small_region_the_warp_fills_with_one_paint_takes_it_flat_whatever_the_guess():
    """warped_paint: the keys' warp (exact paint) fills a small box with A on most of it and bleeds
    B over a corner; the network's guess made it C. The box takes A, flat; the large region
    around it and a small box the warp leaves mottled keep the guess."""
    from opdm_studio.imaging.paint_tracks import WARP_PAINT_FRACTION, warped_paint
    mask = np.zeros((200, 200), bool)
    mask[0, :] = mask[-1, :] = mask[:, 0] = mask[:, -1] = True
    for y, x in ((20, 20), (20, 60)):                       # two closed 12x12 boxes
        mask[y, x:x + 13] = mask[y + 12, x:x + 13] = mask[y:y + 13, x] = mask[y:y + 13, x + 12] = True
    reg = find_regions(mask, gap=0)
    box, mottled, big = reg.labels[26, 26], reg.labels[26, 66], reg.labels[100, 100]
    assert reg.areas[box] <= WARP_PAINT_FRACTION * mask.size < reg.areas[big]
    base = np.zeros((200, 200, 3), np.uint8)
    base[:] = B
    base[21:32, 21:32] = A
    base[21:25, 21:25] = B                                  # the warp bleeds B over a corner
    rng = np.random.default_rng(1)
    base[21:32, 61:72] = rng.integers(0, 256, (11, 11, 3))  # no paint at all
    guess = base.copy()
    guess[21:32, 21:32] = C
    guess[90:110, 90:110] = C                               # the network's own in the large region
    out, shown, taken = warped_paint(guess, base, region_stats(base, reg, PALETTE, mask), reg, PALETTE)
    assert taken[box] and not taken[mottled] and not taken[big]
    inside = reg.labels == box
    assert (out[inside] == A).all()                     # decided on: flat
    assert np.array_equal(shown[inside], base[inside])  # painted from: the warp's own pixels
    assert np.array_equal(out[~inside], guess[~inside]) and np.array_equal(shown[~inside], guess[~inside])
