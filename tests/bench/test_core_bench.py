"""`opdm-studio bench` runs end to end (tiny preset, tiny size) and reports every field."""
import json

from opdm_studio.bench import core_bench


def test_bench_json_tiny(capsys):
    rc = core_bench.main(["--preset", "tiny", "--json", "--size", "32", "--steps", "2",
                          "--repeats", "1", "--dtype", "fp32", "--peak-size", "256"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    (p,) = report["presets"]
    assert p["preset"] == "tiny" and 0 < p["params"] < 1e6 and p["gflop_step"] > 0
    (r,) = p["results"]
    for key in ("step_s", "frame_s", "naive_frame_s", "cache_speedup", "tflops", "peak_fraction"):
        assert r[key] > 0, key
    assert report["peak_flops"]["fp32"] > 0 and report["machine"]["cores"] >= 1


def test_bench_table(capsys):
    core_bench.main(["--preset", "tiny", "--size", "32", "--steps", "1", "--repeats", "1", "--dtype", "fp32",
                     "--peak-size", "256", "--clock", "cpu"])
    out = capsys.readouterr().out
    assert "GFLOP/step" in out and "tiny" in out and "machine:" in out and "clock cpu" in out


def test_targets_checked():
    fake = [{"preset": "paper", "params": 200e6, "best_dtype": "bf16",
             "results": [{"dtype": "bf16", "frame_s": 5.0, "peak_fraction": 0.6, "cache_speedup": 1.5}]},
            {"preset": "small", "params": 20e6, "best_dtype": "bf16",
             "results": [{"dtype": "bf16", "frame_s": 1.2, "peak_fraction": 0.3, "cache_speedup": 1.1}]}]
    checks = core_bench.check_targets(fake)
    assert checks["paper_params_in_range"] and checks["paper_frame_s_le_7"]
    assert checks["paper_peak_fraction_ge_0.5"] and checks["paper_cache_speedup_ge_1.3"]
    assert not checks["small_frame_s_le_1"] and not checks["small_cache_speedup_ge_1.3"]


def test_explicit_bf16_on_a_cpu_without_it_is_one_line(monkeypatch, capsys):
    """`opdm-studio bench --dtype bf16` where oneDNN has no bf16: one line, exit 2, no crawl."""
    from opdm_studio import cli
    from opdm_studio.core import device as dev
    monkeypatch.setattr(dev, "cpu_supports_bf16", lambda: False)
    assert cli.main(["bench", "--preset", "tiny", "--dtype", "bf16", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "this CPU has no bf16 support; use fp32" in err[0]
