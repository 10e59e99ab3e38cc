"""`opdm-studio bench --imaging` runs and reports its figures (no timing assertions)."""
from __future__ import annotations

import json

from opdm_studio.bench import main as bench_main


def test_bench_imaging_json(capsys, tmp_path):
    assert bench_main(["--imaging", "--json", "--size", "320x180", "--repeat", "1",
                       "--real", str(tmp_path / "no_evaldata")]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["size"] == [320, 180] and r["regions"] > 5 and r["palette_colors"] > 5
    assert r["regions_plus_snap_s"] > 0 and r["target_s"] == 0.5
    assert 0.5 < r["exact_paint_fraction"] <= 1.0
    assert r["real_check"] is None          # no evaluation data there: skipped, not failed


def test_bench_imaging_text(capsys):
    assert bench_main(["--imaging", "--size", "256x144", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "regions + snapping" in out and "find_regions" in out
