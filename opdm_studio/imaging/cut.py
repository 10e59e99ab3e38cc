"""Read a cut: a folder of line-art drawings, one per frame, plus the colour of its keyframes.

What a colourist's folder can hold and how it is read:

* frames in natural order (``a2`` before ``a10``); PNG, JPEG, TIFF (8/16 bit), TGA, BMP, WebP;
* gray, RGB, RGBA, palette images; lines on a transparent background are read from alpha;
* white lines on black are detected and inverted so ink is always dark;
* coloured trace lines (red/blue shadow lines) count as ink and keep their colour in ``line_rgb``;
* a frame that is itself a colour painting is a keyframe: its lines are extracted by high-pass;
* the colour of a keyframe can also be a same-named file in a sibling folder named
  ``color``, ``colour``, ``keys`` or ``paint`` (next to the cut folder or inside it);
* non-image and hidden files are skipped with a warning; frames of different sizes raise
  :class:`CutError` listing the odd files; held drawings (identical consecutive frames) are found.

Pixels are loaded lazily and kept in a bounded LRU cache so a 500-frame 2K cut fits in memory.
"""
from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from opdm_studio.errors import CutError, ImageReadError
from opdm_studio.imaging.files import (
    FileDigests,
    file_signature,
    image_header,
    image_size,
    over_white,
    read_image,
)
from opdm_studio.imaging.lineart import (
    darkness_to_lineart,
    extract_lines,
    line_mask_from_drawing,
    rgb_lines_to_gray,
)

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".tga", ".bmp", ".webp"}
COLOR_DIR_NAMES = ("color", "colour", "keys", "paint")
LINE_DIR_NAMES = ("lineart", "line", "lines", "sketch", "drawings")
DEFAULT_CACHE_BYTES = 512 * 1024 * 1024


def natural_key(name: str) -> list:
    """Sort key that orders digit runs by value: ``a2`` < ``a10``."""
    return [(0, int(tok), tok) if tok.isdigit() else (1, 0, tok.lower())
            for tok in re.split(r"(\d+)", name) if tok != ""]


def _frame_number(stem: str, default: int) -> int:
    # The last run of digits names the frame in animation numbering (cut012_0034 -> 34).
    runs = re.findall(r"\d+", stem)
    return int(runs[-1]) if runs else default


def is_color_painting(rgb: np.ndarray) -> bool:
    """True when an RGB frame is a colour painting (a keyframe) rather than line art.

    Line art is mostly paper with thin ink; even with red/blue trace lines only a few per cent
    of the pixels are chromatic. A painting has large chromatic or mid-tone areas.
    """
    small = rgb
    h, w = rgb.shape[:2]
    step = max(1, int(np.sqrt(h * w / 65536)))
    small = rgb[::step, ::step].astype(np.int16)
    chroma = small.max(axis=2) - small.min(axis=2)
    gray = small.mean(axis=2)
    chromatic = float(np.mean(chroma > 40))
    # Mid-tone gray areas (neither paper nor ink) also mean paint (gray-scale keys, shading).
    midtone = float(np.mean((gray > 60) & (gray < 200)))
    return chromatic > 0.15 or (chromatic > 0.05 and midtone > 0.3)


@dataclass(frozen=True)
class FrameInfo:
    """One frame of a cut: position, file name, path, animation number and size (W, H)."""
    index: int
    name: str
    path: Path
    number: int
    size: tuple[int, int]


class _LRU:
    """Thread-safe LRU cache of numpy arrays bounded by total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key, make: Callable[[], object]):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()
        nbytes = _nbytes(value)
        with self._lock:
            if key not in self._data and nbytes <= self.max_bytes:
                self._data[key] = value
                self._bytes += nbytes
                while self._bytes > self.max_bytes and self._data:
                    _, old = self._data.popitem(last=False)
                    self._bytes -= _nbytes(old)
        return value

    def drop(self, key) -> None:
        """Forget one entry."""
        with self._lock:
            value = self._data.pop(key, None)
            if value is not None:
                self._bytes -= _nbytes(value)

    @property
    def nbytes(self) -> int:
        """Bytes currently held."""
        return self._bytes

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._data.clear()
            self._bytes = 0


def _nbytes(value) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Cached frames are dataclasses of arrays: count their arrays, or the cache has no bound.
        return sum(_nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 64 if value is not None else 0


@dataclass
class _Loaded:
    line: np.ndarray       # uint8 (H, W), 255 paper, 0 ink
    line_rgb: np.ndarray   # uint8 (H, W, 3)
    color: np.ndarray | None  # uint8 (H, W, 3) when the frame file is itself a colour painting
    inverted: bool


class Cut:
    """An opened cut folder: frames in natural order, lazily loaded line art and keyframe colour."""

    def __init__(self, folder: Path, frames: list[FrameInfo], color_paths: dict[int, Path],
                 warnings_: list[str], color_dir: Path | None, cache_bytes: int) -> None:
        self.folder = folder
        self.frames = frames
        self.color_dir = color_dir
        self.warnings = warnings_
        self._color_paths = color_paths
        self._cache = _LRU(cache_bytes)
        self._digests: dict[int, bytes] = {}
        self._hold: dict[int, int] = {}
        self._lock = threading.Lock()
        self._inverted: set[int] = set()
        # The file identity each cached image was decoded from (see refresh()).
        self._decoded_from: dict[tuple[str, int], tuple[Path, tuple[int, ...] | None]] = {}

    @property
    def name(self) -> str:
        """Name of the cut (its folder; the parent when the lines sit in a ``lineart`` folder)."""
        if self.folder.name.lower() in LINE_DIR_NAMES and self.folder.parent.name:
            return self.folder.parent.name
        return self.folder.name

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> tuple[int, int]:
        """(W, H) of every frame."""
        return self.frames[0].size

    def _load(self, i: int) -> _Loaded:
        info = self.frames[i]

        def make() -> _Loaded:
            self._decoded_from[("frame", i)] = (info.path, file_signature(info.path))
            raw = read_image(info.path, mode="raw")
            loaded = _lines_from_raw(raw)
            if loaded.inverted:
                with self._lock:
                    if i not in self._inverted:
                        self._inverted.add(i)
                        self.warnings.append(f"{info.name}: white lines on black, inverted")
            return loaded

        return self._cache.get(("frame", i), make)

    def line(self, i: int) -> np.ndarray:
        """uint8 (H, W) line drawing of frame i: 255 paper, 0 ink (polarity fixed, alpha read)."""
        return self._load(i).line

    def line_mask(self, i: int, threshold: int = 160) -> np.ndarray:
        """bool (H, W) ink mask of frame i (True on ink, coloured trace lines included)."""
        return line_mask_from_drawing(self.line(i), threshold)

    def line_rgb(self, i: int) -> np.ndarray:
        """uint8 (H, W, 3) line drawing in its original colours (trace lines keep their colour)."""
        return self._load(i).line_rgb

    def has_color(self, i: int) -> bool:
        """True when frame i has a keyframe colour (sibling colour file or a painted frame)."""
        if i in self._color_paths:
            return True
        return self._load(i).color is not None

    def color(self, i: int) -> np.ndarray | None:
        """uint8 (H, W, 3) keyframe colour of frame i, or None."""
        path = self._color_paths.get(i)
        if path is None:
            return self._load(i).color

        def make() -> np.ndarray:
            self._decoded_from[("color", i)] = (path, file_signature(path))
            rgb = read_image(path, mode="rgb")
            if (rgb.shape[1], rgb.shape[0]) != self.frames[i].size:
                w, h = self.frames[i].size
                raise CutError(f"{path}: colour is {rgb.shape[1]}x{rgb.shape[0]} but the drawing "
                               f"{self.frames[i].name} is {w}x{h}")
            return rgb

        return self._cache.get(("color", i), make)

    def color_path(self, i: int) -> Path | None:
        """Path of the sibling colour file of frame i, if any."""
        return self._color_paths.get(i)

    def _digest(self, i: int) -> bytes:
        with self._lock:
            if i in self._digests:
                return self._digests[i]
        d = hashlib.blake2b(self.line_rgb(i).tobytes(), digest_size=16).digest()
        with self._lock:
            self._digests[i] = d
        return d

    def is_held(self, i: int) -> bool:
        """True when frame i repeats the drawing of frame i-1."""
        return i > 0 and self._digest(i) == self._digest(i - 1)

    def hold_of(self, i: int) -> int:
        """Index of the first frame of the hold frame i belongs to (== i for a new drawing)."""
        if not 0 <= i < len(self.frames):
            raise IndexError(i)
        with self._lock:
            if i in self._hold:
                return self._hold[i]
        j = i
        while j > 0 and self.is_held(j):
            j -= 1
            with self._lock:
                if j in self._hold:
                    j = self._hold[j]
                    break
        with self._lock:
            self._hold[i] = j
        return j

    def holds(self) -> list[int]:
        """``hold_of`` for every frame (reads every frame once)."""
        return [self.hold_of(i) for i in range(len(self.frames))]

    def keyframes(self) -> list[int]:
        """Indices of frames that have a colour (sibling files, then painted frames on demand)."""
        return [i for i in range(len(self.frames)) if self.has_color(i)]

    def refresh(self) -> list[int]:
        """Forget the cached pixels of drawings and colour files edited since they were read;
        returns the frame indices concerned (their held-drawing links are found again)."""
        stale = [key for key, (path, sig) in list(self._decoded_from.items())
                 if file_signature(path) != sig]
        for key in stale:
            self._cache.drop(key)
            self._decoded_from.pop(key, None)
        touched = sorted({i for _, i in stale})
        if touched:
            with self._lock:
                self._digests.clear()
                self._hold.clear()
        return touched

    def check_files(self, indices: Iterable[int], digests: FileDigests | None = None,
                    colors: bool = True) -> None:
        """Check, before any work, that frames ``indices`` can be read: every drawing's header
        (size, pixel format), its bytes (a truncated or damaged PNG / JPEG), and with ``colors``
        the size of its keyframe colour file. Raises :class:`ImageReadError` / :class:`CutError`
        naming the first bad file.

        32-bit integer drawings, whose values the header cannot tell, are decoded here.
        """
        digests = digests or FileDigests()
        w, h = self.size
        for i in sorted(set(indices)):
            info = self.frames[i]
            paths = [info.path]
            cpath = self._color_paths.get(i) if colors else None
            if cpath is not None:
                paths.append(cpath)
            for path in paths:
                size, mode = image_header(path)
                if size != (w, h):
                    what = "colour" if path == cpath else "drawing"
                    raise CutError(f"{path}: {what} is {size[0]}x{size[1]} but the cut's drawings "
                                   f"are {w}x{h}")
                problem = digests.facts(path).problem
                if problem is not None:
                    raise ImageReadError(f"{path}: {problem}")
                if mode == "I":
                    read_image(path, mode="raw")


def _lines_from_raw(raw: np.ndarray) -> _Loaded:
    """Line drawing + original line colours (+ colour if the frame is a painting)."""
    if raw.ndim == 3 and raw.shape[2] == 4:
        alpha = raw[..., 3]
        if alpha.min() < 250:
            opaque = alpha > 127
            rgb = raw[..., :3]
            lum = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
            if opaque.any() and float(lum[opaque].mean()) > 160:
                # Light (often white) strokes stored on transparency: the ink is the alpha itself.
                line = (255 - alpha).astype(np.uint8)
                return _Loaded(line, np.repeat(line[..., None], 3, axis=2), None, False)
            line_rgb = over_white(raw)
            return _Loaded(rgb_lines_to_gray(line_rgb), line_rgb, None, False)
        raw = np.ascontiguousarray(raw[..., :3])
    if raw.ndim == 2:
        gray = raw
        inverted = _is_inverted(gray)
        if inverted:
            gray = 255 - gray
        return _Loaded(gray, np.repeat(gray[..., None], 3, axis=2), None, inverted)
    if is_color_painting(raw):
        line = darkness_to_lineart(extract_lines(raw))
        return _Loaded(line, np.repeat(line[..., None], 3, axis=2), raw, False)
    gray = rgb_lines_to_gray(raw)
    if _is_inverted(gray):
        rgb = 255 - raw
        return _Loaded(rgb_lines_to_gray(rgb), rgb, None, True)
    return _Loaded(gray, raw, None, False)


def _is_inverted(gray: np.ndarray) -> bool:
    # Paper covers most of a drawing: if most pixels are dark, the paper is black.
    step = max(1, int(np.sqrt(gray.size / 65536)))
    return float(np.median(gray[::step, ::step])) < 110


def _list_images(folder: Path, warn: list[str]) -> list[Path]:
    try:
        entries = list(os.scandir(folder))
    except PermissionError as exc:
        raise CutError(f"{folder}: the folder cannot be read (permission denied)") from exc
    except FileNotFoundError as exc:
        raise CutError(f"{folder}: the folder does not exist") from exc
    except NotADirectoryError as exc:
        raise CutError(f"{folder}: is a file, not a folder of drawings") from exc
    except OSError as exc:
        raise CutError(f"{folder}: the folder cannot be read ({exc.strerror or exc})") from exc
    images, hidden, other = [], [], []
    for e in entries:
        if e.name.startswith(".") or e.name in ("Thumbs.db", "desktop.ini"):
            hidden.append(e.name)
            continue
        try:
            is_file = e.is_file()
        except OSError:
            is_file = False
        if not is_file:
            continue
        if Path(e.name).suffix.lower() in IMAGE_EXTENSIONS:
            images.append(Path(e.path))
        else:
            other.append(e.name)
    if hidden:
        warn.append(f"skipped {len(hidden)} hidden file(s): " + ", ".join(sorted(hidden, key=natural_key)))
    if other:
        warn.append(f"skipped {len(other)} file(s) that are not images: "
                    + ", ".join(sorted(other, key=natural_key)))
    images.sort(key=lambda p: natural_key(p.name))
    return images


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _find_color_dir(folder: Path) -> Path | None:
    candidates = []
    for base in (folder, folder.parent):
        try:
            children = [c for c in base.iterdir() if c.is_dir()]
        except OSError:
            continue
        for name in COLOR_DIR_NAMES:
            for c in children:
                if c.name.lower() == name and not _same_dir(c, folder):
                    candidates.append(c)
    return candidates[0] if candidates else None


def open_cut(folder: str | os.PathLike, color_dir: str | os.PathLike | None = None,
             cache_bytes: int = DEFAULT_CACHE_BYTES) -> Cut:
    """Open a cut folder (see the module doc). Raises :class:`CutError` for unusable folders."""
    # Absolute (links kept): `colorize .` inside cut/lineart must still see ../color.
    folder = Path(os.path.abspath(folder))
    try:
        os.stat(folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CutError(f"{folder}: the path is a loop of symbolic links") from None
    if not folder.exists():
        raise CutError(f"{folder}: the folder does not exist")
    if not folder.is_dir():
        raise CutError(f"{folder}: is a file, not a folder of drawings")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise CutError(f"{folder}: the folder cannot be read (permission denied)")
    warn: list[str] = []
    paths = _list_images(folder, warn)
    if not paths:
        # A cut laid out as cut/lineart + cut/color: open the line folder.
        for name in LINE_DIR_NAMES:
            sub = next((c for c in folder.iterdir() if c.is_dir() and c.name.lower() == name), None)
            if sub is not None:
                return open_cut(sub, color_dir=color_dir, cache_bytes=cache_bytes)
        raise CutError(f"{folder}: holds no drawings (PNG, JPEG, TIFF, TGA, BMP or WebP)")
    frames = []
    for i, p in enumerate(paths):
        w, h = image_size(p)
        frames.append(FrameInfo(i, p.name, p, _frame_number(p.stem, i), (w, h)))
    sizes: dict[tuple[int, int], list[str]] = {}
    for f in frames:
        sizes.setdefault(f.size, []).append(f.name)
    if len(sizes) > 1:
        main_size = max(sizes, key=lambda s: len(sizes[s]))
        odd = [f"{n} ({s[0]}x{s[1]})" for s, names in sizes.items() if s != main_size for n in names]
        raise CutError(f"{folder}: frames must all have the same size; most are "
                       f"{main_size[0]}x{main_size[1]} but these differ: " + ", ".join(odd[:20])
                       + (f" and {len(odd) - 20} more" if len(odd) > 20 else ""))
    cdir = Path(os.path.abspath(color_dir)) if color_dir is not None else _find_color_dir(folder)
    color_paths: dict[int, Path] = {}
    if cdir is not None:
        if color_dir is not None and not cdir.is_dir():
            raise CutError(f"{cdir}: the colour folder does not exist")
        cwarn: list[str] = []
        by_stem = {p.stem: p for p in _list_images(cdir, cwarn)}
        for f in frames:
            cp = by_stem.get(Path(f.name).stem)
            if cp is not None:
                color_paths[f.index] = cp
        unmatched = sorted(set(by_stem) - {Path(f.name).stem for f in frames}, key=natural_key)
        if unmatched:
            warn.append(f"colour files without a drawing of the same name in {cdir.name}: "
                        + ", ".join(unmatched[:20]))
    return Cut(folder, frames, color_paths, warn, cdir, cache_bytes)
