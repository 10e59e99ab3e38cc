"""Write results a compositor reads: atomic PNG files, layer images, names, layered PSD.

Every file is first written under a temporary name in the destination folder and then renamed
into place (:func:`opdm_studio.fileio.write_bytes_atomic`), so a crash, a full disk or a
cancelled export never leaves a half-written frame. Existing files are not overwritten unless
asked; folders the caller names as ``protected`` (the drawings, the keyframe paint) are never
written, whatever path (links, ``..``) leads to them.
"""
from __future__ import annotations

import errno
import io
import os
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from opdm_studio.errors import ExportError
from opdm_studio.fileio import write_bytes_atomic
from opdm_studio.imaging.lineart import (
    TRACE_SHOWN,
    TraceTreatment,
    composite_over,
    line_layer,
    painted_trace_mask,
)
from opdm_studio.imaging.regions import fill_line_pixels

__all__ = ["DEFAULT_TEMPLATE", "LAYER_SUFFIXES", "TEMPLATE_FIELDS", "Layers", "encode_png",
           "frame_filename", "make_layers", "same_folder", "check_template", "write_export",
           "write_png_atomic", "write_psd", "write_bytes_atomic"]

DEFAULT_TEMPLATE = "{cut}_{frame:04d}.png"
#: The fields a naming template may use (plain names, each with an optional format spec).
TEMPLATE_FIELDS = ("cut", "frame", "name")
#: Longest file name most file systems accept (bytes of the UTF-8 name).
MAX_NAME_BYTES = 255
LAYER_SUFFIXES = {"composite": "", "color": "_color", "lines": "_lines"}


def _explain(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is read-only or you lack permission to write there"
    if exc.errno == errno.ENOENT:
        return "the folder does not exist"
    if exc.errno == errno.ENAMETOOLONG:
        return "the file name is too long for this file system"
    if exc.errno == errno.ELOOP:
        return "the path is a loop of symbolic links"
    return exc.strerror or str(exc)


def same_folder(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same folder (through links, ``..``, bind mounts).

    Never raises: a path that cannot be examined (missing, a loop of links) only matches by
    its fully resolved spelling.
    """
    try:
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        pass
    else:
        return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return False


def _check_target(path: Path, overwrite: bool, protected: Iterable[str | os.PathLike]) -> None:
    parent = path.parent
    for p in protected:
        if same_folder(parent, p):
            raise ExportError(f"{path}: refusing to write into the source folder {p}")
    if not parent.is_dir():
        raise ExportError(f"{path}: the folder {parent} does not exist")
    if not overwrite and os.path.lexists(path):
        raise ExportError(f"{path}: the file already exists (choose another folder or allow overwriting)")


def write_export(path: str | os.PathLike, data: bytes, overwrite: bool = False,
                 protected: Iterable[str | os.PathLike] = ()) -> Path:
    """Write an exported file's ``data`` atomically (durably, via a temporary name and a rename).

    Raises :class:`ExportError` (read-only folder, full disk, existing file without
    ``overwrite``, a ``protected`` source folder); nothing is left behind on failure.
    """
    path = Path(path)
    protected = list(protected)
    _check_target(path, overwrite, protected)
    try:
        return write_bytes_atomic(path, data, fsync=True, overwrite=overwrite)
    except FileExistsError:
        raise ExportError(f"{path}: the file already exists (choose another folder or "
                          f"allow overwriting)") from None
    except OSError as exc:
        raise ExportError(f"{path}: cannot be written: {_explain(exc)}") from exc


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
    protected = list(protected)
    _check_target(path, overwrite, protected)   # before encoding: a refusal costs nothing
    return write_export(path, encode_png(image, compress_level), overwrite, protected)


@dataclass
class Layers:
    """The three images of one frame: composite RGB, colour-only RGB, lines-only RGBA."""
    composite: np.ndarray
    color: np.ndarray
    lines: np.ndarray

    def get(self, name: str) -> np.ndarray:
        """Layer by name: "composite", "color" or "lines"."""
        return {"composite": self.composite, "color": self.color, "lines": self.lines}[name]


def make_layers(color: np.ndarray, line_mask: np.ndarray, line_rgb: np.ndarray | None = None,
                treatment: TraceTreatment | None = None) -> Layers:
    """Layers of a coloured frame: THE composite (the app's viewer and every export use it).

    ``color`` uint8 (H, W, 3), with or without lines painted in; ``line_mask`` bool (H, W);
    ``line_rgb`` the original drawing in colour (None: black lines); ``treatment`` how the
    drawing's colour-trace lines show (None: as drawn). The colour layer fills line pixels from
    the neighbouring regions; the line layer is RGBA (opaque ink, soft fringe, transparent
    paper) without the trace lines the treatment paints over, which the colour layer shows
    instead (its own paint there, unless that is the line's colour: then the neighbours'). The
    composite is the line layer over the colour layer, so a compositor stacking the two layers
    gets exactly the composite.
    """
    if color.shape[:2] != line_mask.shape:
        raise ValueError(f"colour {color.shape[:2]} and line mask {line_mask.shape} differ in size")
    color = np.ascontiguousarray(color[..., :3])
    color_only = fill_line_pixels(color, line_mask)
    lines = line_layer(line_mask, line_rgb)
    if line_rgb is None or treatment is None:
        return Layers(composite=composite_over(color_only, lines), color=color_only, lines=lines)
    painted = painted_trace_mask(line_rgb, line_mask, treatment)
    if painted is not None and painted.any():
        lines[painted] = 0
        # Paint already over a painted-over line (a key's own, a hold of it) stays as painted.
        ink = painted & line_mask
        diff = np.abs(color[ink].astype(np.int16) - line_rgb[ink].astype(np.int16)).max(axis=1)
        own = np.zeros_like(ink)
        own[ink] = diff > TRACE_SHOWN
        color_only[own] = color[own]
    return Layers(composite=composite_over(color_only, lines), color=color_only, lines=lines)


def check_template(template: str) -> str:
    """``template`` if it uses only plain fields (``{cut}``, ``{frame}``, ``{name}``) with format
    specs, and at least ``{frame}`` or ``{name}``; else :class:`ExportError` saying why.

    Attribute or index access (``{cut.__class__}``, ``{name[0]}``), conversions (``!r``) and
    fields nested in a format spec are refused: a template names files, nothing else.
    """
    hint = f"use {{cut}}, {{frame}} or {{name}} with an optional format, e.g. {DEFAULT_TEMPLATE!r}"
    if not isinstance(template, str) or not template:
        raise ExportError(f"the naming template {template!r} is empty; {hint}")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ExportError(f"the naming template {template!r} is not valid ({exc}); {hint}") from None
    used = set()
    for _text, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in TEMPLATE_FIELDS or conversion is not None or (spec and "{" in spec):
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ExportError(f"the naming template {template!r} uses {shown}, which is not "
                              f"allowed; {hint}")
        used.add(field)
    if not used & {"frame", "name"}:
        raise ExportError(f"the naming template {template!r} must contain {{frame}} or {{name}} "
                          f"so every frame gets its own file; {hint}")
    return template


def frame_filename(cut: str, frame: int, template: str = DEFAULT_TEMPLATE, layer: str | None = None,
                   name: str | None = None) -> str:
    """File name of one exported frame: ``template`` with ``{cut}``, ``{frame}`` (the frame
    number as in the source names) and ``{name}`` (source file stem); a layer other than the
    composite adds its suffix (``_color``, ``_lines``) before the extension.

    Raises :class:`ExportError` for a template that is not plain fields with format specs
    (:func:`check_template`) and for a name that is not a usable file name (a folder separator,
    empty, or longer than 255 bytes).
    """
    check_template(template)
    try:
        base = template.format(cut=cut, frame=frame, name=name if name is not None else f"{frame:04d}")
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise ExportError(f"the naming template {template!r} is not valid ({exc}): use {{cut}}, "
                          f"{{frame}} or {{name}}, e.g. {DEFAULT_TEMPLATE!r}") from exc
    if any(sep in base for sep in ("/", "\\", "\0")) or base in ("", ".", ".."):
        raise ExportError(f"the naming template {template!r} gives {base!r}, which is not a file name")
    stem, ext = os.path.splitext(base)
    if ext.lower() not in (".png", ".psd"):
        stem, ext = base, ".png"
    if layer is not None:
        if layer not in LAYER_SUFFIXES:
            raise ValueError(f"unknown layer {layer!r}")
        stem += LAYER_SUFFIXES[layer]
    out = stem + ext
    size = len(out.encode("utf-8", "surrogateescape"))
    if size > MAX_NAME_BYTES:
        raise ExportError(f"the output file name {out[:40]}...{out[-12:]} would be {size} bytes "
                          f"long; file systems allow {MAX_NAME_BYTES}: choose a shorter naming "
                          f"template (e.g. --template '{{frame:04d}}.png')")
    return out


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
    return write_export(path, buf.getvalue(), overwrite, protected)
