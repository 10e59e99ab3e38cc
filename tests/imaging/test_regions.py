"""Paint regions, gap closing, palette extraction and snapping (on synthetic drawings)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from opdm_studio.imaging.palette import Palette, extract_palette, merge_palettes
from opdm_studio.imaging.regions import fill_line_pixels, find_regions
from opdm_studio.imaging.snapping import snap_to_palette
from opdm_studio.synth.cut import generate_cut


def _box_with_divider(gap: int, divider_width: int = 1) -> np.ndarray:
    """A closed box split in two by a horizontal divider with a gap of ``gap`` px in it."""
    m = np.zeros((48, 64), bool)
    m[4, 4:60] = m[44, 4:60] = True
    m[4:45, 4] = m[4:45, 59] = True
    row = slice(24, 24 + divider_width)
    m[row, 4:30] = True
    m[row, 30 + gap:60] = True
    return m


def _inside_labels(r, m):
    return set(np.unique(r.labels[6:43, 6:58][~m[6:43, 6:58]]).tolist())


def test_two_px_gap_is_closed():
    m = _box_with_divider(gap=2)
    r = find_regions(m, gap=3)
    assert len(_inside_labels(r, m)) == 2
    # Every non-line pixel belongs to a region, line pixels to none.
    assert (r.labels[~m] > 0).all() and (r.labels[m] == 0).all()
    # Gap pixels are given to one of the two sides, not left out.
    assert r.labels[24, 30] > 0 and r.labels[24, 31] > 0


def test_gap_wider_than_setting_stays_open():
    m = _box_with_divider(gap=6)
    assert len(_inside_labels(find_regions(m, gap=3), m)) == 1
    assert len(_inside_labels(find_regions(m, gap=0), m)) == 1


def test_one_px_line_keeps_regions_apart():
    m = _box_with_divider(gap=0)
    r = find_regions(m, gap=3)
    top, bottom = r.labels[10, 20], r.labels[40, 20]
    assert top != bottom and top > 0 and bottom > 0
    # The two inner regions face each other across the divider.
    pair = tuple(sorted((int(top), int(bottom))))
    assert pair in {tuple(p) for p in r.adjacency.tolist()}
    assert set(r.neighbours(int(top)).tolist()) >= {int(bottom)}
    # Outside + two inside.
    assert r.count == 3
    assert r.touches_edge[r.labels[0, 0]] and not r.touches_edge[top]


def test_diagonal_one_px_line_separates():
    m = np.zeros((40, 40), bool)
    idx = np.arange(40)
    m[idx, idx] = True
    r = find_regions(m, gap=0)
    assert r.count == 2


def test_specks_merge_into_neighbour():
    m = _box_with_divider(gap=0)
    # A 1-px hole inside a thick blot: a speck, not a paint region.
    m[10:15, 10:15] = True
    m[12, 12] = False
    r = find_regions(m, gap=0)
    assert r.labels[12, 12] == r.labels[10, 20]
    assert r.count == 3
    kept = find_regions(m, gap=0, min_area=1)
    assert kept.count == 4


def test_regions_match_synthetic_ground_truth():
    cut = generate_cut(1, (256, 192), seed=4)
    m, ids = cut.line_masks[0], cut.region_ids[0]
    r = find_regions(m, gap=3)
    impure = 0
    for k in range(1, r.count + 1):
        _, counts = np.unique(ids[r.labels == k], return_counts=True)
        impure += counts.sum() - counts.max()
    assert impure <= 0.002 * (~m).sum()


@pytest.mark.parametrize("seed", [1, 4])
def test_palette_is_exactly_the_synthetic_palette(seed):
    cut = generate_cut(1, (960, 540), seed=seed)
    pal = extract_palette(cut.colors[0], cut.line_masks[0])
    assert sorted(map(tuple, pal.colors.tolist())) == sorted(map(tuple, cut.palette.tolist()))
    # Counts are paint pixels, largest first.
    assert (np.diff(pal.counts) <= 0).all() and pal.counts.min() > 0


def test_palette_ignores_antialiasing_and_lines():
    rgb = np.full((80, 80, 3), (250, 240, 200), np.uint8)
    cv2.circle(rgb, (40, 40), 20, (200, 60, 60), -1, cv2.LINE_AA)
    cv2.circle(rgb, (40, 40), 20, (0, 0, 0), 2, cv2.LINE_AA)
    mask = rgb.max(axis=2) < 80
    pal = extract_palette(rgb, mask)
    assert sorted(map(tuple, pal.colors.tolist())) == [(200, 60, 60), (250, 240, 200)]
    # Without the mask the (flat, thick) black ink is the only addition possible.
    assert {(200, 60, 60), (250, 240, 200)} <= set(map(tuple, extract_palette(rgb).colors.tolist()))


def test_palette_serialisation_and_merge():
    a = Palette(np.array([[1, 2, 3], [4, 5, 6]], np.uint8), np.array([10, 5]))
    b = Palette.from_list(a.to_list())
    assert np.array_equal(a.colors, b.colors) and np.array_equal(a.counts, b.counts)
    m = merge_palettes(a, Palette(np.array([[4, 5, 6], [7, 8, 9]], np.uint8), np.array([20, 1])))
    assert m.colors.tolist() == [[4, 5, 6], [1, 2, 3], [7, 8, 9]] and m.counts.tolist() == [25, 10, 1]


def _noisy_blurred(rgb: np.ndarray, seed: int = 0, noise: float = 3.0, sigma: float = 0.7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = cv2.GaussianBlur(rgb, (0, 0), sigma).astype(np.float32) + rng.normal(0, noise, rgb.shape)
    return np.clip(g, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("mode", ["all", "auto"])
def test_snapping_recovers_exact_colours(mode):
    # The sample cut's size: at smaller sizes the blur of 1-px lines covers the thinnest
    # regions, which auto then (rightly) leaves as guessed.
    cut = generate_cut(2, (960, 540), seed=7)
    i = 1
    m, truth = cut.line_masks[i], cut.colors[i]
    r = find_regions(m)
    pal = extract_palette(cut.colors[0], cut.line_masks[0])
    pal = merge_palettes(pal, extract_palette(truth, m))
    res = snap_to_palette(_noisy_blurred(truth), r, pal, mode=mode, line_mask=m, line_rgb=cut.line_rgb[i])
    exact = (res.color_only[~m] == truth[~m]).all(axis=1).mean()
    assert exact >= 0.99, exact
    # Line pixels keep the original line colour; the colour-only image has no line pixels left.
    assert np.array_equal(res.image[m], cut.line_rgb[i][m])
    assert res.confidence.shape == (r.count + 1,) and res.confidence.dtype == np.float32
    assert res.confidence_map.shape == m.shape
    assert res.snapped.shape == res.flagged.shape == (r.count + 1,)


def test_snapping_a_smaller_guess_is_upsampled():
    cut = generate_cut(1, (512, 288), seed=7)
    m, truth = cut.line_masks[0], cut.colors[0]
    small = cv2.resize(truth, (256, 144), interpolation=cv2.INTER_AREA)
    res = snap_to_palette(small, find_regions(m), Palette(cut.palette), mode="all", line_mask=m)
    assert res.image.shape == truth.shape
    assert (res.color_only[~m] == truth[~m]).all(axis=1).mean() >= 0.97


def test_auto_leaves_gradient_background_alone():
    cut = generate_cut(1, (384, 256), seed=3, background="gradient")
    m, truth = cut.line_masks[0], cut.colors[0]
    r = find_regions(m)
    guess = _noisy_blurred(truth, noise=2.0)
    pal = Palette(cut.palette)
    res = snap_to_palette(guess, r, pal, mode="auto", line_mask=m)
    sky = r.labels[2, 2]
    assert not res.snapped[sky]
    sel = (r.labels == sky) & ~m
    assert np.array_equal(res.color_only[sel], guess[sel])
    # Flat character regions are still snapped.
    assert res.snapped.sum() >= 5
    # "all" would flatten the gradient: what auto exists to avoid.
    assert snap_to_palette(guess, r, pal, mode="all", line_mask=m).snapped[sky]


def test_off_mode_keeps_the_guess():
    cut = generate_cut(1, (128, 96), seed=2)
    m = cut.line_masks[0]
    guess = _noisy_blurred(cut.colors[0])
    res = snap_to_palette(guess, find_regions(m), Palette(cut.palette), mode="off", line_mask=m)
    assert not res.snapped.any()
    assert np.array_equal(res.color_only[~m], guess[~m])
    assert (res.image[m] == 0).all()  # no line colours given: black ink


def test_unknown_colour_is_flagged_not_snapped():
    m = _box_with_divider(gap=0)
    r = find_regions(m)
    guess = np.zeros(m.shape + (3,), np.uint8)
    guess[:] = (240, 240, 240)
    guess[:24] = (30, 200, 40)             # a green that is not in the palette
    pal = Palette(np.array([[240, 240, 240], [200, 30, 30], [30, 30, 200]], np.uint8))
    res = snap_to_palette(guess, r, pal, mode="auto", line_mask=m)
    top, bottom = r.labels[10, 20], r.labels[40, 20]
    assert res.snapped[bottom] and not res.snapped[top]
    assert res.flagged[top] and not res.flagged[bottom]
    assert res.confidence[bottom] > 0.9 > res.confidence[top]
    with pytest.raises(ValueError):
        snap_to_palette(guess, r, pal, mode="sometimes")


def test_fill_line_pixels_takes_nearest_neighbour_colour():
    img = np.zeros((10, 10, 3), np.uint8)
    img[:, :5] = (255, 0, 0)
    img[:, 5:] = (0, 0, 255)
    mask = np.zeros((10, 10), bool)
    mask[:, 4:6] = True
    out = fill_line_pixels(img, mask)
    assert (out[:, 4] == (255, 0, 0)).all() and (out[:, 5] == (0, 0, 255)).all()
    assert np.array_equal(out[~mask], img[~mask])
