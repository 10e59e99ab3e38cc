"""The palette's swatches: identity, edits, deletion rules, GIMP / JSON palette files."""
from __future__ import annotations

import pytest

from opdm_studio.engine.swatches import DELETED_RGB, SwatchPalette, pack, read_palette_file
from opdm_studio.errors import ProjectError


def palette() -> SwatchPalette:
    p = SwatchPalette()
    p.sync([(200, 40, 40), (40, 200, 40)])
    return p


def test_sync_gives_each_key_colour_one_swatch_with_an_id():
    p = palette()
    assert [s.id for s in p.swatches] == ["s1", "s2"]
    assert all(s.in_keys for s in p.swatches)
    assert p.sync([(200, 40, 40), (1, 2, 3)])[0].source == (1, 2, 3)   # only the new colour
    assert len(p) == 3 and not p.by_source((40, 200, 40)).in_keys     # no key paints it now


def test_recolour_maps_the_source_pixels_and_rename():
    p = palette()
    p.recolour("s1", (10, 20, 30))
    p.rename("s1", "Skin")
    assert p.colour_map() == {pack((200, 40, 40)): (10, 20, 30)}
    assert p.get("s1").name == "Skin" and p.get("s1").source == (200, 40, 40)
    with pytest.raises(ProjectError):
        p.rename("s1", "  ")


def test_delete_refused_while_used_replacement_or_red():
    p = palette()
    with pytest.raises(ProjectError, match="used by the keyframes' paint"):
        p.delete("s1")
    p.delete("s1", replacement="s2")
    assert p.colour_map() == {pack((200, 40, 40)): (40, 200, 40)}
    p.delete("s2", force=True)          # its regions, and the ones it replaced, show red
    assert set(p.colour_map().values()) == {DELETED_RGB}
    added = p.add((9, 9, 9), "Ink")
    assert not added.in_keys
    p.delete(added.id)                  # unused: no question asked
    with pytest.raises(ProjectError, match="and 2 fix"):
        palette().delete("s1", in_use=2)


def test_add_refuses_a_colour_already_there_and_revives_a_deleted_source():
    p = palette()
    with pytest.raises(ProjectError):
        p.add((200, 40, 40))
    p.delete("s2", force=True)
    again = p.add((40, 200, 40), "Grass")
    assert again.id == "s2" and not again.deleted and p.colour_map() == {}


def test_round_trip_and_palette_files(tmp_path):
    p = palette()
    p.rename("s1", "Skin")
    q = SwatchPalette.from_dict(p.to_dict())
    assert q == p and q is not p
    gpl = p.export_file(tmp_path / "cut.gpl")
    assert gpl.read_text().startswith("GIMP Palette")
    assert read_palette_file(gpl)[0] == (None, "Skin", (200, 40, 40))
    js = p.export_file(tmp_path / "cut.json")
    other = palette()
    other.recolour("s1", (0, 0, 0))
    assert other.import_file(js) == (1, 0)          # s1 takes the file's colour again
    assert other.get("s1").rgb == (200, 40, 40) and other.get("s1").name == "Skin"
    (tmp_path / "x.gpl").write_text("GIMP Palette\n1 2 3 Blue-ish\n4 5 six\n")
    with pytest.raises(ProjectError, match="line 3"):
        read_palette_file(tmp_path / "x.gpl")
    with pytest.raises(ProjectError):
        p.export_file(tmp_path / "cut.txt")


# -- issue 27 item 12: palette import is linear and takes a byte-order mark ------------------------

def test_a_large_palette_imports_in_linear_time(tmp_path):
    import time

    from opdm_studio.engine.swatches import SwatchPalette
    path = tmp_path / "big.gpl"
    colours = [(i // 65536 % 256, i // 256 % 256, i % 256) for i in range(1, 20001)]
    path.write_text("GIMP Palette\nName: big\n#\n"
                    + "".join(f"{r} {g} {b} c{i}\n" for i, (r, g, b) in enumerate(colours)))
    pal = SwatchPalette()
    start = time.perf_counter()
    assert pal.import_file(path) == (0, 20000)
    assert time.perf_counter() - start < 2.0          # 17.6 s for 10 000 before
    assert pal.import_file(path) == (0, 0)             # the same names and colours: nothing new
    assert len({s.id for s in pal.swatches}) == 20000


def test_a_gimp_palette_with_a_byte_order_mark_imports(tmp_path):
    from opdm_studio.engine.swatches import SwatchPalette
    path = tmp_path / "bom.gpl"
    path.write_bytes("\ufeffGIMP Palette\nName: x\n#\n255 0 0 Red\n0 0 255 Blue\n".encode())
    pal = SwatchPalette()
    assert pal.import_file(path) == (0, 2)
    assert [s.name for s in pal.live()] == ["Red", "Blue"]
