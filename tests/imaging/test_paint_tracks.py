"""Paint decided per region track over a key interval (imaging.paint_tracks)."""
import numpy as np

from opdm_studio.imaging.paint_tracks import ALONE, KEPT, KEY, IntervalFrame, decide_tracks
from opdm_studio.imaging.palette import Palette
from opdm_studio.imaging.regions import find_regions

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


def test_a_track_takes_the_flat_paint_of_its_key_even_where_the_guess_wavers():
    mask = _drawing()
    reg = find_regions(mask, gap=0)
    keys = _paint(mask, A, B)
    rng = np.random.default_rng(0)
    guesses = []
    for _ in range(3):
        g = keys.copy().astype(np.int16)
        g[8:40, 4:20] += rng.integers(-40, 40, (32, 16, 3))      # mottled left region
        guesses.append(np.clip(g, 0, 255).astype(np.uint8))
    guesses[1][:, 26:46] = C                                      # frame 2: right region wrong
    from opdm_studio.imaging.snapping import region_stats
    frames = [IntervalFrame(reg, key_rgb=keys)]
    frames += [IntervalFrame(reg, stats=region_stats(g, reg, PALETTE, mask)) for g in guesses]
    frames += [IntervalFrame(reg, key_rgb=keys)]
    links = [_identity_links(reg)] * 4
    out = decide_tracks(frames, PALETTE, links, "auto")
    assert out[0] is None and out[-1] is None
    left = reg.labels[24, 10]
    right = reg.labels[24, 36]
    for tp in out[1:4]:
        assert tp.paint[left] == 0 and tp.paint[right] == 1            # A and B, every frame
        assert tp.source[left] == KEY and tp.source[right] == KEY
        assert tp.track[left] >= 0
    # Where the frame's own guess disagrees with its track's key, the region is flagged.
    assert out[2].flagged[right] and not out[1].flagged[right]
    assert not out[1].flagged[left]


def test_keys_in_several_tones_keep_the_guess_and_flag_nothing():
    mask = _drawing()
    reg = find_regions(mask, gap=0)
    key = _paint(mask, A, B)
    ramp = np.linspace(0, 120, 22).astype(np.uint8)
    key[1:-1, 25:-1, 1] = ramp[None, :]                             # right: a gradient
    from opdm_studio.imaging.snapping import region_stats
    frames = [IntervalFrame(reg, key_rgb=key), IntervalFrame(reg, stats=region_stats(key, reg, PALETTE, mask)),
              IntervalFrame(reg, key_rgb=key)]
    out = decide_tracks(frames, PALETTE, [_identity_links(reg)] * 2, "auto")
    right = reg.labels[24, 36]
    assert out[1].paint[right] == -1 and out[1].source[right] == KEPT
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
    from opdm_studio.imaging.snapping import region_stats
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
    from opdm_studio.imaging.snapping import region_stats
    frames = [IntervalFrame(reg, key_rgb=keys), IntervalFrame(reg, stats=region_stats(keys, reg, PALETTE, mask)),
              IntervalFrame(reg, key_rgb=keys)]
    out = decide_tracks(frames, PALETTE, [_identity_links(reg)] * 2, "off")[1]
    assert (out.paint == -1).all()
