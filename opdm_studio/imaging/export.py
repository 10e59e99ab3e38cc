"""Write results a compositor reads: atomic PNG files, layer images, names, layered PSD.

Every file is first written under a temporary name in the destination folder and then renamed
into place, so a crash, a full disk or a cancelled export never leaves a half-written frame.
Existing files are not overwritten unless asked; the source folder can be protected explicitly.
"""
from __future__ import annotations

import errno
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from opdm_studio.errors import ExportError
from opdm_studio.imaging.lineart import composite_over, line_layer
from opdm_studio.imaging.regions import fill_line_pixels

DEFAULT_TEMPLATE = "{cut}_{frame:04d}.png"

# mkstemp creates files readable by the owner only; results must get the usual permissions
# (what open() would give under the user's umask) so that a compositor or a render farm reads them.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
LAYER_SUFFIXES = {"composite": "", "color": "_color", "lines": "_lines"}


def _explain(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is read-only or you lack permission to write there"
    if exc.errno == errno.ENOENT:
        return "the folder does not exist"
    return exc.strerror or str(exc)


def _check_target(path: Path, overwrite: bool, protected: Iterable[str | os.PathLike]) -> None:
    parent = path.parent
    for p in protected:
        try:
            if parent.resolve() == Path(p).resolve():
                raise ExportError(f"{path}: refusing to write into the source folder {p}")
        except OSError:
            continue
    if not parent.is_dir():
        raise ExportError(f"{path}: the folder {parent} does not exist")
    if path.exists() and not overwrite:
        raise ExportError(f"{path}: the file already exists (choose another folder or allow overwriting)")


def write_bytes_atomic(path: str | os.PathLike, data: bytes, overwrite: bool = False,
                       protected: Iterable[str | os.PathLike] = ()) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    Raises :class:`ExportError` (read-only folder, full disk, existing file without
    ``overwrite``, protected source folder); nothing is left behind on failure.
    """
    path = Path(path)
    _check_target(path, overwrite, protected)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            # A hard link fails if the name appeared meanwhile: no race with another writer.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ExportError(f"{path}: the file already exists (choose another folder or "
                                  f"allow overwriting)") from None
            except OSError:
                # File systems without hard links (FAT, some network shares): check then rename.
                if path.exists():
                    raise ExportError(f"{path}: the file already exists") from None
                os.replace(tmp, path)
            else:
                os.unlink(tmp)
        tmp = None
    except OSError as exc:
        raise ExportError(f"{path}: cannot be written: {_explain(exc)}") from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path


def encode_png(image: np.ndarray, compress_level: int = 3) -> bytes:
    """PNG bytes of a uint8 gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image."""
    if image.dtype != np.uint8:
        raise ValueError(f"PNG export needs uint8 pixels, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3:
        arr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        arr = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    elif image.ndim == 2:
        arr = image
    else:
        raise ValueError(f"cannot write an image of shape {image.shape} as PNG")
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr), [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def write_png_atomic(path: str | os.PathLike, image: np.ndarray, overwrite: bool = False,
                     protected: Iterable[str | os.PathLike] = (), compress_level: int = 3) -> Path:
    """Write an 8-bit PNG atomically (temp name in the same folder + ``os.replace``).

    Raises :class:`ExportError` for a read-only folder, a full disk, an existing file (unless
    ``overwrite``) or a target inside a ``protected`` (source) folder.
    """
    path = Path(path)
    _check_target(path, overwrite, protected)
    return write_bytes_atomic(path, encode_png(image, compress_level), overwrite, protected)


@dataclass
class Layers:
    """The three images of one frame: composite RGB, colour-only RGB, lines-only RGBA."""
    composite: np.ndarray
    color: np.ndarray
    lines: np.ndarray

    def get(self, name: str) -> np.ndarray:
        """Layer by name: "composite", "color" or "lines"."""
        return {"composite": self.composite, "color": self.color, "lines": self.lines}[name]


def make_layers(color: np.ndarray, line_mask: np.ndarray, line_rgb: np.ndarray | None = None) -> Layers:
    """Layers of a coloured frame.

    ``color`` uint8 (H, W, 3), with or without lines painted in; ``line_mask`` bool (H, W);
    ``line_rgb`` the original drawing in colour (None: black lines). The colour layer fills
    line pixels from the neighbouring regions; the line layer is RGBA (opaque ink, soft fringe,
    transparent paper); the composite is the line layer over the colour layer, so a compositor
    stacking the two layers gets exactly the composite.
    """
    if color.shape[:2] != line_mask.shape:
        raise ValueError(f"colour {color.shape[:2]} and line mask {line_mask.shape} differ in size")
    color_only = fill_line_pixels(np.ascontiguousarray(color[..., :3]), line_mask)
    lines = line_layer(line_mask, line_rgb)
    return Layers(composite=composite_over(color_only, lines), color=color_only, lines=lines)


def frame_filename(cut: str, frame: int, template: str = DEFAULT_TEMPLATE, layer: str | None = None,
                   name: str | None = None) -> str:
    """File name of one exported frame: ``template`` with ``{cut}``, ``{frame}`` (the frame
    number as in the source names) and ``{name}`` (source file stem); a layer other than the
    composite adds its suffix (``_color``, ``_lines``) before the extension."""
    try:
        base = template.format(cut=cut, frame=frame, name=name if name is not None else f"{frame:04d}")
    except (KeyError, IndexError, ValueError) as exc:
        raise ExportError(f"the naming template {template!r} is not valid: use {{cut}}, {{frame}} "
                          f"or {{name}}, e.g. {DEFAULT_TEMPLATE!r}") from exc
    if any(sep in base for sep in ("/", "\\")) or base in ("", ".", ".."):
        raise ExportError(f"the naming template {template!r} gives {base!r}, which is not a file name")
    stem, ext = os.path.splitext(base)
    if ext.lower() not in (".png", ".psd"):
        stem, ext = base, ".png"
    if layer is not None:
        if layer not in LAYER_SUFFIXES:
            raise ValueError(f"unknown layer {layer!r}")
        stem += LAYER_SUFFIXES[layer]
    return stem + ext


def write_psd(path: str | os.PathLike, color: np.ndarray, lines_rgba: np.ndarray, overwrite: bool = False,
              protected: Iterable[str | os.PathLike] = ()) -> Path:
    """Layered PSD (a "Colour" layer under a "Lines" layer with transparency), atomically."""
    from PIL import Image
    from psd_tools import PSDImage
    from psd_tools.api.layers import PixelLayer

    h, w = color.shape[:2]
    psd = PSDImage.new("RGBA", (w, h))
    PixelLayer.frompil(Image.fromarray(np.ascontiguousarray(color[..., :3]), "RGB").convert("RGBA"),
                       psd, name="Colour")
    PixelLayer.frompil(Image.fromarray(np.ascontiguousarray(lines_rgba), "RGBA"), psd, name="Lines")
    buf = io.BytesIO()
    psd.save(buf)
    return write_bytes_atomic(path, buf.getvalue(), overwrite, protected)
