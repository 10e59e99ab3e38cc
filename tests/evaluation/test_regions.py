"""The paint-region measure of the work left: regions, the right/wrong rule, the report columns."""
import csv

import cv2
import numpy as np
import pytest

from opdm_studio.evaluation import metrics as M
from opdm_studio.evaluation.protocol import FrameRecord, Results, evaluate_clip, find_clips
from opdm_studio.evaluation.report import region_summary, summarize, write_report

from .synth import moving_disc
from .test_protocol import _write


def _two_regions_and_a_speck():
    """20x41 frame: a vertical line at x=20 splits it into two 19x20 regions (after the 1-px growth);
    a closed ink square at x 2-8, y 2-8 holds a 5x5 hole that the growth shrinks to 3x3 (dropped)."""
    ink = np.zeros((20, 41), bool)
    ink[:, 20] = True
    ink[2:9, 2:9] = True
    ink[3:8, 3:8] = False
    real = np.full((20, 41, 3), 100, np.uint8)
    return ink, real


def test_regions_grow_the_ink_and_drop_specks():
    ink, _ = _two_regions_and_a_speck()
    regions = M.paint_regions(ink)
    assert regions.count == 2
    # Left: 19 columns (0-18) minus the grown square (rows 1-9, cols 1-9: 81 px incl. its hole).
    assert sorted(regions.areas[1:].tolist()) == [19 * 20 - 81, 19 * 20]
    assert (regions.labels[:, 19:22] == 0).all()          # the grown line
    assert (regions.labels[4:7, 4:7] == 0).all()          # the 3x3 speck is left out
    assert regions.areas[0] == 0


def test_regions_are_4_connected():
    """A dotted diagonal line grows into blocks that touch only at corners: paper on its two sides
    touches diagonally, and 4-connectivity keeps the two sides apart (8 would join them)."""
    ink = np.zeros((30, 30), bool)
    for r in range(0, 30, 3):
        ink[r, 29 - r] = True
    ink[29, 0] = True
    regions = M.paint_regions(ink)
    assert regions.count == 2
    grown = cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8))
    assert cv2.connectedComponents((grown == 0).astype(np.uint8), connectivity=8)[0] == 2   # one region


def test_wrong_when_under_90_percent_within_24_levels():
    ink, real = _two_regions_and_a_speck()
    regions = M.paint_regions(ink)
    left = regions.labels == regions.labels[15, 5]
    right = regions.labels == regions.labels[5, 30]
    pred = real.copy()
    # Left region: 20 % of its pixels off by 30 in one channel -> wrong.
    ys, xs = np.nonzero(left)
    k = int(round(0.2 * len(ys)))
    pred[ys[:k], xs[:k], 1] = 130
    # Right region: every pixel off by 10 in every channel -> right; so are the 10 % off by 25.
    pred[right] = 110
    ys, xs = np.nonzero(right)
    pred[ys[: len(ys) // 10], xs[: len(ys) // 10], 2] = 125
    # The grown ink and the speck are painted badly: not counted.
    pred[:, 19:22] = 0
    pred[4:7, 4:7] = 255
    score = M.region_score(pred, real, regions)
    assert (score.regions, score.wrong) == (2, 1)
    assert score.wrong_area == int(left.sum()) and score.area == int(left.sum() + right.sum())
    # One more pixel off in the right region: under 90 % -> wrong too.
    pred[ys[len(ys) // 10], xs[len(ys) // 10], 0] = 0
    assert M.region_score(pred, real, regions).wrong == 2
    # 24 levels is still right, 25 is not.
    assert M.region_score(real + 24, real, regions).wrong == 0
    assert M.region_score(real + 25, real, regions).wrong == 2


def test_region_summary_pools_counts_and_area():
    recs = [FrameRecord("c", "extracted", 8, 0, i, "m", 0.0, 0, 0, 0, 0) for i in range(2)]
    recs[0].regions, recs[0].wrong_regions, recs[0].wrong_area, recs[0].region_area = 10, 1, 300, 1000
    recs[1].regions, recs[1].wrong_regions, recs[1].wrong_area, recs[1].region_area = 30, 6, 100, 3000
    s = region_summary(recs)
    assert s["regions"] == 20 and s["wrong_regions"] == 3.5
    assert s["region_acc"] == pytest.approx(1 - 7 / 40)
    assert s["region_acc_area"] == pytest.approx(1 - 400 / 4000)
    assert np.isnan(region_summary([])["region_acc"])


@pytest.fixture()
def disc_clip(tmp_path):
    _write(tmp_path / "disc", moving_disc(n=10))
    return find_clips(tmp_path, None, [])[0]


def test_protocol_records_regions_and_report_columns(disc_clip, tmp_path):
    # White paint: every region of the beige / red / blue disc is off by more than 24 levels.
    methods = {"white": lambda task: np.full_like(task.prev_rgb, 255), "nearest_prev": lambda task: task.prev_rgb}
    results = Results()
    evaluate_clip(disc_clip, methods, [4], results, size224_only=True)
    white = [r for r in results.frames if r.method == "white"]
    assert all(r.regions >= 3 and r.wrong_regions == r.regions and r.wrong_area == r.region_area
               for r in white)
    prev = [r for r in results.frames if r.method == "nearest_prev"]
    assert all(r.wrong_regions < r.regions for r in prev)
    rows = {r["method"]: r for r in summarize(results)}
    assert rows["white"]["region_acc"] == 0.0 and rows["white"]["region_acc_area"] == 0.0
    assert 0.0 < rows["nearest_prev"]["region_acc"] <= 1.0
    out = tmp_path / "report"
    write_report(results, out, "# test")
    for name in ("summary.csv", "clips.csv"):
        rows_csv = list(csv.DictReader(open(out / name)))
        assert {"regions", "wrong_regions", "region_acc", "region_acc_area"} <= set(rows_csv[0])
        white_row = next(r for r in rows_csv if r["method"] == "white")
        assert float(white_row["region_acc"]) == 0.0
        assert float(white_row["wrong_regions"]) == pytest.approx(np.mean([r.wrong_regions for r in white]))
    assert "clip" in rows_csv[0] and rows_csv[0]["clip"] == "disc"
    frames_csv = list(csv.DictReader(open(out / "frames.csv")))
    assert {"regions", "wrong_regions", "wrong_area", "region_area"} <= set(frames_csv[0])
    text = (out / "report.md").read_text()
    head = next(line for line in text.splitlines() if "PSNR@224" in line)
    assert "wrong regions/frame | region acc | region acc (area) | PSNR@224" in head
    assert text.count("region acc (area)") == 2          # overall and per-clip tables
