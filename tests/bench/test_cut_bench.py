"""`opdm-studio bench --cut` times the default pipeline (the shipped model as its spec runs it)."""
from __future__ import annotations

import json

from opdm_studio.bench import cut_bench
from opdm_studio.engine.models import default_model_path


def test_the_cut_bench_times_the_shipped_model_by_default(capsys):
    assert cut_bench.main(["--frames", "5", "--size", "128x96", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["model"] == str(default_model_path()) and r["preset"] is None and r["weights"] is None
    assert r["coloured"] == 3 and r["frames_done"] == 5
    assert r["target"] == "<= 0.5 s and 1.0 CPU-s per frame"
    assert r["within_target"] == (r["s_per_frame"] <= cut_bench.TARGET_S_PER_FRAME
                                  and r["cpu_s_per_frame"] <= cut_bench.TARGET_CPU_S_PER_FRAME)
    # The run's ETA against the truth: one record per event, the truth falling to 0 at the end.
    record = r["eta_record"]
    assert len(record) > 5 and record[-1][2] == 0.0
    assert all(a[2] >= b[2] for a, b in zip(record, record[1:], strict=False))
    assert r["eta_max_error"] is None or r["eta_max_error"] >= 0
    assert r["first_inbetween_s"] is not None and 0 < r["first_inbetween_s"] <= record[-1][0]


def test_a_preset_is_timed_with_random_weights(capsys):
    assert cut_bench.main(["--frames", "4", "--size", "96x64", "--preset", "tiny", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "preset tiny (random initialisation (timing only)), 2 steps" in out
    assert "target <= 60 s per cut" in out
