"""Protocol windowing, clip discovery, the report files and the `evaluate` command."""
import csv

import cv2
import numpy as np
import pytest

from opdm_studio.engine import evaluate_cmd
from opdm_studio.errors import ExportError
from opdm_studio.evaluation.baselines import BASELINES
from opdm_studio.evaluation.protocol import Results, effective_gap, evaluate_clip, find_clips, windows
from opdm_studio.evaluation.report import write_report

from .synth import moving_disc


def test_windows_are_disjoint_and_drop_short_tail():
    assert windows(22, 8) == [(0, 8), (9, 17)]
    assert windows(46, 16) == [(0, 16), (17, 33)]
    assert windows(18, 8) == [(0, 8), (9, 17)]


def test_short_clip_uses_gap_n_minus_1():
    assert effective_gap(16, 14) == 13
    assert windows(14, 16) == [(0, 13)]
    assert windows(14, 8) == [(0, 8)]
    assert windows(2, 8) == []          # a pair has no in-between


def _write(folder, frames, lineart=False):
    folder.mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    if lineart:
        (folder / "lineart").mkdir()
        for i, f in enumerate(frames):
            gray = np.where((f.sum(-1) < 60), 0, 255).astype(np.uint8)
            cv2.imwrite(str(folder / "lineart" / f"{i:04d}.png"), gray)


@pytest.fixture()
def data_dir(tmp_path):
    root = tmp_path / "data"
    frames = moving_disc(n=12)
    _write(root / "disc", frames, lineart=True)
    _write(root / "pair", frames[:2])
    # A clip that replays its first frames as a loop at the end: the tail is trimmed.
    loop = moving_disc(n=6) + moving_disc(n=6)[:5]
    _write(root / "looped", loop)
    return root


def test_find_clips_skips_pairs_and_trims_loops(data_dir):
    notices = []
    clips = {c.name: c for c in find_clips(data_dir, None, notices)}
    assert set(clips) == {"disc", "looped"}
    assert any("pair" in n and "skipped" in n for n in notices)
    assert len(clips["looped"].frames) == 6
    assert clips["disc"].lineart is not None and len(clips["disc"].lineart) == 12
    assert [c.name for c in find_clips(data_dir, "dis*", [])] == ["disc"]


def test_evaluate_clip_records_and_report(data_dir, tmp_path):
    results = Results()
    clip = find_clips(data_dir, "disc", [])[0]
    methods = {k: BASELINES[k] for k in ("nearest", "flowwarp")}
    evaluate_clip(clip, methods, [4, 16], results)
    # 12 frames: G=4 -> windows (0,4), (5,9): 6 in-betweens; G=16 -> G=11: 10 in-betweens.
    # Two line-art sources (extracted + hand-drawn), two methods.
    assert len(results.frames) == (6 + 10) * 2 * 2
    assert {r.lines for r in results.frames} == {"extracted", "hand-drawn"}
    fw = [r.psnr224 for r in results.frames if r.method == "flowwarp"]
    nn = [r.psnr224 for r in results.frames if r.method == "nearest"]
    assert np.mean(fw) > np.mean(nn)
    assert all(np.isfinite(r.ssim) and 0 <= r.palette <= 1 for r in results.frames)
    out = tmp_path / "report"
    written = write_report(results, out, "# test")
    names = {p.name for p in written}
    assert {"report.md", "summary.csv", "clips.csv", "frames.csv", "windows.csv"} <= names
    assert any(p.suffix == ".png" and p.parent.name == "sheets" for p in written)
    sheet = cv2.imread(str(next(p for p in written if p.suffix == ".png")))
    assert sheet is not None and sheet.shape[0] > 224 * 3
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert {r["method"] for r in rows} >= {"nearest", "flowwarp"}
    assert "flowwarp" in (out / "report.md").read_text()
    with pytest.raises(ExportError):
        write_report(results, out, "# again")       # never overwrite a report


def test_tasks_carry_the_window_drawings(data_dir):
    """Chained methods get the window's drawings (one list object per window) and the index."""
    clip = find_clips(data_dir, "disc", [])[0]
    seen = []

    def record(task):
        seen.append(task)
        return task.prev_rgb.copy()

    evaluate_clip(clip, {"record": record}, [4], Results(), size224_only=True)
    extracted = [t for t in seen if t.window_lines is not None][:3]     # window (0, 4): frames 1-3
    assert len(seen) == 6 * 2 and all(t.window_lines is not None for t in seen)
    assert [t.index for t in extracted] == [1, 2, 3]
    assert all(t.window_lines is extracted[0].window_lines for t in extracted)
    win = extracted[0].window_lines
    assert len(win) == 5 and win[0] is extracted[0].prev_line and win[-1] is extracted[0].next_line
    for t in extracted:
        assert t.window_lines[t.index] is t.target_line
        assert t.t == pytest.approx(t.index / 4)
    assert seen[3].window_lines is not win and seen[3].index == 1      # window (5, 9)


def test_evaluate_command_end_to_end(data_dir, tmp_path, capsys):
    out = tmp_path / "rep"
    rc = evaluate_cmd.main([str(data_dir), "--gaps", "4", "--out", str(out), "--size224-only",
                            "--methods", "nearest,flowwarp,blend,regionfill,flow,flowchain"])
    assert rc == 0
    text = (out / "report.md").read_text()
    for name in ("nearest", "flowwarp", "blend", "regionfill", "flow", "flowchain", "FID skipped", "pair"):
        assert name in text
    assert "PSNR native" not in text                # --size224-only


def test_evaluate_command_missing_folder_is_a_one_line_error(tmp_path, capsys):
    from opdm_studio.cli import main
    assert main(["evaluate", str(tmp_path / "nope")]) == 2          # issue 27 item 13
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]


def test_evaluate_command_with_model_rows(tmp_path):
    """--model adds three OPDM rows (snap off/auto/all) through the engine's FrameColorizer."""
    torch = pytest.importorskip("torch")
    from opdm_studio.core.checkpoint import save_checkpoint
    from opdm_studio.core.config import ModelConfig
    from opdm_studio.core.model import OPDM

    torch.manual_seed(0)
    ckpt = tmp_path / "tiny.safetensors"
    save_checkpoint(ckpt, OPDM(ModelConfig.preset("tiny")), metadata={})
    data = tmp_path / "data"
    _write(data / "disc", moving_disc(n=4, h=48, w=64, step=2, radius=10))
    out = tmp_path / "rep"
    rc = evaluate_cmd.main([str(data), "--gaps", "3", "--out", str(out), "--model", str(ckpt),
                            "--methods", "nearest", "--steps", "1", "--device", "cpu",
                            "--working-size", "64", "--size224-only"])
    assert rc == 0
    rows = list(csv.DictReader(open(out / "summary.csv")))
    methods = {r["method"] for r in rows}
    assert {"opdm:tiny snap=off", "opdm:tiny snap=auto", "opdm:tiny snap=all"} <= methods
    for r in rows:
        if r["method"].startswith("opdm"):
            assert r["frames"] == "2" and float(r["seconds"]) > 0
