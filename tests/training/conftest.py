"""Fixtures of the training tests: a folder of small finished cuts drawn with OpenCV."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image


def write_toy_cuts(root: Path, n_cuts: int = 3, n_frames: int = 8, size: int = 64,
                   with_lines: bool = True) -> Path:
    """Cuts of two flat-coloured moving shapes with black outlines (colour/ + lineart/)."""
    for c in range(n_cuts):
        rng = np.random.default_rng(c)
        cut = root / f"cut{c:02d}"
        (cut / "color").mkdir(parents=True)
        if with_lines:
            (cut / "lineart").mkdir()
        c1 = tuple(int(v) for v in rng.integers(30, 230, 3))
        c2 = tuple(int(v) for v in rng.integers(30, 230, 3))
        r = size // 5
        for i in range(n_frames):
            img = np.full((size, size, 3), 245, np.uint8)
            line = np.full((size, size), 255, np.uint8)
            cx = size // 4 + i * size // (3 * n_frames)
            cy = size // 2 + int(3 * np.sin(i))
            x0, y0 = size // 2 + i, size // 6 + i // 2
            cv2.circle(img, (cx, cy), r, c1, -1)
            cv2.rectangle(img, (x0, y0), (x0 + size // 3, y0 + size // 3), c2, -1)
            for target, col in ((img, (0, 0, 0)), (line, 0)):
                cv2.circle(target, (cx, cy), r, col, 1)
                cv2.rectangle(target, (x0, y0), (x0 + size // 3, y0 + size // 3), col, 1)
            Image.fromarray(img).save(cut / "color" / f"{i:04d}.png")
            if with_lines:
                Image.fromarray(line).save(cut / "lineart" / f"{i:04d}.png")
    return root


@pytest.fixture
def toy_cuts(tmp_path: Path) -> Path:
    """Three 8-frame 64 px cuts with paired line art."""
    return write_toy_cuts(tmp_path / "cuts")
