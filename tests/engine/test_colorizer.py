"""The colouring pipeline end to end on a tiny synthetic cut with the tiny model and `flow`."""
from pathlib import Path

import numpy as np
import pytest

from opdm_studio.engine.frame import FrameColorizer, line_mask_of
from opdm_studio.engine.models import resolve_model
from opdm_studio.engine.project import ColorizeSettings, Project
from opdm_studio.engine.run import CancelToken, Colorizer
from opdm_studio.errors import ExportError, ModelNotInstalledError
from opdm_studio.imaging.cut import read_image
from opdm_studio.imaging.palette import extract_palette, merge_palettes
from opdm_studio.pipelines.base import working_geometry

from .conftest import H, W, read_png


def run_all(colorizer, **kw):
    return list(colorizer.run(**kw))


def test_working_geometry_keeps_aspect_and_pads_to_16():
    assert working_geometry(72, 40, 224) == (403, 224, 416, 224)
    assert working_geometry(1920, 1080, 224) == (398, 224, 400, 224)
    rw, rh, pw, ph = working_geometry(1000, 3000, 224)
    assert rw == 224 and pw % 16 == 0 and ph % 16 == 0 and ph >= rh


def test_end_to_end_writes_every_frame_and_layer_at_source_size(cut_dir, tmp_path, fast_settings):
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 9], settings=fast_settings)
    events = run_all(Colorizer(p))
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "finished" and "step" in kinds
    assert sum(k == "done" for k in kinds) == 10
    out = tmp_path / "out"
    for i in range(10):
        for suffix, channels in (("", 3), ("_color", 3), ("_lines", 4)):
            img = read_png(out / f"cut_{i:04d}{suffix}.png")
            assert img.shape == (H, W, channels)
    # The project on disk knows every frame; keyframes are marked as such.
    q = Project.load(out)
    assert sorted(q.results) == list(range(10))
    assert q.results[0].status == "keyframe" and q.results[9].status == "keyframe"
    assert all(q.results[i].status in ("done", "held") for i in range(1, 9))
    conf = q.result_confidence(4)
    assert conf.shape == (H, W) and 0.0 <= conf.min() and conf.max() <= 1.0
    # Progress is monotonic and ends at 1.
    fr = [e.fraction for e in events]
    assert fr == sorted(fr) and fr[-1] == 1.0


def test_keyframes_come_out_unchanged(cut_dir, tmp_path, fast_settings):
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 5, 9], settings=fast_settings)
    run_all(Colorizer(p))
    for k in (0, 5, 9):
        src = read_image(cut_dir / "color" / f"{k:04d}.png", mode="rgb")
        assert np.array_equal(read_png(tmp_path / "out" / f"cut_{k:04d}.png"), src)


def test_snap_all_gives_palette_colours_everywhere_but_lines(cut_dir, tmp_path, fast_settings):
    fast_settings.snap = "all"
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 9], settings=fast_settings)
    run_all(Colorizer(p))
    cut = p.cut
    pal = merge_palettes(*(extract_palette(cut.color(k), line_mask=line_mask_of(cut.line(k)))
                           for k in (0, 9)))
    keys = set(map(tuple, pal.colors.tolist()))
    assert len(keys) >= 2
    coloured = [i for i in range(1, 9) if p.results[i].status == "done" or (
        p.results[i].status == "held" and p.results[i].source_index not in (0, 9))]
    assert coloured
    for i in coloured:
        color = read_png(tmp_path / "out" / f"cut_{i:04d}_color.png")
        assert set(map(tuple, color.reshape(-1, 3).tolist())) <= keys
        comp = read_png(tmp_path / "out" / f"cut_{i:04d}.png")
        paper = cut.line_rgb(i).min(axis=2) >= 250          # not a line nor its anti-aliasing
        assert set(map(tuple, comp[paper].tolist())) <= keys


def test_flow_runs_without_any_model(cut_noholds, tmp_path, monkeypatch):
    # As on an install without the shipped default model (resources/models/default.safetensors).
    import opdm_studio.engine.models as models
    monkeypatch.setattr(models, "default_model_path", lambda: tmp_path / "absent.safetensors")
    with pytest.raises(ModelNotInstalledError, match="no colouring model is installed"):
        resolve_model(None)
    s = ColorizeSettings(method="flow", snap="all")
    p = Project.create(cut_noholds, tmp_path / "out", keys=[0, 9], settings=s)
    events = run_all(Colorizer(p))
    assert events[-1].kind == "finished"
    assert all((tmp_path / "out" / f"cut_{i:04d}.png").is_file() for i in range(10))
    # Flow on a smoothly moving synthetic cut gets most paint right.
    from opdm_studio.synth.cut import generate_cut
    truth = generate_cut(10, (W, H), seed=3, holds=False).colors
    got = read_png(tmp_path / "out" / "cut_0001.png")
    assert np.mean(np.all(got == truth[1], axis=2)) > 0.6


def test_cancel_keeps_finished_frames_and_resume_finishes(cut_noholds, tmp_path, fast_settings):
    p = Project.create(cut_noholds, tmp_path / "out", keys=[0, 9], settings=fast_settings)
    token = CancelToken()
    done = []
    events = []
    for ev in Colorizer(p).run(cancel=token):
        events.append(ev)
        if ev.kind == "done":
            done.append(ev.index)
        if ev.kind == "step" and ev.index == 2:
            token.cancel()                          # in the middle of the third frame's sampling
    # Frame 1 was still being written in the background: it is finished and kept; frame 2 is not.
    assert events[-1].kind == "cancelled" and events[-1].index == 2 and done == [0, 1]
    out = tmp_path / "out"
    written = sorted(f.name for f in out.glob("cut_*.png"))
    assert written == sorted(f"cut_{i:04d}{s}.png" for i in (0, 1) for s in ("", "_color", "_lines"))
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("*.part"))
    q = Project.load(out)                           # valid, with exactly the finished frames
    assert sorted(q.results) == [0, 1]
    # Resume: the two finished frames are skipped, the rest is coloured.
    events = run_all(Colorizer(q))
    assert [e.index for e in events if e.kind == "skip"] == [0, 1]
    assert sorted(e.index for e in events if e.kind == "done") == list(range(2, 10))
    assert sorted(Project.load(out).results) == list(range(10))


def test_three_keyframes_use_the_right_pair(cut_noholds, tmp_path):
    s = ColorizeSettings(method="flow")
    p = Project.create(cut_noholds, tmp_path / "out", keys=[2, 5, 8], settings=s)
    run_all(Colorizer(p))
    expect = {0: (2, 2), 1: (2, 2), 3: (2, 5), 4: (2, 5), 6: (5, 8), 7: (5, 8), 9: (8, 8)}
    got = {i: Project.load(tmp_path / "out").results[i].keys for i in expect}
    assert got == expect


def test_opdm_pairs_and_caches(cut_noholds, tmp_path, fast_settings, monkeypatch):
    """Reference features once per key pair, conditions once per frame (not per step)."""
    from opdm_studio.core.model import OPDM
    calls = {"refs": 0, "cond": 0}
    orig_refs, orig_cond = OPDM.encode_references, OPDM.encode_conditions

    def refs(self, *a, **k):
        calls["refs"] += 1
        return orig_refs(self, *a, **k)

    def cond(self, *a, **k):
        calls["cond"] += 1
        return orig_cond(self, *a, **k)

    monkeypatch.setattr(OPDM, "encode_references", refs)
    monkeypatch.setattr(OPDM, "encode_conditions", cond)
    fast_settings.layers = ["composite"]
    p = Project.create(cut_noholds, tmp_path / "out", keys=[3, 6], settings=fast_settings)
    events = run_all(Colorizer(p))
    # pairs: (3,3) for 0-2, (3,6) for 4-5, (6,6) for 7-9 -> 3 pairs, 8 coloured frames
    assert calls == {"refs": 3, "cond": 8}
    assert sum(e.kind == "step" for e in events) == 8 * 2


def test_held_drawings_coloured_once_and_reused(cut_dir, tmp_path):
    s = ColorizeSettings(method="flow", layers=["composite", "color"])
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 9], settings=s)
    events = run_all(Colorizer(p))
    holds = [p.cut.hold_of(i) for i in range(10)]
    coloured = {e.index for e in events if e.kind == "step"}
    assert len(set(holds)) < 10                                   # the fixture has holds
    assert coloured == {i for i in range(1, 9) if holds[i] == i and holds[i] not in (0, 9)}
    for i in range(1, 9):
        if holds[i] != i:
            r = p.results[i]
            assert r.status == "held" and r.source_index in (holds[i], 0, 9)
            a = read_png(tmp_path / "out" / f"cut_{i:04d}.png")
            b = read_png(tmp_path / "out" / f"cut_{r.source_index:04d}.png")
            assert np.array_equal(a, b)
    # A held frame whose source was finished in an earlier run reuses the stored colours.
    i = next(i for i in range(1, 9) if holds[i] != i and p.results[i].source_index not in (0, 9))
    src = p.results[i].source_index
    for f in p.results.pop(i).outputs.values():
        Path(f).unlink()
    events = run_all(Colorizer(p))
    assert [e.index for e in events if e.kind == "done"] == [i]
    for layer in ("", "_color"):
        a = read_png(tmp_path / "out" / f"cut_{i:04d}{layer}.png")
        assert np.array_equal(a, read_png(tmp_path / "out" / f"cut_{src:04d}{layer}.png"))


def test_foreign_files_are_not_overwritten(cut_noholds, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "cut_0004.png").write_bytes(b"not ours")
    p = Project.create(cut_noholds, out, keys=[0, 9], settings=ColorizeSettings(method="flow"))
    with pytest.raises(ExportError, match="cut_0004.png already exists"):
        run_all(Colorizer(p))
    assert (out / "cut_0004.png").read_bytes() == b"not ours"
    assert not list(out.glob("cut_000[0-3].png"))                  # nothing half-done
    run_all(Colorizer(p, overwrite=True))
    assert read_png(out / "cut_0004.png").shape == (H, W, 3)


def test_frame_colorizer_directly(cut_noholds, fast_settings):
    """The per-frame API the evaluation command uses."""
    from opdm_studio.engine.models import load_model
    from opdm_studio.imaging.cut import open_cut
    cut = open_cut(cut_noholds)
    loaded = load_model(fast_settings.model, fast_settings.device, fast_settings.dtype)
    assert loaded.config.name == "tiny"
    fc = FrameColorizer("model", loaded, fast_settings)
    assert fc.model is loaded.model                                  # the cached, prepared network
    steps = []
    out = fc.colorize(cut.line(4), cut.color(0), cut.color(9), cut.line(0), cut.line(9), t=4 / 9,
                      on_step=lambda j, k: steps.append((j, k)), line_rgb=cut.line_rgb(4), seed=1)
    assert steps == [(1, 2), (2, 2)]
    assert out.composite.shape == out.color_only.shape == out.raw.shape == (H, W, 3)
    assert out.confidence_map.shape == (H, W) and out.regions > 0
    again = fc.colorize(cut.line(4), cut.color(0), cut.color(9), t=4 / 9,
                        line_rgb=cut.line_rgb(4), seed=1)
    assert np.array_equal(out.raw, again.raw)                       # same seed, same guess


def test_promoted_result_becomes_a_key_and_rerun_needs_no_overwrite(cut_noholds, tmp_path):
    s = ColorizeSettings(method="flow", layers=["composite", "color"])
    p = Project.create(cut_noholds, tmp_path / "out", keys=[0, 9], settings=s)
    run_all(Colorizer(p))
    color4 = p.result_color(4)
    p.promote_result(4)
    p.save()
    events = run_all(Colorizer(p))                    # files of frame 4 are still ours
    assert {e.index for e in events if e.kind == "done"} == {1, 2, 3, 4, 5, 6, 7, 8}
    assert {e.index for e in events if e.kind == "skip"} == {0, 9}
    assert p.results[5].keys == (4, 9) and p.results[3].keys == (0, 4)
    assert np.array_equal(read_png(tmp_path / "out" / "cut_0004_color.png"), color4)
    # The promoted key's composite has the drawing's lines on top of its colours.
    comp = read_png(tmp_path / "out" / "cut_0004.png")
    mask = line_mask_of(p.cut.line(4))
    assert comp[mask].mean() < color4[mask].mean()


def test_closing_the_run_early_keeps_the_frame_in_flight(cut_noholds, tmp_path, fast_settings):
    """A GUI that drops the generator (window closed) loses nothing that was finished."""
    p = Project.create(cut_noholds, tmp_path / "out", keys=[0, 9], settings=fast_settings)
    run = Colorizer(p).run()
    for ev in run:
        if ev.kind == "step" and ev.index == 2:
            break
    run.close()                                     # frame 1 was still being written
    q = Project.load(tmp_path / "out")
    assert sorted(q.results) == [0, 1]
    assert (tmp_path / "out" / "cut_0001_lines.png").is_file()
    assert not (tmp_path / "out" / "cut_0002.png").exists()


def test_results_from_other_settings_or_keys_are_outdated_and_redone(cut_dir, tmp_path):
    """A finished frame stays shown but is out of date after a colour-deciding setting or the
    keyframes change; the next run colours exactly those frames again (held ones included)."""
    s = ColorizeSettings(method="flow", snap="off")
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 9], settings=s)
    run_all(Colorizer(p))
    # Frames coloured by the method (held copies of a key's colours depend on no setting).
    coloured = [i for i in range(1, 9) if p.results[i].method is not None]
    assert len(coloured) >= 3 and not any(p.is_outdated(i) for i in range(10))
    assert all(p.results[i].recipe == s.recipe() for i in coloured)
    # Output naming, layers and device do not change colours: nothing to redo.
    p.settings.layers, p.settings.device = ["composite", "color"], "cpu"
    assert not any(p.is_outdated(i) for i in range(10))
    p.settings.layers = ["composite"]
    events = run_all(Colorizer(p))
    assert not [e for e in events if e.kind == "done" and e.index in coloured]
    # Snapping decides colours: every coloured frame is out of date and is done again.
    p.settings.snap = "all"
    assert all(p.is_outdated(i) for i in coloured) and not p.is_outdated(0)
    events = run_all(Colorizer(p, overwrite=True))
    assert sorted(e.index for e in events if e.kind == "done") == coloured
    assert not any(p.is_outdated(i) for i in range(10))
    # The settings survive a save and load with the recipe.
    q = Project.load(tmp_path / "out")
    assert q.results[4].recipe == q.settings.recipe() and not q.is_outdated(4)
    # A new key in the middle: every frame coloured with the pair (0, 9) is out of date; copies
    # of key 0's own colours are not.
    q.promote_result(5)
    moved = {i for i in range(1, 9) if q.is_outdated(i)}
    assert set(coloured) - {5} <= moved
    assert not any(q.results[i].source_index == 0 for i in moved)
    events = run_all(Colorizer(q, overwrite=True))
    assert {e.index for e in events if e.kind == "done"} == moved | {5}
    assert not any(q.is_outdated(i) for i in range(10))
    assert not q.is_outdated(5)


def test_recipe_leaves_out_what_does_not_change_colours():
    a = ColorizeSettings(method="flow", steps=10, working_size=224)
    b = ColorizeSettings(method="flow", steps=30, working_size=512, device="cpu", layers=["color"])
    assert a.recipe() == b.recipe()                      # flow ignores the network's settings
    assert a.recipe() != ColorizeSettings(method="flow", flow_size=0).recipe()
    c = ColorizeSettings(method="model", model="/no/such/model.safetensors", steps=10)
    assert c.recipe() != ColorizeSettings(method="model", model="/no/such/model.safetensors",
                                          steps=20).recipe()
    assert c.recipe() != ColorizeSettings(method="model", model="/no/such/other.safetensors",
                                          steps=10).recipe()


@pytest.mark.shipped_model
def test_steps_do_not_outdate_results_of_a_refine_model():
    """The shipped model runs the step count stored in it: the steps setting is not its recipe."""
    a, b = ColorizeSettings(method="model", steps=10), ColorizeSettings(method="model", steps=25)
    assert a.recipe() == b.recipe() and "steps" not in a.recipe()
    assert a.recipe() != ColorizeSettings(method="model", seed=1).recipe()
