"""Training data sources: finished cuts on disk, synthetic cuts, and what a folder offers (the
``check`` report). The triplets made from them are in training/triplets.py.

A *cuts folder* holds one subfolder per finished cut (or is itself one cut). A cut has its colour
frames either in a ``color/`` (``colour/``, ``paint/``) subfolder or directly in the cut folder, and
optionally its line art in a ``lineart/`` (``lines/``, ``line/``) subfolder with the same file
stems. Frames without paired line art get it extracted from the colour frame with
:func:`opdm_studio.imaging.lineart.extract_lines` (the evaluation protocol's high-pass).

A cut reads lazily (only the frames an item asks for), so a DataLoader with worker processes
scales to large folders.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from opdm_studio.errors import ImageReadError, TrainingDataError
from opdm_studio.imaging.cut import read_image
from opdm_studio.imaging.files import FileDigests
from opdm_studio.imaging.lineart import darkness_to_lineart, extract_lines

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
COLOR_DIRS = ("color", "colour", "paint", "colors", "colours")
LINE_DIRS = ("lineart", "lines", "line", "line_art")
MIN_FRAMES = 3  # a triplet needs two keys and one frame between them


def natural_key(name: str) -> list[Any]:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _images_in(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS
             and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def _subdir(folder: Path, names: Sequence[str]) -> Path | None:
    for n in names:
        p = folder / n
        if p.is_dir():
            return p
    return None


def read_rgb(path: Path) -> np.ndarray:
    """Read a colour frame as uint8 (H, W, 3) RGB; transparent pixels become white paper."""
    try:
        return read_image(path, "rgb")
    except ImageReadError as exc:
        raise TrainingDataError(str(exc)) from exc


def read_line(path: Path) -> np.ndarray:
    """Read a line drawing as uint8 (H, W) gray, 255 paper, 0 ink (alpha lines over white)."""
    try:
        return read_image(path, "gray")
    except ImageReadError as exc:
        raise TrainingDataError(str(exc)) from exc


def _image_size(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, ValueError):
        return None


def _damage(path: Path, digests: FileDigests) -> str | None:
    """What is wrong with the whole file (truncated, damaged), or None: a PNG's chunks and a
    JPEG's end are checked without decoding, other formats are decoded."""
    if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
        return digests.facts(path).problem
    try:
        with Image.open(path) as im:
            im.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return f"the file is damaged ({exc})"
    return None


class CutSource:
    """One cut usable for training: ``len`` frames of colour and line art of one size."""

    name: str
    size: tuple[int, int]  # (W, H)

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def color(self, i: int) -> np.ndarray:
        """Colour frame ``i`` as uint8 (H, W, 3)."""
        raise NotImplementedError

    def line(self, i: int) -> np.ndarray:
        """Line drawing of frame ``i`` as uint8 (H, W), 255 paper."""
        raise NotImplementedError

    def view(self, start: int, stop: int) -> CutSource:
        """The frames ``start:stop`` as a cut of their own (used to hold frames back)."""
        return _CutView(self, start, stop)


class _CutView(CutSource):
    def __init__(self, base: CutSource, start: int, stop: int) -> None:
        self.base, self.start, self.stop = base, start, stop
        self.name = f"{base.name}[{start}:{stop}]"
        self.size = base.size

    def __len__(self) -> int:
        return self.stop - self.start

    def color(self, i: int) -> np.ndarray:
        return self.base.color(self.start + i)

    def line(self, i: int) -> np.ndarray:
        return self.base.line(self.start + i)


@dataclass
class FolderCut(CutSource):
    """A finished cut on disk: colour frames plus optional paired line art."""

    name: str
    path: Path
    color_files: list[Path]
    line_files: list[Path | None]
    size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.color_files)

    def color(self, i: int) -> np.ndarray:
        img = read_rgb(self.color_files[i])
        if (img.shape[1], img.shape[0]) != self.size:
            raise TrainingDataError(f"{self.color_files[i]}: size {img.shape[1]}x{img.shape[0]} "
                                    f"differs from the cut's {self.size[0]}x{self.size[1]}")
        return img

    def line(self, i: int) -> np.ndarray:
        lf = self.line_files[i]
        if lf is not None:
            return read_line(lf)
        # No drawn line art: extract it from the colour frame, as the paper does with Sketch-Keras.
        return darkness_to_lineart(extract_lines(self.color(i)))


class ArrayCut(CutSource):
    """A cut held in memory (synthetic cuts, tests)."""

    def __init__(self, name: str, colors: Sequence[np.ndarray], lines: Sequence[np.ndarray]) -> None:
        if len(colors) != len(lines) or not colors:
            raise ValueError("colors and lines must be non-empty and of equal length")
        self.name = name
        self.colors = list(colors)
        self.lines = list(lines)
        h, w = self.colors[0].shape[:2]
        self.size = (w, h)

    def __len__(self) -> int:
        return len(self.colors)

    def color(self, i: int) -> np.ndarray:
        return self.colors[i]

    def line(self, i: int) -> np.ndarray:
        line = self.lines[i]
        if line.dtype != np.uint8:  # a darkness map
            line = darkness_to_lineart(line)
        return line


class SynthCut(CutSource):
    """A synthetic cut generated on first use by opdm_studio.synth.cut.generate_cut (cached per process)."""

    CACHE_CUTS = 16  # per process: regenerating is cheap, holding hundreds of cuts is not
    _cache: OrderedDict[tuple, ArrayCut] = OrderedDict()

    def __init__(self, n_frames: int, size: int, seed: int) -> None:
        self.n_frames, self.seed = n_frames, seed
        self.name = f"synth-{seed}"
        self.size = (size, size)

    def _get(self) -> ArrayCut:
        cache = SynthCut._cache
        key = (self.n_frames, self.size, self.seed)
        cut = cache.get(key)
        if cut is None:
            from opdm_studio.synth.cut import generate_cut
            sc = generate_cut(self.n_frames, self.size, seed=self.seed)  # size is (W, H)
            # Copies: keep colours and lines only, not the cut's region maps.
            cut = ArrayCut(self.name, list(sc.colors.copy()), list(sc.lines.copy()))
            cache[key] = cut
            while len(cache) > SynthCut.CACHE_CUTS:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return cut

    def __len__(self) -> int:
        return self.n_frames

    def color(self, i: int) -> np.ndarray:
        return self._get().color(i)

    def line(self, i: int) -> np.ndarray:
        return self._get().line(i)

    def __getstate__(self) -> dict:
        # Worker processes regenerate instead of receiving big arrays through a pipe.
        return {"n_frames": self.n_frames, "seed": self.seed, "name": self.name, "size": self.size}


@dataclass
class DataReport:
    """What a data check found: usable cuts, totals and problems a colourist can fix."""

    root: Path
    cuts: list[CutSource]
    problems: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        """Frames in usable cuts."""
        return sum(len(c) for c in self.cuts)

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """Distinct frame sizes (W, H) of the usable cuts."""
        return sorted({c.size for c in self.cuts})

    def summary(self) -> str:
        """One paragraph for the CLI and the wizard."""
        sizes = ", ".join(f"{w}x{h}" for w, h in self.sizes) or "-"
        lines = [f"{len(self.cuts)} usable cut(s), {self.n_frames} frames, sizes {sizes}"]
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


def _scan_cut(folder: Path, problems: list[str]) -> FolderCut | None:
    color_dir = _subdir(folder, COLOR_DIRS) or folder
    colors = _images_in(color_dir)
    if not colors:
        problems.append(f"{folder}: no colour frames (expected images in the folder or in color/)")
        return None
    line_dir = _subdir(folder, LINE_DIRS)
    lines_by_stem = {p.stem: p for p in _images_in(line_dir)} if line_dir else {}
    sizes: dict[tuple[int, int], int] = {}
    good: list[Path] = []
    line_files: list[Path | None] = []
    n_missing_lines = 0
    digests = FileDigests()
    for p in colors:
        s = _image_size(p)
        if s is None:
            problems.append(f"{p}: not a readable image, skipped")
            continue
        damage = _damage(p, digests)
        if damage is not None:
            problems.append(f"{p}: {damage}, skipped")
            continue
        sizes[s] = sizes.get(s, 0) + 1
        good.append(p)
    if not good:
        problems.append(f"{folder}: none of the colour frames can be read")
        return None
    size = max(sizes, key=lambda k: sizes[k])
    if len(sizes) > 1:
        problems.append(f"{folder}: mixed frame sizes {sorted(sizes)}; frames not {size[0]}x{size[1]} skipped")
        good = [p for p in good if _image_size(p) == size]
    for p in good:
        lf = lines_by_stem.get(p.stem)
        if lf is not None and _image_size(lf) != size:
            problems.append(f"{lf}: line art size differs from its colour frame; lines extracted instead")
            lf = None
        damage = _damage(lf, digests) if lf is not None else None
        if lf is not None and damage is not None:
            problems.append(f"{lf}: {damage}; lines extracted from its colour frame instead")
            lf = None
        if lf is None and line_dir is not None:
            n_missing_lines += 1
        line_files.append(lf)
    if n_missing_lines and line_dir is not None:     # (only counted where there is a line folder)
        problems.append(f"{folder}: {n_missing_lines} frame(s) have no line art in {line_dir.name}/; "
                        "lines extracted from colour")
    if len(good) < MIN_FRAMES:
        problems.append(f"{folder}: only {len(good)} usable frame(s); a cut needs at least {MIN_FRAMES}")
        return None
    return FolderCut(folder.name, folder, good, line_files, size)


def scan_cuts(root: str | Path, require: bool = True) -> DataReport:
    """Find the usable cuts under ``root`` (one subfolder per cut, or ``root`` itself is a cut).

    Raises :class:`TrainingDataError` naming the folder when ``require`` and nothing is usable.
    """
    root = Path(root)
    if not root.is_dir():
        raise TrainingDataError(f"{root}: not a folder of finished cuts")
    problems: list[str] = []
    is_single = _subdir(root, COLOR_DIRS) is not None or bool(_images_in(root))
    folders = [root] if is_single else sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: natural_key(p.name))
    cuts: list[CutSource] = [c for c in (_scan_cut(f, problems) for f in folders) if c is not None]
    report = DataReport(root, cuts, problems)
    if require and not cuts:
        detail = "; ".join(problems[:5]) if problems else "it has no subfolders with colour frames"
        raise TrainingDataError(
            f"{root}: no usable cuts for training ({detail}). Put each finished cut in its own "
            f"subfolder with at least {MIN_FRAMES} colour frames (optionally line art in lineart/).")
    return report


def synth_report(n_cuts: int, n_frames: int, size: int, seed: int = 0) -> DataReport:
    """A report over ``n_cuts`` synthetic cuts generated lazily (data spec ``synth:N``)."""
    cuts: list[CutSource] = [SynthCut(n_frames, size, seed * 100003 + i) for i in range(n_cuts)]
    return DataReport(Path(f"synth:{n_cuts}"), cuts, [])


def open_data(spec: str | Path, synth_frames: int = 24, synth_size: int = 256, seed: int = 0) -> DataReport:
    """A cuts folder path, or ``synth:N`` for N synthetic cuts generated on the fly."""
    s = str(spec)
    if s.startswith("synth:"):
        try:
            n = int(s.split(":", 1)[1])
        except ValueError:
            raise TrainingDataError(f"{s}: expected synth:N with N the number of synthetic cuts") from None
        if n < 1:
            raise TrainingDataError(f"{s}: need at least one synthetic cut")
        return synth_report(n, synth_frames, synth_size, seed)
    return scan_cuts(Path(s))


def split_holdout(cuts: Sequence[CutSource], fraction: float = 0.1) -> tuple[list[CutSource], list[CutSource]]:
    """Hold frames back for validation: whole cuts when there are several, else a cut's tail."""
    cuts = list(cuts)
    if fraction <= 0 or not cuts:
        return cuts, []
    if len(cuts) >= 2:
        n_val = min(len(cuts) - 1, max(1, round(fraction * len(cuts))))
        return cuts[:-n_val], cuts[-n_val:]
    c = cuts[0]
    n_val = max(MIN_FRAMES, math.ceil(fraction * len(c)))
    if len(c) - n_val < MIN_FRAMES:
        return cuts, []  # too short to split: validate on nothing rather than on training frames
    return [c.view(0, len(c) - n_val)], [c.view(len(c) - n_val, len(c))]
