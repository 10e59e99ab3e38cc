"""`opdm-studio bench --fixes` runs its colourist on a tiny cut and reports the clicks."""
from __future__ import annotations

import json

from opdm_studio.bench import main as bench_main
from opdm_studio.bench.fixes_bench import colour_cut
from opdm_studio.engine.frame import FrameColorizer


def test_bench_fixes_json(capsys):
    assert bench_main(["--fixes", "--json", "--method", "flow", "--seeds", "1", "--frames", "8",
                       "--size", "240x136"]) == 0
    r = json.loads(capsys.readouterr().out)
    cut = r["cuts"][0]
    assert cut["keys"] == [0, 7] and cut["frames_coloured"] == 6
    # Without carrying, every wrong region needs its own click.
    assert cut["clicks_without"] == cut["wrong_regions_at_start"] > 0
    assert 0 < cut["clicks_with"] <= cut["clicks_without"]
    kinds = cut["wrong_kinds"]
    assert kinds["swatch"] + kinds["ink"] + kinds["off_palette"] == cut["wrong_regions_at_start"]
    assert 0 < kinds["paints"] <= cut["clicks_with"]
    assert r["summary"]["ratio_target"] == 0.333 and r["machine"]["date"]
    assert r["method"] == "flow" and r["snap"] == "auto"
    # The flags the Review view shows, scored against the wrong regions at the start.
    s = r["summary"]
    assert 0 <= cut["flagged_wrong"] <= min(cut["flagged"], cut["wrong_regions_at_start"])
    assert s["flag_recall"] == round(cut["flagged_wrong"] / cut["wrong_regions_at_start"], 3)
    if cut["flagged"]:
        assert s["flag_precision"] == round(cut["flagged_wrong"] / cut["flagged"], 3)
    assert s["flag_recall_target"] == 0.8 and s["flag_precision_target"] == 0.5


def test_bench_fixes_text(capsys):
    assert bench_main(["--fixes", "--method", "flow", "--seeds", "2", "--frames", "6",
                       "--size", "192x108"]) == 0
    out = capsys.readouterr().out
    assert "clicks per frame without carrying" in out and "ratio" in out and "paints" in out


def test_colour_cut_runs_the_engine_with_the_key_interval(monkeypatch):
    """The bench colours a cut as the app's cut run does: every in-between is coloured with its
    key interval (the flow chained through the drawings between the keys), held drawings reuse
    their source's colours, and the keys are not coloured."""
    from opdm_studio.synth.cut import generate_cut
    seen: list = []
    orig = FrameColorizer.iter_guess

    def spy(self, *args, **kw):
        seen.append(kw.get("interval"))
        return (yield from orig(self, *args, **kw))

    monkeypatch.setattr(FrameColorizer, "iter_guess", spy)
    cut = generate_cut(8, (96, 64), seed=3)
    colours, line = colour_cut(cut, [0, 7], "flow")
    assert sorted(colours) == list(range(1, 7))
    drawings = cut.drawings
    # One colouring per drawing that is not a key's (held exposures and a key's drawing reuse).
    assert len(seen) == len({drawings[i] for i in range(1, 7)} - {drawings[0], drawings[7]}) > 0
    assert all(iv is not None and iv.length == 8 for iv in seen)
    for i in range(1, 7):
        if drawings[i] == drawings[i - 1] and i > 1:
            assert (colours[i] == colours[i - 1]).all()
        assert colours[i].shape == (64, 96, 3)
    assert line(3).shape == (64, 96)
