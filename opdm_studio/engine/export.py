"""Re-export: write the stored results of a project again (other layers, naming or folder).

The one export path: the command line's ``opdm-studio export`` and the app's export dialog both
call :func:`export_results`, so they write the same files, and the same protections hold for
both: never into a folder the project reads (drawings, paint), never two frames into one file,
never over a file unless asked. What is written shows the colourist's fixes and the palette's
current colours (:func:`~opdm_studio.engine.composite.shown_layers`), as the run writes them
and the app's viewer shows them;
:func:`refresh_layers` writes the run's own layer files again after they changed.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from opdm_studio.engine.composite import shown_layers
from opdm_studio.engine.fixes import fixer_for
from opdm_studio.engine.layers import check_free, output_targets, write_layers
from opdm_studio.engine.project import ColorizeSettings, Project
from opdm_studio.errors import ExportError
from opdm_studio.pipelines.base import CancelToken


def export_results(project: Project, out_dir: Path, layers: Iterable[str] | None = None,
                   template: str | None = None, frames: Iterable[int] | None = None,
                   psd: bool = False, overwrite: bool = False,
                   cancel: CancelToken | None = None) -> Iterator[tuple[int, int, int]]:
    """Write the stored results of ``project`` again (other layers, naming or folder).

    Generator of ``(done, total, index)`` after each frame. Keyframes are written unchanged.
    Raises :class:`ExportError` before writing anything when ``out_dir`` is a folder the project
    reads (whatever ``overwrite`` says), when two frames would be written to one file, when a
    target exists (unless ``overwrite``) or when there is nothing to export. The project itself
    is not changed.
    """
    layers = list(layers or project.settings.layers)
    template = template or project.settings.template
    ColorizeSettings(layers=layers, template=template).validate()
    wanted = set(range(len(project.cut))) if frames is None else set(frames)
    indices = sorted(i for i in wanted if i in project.keyframes or (
        i in project.results and project.results[i].color_path is not None))
    if not indices:
        raise ExportError(f"the project {project.path} has no coloured frames to export"
                          + (" in that range" if frames is not None else "; colour it first"))
    out_dir = Path(out_dir)
    targets = output_targets(project, indices, layers, out_dir, template, psd)
    project.check_inputs(indices, [i for i in indices if i in project.keyframes])
    check_free([p for t in targets.values() for p in t.values()], set(), overwrite)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the output folder {out_dir}: {exc.strerror or exc}") from exc
    total = len(indices)
    fixer = fixer_for(project)
    for n, i in enumerate(indices, start=1):
        if cancel is not None and cancel.cancelled:
            return
        color, composite = shown_layers(project, fixer, i)
        write_layers(project, i, color, composite, targets[i])
        yield n, total, i


def refresh_layers(project: Project, frames: Iterable[int]) -> list[int]:
    """Write again the layer files the project's runs wrote for ``frames`` (their fixes or the
    palette's colours changed since); returns the frames written."""
    fixer = fixer_for(project)
    done = []
    for i in sorted(set(frames)):
        res = project.results.get(i)
        if res is None or not res.outputs or (i not in project.keyframes and res.color_path is None):
            continue
        color, composite = shown_layers(project, fixer, i)
        write_layers(project, i, color, composite,
                     {layer: Path(p) for layer, p in res.outputs.items()})
        done.append(i)
    return done
