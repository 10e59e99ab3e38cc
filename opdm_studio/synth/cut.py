"""Procedural cartoon cuts: line art + flat-painted colour frames + their palette.

A cut is a scene of flat-painted shapes seen through a panning camera: a sky, parallax hills,
clouds and houses (many small regions: windows, doors), and character-like blobs (body, belly,
arms, head, eyes, pupils, mouth, hat) that move, rotate, squash and stretch and occlude each
other. Lines are drawn on every border between two paint regions, so the line art is exactly
closed; the borders of shadow and highlight areas are coloured trace lines (red / blue) as in
studio drawings, and a few open strokes (wrinkles, brows) are drawn that close nothing.
Drawings are held for 1-3 frames ("on twos") like real animation.

Everything is deterministic for a seed and fast (a 960x540 frame takes a few milliseconds), so
tests, the bundled sample cut and training data all come from here.

``python -m opdm_studio.synth OUT --frames N --size WxH --seed S`` writes a cut;
``python -m opdm_studio.synth --sample`` regenerates the bundled ``resources/sample_cut``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from opdm_studio.fileio import write_bytes_atomic
from opdm_studio.imaging.export import write_png_atomic
from opdm_studio.synth.scene import LINE_RGB, TRACE_RGB, build_scene, lines_of, render


@dataclass
class SynthCut:
    """An in-memory synthetic cut (N frames of H x W).

    ``lines`` uint8 (N, H, W) gray drawings (255 paper, 0 ink); ``line_rgb`` uint8 (N, H, W, 3)
    the drawings with coloured trace lines; ``colors`` uint8 (N, H, W, 3) the painted frames
    (black lines, trace lines painted over); ``palette`` uint8 (K, 3) every paint colour used
    (not the line colours, not a gradient sky); ``region_ids`` int32 (N, H, W) the paint-region
    instance under each pixel (the region a line pixel was drawn over); ``drawings`` the
    drawing index of each frame (held frames repeat it).
    """
    lines: np.ndarray
    line_rgb: np.ndarray
    colors: np.ndarray
    palette: np.ndarray
    palette_names: list[str]
    region_ids: np.ndarray
    drawings: list[int]
    seed: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def line_masks(self) -> np.ndarray:
        """bool (N, H, W), True on ink (black and coloured lines)."""
        return self.lines < 128

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def size(self) -> tuple[int, int]:
        """(W, H)."""
        return self.lines.shape[2], self.lines.shape[1]


def generate_cut(n_frames: int = 24, size: tuple[int, int] = (256, 256), seed: int = 0,
                 n_characters: int | None = None, n_houses: int | None = None,
                 background: str = "flat", holds: bool = True, pan: bool = True) -> SynthCut:
    """Generate a synthetic cut in memory (see the module doc). ``size`` is (W, H).

    ``background`` "flat" paints the sky with a palette colour, "gradient" with a vertical
    gradient that is in no palette (what auto-snapping must leave alone).
    """
    if n_frames < 1:
        raise ValueError("n_frames must be >= 1")
    w, h = int(size[0]), int(size[1])
    if w < 16 or h < 16:
        raise ValueError("size must be at least 16x16")
    if background not in ("flat", "gradient"):
        raise ValueError("background must be 'flat' or 'gradient'")
    rng = np.random.default_rng(seed)
    area_scale = (w * h) / (256 * 256)
    if n_characters is None:
        n_characters = int(np.clip(round(2 + rng.uniform(0, 1.5) * min(area_scale, 2)), 1, 4))
    if n_houses is None:
        n_houses = int(rng.integers(1, 4))
    scene = build_scene(rng, w, h, n_characters, n_houses, pan)
    drawings: list[int] = []
    d, f = 0, 0
    while f < n_frames:
        hold = int(rng.choice([1, 2, 2, 3])) if holds else 1
        for _ in range(hold):
            if f < n_frames:
                drawings.append(d)
                f += 1
        d += 1
    pal = np.array(scene.pal.colors, np.uint8)
    names = list(scene.pal.names)
    lines = np.empty((n_frames, h, w), np.uint8)
    line_rgb = np.empty((n_frames, h, w, 3), np.uint8)
    colors = np.empty((n_frames, h, w, 3), np.uint8)
    region_ids = np.empty((n_frames, h, w), np.int32)
    grad = None
    if background == "gradient":
        top = np.array(scene.pal.colors[scene.sky], np.float32)
        bottom = np.clip(top * 0.55 + np.array([255, 200, 120]) * 0.45, 0, 255)
        ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        grad = np.broadcast_to(((1 - ramp) * top + ramp * bottom).round().astype(np.uint8), (h, w, 3))
    last_d = -1
    used = np.zeros(len(pal), bool)
    for i, di in enumerate(drawings):
        if di == last_d:
            lines[i], line_rgb[i], colors[i], region_ids[i] = lines[i - 1], line_rgb[i - 1], colors[i - 1], region_ids[i - 1]
            continue
        last_d = di
        # Time runs with the frame the drawing starts on: holds freeze the motion like real timing.
        ids, id_color, (fam, trace, strokes) = render(scene, float(i))
        gray, rgb = lines_of(ids, fam, trace, strokes, scene.line_width)
        col = pal[id_color[ids]]
        if grad is not None:
            sky = id_color[ids] == scene.sky
            col[sky] = grad[sky]
        # Black lines stay in the painted frame; trace lines vanish into the paint, as in the studio.
        trace_px = rgb.max(axis=2) != rgb.min(axis=2)
        col[(gray == 0) & ~trace_px] = LINE_RGB
        lines[i], line_rgb[i], colors[i], region_ids[i] = gray, rgb, col, ids
        # Only colours seen somewhere (off the lines) are the cut's palette: an off-screen house
        # or a pupil hidden under its outline has none.
        seen = np.bincount(ids[gray != 0], minlength=len(id_color)) > 0
        used[id_color[seen]] = True
    if grad is not None:
        used[scene.sky] = False
    return SynthCut(lines, line_rgb, colors, pal[used], [names[k] for k in np.flatnonzero(used)],
                    region_ids, drawings, seed,
                    {"size": [w, h], "frames": n_frames, "line_width": scene.line_width})


def palette_json(cut: SynthCut, keyframes: list[int] | None = None) -> dict:
    """The palette.json document of a synthetic cut."""
    return {
        "format": "opdm-studio-synth-palette",
        "version": 1,
        "colors": [{"name": n, "rgb": [int(v) for v in c]} for n, c in zip(cut.palette_names, cut.palette, strict=True)],
        "line": list(LINE_RGB),
        "trace": {k: list(v) for k, v in TRACE_RGB.items()},
        "keyframes": keyframes if keyframes is not None else list(range(len(cut))),
        "drawings": cut.drawings,
        "seed": cut.seed,
        **cut.meta,
    }


def write_cut(out_dir: str | Path, n_frames: int = 24, size: tuple[int, int] = (256, 256), seed: int = 0,
              keyframes: list[int] | None = None, overwrite: bool = False, cut: SynthCut | None = None,
              **kwargs) -> SynthCut:
    """Generate a cut and write ``lineart/NNNN.png``, ``color/NNNN.png`` and ``palette.json``.

    ``keyframes``: frames whose colour is written (default all, as training wants). Line art is
    written as RGB when it has coloured trace lines. Returns the in-memory cut.
    """
    cut = cut if cut is not None else generate_cut(n_frames, size, seed, **kwargs)
    out = Path(out_dir)
    (out / "lineart").mkdir(parents=True, exist_ok=True)
    (out / "color").mkdir(parents=True, exist_ok=True)
    keys = list(range(len(cut))) if keyframes is None else sorted({k % len(cut) for k in keyframes})
    for i in range(len(cut)):
        rgb = cut.line_rgb[i]
        img = rgb if (rgb.max(axis=2) != rgb.min(axis=2)).any() else cut.lines[i]
        write_png_atomic(out / "lineart" / f"{i:04d}.png", img, overwrite=overwrite, compress_level=9)
    for i in keys:
        write_png_atomic(out / "color" / f"{i:04d}.png", cut.colors[i], overwrite=overwrite, compress_level=9)
    doc = json.dumps(palette_json(cut, keys), indent=1).encode()
    write_bytes_atomic(out / "palette.json", doc, overwrite=overwrite)
    return cut


SAMPLE: dict[str, Any] = dict(n_frames=24, size=(960, 540), seed=2024)


def make_sample_cut(out_dir: str | Path) -> SynthCut:
    """(Re)write the bundled sample cut: 24 frames 960x540, colour of the first, middle, last."""
    out = Path(out_dir)
    n = SAMPLE["n_frames"]
    tmp = Path(tempfile.mkdtemp(prefix=".sample_cut.", dir=out.parent if out.parent.exists() else None))
    try:
        cut = write_cut(tmp, keyframes=[0, n // 2, n - 1], **SAMPLE)
        # Replace the folder contents only once the new cut is complete.
        for sub in ("lineart", "color"):
            if (out / sub).exists():
                shutil.rmtree(out / sub)
        out.mkdir(parents=True, exist_ok=True)
        for item in tmp.iterdir():
            shutil.move(str(item), str(out / item.name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cut


def main(argv: list[str] | None = None) -> int:
    """``python -m opdm_studio.synth OUT --frames N --size WxH --seed S`` (or ``--sample``)."""
    ap = argparse.ArgumentParser(prog="python -m opdm_studio.synth", description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", help="output folder (gets lineart/, color/, palette.json)")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", default="256x256", help="WxH")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keyframes", default="", help="comma-separated frames to write colour for (default all)")
    ap.add_argument("--gradient", action="store_true", help="gradient sky (not in the palette)")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--sample", action="store_true", help="regenerate resources/sample_cut")
    args = ap.parse_args(argv)
    if args.sample:
        target = Path(args.out) if args.out else Path(__file__).resolve().parents[2] / "resources" / "sample_cut"
        make_sample_cut(target)
        print(f"sample cut written to {target}")
        return 0
    if not args.out:
        ap.error("OUT is required (or --sample)")
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        ap.error("--size must look like 256x256")
    keys = [int(k) for k in args.keyframes.split(",") if k.strip()] or None
    cut = write_cut(args.out, args.frames, (w, h), args.seed, keyframes=keys, overwrite=args.overwrite,
                    background="gradient" if args.gradient else "flat")
    print(f"{len(cut)} frames of {w}x{h}, {len(cut.palette)} paint colours -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
