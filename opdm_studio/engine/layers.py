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

from opdm_studio.engine.composite import compose, key_layers
from opdm_studio.engine.project import DATA_DIRNAME, Project
from opdm_studio.engine.sources import check_output_folder, check_unique_names, source_folders
from opdm_studio.errors import ExportError
from opdm_studio.imaging.export import frame_filename, write_png_atomic, write_psd

__all__ = ["check_free", "key_layers", "layer_paths", "output_targets", "store_result", "write_layers"]


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
    layers = None
    if any(layer != "composite" for layer in targets) or composite is None:
        # Only built when needed: the composite alone is already at hand for coloured frames
        # (THE composite, engine.composite.compose, as these layers are).
        layers = compose(project, index, color_only)
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


def data_paths(project: Project, index: int) -> tuple[str, str]:
    """Where frame ``index``'s stored result goes, relative to the project: (colour-only layer,
    confidence map)."""
    stem = project.data_stem(index)
    return f"{DATA_DIRNAME}/color/{stem}.png", f"{DATA_DIRNAME}/confidence/{stem}.png"


def data_owned(project: Project) -> set[str]:
    """Absolute paths of the data files this project's results name, or it claimed."""
    owned = project.owned_outputs()
    for res in project.results.values():
        owned.update(os.path.realpath(project.root / p)
                     for p in (res.color_path, res.confidence_path) if p)
    return owned


def store_result(project: Project, index: int, color_only: np.ndarray,
                  confidence_map: np.ndarray) -> tuple[str, str]:
    """Keep the colour-only layer and the confidence map in the project (for re-export, review)."""
    color_rel, conf_rel = data_paths(project, index)
    (project.root / color_rel).parent.mkdir(parents=True, exist_ok=True)
    (project.root / conf_rel).parent.mkdir(parents=True, exist_ok=True)
    conf8 = np.clip(confidence_map * 255.0 + 0.5, 0, 255).astype(np.uint8)
    # Fast compression: these are internal files, read back only for export and review.
    write_png_atomic(project.root / color_rel, color_only, overwrite=True, compress_level=1)
    write_png_atomic(project.root / conf_rel, conf8, overwrite=True, compress_level=1)
    return color_rel, conf_rel
