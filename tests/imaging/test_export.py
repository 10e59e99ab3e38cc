"""Export: layers are pixel-exact, files are written atomically and never silently replaced."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from opdm_studio.errors import ExportError
from opdm_studio.imaging.export import frame_filename, make_layers, write_png_atomic, write_psd
from opdm_studio.imaging.lineart import composite_over
from opdm_studio.synth.cut import generate_cut


def _frame():
    cut = generate_cut(1, (96, 64), seed=3)
    return cut.colors[0], cut.line_masks[0], cut.line_rgb[0]


def test_layers_are_pixel_exact():
    color, mask, line_rgb = _frame()
    layers = make_layers(color, mask, line_rgb)
    # Colour layer: paint untouched, line pixels filled from a neighbouring region.
    assert np.array_equal(layers.color[~mask], color[~mask])
    paint = {tuple(c) for c in color[~mask].tolist()}
    assert {tuple(c) for c in layers.color[mask].tolist()} <= paint
    # Line layer: the exact line colours, opaque on ink, transparent on paper.
    assert layers.lines.shape == color.shape[:2] + (4,)
    assert (layers.lines[mask, 3] == 255).all() and (layers.lines[~mask, 3] == 0).all()
    assert np.array_equal(layers.lines[mask, :3], line_rgb[mask])
    # Composite = lines over colour, which a compositor stacking the two layers reproduces.
    assert np.array_equal(layers.composite, composite_over(layers.color, layers.lines))
    assert np.array_equal(layers.composite[mask], line_rgb[mask])
    assert np.array_equal(layers.composite[~mask], color[~mask])


def test_antialiased_lines_become_a_soft_fringe():
    color = np.full((8, 8, 3), (200, 100, 50), np.uint8)
    line_rgb = np.full((8, 8, 3), 255, np.uint8)
    line_rgb[:, 3] = 0
    line_rgb[:, 4] = 128                      # anti-aliased edge of a black line
    mask = np.zeros((8, 8), bool)
    mask[:, 3] = True
    layers = make_layers(color, mask, line_rgb)
    assert (layers.lines[:, 4, 3] == 127).all() and (layers.lines[:, 4, :3] == 0).all()
    # Over-compositing a half-transparent black = multiplying by the drawing's gray.
    assert np.abs(layers.composite[:, 4].astype(int) - (np.array([200, 100, 50]) * 128 // 255)).max() <= 1


def test_png_round_trip_and_modes(tmp_path):
    rng = np.random.default_rng(0)
    for shape in [(20, 30), (20, 30, 3), (20, 30, 4)]:
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        p = write_png_atomic(tmp_path / f"x{len(shape)}_{shape[-1]}.png", img)
        back = np.asarray(Image.open(p))
        assert np.array_equal(back, img)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_existing_file_is_not_overwritten_unless_asked(tmp_path):
    p = tmp_path / "cut_0001.png"
    a = np.zeros((10, 10, 3), np.uint8)
    b = np.full((10, 10, 3), 255, np.uint8)
    write_png_atomic(p, a)
    with pytest.raises(ExportError) as e:
        write_png_atomic(p, b)
    assert "cut_0001.png" in str(e.value) and "exists" in str(e.value)
    assert np.array_equal(np.asarray(Image.open(p)), a)
    write_png_atomic(p, b, overwrite=True)
    assert np.array_equal(np.asarray(Image.open(p)), b)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["cut_0001.png"]


def test_source_folder_is_protected_and_missing_folder_reported(tmp_path):
    with pytest.raises(ExportError, match="source folder"):
        write_png_atomic(tmp_path / "a.png", np.zeros((4, 4), np.uint8), protected=[tmp_path])
    with pytest.raises(ExportError, match="does not exist"):
        write_png_atomic(tmp_path / "no" / "a.png", np.zeros((4, 4), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    import opdm_studio.imaging.export as export

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.os, "fsync", boom)
    with pytest.raises(ExportError, match="disk is full"):
        write_png_atomic(tmp_path / "f.png", np.zeros((4, 4, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_frame_filename():
    assert frame_filename("cut01", 7) == "cut01_0007.png"
    assert frame_filename("cut01", 7, layer="color") == "cut01_0007_color.png"
    assert frame_filename("cut01", 7, layer="lines") == "cut01_0007_lines.png"
    assert frame_filename("c", 12, "{cut}-{frame:03d}") == "c-012.png"
    assert frame_filename("c", 12, "{name}_out.png", name="A_0012") == "A_0012_out.png"
    with pytest.raises(ExportError):
        frame_filename("c", 1, "{scene}_{frame}.png")
    with pytest.raises(ExportError):
        frame_filename("c", 1, "../{cut}_{frame}.png")


def test_layered_psd(tmp_path):
    from psd_tools import PSDImage

    color, mask, line_rgb = _frame()
    layers = make_layers(color, mask, line_rgb)
    p = write_psd(tmp_path / "f.psd", layers.color, layers.lines)
    psd = PSDImage.open(p)
    names = [layer.name for layer in psd]
    assert names == ["Colour", "Lines"]
    assert np.array_equal(np.asarray(psd[0].topil().convert("RGB")), layers.color)
    lines = np.asarray(psd[1].topil().convert("RGBA"))
    assert np.array_equal(lines[..., 3] == 255, mask)
    with pytest.raises(ExportError):
        write_psd(p, layers.color, layers.lines)
    assert sorted(os.listdir(tmp_path)) == ["f.psd"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_written_files_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        import importlib

        import opdm_studio.imaging.export as export
        importlib.reload(export)
        p = export.write_png_atomic(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    finally:
        os.umask(old)
    assert (p.stat().st_mode & 0o777) == 0o644
