"""Training data: (previous key, target, next key) triplets from finished cuts or synthetic cuts.

A *cuts folder* holds one subfolder per finished cut (or is itself one cut). A cut has its colour
frames either in a ``color/`` (``colour/``, ``paint/``) subfolder or directly in the cut folder, and
optionally its line art in a ``lineart/`` (``lines/``, ``line/``) subfolder with the same file
stems. Frames without paired line art get it extracted from the colour frame with
:func:`opdm_studio.imaging.lineart.extract_lines` (the evaluation protocol's high-pass).

:class:`TripletDataset` reads lazily (only the three frames an item needs), so a DataLoader with
worker processes scales to large folders. Every item is keyed by an integer *key*: ``key % len``
picks the target frame and ``key`` seeds the item's random choices (gap, crop, augmentation), so a
run is reproducible and resumable whatever the number of workers or processes.

Tensor conventions follow docs/INTERFACES.md: colour ``(3, H, W)`` in [-1, 1]; line art
``(1, H, W)`` in [-1, 1] with -1 = ink.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, DistributedSampler

from opdm_studio.errors import ImageReadError, TrainingDataError
from opdm_studio.imaging.cut import read_image
from opdm_studio.imaging.lineart import darkness_to_lineart, extract_lines

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
COLOR_DIRS = ("color", "colour", "paint", "colors", "colours")
LINE_DIRS = ("lineart", "lines", "line", "line_art")
MIN_FRAMES = 3  # a triplet needs two keys and one frame between them
MAX_GAP = 16    # the paper's protocol: keys up to 16 frames apart


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

    def view(self, start: int, stop: int) -> "CutSource":
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
    """A synthetic cut generated on first use by training.synth.generate_cut (cached per process)."""

    CACHE_CUTS = 16  # per process: regenerating is cheap, holding hundreds of cuts is not
    _cache: "OrderedDict[tuple, ArrayCut]" = OrderedDict()

    def __init__(self, n_frames: int, size: int, seed: int) -> None:
        self.n_frames, self.seed = n_frames, seed
        self.name = f"synth-{seed}"
        self.size = (size, size)

    def _get(self) -> ArrayCut:
        cache = SynthCut._cache
        key = (self.n_frames, self.size, self.seed)
        cut = cache.get(key)
        if cut is None:
            from training.synth import generate_cut  # written by the imaging engineer
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
    for p in colors:
        s = _image_size(p)
        if s is None:
            problems.append(f"{p}: not a readable image, skipped")
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
        if lf is None and line_dir is not None:
            n_missing_lines += 1
        line_files.append(lf)
    if n_missing_lines:
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
    cuts = [c for c in (_scan_cut(f, problems) for f in folders) if c is not None]
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


@dataclass
class AugmentConfig:
    """Augmentations applied identically to the three frames of a triplet."""

    flip: float = 0.5          # probability of a horizontal flip
    rotate: float = 5.0        # max rotation, degrees
    scale: float = 0.08        # max relative zoom-in beyond the cover scale
    shift: float = 0.04        # max translation as a fraction of the working size
    hue: float = 1.0           # probability of a random hue rotation + channel permutation

    @classmethod
    def off(cls) -> "AugmentConfig":
        """No augmentation (validation)."""
        return cls(flip=0.0, rotate=0.0, scale=0.0, shift=0.0, hue=0.0)


def _geometry(src_w: int, src_h: int, size: int, aug: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """2x3 affine from the (pre-resized) source to the size x size output."""
    s = size / min(src_w, src_h)
    zoom = 1.0 + rng.uniform(0.0, aug.scale) if aug.scale > 0 else 1.0
    angle = rng.uniform(-aug.rotate, aug.rotate) if aug.rotate > 0 else 0.0
    # A rotation needs extra zoom so that no corner reads outside the image.
    rad = math.radians(abs(angle))
    zoom *= math.cos(rad) + math.sin(rad)
    cx = src_w / 2 + rng.uniform(-1, 1) * max(0.0, src_w - size / (s * zoom)) / 2
    cy = src_h / 2 + rng.uniform(-1, 1) * max(0.0, src_h - size / (s * zoom)) / 2
    m = cv2.getRotationMatrix2D((cx, cy), angle, s * zoom)
    m[0, 2] += size / 2 - cx
    m[1, 2] += size / 2 - cy
    if aug.shift > 0:
        m[:, 2] += rng.uniform(-aug.shift, aug.shift, 2) * size
    if rng.random() < aug.flip:
        m[0] = -m[0]
        m[0, 2] += size - 1
    return m


def _permute_colors(imgs: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Same random hue rotation and channel permutation on every image of the triplet.

    The network then cannot recall a character's colours from its shape: they must come from the
    references, which is what a colourist expects when the palette changes between productions.
    """
    shift = int(rng.integers(0, 180))
    perm = rng.permutation(3)
    out = []
    for img in imgs:
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 180).astype(np.uint8)
        out.append(np.ascontiguousarray(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[..., perm]))
    return out


def _to_color_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1).float().div(127.5).sub(1.0)


def _to_line_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img)[None].float().div(127.5).sub(1.0)


class TripletDataset(Dataset):
    """(prev key, target, next key) triplets at ``size`` x ``size``; item ``key`` seeds its choices.

    Items are dicts of tensors: ``line`` (1,S,S), ``prev``/``target``/``next`` (3,S,S), ``t``
    (position of the target between the keys, 0..1) and, with ``flow_warp``, ``warp`` (3,S,S) the
    keys' colours propagated by line-art optical flow and ``occlusion`` (1,S,S) in [0, 1], high
    where that warp is inconsistent with the target's lines (issue 9 hooks).
    """

    def __init__(self, cuts: Sequence[CutSource], size: int = 224, gap: tuple[int, int] = (2, MAX_GAP),
                 augment: AugmentConfig | None = None, seed: int = 0, flow_warp: bool = False) -> None:
        if size % 16:
            raise ValueError(f"working size must be a multiple of 16, got {size}")
        lo, hi = gap
        if not 2 <= lo <= hi:
            raise ValueError(f"gap range must satisfy 2 <= min <= max, got {gap}")
        self.cuts = [c for c in cuts if len(c) >= MIN_FRAMES]
        if not self.cuts:
            raise TrainingDataError("no cut with at least 3 frames to make training triplets from")
        self.size, self.gap, self.seed, self.flow_warp = size, (lo, hi), seed, flow_warp
        self.augment = augment if augment is not None else AugmentConfig()
        # Every interior frame of every cut is a target once per epoch.
        self._index: list[tuple[int, int]] = [(ci, j) for ci, c in enumerate(self.cuts)
                                              for j in range(1, len(c) - 1)]

    def __len__(self) -> int:
        return len(self._index)

    def choose(self, key: int) -> tuple[int, int, int, int, np.random.Generator]:
        """(cut index, prev, target, next) for ``key`` and the item's random generator."""
        ci, j = self._index[key % len(self._index)]
        rng = np.random.default_rng([self.seed, key])
        n = len(self.cuts[ci])
        g_hi = min(self.gap[1], n - 1)
        g_lo = min(self.gap[0], g_hi)
        g = int(rng.integers(g_lo, g_hi + 1))
        p = int(rng.integers(max(0, j - g + 1), min(j - 1, n - 1 - g) + 1))
        return ci, p, j, p + g, rng

    def _prepare(self, img: np.ndarray, m: np.ndarray, pre: float) -> np.ndarray:
        if pre < 1.0:
            # Downscale with area averaging first: warpAffine alone would alias thin lines away.
            img = cv2.resize(img, None, fx=pre, fy=pre, interpolation=cv2.INTER_AREA)
        return cv2.warpAffine(img, m, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        ci, p, j, q, rng = self.choose(int(key))
        cut = self.cuts[ci]
        colors = [cut.color(p), cut.color(j), cut.color(q)]
        line = cut.line(j)
        key_lines = [cut.line(p), cut.line(q)] if self.flow_warp else []
        w, h = cut.size
        # Pre-resize so the source is at most ~1.3x the working size, then one affine does the rest.
        pre = min(1.0, 1.3 * self.size / min(w, h))
        pw, ph = max(1, round(w * pre)), max(1, round(h * pre))
        m = _geometry(pw, ph, self.size, self.augment, rng)
        colors = [self._prepare(c, m, pre) for c in colors]
        line = self._prepare(line, m, pre)
        key_lines = [self._prepare(k, m, pre) for k in key_lines]
        warp = occ = None
        if self.flow_warp:
            from opdm_studio.imaging.flow import propagate_two
            prop = propagate_two(line, colors[0], key_lines[0], colors[2], key_lines[1],
                                 t=(j - p) / (q - p))
            warp, occ = prop.rgb, 1.0 - prop.confidence
        if rng.random() < self.augment.hue:
            extra = [warp] if warp is not None else []
            permuted = _permute_colors(colors + extra, rng)
            colors, warp = permuted[:3], (permuted[3] if extra else None)
        item = {"line": _to_line_tensor(line), "prev": _to_color_tensor(colors[0]),
                "target": _to_color_tensor(colors[1]), "next": _to_color_tensor(colors[2]),
                "t": torch.tensor((j - p) / (q - p), dtype=torch.float32)}
        if warp is not None:
            item["warp"] = _to_color_tensor(warp)
            item["occlusion"] = torch.from_numpy(np.ascontiguousarray(occ, dtype=np.float32))[None]
        return item


class KeyedDistributedSampler(DistributedSampler):
    """DistributedSampler over item keys that can start mid-epoch (exact ``--resume``).

    Yields ``epoch * len(dataset) + index`` so every epoch draws fresh augmentations for the same
    frame, and skips the first ``start`` samples of this rank's share (already trained on).
    """

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, seed: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed,
                         drop_last=False)
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        """Begin at sample ``start`` of epoch ``epoch`` of this rank's share."""
        self.set_epoch(epoch)
        self.start = start

    def __iter__(self):
        base = self.epoch * len(self.dataset)  # type: ignore[arg-type]
        for n, i in enumerate(super().__iter__()):
            if n >= self.start:
                yield base + int(i)

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack a list of items into a batch dict."""
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def fixed_batch(dataset: TripletDataset, n: int, offset: int = 0) -> dict[str, torch.Tensor]:
    """The items with keys ``offset .. offset+n-1`` as one batch (validation, tests, previews)."""
    return collate([dataset[offset + i] for i in range(n)])


def preview_triplets(report: DataReport, n: int = 4, size: int = 128, seed: int = 0) -> list[np.ndarray]:
    """Rows of sampled triplets (line | prev | target | next) as uint8 RGB images for a data check."""
    ds = TripletDataset(report.cuts, size=size, augment=AugmentConfig.off(), seed=seed)
    rows = []
    for i in range(min(n, len(ds))):
        it = ds[(i * 7919) % len(ds)]
        tiles = [it["line"].expand(3, -1, -1), it["prev"], it["target"], it["next"]]
        rows.append(np.concatenate([tensor_to_rgb(t) for t in tiles], axis=1))
    return rows


def tensor_to_rgb(t: torch.Tensor) -> np.ndarray:
    """A (3,H,W) or (1,H,W) tensor in [-1, 1] as uint8 (H, W, 3)."""
    t = t.detach().float().cpu()
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    return ((t.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def worker_init(_: int) -> None:
    """DataLoader worker setup: one OpenCV thread per worker (workers are the parallelism)."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


Collate = Callable[[list[dict[str, torch.Tensor]]], dict[str, torch.Tensor]]
