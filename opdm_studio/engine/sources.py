"""What a project reads, and the checks that keep it untouched and its results honest.

- :func:`source_folders`: every folder the project reads (the cut folder, the drawing folder,
  the keyframe colour folder);
  :func:`check_output_folder` refuses to write into any of them, inside the drawing or paint
  folders, or anywhere the next opening of the cut would read as drawings or paint, whatever
  path (links, ``..``) leads there (the check is :mod:`opdm_studio.guard`'s).
- :func:`check_unique_names`: two frames must never be written to one file.
- :func:`frame_sources`: digests of the bytes a result was made from (the frame's drawing and
  its two keyframes' drawing and paint), stored with the result so an edited source makes the
  result out of date.

No pixels are decoded here; no Qt, no torch.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from opdm_studio.errors import ExportError
from opdm_studio.guard import Protected, check_may_write
from opdm_studio.imaging.cut import LINE_DIR_NAMES
from opdm_studio.imaging.export import same_folder

# Folder names the cut reader looks for beside or inside a drawing folder (imaging.cut).
_READ_NAMES = ("color", "colour", "keys", "paint", "lineart", "line", "lines", "sketch", "drawings")


def cut_root(cut: Any) -> Path:
    """The cut's own folder: the parent of a ``lineart`` (or ``line``, ...) drawing folder or of
    a drawing folder with its paint folder beside it, else the drawing folder itself."""
    folder = Path(cut.folder)
    color = getattr(cut, "color_dir", None)
    if folder.name.lower() in LINE_DIR_NAMES or (
            color is not None and same_folder(Path(color).parent, folder.parent)):
        return folder.parent
    return folder


def source_folders(project: Any) -> list[tuple[str, Path]]:
    """(role, folder) of every folder ``project`` reads, most specific role first."""
    return [(p.role, p.path) for p in protected_paths(project)]


def protected_paths(project: Any) -> list[Protected]:
    """Every path ``project`` reads, most specific role first: the drawing and paint folders
    with everything inside them; the cut's own folder and the folder given as the cut
    themselves (a subfolder such as ``cut/opdm`` is where the app keeps a project beside its
    cut). A keyframe image given as a file is read from a copy inside the project."""
    cut = project.cut
    out = [Protected("drawing folder of this cut", Path(cut.folder)),
           Protected("folder of this cut", cut_root(cut), "self"),
           Protected("folder of this cut", Path(project.cut_dir), "self")]
    if getattr(cut, "color_dir", None) is not None:
        out.append(Protected("keyframe colour folder of this cut", Path(cut.color_dir)))
    if project.key_dir is not None:
        out.append(Protected("keyframe colour folder of this cut", Path(project.key_dir)))
    return out


def _real(path: Path) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return os.path.abspath(path)


def check_output_folder(project: Any, out_dir: str | os.PathLike, what: str = "output folder") -> None:
    """Raise :class:`ExportError` when writing into ``out_dir`` could change what ``project``
    reads: a source folder itself or a folder inside the drawing or paint folders
    (:func:`opdm_studio.guard.check_may_write`), or a folder the cut reader would take for the
    cut's colour or drawing folder (``color``, ``lineart``, ... beside or inside the drawings)."""
    out = Path(out_dir)
    check_may_write(out, protected_paths(project), what)
    real_out = _real(out)
    drawings = _real(Path(project.cut.folder))
    parent = Path(real_out).parent
    for base in (Path(drawings), Path(drawings).parent):
        if same_folder(parent, base) and Path(real_out).name.lower() in _READ_NAMES:
            raise ExportError(f"the {what} {out} would be read as the cut's drawing or colour "
                              "folder next time; choose a folder with another name")


def check_unique_names(targets: Mapping[int, Mapping[str, Path]], frame_names: list[str],
                       hint: str) -> None:
    """Raise :class:`ExportError` listing the files that two or more frames would be written
    to (names compared ignoring case, as on Windows and macOS)."""
    by_file: dict[str, list[tuple[int, Path]]] = {}
    for index, layers in targets.items():
        for path in layers.values():
            by_file.setdefault(os.path.normcase(str(path)).casefold(), []).append((index, path))
    clashes = [(users[0][1], sorted({frame_names[i] for i, _ in users}))
               for users in by_file.values() if len({i for i, _ in users}) > 1]
    if not clashes:
        return
    shown = "; ".join(f"{path.name} <- {', '.join(names)}" for path, names in clashes[:5])
    more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
    raise ExportError(f"{len(clashes)} output file(s) would each be written by several frames "
                      f"({shown}{more}); nothing was written. {hint}")


def key_source_path(project: Any, index: int) -> Path | None:
    """The file keyframe ``index`` takes its paint from (None when it is not a keyframe)."""
    key = project.keyframes.get(index)
    if key is None:
        return None
    if key.source in ("file", "result") and key.path:
        return project.root / str(key.path)
    cut = project.cut
    return cut.color_path(index) or cut.frames[index].path   # a painted frame is its own paint


def frame_sources(project: Any, index: int, keys: Iterable[int] | None) -> dict[str, str]:
    """Digests of what frame ``index``'s result is made from: its drawing and, for each of its
    two keys, the key's drawing and paint."""
    digests = project.digests
    cut = project.cut
    out = {"drawing": digests.digest(cut.frames[index].path)}
    pair = tuple(keys) if keys is not None else ()
    for slot, k in zip(("prev", "next"), pair[:2], strict=False):
        paint = key_source_path(project, k)
        out[slot] = (digests.digest(cut.frames[k].path) + ":"
                     + (digests.digest(paint) if paint is not None else "none"))
    return out
