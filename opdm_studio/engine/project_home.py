"""Where a cut's project lives, opening it, and the bundled sample cut (no Qt here).

A project sits beside its cut so that results travel with it; the bundled sample and read-only
locations keep theirs in the user's data folder. The drawings themselves are never written.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from opdm_studio import paths
from opdm_studio.engine.project import PROJECT_FILENAME, Project
from opdm_studio.imaging.cut import LINE_DIR_NAMES, open_cut


def _resources_root() -> Path | None:
    try:
        from opdm_studio.resources import resource_path
        return Path(str(resource_path()))
    except Exception:
        return None


def sample_cut_path() -> Path | None:
    """The bundled sample cut folder, None if this install has none."""
    res = _resources_root()
    p = res / "sample_cut" if res is not None else None
    return p if p is not None and p.is_dir() and any(p.iterdir()) else None


def project_root_for(cut_folder: Path, cut_name: str) -> Path:
    """Where the project of a cut lives: beside the cut, or in the user's data folder.

    Beside the cut (``<cut>/opdm`` for a cut laid out as ``lineart/`` + ``color/``, else a sibling
    ``<cut>_opdm``) so results travel with the cut; the bundled sample and read-only locations use
    ``<data>/projects/<name>-<hash>`` instead. The drawings themselves are never written.
    """
    cut_folder = cut_folder.resolve()
    if cut_folder.name.lower() in LINE_DIR_NAMES:
        root = cut_folder.parent / "opdm"
    else:
        root = cut_folder.parent / f"{cut_folder.name}_opdm"
    res = _resources_root()
    inside_resources = res is not None and res.resolve() in cut_folder.parents
    if inside_resources or not os.access(root.parent, os.W_OK):
        digest = hashlib.sha1(str(cut_folder).encode()).hexdigest()[:8]
        root = paths.data_dir() / "projects" / f"{cut_name}-{digest}"
    return root


def open_project(folder: str | os.PathLike) -> Project:
    """The project of a cut folder (or a project folder / file): the cut's existing project
    resumed, else a new one beside the cut whose keyframes are the frames its colour folder paints."""
    folder = Path(folder)
    if folder.is_file() and folder.name == PROJECT_FILENAME:
        return Project.load(folder)
    if folder.is_dir() and (folder / PROJECT_FILENAME).is_file():
        return Project.load(folder)
    cut = open_cut(folder)
    root = project_root_for(cut.folder, cut.name)
    if (root / PROJECT_FILENAME).is_file():
        return Project.load(root, cut=cut)
    project = Project.create(cut.folder, root, cut=cut, key_dir=cut.color_dir)
    # Frames painted in the cut's colour folder are the keyframes to start from. Only the
    # folder listing is consulted: decoding every drawing here would make opening slow.
    for i in range(len(cut)):
        if cut.color_path(i) is not None:
            project.set_keyframe(i)
    return project
