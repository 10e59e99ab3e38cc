"""`opdm-studio bench --fixes` runs its colourist on a tiny cut and reports the clicks."""
from __future__ import annotations

import json

from opdm_studio.bench import main as bench_main


def test_bench_fixes_json(capsys):
    assert bench_main(["--fixes", "--json", "--seeds", "1", "--frames", "8",
                       "--size", "240x136"]) == 0
    r = json.loads(capsys.readouterr().out)
    cut = r["cuts"][0]
    assert cut["keys"] == [0, 7] and cut["frames_coloured"] == 6
    # Without carrying, every wrong region needs its own click.
    assert cut["clicks_without"] == cut["wrong_regions_at_start"] > 0
    assert 0 < cut["clicks_with"] <= cut["clicks_without"]
    assert r["summary"]["ratio_target"] == 0.333 and r["machine"]["date"]


def test_bench_fixes_text(capsys):
    assert bench_main(["--fixes", "--seeds", "2", "--frames", "6", "--size", "192x108"]) == 0
    out = capsys.readouterr().out
    assert "clicks per frame without carrying" in out and "ratio" in out
