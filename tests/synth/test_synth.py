"""The synthetic cut generator: deterministic, closed lines, holds, palette, files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from opdm_studio.errors import ExportError
from opdm_studio.imaging.cut import open_cut
from opdm_studio.synth.cut import generate_cut, main, write_cut


def test_deterministic_and_shapes():
    a = generate_cut(6, (96, 64), seed=11)
    b = generate_cut(6, (96, 64), seed=11)
    c = generate_cut(6, (96, 64), seed=12)
    assert np.array_equal(a.lines, b.lines) and np.array_equal(a.colors, b.colors)
    assert not np.array_equal(a.colors, c.colors)
    assert a.lines.shape == (6, 64, 96) and a.colors.shape == (6, 64, 96, 3)
    assert a.line_rgb.shape == (6, 64, 96, 3) and a.region_ids.shape == (6, 64, 96)
    assert a.size == (96, 64) and len(a) == 6


def test_lines_are_closed_and_paint_is_flat():
    cut = generate_cut(3, (200, 150), seed=5)
    for i in range(3):
        m, ids = cut.line_masks[i], cut.region_ids[i]
        # No two different paint regions touch without a line between them (4-neighbours).
        assert not ((ids[:, :-1] != ids[:, 1:]) & ~m[:, :-1] & ~m[:, 1:]).any()
        assert not ((ids[:-1] != ids[1:]) & ~m[:-1] & ~m[1:]).any()
        # Every paint pixel is a palette colour.
        pal = {tuple(c) for c in cut.palette.tolist()}
        assert {tuple(c) for c in np.unique(cut.colors[i][~m], axis=0).tolist()} <= pal


def test_palette_colours_are_distinct():
    cut = generate_cut(1, (256, 256), seed=0)
    keys = {tuple(c) for c in cut.palette.tolist()}
    assert len(keys) == len(cut.palette) >= 8


def test_motion_holds_trace_lines():
    cut = generate_cut(24, (160, 120), seed=2)
    d = cut.drawings
    for i in range(1, 24):
        same = np.array_equal(cut.lines[i], cut.lines[i - 1])
        assert same == (d[i] == d[i - 1])
    assert len(set(d)) < 24 and len(set(d)) > 6          # held drawings, and motion
    assert (cut.line_rgb.max(axis=3) != cut.line_rgb.min(axis=3)).any()   # coloured trace lines


def test_gradient_background_is_not_in_palette():
    cut = generate_cut(1, (128, 96), seed=1, background="gradient")
    sky = cut.colors[0][2, 2]
    assert tuple(sky) not in {tuple(c) for c in cut.palette.tolist()}


def test_write_cut_and_open_it(tmp_path):
    out = tmp_path / "cutA"
    cut = write_cut(out, n_frames=5, size=(96, 64), seed=3, keyframes=[0, 4])
    assert sorted(p.name for p in (out / "lineart").iterdir()) == [f"{i:04d}.png" for i in range(5)]
    assert sorted(p.name for p in (out / "color").iterdir()) == ["0000.png", "0004.png"]
    doc = json.loads((out / "palette.json").read_text())
    assert [c["rgb"] for c in doc["colors"]] == cut.palette.tolist()
    opened = open_cut(out)
    assert opened.keyframes() == [0, 4]
    assert np.array_equal(opened.line(2) < 128, cut.line_masks[2])
    assert np.array_equal(opened.color(4), cut.colors[4])
    assert np.array_equal(opened.line_rgb(1), cut.line_rgb[1])
    with pytest.raises(ExportError, match="exists"):
        write_cut(out, n_frames=5, size=(96, 64), seed=3)   # never overwrites silently


def test_command_line(tmp_path, capsys):
    assert main([str(tmp_path / "c"), "--frames", "3", "--size", "64x48", "--seed", "1"]) == 0
    assert len(list((tmp_path / "c" / "lineart").iterdir())) == 3
    assert "3 frames" in capsys.readouterr().out
