"""One image file: reading it with every check (:func:`read_image`), its header, and its bytes:
content digests and integrity checks that need no decoding.

:func:`read_image` turns any drawing or paint a studio saves (8/16-bit gray, RGB, RGBA, palette,
1-bit, CMYK; PNG, JPEG, TIFF, TGA, BMP, WebP) into uint8 pixels, and every file it cannot use
(empty, truncated, not an image, absurdly large, too small, an unsupported pixel format) into an
:class:`~opdm_studio.errors.ImageReadError` naming the file.

A cut run reads every drawing's bytes once before it starts (to find held drawings and to know
which results are out of date); :class:`FileDigests` keeps one digest per file, keyed by the
file's identity on disk (size, times, inode), so asking again costs a ``stat``, and an edited
file is read again. The same pass walks a PNG's chunks, so a truncated or damaged PNG is found
before the first frame is written rather than when its turn comes.
"""
from __future__ import annotations

import hashlib
import os
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from opdm_studio.errors import ImageReadError

__all__ = ["MAX_PIXELS", "MIN_SIDE", "FileDigests", "FileFacts", "file_signature", "image_header",
           "image_size", "over_white", "png_problem", "read_image"]

# 12k x 12k: beyond any animation frame; a header declaring more is a corrupt or hostile file.
MAX_PIXELS = 150_000_000
# Smaller than this is an icon or a placeholder, not a drawing; the line-art optical flow
# (OpenCV's DIS) needs at least 12 px on each side.
MIN_SIDE = 12

# Pillow modes we know how to turn into 8-bit gray / RGB / RGBA.
_SUPPORTED_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
                    "I;16", "I;16L", "I;16B", "I;16N", "I"}


def _open_checked(path: Path) -> Image.Image:
    """Open an image header with our checks (empty, not an image, bomb, tiny, mode)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if size == 0:
        raise ImageReadError(f"{path}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Only the header is read here: the size check below names the size (Pillow's
            # warning would call a big, sound drawing a bomb).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{path}: the image is larger than the {MAX_PIXELS // 1_000_000} "
                             f"megapixels OPDM Studio accepts ({exc})") from exc
    except PermissionError as exc:
        raise ImageReadError(f"{path}: permission denied") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc})") from exc
    w, h = img.size
    if w * h > MAX_PIXELS:
        img.close()
        raise ImageReadError(f"{path}: {w}x{h} pixels is larger than the {MAX_PIXELS // 1_000_000} "
                             f"megapixels OPDM Studio accepts")
    if min(w, h) < MIN_SIDE:
        img.close()
        raise ImageReadError(f"{path}: {w}x{h} pixels is too small to be a drawing (at least "
                             f"{MIN_SIDE}x{MIN_SIDE} pixels are needed)")
    if img.mode not in _SUPPORTED_MODES:
        mode = img.mode
        img.close()
        raise ImageReadError(f"{path}: unsupported pixel format '{mode}' "
                             f"(save the drawing as 8- or 16-bit gray, RGB or RGBA)")
    return img


def _decode(path: Path) -> np.ndarray:
    """Decode to uint8 (H,W) gray, (H,W,3) RGB or (H,W,4) RGBA."""
    img = _open_checked(path)
    try:
        with img:
            img.load()
            mode = img.mode
            if mode.startswith("I;16"):
                arr16 = np.asarray(img, dtype=np.uint16) if mode != "I;16B" else \
                    np.asarray(img).astype(np.uint16)
                # 16-bit to 8-bit by rounding, 65535 -> 255.
                return ((arr16.astype(np.uint32) + 128) // 257).astype(np.uint8)
            if mode == "I":
                # 32-bit integer gray: what older Pillow makes of 16-bit PNGs.
                arr32 = np.asarray(img, dtype=np.int64)
                if arr32.min() < 0 or arr32.max() > 65535:
                    raise ImageReadError(f"{path}: unsupported pixel format (32-bit integer values)")
                if arr32.max() > 255:
                    return ((arr32 + 128) // 257).astype(np.uint8)
                return arr32.astype(np.uint8)
            if mode == "1":
                img = img.convert("L")
            elif mode in ("P", "PA"):
                has_alpha = mode == "PA" or "transparency" in img.info
                img = img.convert("RGBA" if has_alpha else "RGB")
            elif mode in ("LA", "La", "RGBa"):
                img = img.convert("RGBA")
            elif mode in ("CMYK", "YCbCr", "RGBX"):
                img = img.convert("RGB")
            arr = np.asarray(img)
    except ImageReadError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # Pillow cannot decode 48/64-bit RGB TIFF: OpenCV can.
        deep = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.suffix.lower() in (".tif", ".tiff") else None
        if deep is None or deep.ndim != 3:
            reason = "truncated or damaged" if "truncat" in str(exc).lower() else str(exc)
            raise ImageReadError(f"{path}: the image cannot be decoded ({reason})") from exc
        arr = deep if deep.dtype == np.uint8 else ((deep.astype(np.uint32) + 128) // 257).astype(np.uint8)
        code = cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB
        return cv2.cvtColor(arr, code)
    if arr.dtype != np.uint8:
        raise ImageReadError(f"{path}: unsupported pixel format ({arr.dtype})")
    return np.ascontiguousarray(arr)


def over_white(rgba: np.ndarray) -> np.ndarray:
    """Composite RGBA on white paper -> RGB uint8."""
    a = rgba[..., 3:4].astype(np.uint16)
    rgb = rgba[..., :3].astype(np.uint16)
    return ((rgb * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def read_image(path: str | os.PathLike, mode: str = "rgb") -> np.ndarray:
    """Read an image file as uint8: ``mode`` "rgb" (H,W,3; alpha composited on white),
    "gray" (H,W), "rgba" (H,W,4) or "raw" (as stored: gray, RGB or RGBA).

    Raises :class:`ImageReadError` naming the file for empty, truncated, non-image, tiny,
    oversized or unsupported files.
    """
    path = Path(path)
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image")
    arr = _decode(path)
    if mode == "raw":
        return arr
    if mode == "rgba":
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.shape[2] == 3:
            arr = np.concatenate([arr, np.full(arr.shape[:2] + (1,), 255, np.uint8)], axis=2)
        return arr
    if arr.ndim == 2:
        rgb = np.repeat(arr[..., None], 3, axis=2)
    elif arr.shape[2] == 4:
        rgb = over_white(arr)
    else:
        rgb = arr
    if mode == "rgb":
        return np.ascontiguousarray(rgb)
    if mode == "gray":
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    raise ValueError(f"unknown mode {mode!r}")


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(W, H) of an image file from its header, with the same checks as :func:`read_image`."""
    return image_header(path)[0]


def image_header(path: str | os.PathLike) -> tuple[tuple[int, int], str]:
    """((W, H), Pillow mode) of an image file from its header, checked as :func:`read_image`."""
    img = _open_checked(Path(path))
    with img:
        return img.size, img.mode


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_CHUNK = 1 << 20


def file_signature(path: str | os.PathLike) -> tuple[int, ...] | None:
    """What changes when a file is replaced or edited: (size, mtime, ctime, inode, device);
    None when the file cannot be examined."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


@dataclass(frozen=True)
class FileFacts:
    """The digest of a file's bytes and, for a PNG, what is wrong with its structure."""

    digest: str                 # hex blake2b-128 of the bytes; "missing" / "unreadable: ..."
    problem: str | None = None  # None when the file looks whole


def png_problem(data: bytes) -> str | None:
    """Why the PNG ``data`` is damaged (truncated, bad chunk checksum, no end), or None.

    Walks the chunks without decompressing: each chunk's length must fit, its CRC must match,
    and the file must reach ``IEND``.
    """
    if not data.startswith(_PNG_MAGIC):
        return "not a PNG file"
    view = memoryview(data)
    pos, n = len(_PNG_MAGIC), len(data)
    while True:
        if pos + 8 > n:
            return "the file is truncated (it ends before the image does)"
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length + 4
        if end > n:
            return "the file is truncated (it ends before the image does)"
        crc = struct.unpack(">I", data[end - 4:end])[0]
        if zlib.crc32(view[pos + 4:end - 4]) & 0xFFFFFFFF != crc:
            return f"the file is damaged (checksum error in its {ctype.decode('latin-1')!r} chunk)"
        if ctype == b"IEND":
            return None
        pos = end


def _jpeg_problem(data: bytes) -> str | None:
    if not data.startswith(b"\xff\xd8"):
        return "not a JPEG file"
    # Some writers append data after the end marker; a cut-off file has no marker near the end.
    if b"\xff\xd9" not in data[-65536:]:
        return "the file is truncated (it ends before the image does)"
    return None


class FileDigests:
    """Content digests of files, read once per version of each file (thread-safe)."""

    def __init__(self) -> None:
        self._facts: dict[str, tuple[tuple[int, ...], FileFacts]] = {}
        self._lock = threading.Lock()

    def facts(self, path: str | os.PathLike) -> FileFacts:
        """Digest and integrity of ``path`` (read again only when the file changed)."""
        key = os.fspath(path)
        sig = file_signature(key)
        if sig is None:
            return FileFacts("missing", "the file does not exist or cannot be examined")
        with self._lock:
            hit = self._facts.get(key)
        if hit is not None and hit[0] == sig:
            return hit[1]
        facts = self._read(Path(key))
        with self._lock:
            self._facts[key] = (sig, facts)
        return facts

    def digest(self, path: str | os.PathLike) -> str:
        """Hex digest of the file's bytes ("missing" when it cannot be examined)."""
        return self.facts(path).digest

    @staticmethod
    def _read(path: Path) -> FileFacts:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            return FileFacts(f"unreadable: {exc.strerror or exc}", f"cannot be read ({exc.strerror or exc})")
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        suffix = path.suffix.lower()
        problem = None
        if suffix == ".png":
            problem = png_problem(data)
        elif suffix in (".jpg", ".jpeg"):
            problem = _jpeg_problem(data)
        return FileFacts(digest, problem)
