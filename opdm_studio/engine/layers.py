"""The files of one finished frame: its layer PNGs / PSD in the output folder and the result the
project keeps (colour-only layer and confidence map, for re-export and review).

Every write is atomic and never goes into a folder the project reads (drawings, paint: see
:func:`~opdm_studio.engine.sources.source_folders`); files the project did not write are refused
unless the user allows overwriting; two frames never share an output file
(:func:`output_targets` refuses before anything is written).
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from opdm_studio.engine.frame import line_mask_of
from opdm_studio.engine.project import DATA_DIRNAME, Project
from opdm_studio.engine.sources import check_output_folder, check_unique_names, source_folders
from opdm_studio.errors import ExportError
from opdm_studio.imaging.export import (
    frame_filename,
    make_layers,
    write_png_atomic,
    write_psd,
)
from opdm_studio.imaging.lineart import luminance
from opdm_studio.imaging.regions import fill_line_pixels


def layer_paths(project: Project, index: int, layers: Iterable[str], out_dir: Path,
                template: str, psd: bool) -> dict[str, Path]:
    """Output file of each requested layer (and "psd") of frame ``index``."""
    info = project.cut.frames[index]
    cut_name = project.cut.name
    stem = Path(info.name).stem
    out: dict[str, Path] = {}
    for layer in layers:
        out[layer] = out_dir / frame_filename(cut_name, info.number, template, layer=layer, name=stem)
    if psd:
        base = frame_filename(cut_name, info.number, template, layer=None, name=stem)
        out["psd"] = out_dir / (Path(base).stem + ".psd")
    return out


def output_targets(project: Project, indices: Iterable[int], layers: Iterable[str],
                   out_dir: Path, template: str, psd: bool) -> dict[int, dict[str, Path]]:
    """The output files of frames ``indices``, after checking (before anything is written) that
    ``out_dir`` is no folder the project reads and that no two frames share a file."""
    check_output_folder(project, out_dir)
    layers = list(layers)
    targets = {i: layer_paths(project, i, layers, out_dir, template, psd) for i in indices}
    check_unique_names(targets, project.frame_names(),
                       "Use a naming template that tells these frames apart, e.g. "
                       "--template '{name}.png' (the drawing's own file name).")
    return targets


def check_free(targets: Iterable[Path], owned: set[str], overwrite: bool) -> None:
    """Refuse (before any work) to replace files the project did not write, unless ``overwrite``."""
    if overwrite:
        return
    clash = [p for p in targets if os.path.lexists(p) and os.path.realpath(p) not in owned]
    if clash:
        more = f" and {len(clash) - 1} more" if len(clash) > 1 else ""
        raise ExportError(f"{clash[0]} already exists{more}; choose another output folder or "
                          "allow overwriting (--overwrite)")


def write_layers(project: Project, index: int, color_only: np.ndarray,
                  composite: np.ndarray | None, targets: dict[str, Path]) -> dict[str, str]:
    """Write the requested layers of one frame atomically; returns layer -> absolute path."""
    cut = project.cut
    layers = None
    if any(layer != "composite" for layer in targets) or composite is None:
        # Only built when needed: the composite alone is already at hand for coloured frames.
        layers = make_layers(color_only, line_mask_of(cut.line(index)), cut.line_rgb(index))
    protected = [folder for _role, folder in source_folders(project)]
    written: dict[str, str] = {}
    for layer, path in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if layer == "psd":
            assert layers is not None
            write_psd(path, layers.color, layers.lines, overwrite=True, protected=protected)
        else:
            if layer == "composite" and composite is not None:
                img = composite
            else:
                assert layers is not None
                img = layers.get(layer)
            write_png_atomic(path, img, overwrite=True, protected=protected)
        written[layer] = os.path.realpath(path)
    return written


def store_result(project: Project, index: int, color_only: np.ndarray,
                  confidence_map: np.ndarray) -> tuple[str, str]:
    """Keep the colour-only layer and the confidence map in the project (for re-export, review)."""
    stem = project.data_stem(index)
    color_rel = f"{DATA_DIRNAME}/color/{stem}.png"
    conf_rel = f"{DATA_DIRNAME}/confidence/{stem}.png"
    (project.root / color_rel).parent.mkdir(parents=True, exist_ok=True)
    (project.root / conf_rel).parent.mkdir(parents=True, exist_ok=True)
    conf8 = np.clip(confidence_map * 255.0 + 0.5, 0, 255).astype(np.uint8)
    # Fast compression: these are internal files, read back only for export and review.
    write_png_atomic(project.root / color_rel, color_only, overwrite=True, compress_level=1)
    write_png_atomic(project.root / conf_rel, conf8, overwrite=True, compress_level=1)
    return color_rel, conf_rel


def key_layers(project: Project, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(colour-only, composite) of keyframe ``index``.

    A painted key that already shows the drawing's lines is its own composite, byte for byte
    (the colourist's paint is the truth); a colour-only key (a promoted result, or a paint file
    without lines) gets the original lines put on top.
    """
    rgb = project.key_color(index)
    cut = project.cut
    mask = line_mask_of(cut.line(index))
    color_only = fill_line_pixels(rgb, mask)
    source = project.keyframes[index].source
    # Lines are present when most ink pixels of the drawing are dark in the key image too.
    has_lines = bool(mask.any()) and float(np.mean(luminance(rgb)[mask] < 128)) > 0.5
    if source != "result" and has_lines:
        return color_only, rgb
    return color_only, make_layers(color_only, mask, cut.line_rgb(index)).composite
