"""Reading cut folders: order, formats, modes, polarity, alpha, sizes, holds, keyframe colour."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from opdm_studio.errors import CutError
from opdm_studio.imaging.cut import natural_key, open_cut, read_image

H, W = 40, 48


def drawing(seed: int = 0) -> np.ndarray:
    """A gray line drawing: white paper, a black rectangle outline and a diagonal stroke."""
    g = np.full((H, W), 255, np.uint8)
    g[5:35, 6] = 0
    g[5:35, 40] = 0
    g[5, 6:41] = 0
    g[34, 6:41] = 0
    rr = np.arange(10, 30)
    g[rr, rr + seed % 7] = 0
    return g


def test_natural_sort_and_frame_numbers(tmp_path):
    names = ["a10.png", "a2.png", "a1.png", "A3.png", "a20.png"]
    for k, n in enumerate(names):
        Image.fromarray(drawing(k)).save(tmp_path / n)
    cut = open_cut(tmp_path)
    assert [f.name for f in cut.frames] == ["a1.png", "a2.png", "A3.png", "a10.png", "a20.png"]
    assert [f.number for f in cut.frames] == [1, 2, 3, 10, 20]
    assert sorted(["x10", "x9", "x100"], key=natural_key) == ["x9", "x10", "x100"]
    assert len(cut) == 5 and cut.size == (W, H)


@pytest.mark.parametrize("ext,kind", [
    ("png", "L"), ("png", "RGB"), ("png", "RGBA"), ("png", "P"), ("png", "1"), ("png", "LA"),
    ("jpg", "L"), ("jpg", "RGB"), ("tif", "L"), ("tif", "I;16"), ("tif", "RGB16"), ("tga", "RGB"),
    ("bmp", "RGB"), ("webp", "RGB"),
])
def test_formats_and_modes(tmp_path, ext, kind):
    g = drawing()
    path = tmp_path / f"f0001.{ext}"
    if kind == "L":
        Image.fromarray(g).save(path)
    elif kind == "RGB":
        Image.fromarray(np.repeat(g[..., None], 3, axis=2)).save(path)
    elif kind == "RGBA":
        Image.fromarray(np.dstack([np.repeat(g[..., None], 3, axis=2), np.full_like(g, 255)])).save(path)
    elif kind == "LA":
        Image.fromarray(np.dstack([g, np.full_like(g, 255)]), "LA").save(path)
    elif kind == "P":
        Image.fromarray(np.repeat(g[..., None], 3, axis=2)).convert("P", palette=Image.ADAPTIVE, colors=4).save(path)
    elif kind == "1":
        Image.fromarray(g).convert("1").save(path)
    elif kind == "I;16":
        Image.fromarray(g.astype(np.uint16) * 257).save(path)
    elif kind == "RGB16":
        assert cv2.imwrite(str(path), np.repeat(g[..., None], 3, axis=2).astype(np.uint16) * 257)
    cut = open_cut(tmp_path)
    line = cut.line(0)
    assert line.dtype == np.uint8 and line.shape == (H, W)
    ink = line < 128
    if ext in ("jpg", "webp"):  # lossy: compare the ink masks
        assert (ink == (g < 128)).mean() > 0.98
    else:
        assert np.array_equal(ink, g < 128)
    assert cut.line_rgb(0).shape == (H, W, 3)
    assert cut.color(0) is None and not cut.has_color(0)


def test_white_on_black_is_inverted(tmp_path):
    g = drawing()
    Image.fromarray(255 - g).save(tmp_path / "0001.png")
    Image.fromarray(np.repeat(255 - g[..., None], 3, axis=2)).save(tmp_path / "0002.png")
    cut = open_cut(tmp_path)
    assert np.array_equal(cut.line(0), g)
    assert np.array_equal(cut.line(1), g)
    assert any("inverted" in w for w in cut.warnings)


def test_lines_on_transparent_background_read_from_alpha(tmp_path):
    g = drawing()
    alpha = (255 - g).astype(np.uint8)
    # Black strokes on transparency; the colour under transparent pixels is garbage on purpose.
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = np.where(alpha[..., None] > 0, 0, 77)
    rgba[..., 3] = alpha
    Image.fromarray(rgba).save(tmp_path / "0001.png")
    # White strokes on transparency (some paint programs): the alpha alone is the ink.
    rgba2 = np.zeros((H, W, 4), np.uint8)
    rgba2[..., :3] = 255
    rgba2[..., 3] = alpha
    Image.fromarray(rgba2).save(tmp_path / "0002.png")
    cut = open_cut(tmp_path)
    assert np.array_equal(cut.line(0), g)
    assert np.array_equal(cut.line(1), g)


def test_coloured_trace_lines_are_ink_and_keep_colour(tmp_path):
    rgb = np.full((H, W, 3), 255, np.uint8)
    rgb[10, 5:40] = (0, 0, 0)
    rgb[20, 5:40] = (230, 30, 40)      # red shadow line
    rgb[30, 5:40] = (120, 170, 255)    # light-blue highlight line
    Image.fromarray(rgb).save(tmp_path / "0001.png")
    cut = open_cut(tmp_path)
    ink = cut.line(0) < 128
    assert ink[10, 5:40].all() and ink[20, 5:40].all() and ink[30, 5:40].all()
    assert ink.sum() == 3 * 35
    assert tuple(cut.line_rgb(0)[20, 10]) == (230, 30, 40)
    assert tuple(cut.line_rgb(0)[30, 10]) == (120, 170, 255)


def test_mixed_sizes_raise_listing_odd_files(tmp_path):
    for k in range(3):
        Image.fromarray(drawing(k)).save(tmp_path / f"{k:04d}.png")
    Image.fromarray(np.full((50, 60), 255, np.uint8)).save(tmp_path / "0003.png")
    with pytest.raises(CutError) as e:
        open_cut(tmp_path)
    assert "0003.png" in str(e.value) and "60x50" in str(e.value)
    assert "0001.png" not in str(e.value)


def test_non_images_and_hidden_files_skipped_with_warning(tmp_path):
    Image.fromarray(drawing()).save(tmp_path / "0001.png")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".DS_Store").write_bytes(b"\0\0")
    Image.fromarray(drawing()).save(tmp_path / ".hidden.png")
    (tmp_path / "sub").mkdir()
    cut = open_cut(tmp_path)
    assert [f.name for f in cut.frames] == ["0001.png"]
    text = " ".join(cut.warnings)
    assert "notes.txt" in text and ".DS_Store" in text and ".hidden.png" in text


def test_held_drawings(tmp_path):
    seq = [0, 0, 1, 2, 2, 2, 3]
    for k, d in enumerate(seq):
        Image.fromarray(drawing(d)).save(tmp_path / f"{k:04d}.png")
    cut = open_cut(tmp_path)
    assert cut.holds() == [0, 0, 2, 3, 3, 3, 6]
    assert cut.is_held(1) and not cut.is_held(2)


def test_keyframe_colour_in_sibling_folder(tmp_path):
    root = tmp_path / "cut01"
    lines, color = root / "lineart", root / "color"
    lines.mkdir(parents=True)
    color.mkdir()
    paint = np.zeros((H, W, 3), np.uint8)
    paint[:] = (200, 120, 40)
    for k in range(4):
        Image.fromarray(drawing(k)).save(lines / f"c_{k:03d}.png")
    Image.fromarray(paint).save(color / "c_000.png")
    Image.fromarray(paint[..., ::-1].copy()).save(color / "c_003.png")
    cut = open_cut(lines)
    assert cut.keyframes() == [0, 3]
    assert np.array_equal(cut.color(0), paint)
    assert np.array_equal(cut.color(3), paint[..., ::-1])
    assert cut.color(1) is None
    assert cut.name == "cut01"
    # Opening the cut's root folder finds the line folder itself.
    assert len(open_cut(root)) == 4
    # A colour folder inside the cut folder works too.
    inner = tmp_path / "cut02"
    (inner / "paint").mkdir(parents=True)
    Image.fromarray(drawing()).save(inner / "x1.png")
    Image.fromarray(paint).save(inner / "paint" / "x1.png")
    assert open_cut(inner).has_color(0)


def test_colour_frame_is_a_keyframe(tmp_path):
    paint = np.zeros((64, 64, 3), np.uint8)
    paint[:, :32] = (220, 60, 60)
    paint[:, 32:] = (60, 160, 220)
    paint[:, 31:33] = 0
    Image.fromarray(paint).save(tmp_path / "0001.png")
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(tmp_path / "0002.png")
    cut = open_cut(tmp_path)
    assert cut.has_color(0) and np.array_equal(cut.color(0), paint)
    assert (cut.line(0)[:, 31:33] < 128).all()
    assert not cut.has_color(1)


def test_cache_is_bounded(tmp_path):
    for k in range(6):
        Image.fromarray(drawing(k)).save(tmp_path / f"{k}.png")
    per_frame = H * W * 4  # gray + rgb
    cut = open_cut(tmp_path, cache_bytes=2 * per_frame + 10)
    for k in range(6):
        cut.line(k)
    assert cut._cache.nbytes <= 2 * per_frame + 10
    assert np.array_equal(cut.line(0), drawing(0))


def test_read_image_modes(tmp_path):
    g = drawing()
    p = tmp_path / "a.png"
    Image.fromarray(g).save(p)
    assert read_image(p).shape == (H, W, 3)
    assert read_image(p, "gray").shape == (H, W)
    assert read_image(p, "rgba").shape == (H, W, 4)


def test_frame_cache_counts_the_pixels_it_holds(tmp_path):
    """The LRU cache must bound memory by the arrays it holds, not by a per-entry constant."""
    import numpy as np
    from PIL import Image

    from opdm_studio.imaging.cut import open_cut

    for i in range(6):
        img = np.full((64, 96), 255, np.uint8)
        img[10 + i:20 + i, 10:80] = 0
        Image.fromarray(img).save(tmp_path / f"f{i}.png")
    cut = open_cut(tmp_path)
    cut._cache.max_bytes = 3 * 64 * 96 * 4 + 1   # room for about three frames
    for i in range(len(cut)):
        cut.line(i)
    assert 0 < cut._cache.nbytes <= cut._cache.max_bytes
    assert len(cut._cache._data) < len(cut)
