"""The bundled sample cut opens as a normal cut and stays small."""
from __future__ import annotations

from pathlib import Path

from opdm_studio.imaging.cut import open_cut
from opdm_studio.resources import resource_path


def test_sample_cut_opens_with_keyframes():
    root = Path(str(resource_path("sample_cut")))
    cut = open_cut(root)
    assert len(cut) == 24 and cut.size == (960, 540)
    assert cut.keyframes() == [0, 12, 23]
    assert cut.warnings == []
    assert cut.hold_of(1) == 0                     # drawings are held like real animation
    m = cut.line_mask(5)
    assert m.dtype == bool and 0.005 < m.mean() < 0.2
    # The keyframe's black lines are exactly the drawing's black ink (trace lines are painted over).
    m12 = cut.line_mask(12)
    black = (cut.color(12) == 0).all(axis=2)
    assert (black <= m12).all() and black.sum() > 0.8 * m12.sum()
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert total < 3 * 1024 * 1024
    assert (root / "palette.json").is_file()
