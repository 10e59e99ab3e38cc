"""The colour model (色指定): names, groups and tones read from palette.json, GIMP .gpl and a
designer's CSV; near-identical key colours merged into one swatch; names kept in exports."""
from __future__ import annotations

import json

import pytest

from opdm_studio.engine.colour_model import (
    DEFAULT_TOLERANCE,
    cluster,
    delta_e,
    find_cut_model,
    read_colour_model,
    split_names,
)
from opdm_studio.engine.swatches import SwatchPalette, is_auto_name, pack
from opdm_studio.errors import ProjectError
from opdm_studio.resources import resource_path

SAMPLE = resource_path("sample_cut")


def test_the_sample_cuts_palette_json_gives_names_groups_and_tones():
    model = read_colour_model(SAMPLE / "palette.json")
    assert len(model) == 42
    by = {m.full_name: m for m in model}
    assert by["sky"].rgb == (161, 254, 142) and by["sky"].group == ""
    shadow = by["char0 / body / shadow"]
    assert (shadow.group, shadow.name, shadow.tone) == ("char0", "body", "shadow")
    assert by["char0 / skin / highlight"].tone == "highlight"
    assert by["char0 / hat_band"].tone == ""
    assert "eye_white" in by and "pupil" in by and "hill0" in by     # one of a kind: no group


def test_split_names():
    assert split_names(["hair_shadow", "a_b", "a_c", "x / y / highlight", "髪 / 影"]) == [
        ("", "hair", "shadow"), ("a", "b", ""), ("a", "c", ""), ("x", "y", "highlight"), ("", "髪", "shadow")]


def test_csv_in_the_forms_a_designer_exports(tmp_path):
    long = tmp_path / "long.csv"
    long.write_text("Character,Name,Tone,Hex\nMika,hair,normal,#402010\nMika,hair,shadow,#301008\n"
                    "Mika,skin,highlight,#fff0e0\n,background,,#a0c0e0\n", encoding="utf-8")
    got = [(m.group, m.name, m.tone, m.rgb) for m in read_colour_model(long)]
    assert got == [("Mika", "hair", "", (64, 32, 16)), ("Mika", "hair", "shadow", (48, 16, 8)),
                   ("Mika", "skin", "highlight", (255, 240, 224)), ("", "background", "", (160, 192, 224))]
    wide = tmp_path / "wide.csv"        # one part a row, its set in three columns (Japanese titles)
    wide.write_text("キャラ;部位;ノーマル;影;ハイライト\nミカ;髪;#402010;#301008;\nミカ;肌;#f0d0c0;#d0a090;#fff0e0\n",
                    encoding="utf-8")
    got = [(m.group, m.name, m.tone) for m in read_colour_model(wide)]
    assert got == [("ミカ", "髪", ""), ("ミカ", "髪", "shadow"), ("ミカ", "肌", ""), ("ミカ", "肌", "shadow"),
                   ("ミカ", "肌", "highlight")]
    rgb = tmp_path / "rgb.csv"
    rgb.write_text("name,r,g,b\nsky,161,254,142\n")
    assert read_colour_model(rgb)[0].rgb == (161, 254, 142)
    bare = tmp_path / "bare.csv"        # no header: name and a colour code
    bare.write_text("coat_shadow,#102030\ncoat,#203040\n")
    assert [(m.name, m.tone) for m in read_colour_model(bare)] == [("coat", "shadow"), ("coat", "")]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,hex\nsky,#a1fe8e\nsea,blue\n")
    with pytest.raises(ProjectError, match="line 3"):
        read_colour_model(bad)
    with pytest.raises(ProjectError, match="unknown tone"):
        (tmp_path / "t.csv").write_text("name,tone,hex\nsky,glow,#a1fe8e\n")
        read_colour_model(tmp_path / "t.csv")


def browns() -> list[tuple[int, int, int]]:
    """Key colours as compressed video keys show them: three paints, each in near-identical
    variants (konobi's 40+ browns), most used first."""
    return [(202, 144, 71), (120, 20, 50), (230, 230, 235), (200, 145, 73), (204, 143, 70),
            (121, 18, 49), (229, 231, 236), (198, 141, 69), (118, 21, 52)]


def test_near_identical_key_colours_merge_into_one_swatch_with_a_tolerance():
    assert delta_e((202, 144, 71), (200, 145, 73)) < 3
    assert cluster(browns(), 0) == list(range(9))
    assert cluster(browns(), DEFAULT_TOLERANCE) == [0, 1, 2, 0, 0, 1, 2, 0, 1]
    p = SwatchPalette()
    p.sync(browns())
    assert len(p.live()) == 3 and p.tolerance == DEFAULT_TOLERANCE
    keeper = p.live()[0]
    assert [s.source for s in p.merged_into(keeper.id)] == [(200, 145, 73), (204, 143, 70), (198, 141, 69)]
    assert p.colour_map()[pack((204, 143, 70))] == (202, 144, 71)          # its pixels show the swatch
    assert p.resolve(p.by_source((204, 143, 70)).id) is keeper
    assert p.merge(0) == (9, 9) and len(p.live()) == 9 and not p.colour_map()   # taken back
    assert p.merge(6) == (9, 3)
    p.rename(p.by_source((200, 145, 73)).id, "coat dark")     # named: never merged into another
    assert p.merge() == (9, 4)
    with pytest.raises(ProjectError, match="tolerance"):
        p.merge(-1)
    q = SwatchPalette.from_dict(json.loads(json.dumps(p.to_dict())))
    assert q == p


def test_the_cuts_colour_model_names_the_key_swatches():
    model = read_colour_model(SAMPLE / "palette.json")
    p = SwatchPalette()
    p.sync([m.rgb for m in model[:10]] + [(1, 2, 3)])
    assert all(is_auto_name(s.name) for s in p.live())
    assert find_cut_model(SAMPLE) == SAMPLE / "palette.json"
    assert find_cut_model(SAMPLE / "lineart") == SAMPLE / "palette.json"
    assert p.attach_model(SAMPLE) == (10, 32)           # 10 named, the model's other 32 added
    assert p.model == "palette.json" and p.attach_model(SAMPLE) is None      # once per project
    sky = p.by_source((161, 254, 142))
    assert sky.name == "sky" and sky.in_keys and sky.id == "s1"              # identity kept
    assert p.by_source((1, 2, 3)).name.startswith("Colour")


def test_exports_keep_names_groups_tones_and_merges(tmp_path):
    model = read_colour_model(SAMPLE / "palette.json")
    p = SwatchPalette()
    p.sync([m.rgb for m in model] + [(102, 92, 161)])      # a near-identical variant of char0 body
    p.attach_model(SAMPLE)
    body = p.by_source((102, 91, 160))
    assert (body.group, body.name) == ("char0", "body") and len(p.merged_into(body.id)) == 1
    for suffix in (".json", ".csv", ".gpl"):
        path = p.export_file(tmp_path / f"model{suffix}")
        back = {m.full_name: m for m in read_colour_model(path)}
        assert back["char0 / body / shadow"].rgb == (73, 65, 115), suffix
        if suffix != ".gpl":
            assert back["char0 / body"].id == body.id and back["char0 / body"].also == ((102, 92, 161),)
        fresh = SwatchPalette()                # another project of the cut: names come back
        fresh.sync([m.rgb for m in model])
        fresh.import_file(path)
        assert fresh.by_source((73, 65, 115)).full_name == "char0 / body / shadow"
        assert len(fresh.live()) == 42


def test_a_region_painted_in_merged_colours_shows_the_swatchs_one_colour():
    """What the viewer shows and the export writes: a region whose pixels are near-identical key
    colours (none of them the most of it) takes the one colour of the swatch they merged into."""
    import numpy as np

    from opdm_studio.engine.hints import paint_regions
    p = SwatchPalette()
    p.sync(browns())
    labels = np.ones((4, 6), np.int32)
    labels[:, 3:] = 2
    img = np.zeros((4, 6, 3), np.uint8)
    img[:, :3] = [(202, 144, 71), (200, 145, 73), (204, 143, 70)]   # region 1: a third of each
    img[:, 3:] = (120, 20, 50)                                       # region 2: one paint
    img[0, 3] = (121, 18, 49)
    out = paint_regions(img, labels, p, fill_lines=False)
    assert {tuple(c) for c in out[:, :3].reshape(-1, 3)} == {(202, 144, 71)}
    assert {tuple(c) for c in out[:, 3:].reshape(-1, 3)} == {(120, 20, 50)}
    p.merge(0)                                   # kept apart: the pixels are left as they are
    assert np.array_equal(paint_regions(img, labels, p, fill_lines=False), img)


def test_a_palette_saved_before_merging_is_merged_when_read():
    p = SwatchPalette(tolerance=0)
    p.sync(browns())
    old = p.to_dict()
    del old["tolerance"], old["model"]          # as projects were saved before
    q = SwatchPalette.from_dict(old)
    assert q.tolerance == DEFAULT_TOLERANCE and len(q.live()) == 3 and q.model is None
    assert len(SwatchPalette.from_dict(p.to_dict()).live()) == 9       # a tolerance of 0 stays 0
