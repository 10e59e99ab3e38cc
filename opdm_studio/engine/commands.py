"""`opdm-studio colorize` and `opdm-studio export`: the engine on the command line.

Both are ``main(argv) -> int`` functions dispatched by :mod:`opdm_studio.cli`, which turns our
:class:`~opdm_studio.errors.OPDMError` into one line on stderr and exit status 2. Ctrl-C during
colouring stops after the current sampler step: finished frames are kept, the project stays valid,
and running the same command again continues with the frames still missing (exit status 130).
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from opdm_studio.cli_args import FrameRanges, Parser, UsageError, count, frame_ranges, int_in
from opdm_studio.engine.export import export_results
from opdm_studio.engine.project import (
    DEVICES,
    DTYPES,
    LAYERS,
    METHODS,
    PROJECT_FILENAME,
    SNAP_MODES,
    ColorizeSettings,
    Project,
)
from opdm_studio.engine.project_file import stored_cut_folder
from opdm_studio.engine.run import CancelToken, Colorizer
from opdm_studio.errors import OPDMError, ProjectError
from opdm_studio.imaging.export import same_folder
from opdm_studio.pipelines import method_name

EXIT_CANCELLED = 130



def _layers(text: str) -> list[str]:
    layers = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in layers if x not in LAYERS]
    if bad or not layers:
        raise argparse.ArgumentTypeError(
            f"unknown layer {', '.join(bad) or text!r}: use one or more of {','.join(LAYERS)}")
    return layers


def _frame_refs(text: str) -> list[str]:
    """``--keys``: frame numbers (``1,24``) or drawing file names (``a_0001,b_0001.png``)."""
    refs = [x.strip() for x in text.split(",") if x.strip()]
    if not refs:
        raise argparse.ArgumentTypeError("give at least one keyframe number, e.g. --keys 1,24")
    return refs


def _colorize_parser() -> Parser:
    p = Parser(
        prog="opdm-studio colorize",
        description="Colour a cut (a folder of line drawings) between its painted keyframes. "
                    "Results, the project file and the layers go to --out; the drawings are never "
                    "modified. Running the same command again continues where it stopped.")
    p.add_argument("cut", help="folder of line drawings, one per frame (or a folder holding "
                               "lineart/ and color/)")
    p.add_argument("--keys", type=_frame_refs,
                   help="keyframe numbers as in the drawings' file names (e.g. 1,24 for 0001.png "
                        "and 0024.png; the number is the last run of digits in the name); when "
                        "several drawings carry one number (a_0001.png, b_0001.png), name the "
                        "drawing instead (--keys a_0001,b_0024). Their colour is the same-named "
                        "file in --key-dir. Optional when --out already holds a project")
    p.add_argument("--key-dir", help="folder of the keyframes' colour images, named like the "
                                     "drawings (default: a color/colour/keys/paint folder beside "
                                     "or inside the cut)")
    p.add_argument("--out", required=True, help="output folder for the coloured frames and the "
                                                "project file (created if missing)")
    p.add_argument("--method", type=method_name, choices=METHODS,
                   help="model = colour with the model (default; --model picks it); flow = fast "
                        "optical-flow propagation, needs no model. The old name opdm still "
                        "means model, so existing scripts keep working")
    p.add_argument("--model", help="model checkpoint (.safetensors) or the name of an installed "
                                   "model (default: the shipped model)")
    p.add_argument("--steps", type=int_in(1, 500, "--steps"),
                   help="sampler steps per frame (default 10)")
    p.add_argument("--seed", type=count, help="random seed (default 0)")
    p.add_argument("--device", choices=DEVICES, help="where the model runs (default auto)")
    p.add_argument("--dtype", choices=DTYPES, help="compute precision (default auto)")
    p.add_argument("--working-size", type=int_in(32, 2048, "--working-size"), help="short side in pixels the network works at "
                                                    "(default 224)")
    p.add_argument("--frames", type=frame_ranges,
                   help="frame numbers to colour, e.g. 2-23 or 1-4,9 (default all; "
                                    "every drawing carrying one of those numbers)")
    p.add_argument("--snap", choices=SNAP_MODES, help="snap regions to the keyframes' palette: "
                   "auto (default), off, all")
    p.add_argument("--gap", type=int_in(0, 64, "--gap"), help="close gaps in the lines up to this many px (default 3)")
    p.add_argument("--layers", type=_layers, help="layers to write: composite,color,lines "
                                                  "(default composite)")
    p.add_argument("--template", help="file naming, fields {cut} {frame} {name} with optional "
                                      "formats (default {cut}_{frame:04d}.png); two frames that "
                                      "would get one name are refused before anything is written")
    p.add_argument("--psd", action="store_true", default=None,
                   help="also write a layered PSD per frame")
    p.add_argument("--force", action="store_true", help="colour frames again even if finished")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files in --out that this project did not write")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _apply_settings(settings: ColorizeSettings, args: argparse.Namespace) -> ColorizeSettings:
    mapping = {"method": "method", "model": "model", "steps": "steps", "seed": "seed",
               "device": "device", "dtype": "dtype", "working_size": "working_size",
               "snap": "snap", "gap": "gap", "layers": "layers", "template": "template",
               "psd": "psd"}
    for arg, field_ in mapping.items():
        value = getattr(args, arg)
        if value is not None:
            setattr(settings, field_, value)
    if args.model is not None and Path(args.model).expanduser().is_file():
        # Stored absolute so the project works from any current folder.
        settings.model = str(Path(args.model).expanduser().resolve())
    return settings.validate()


def _out_folder(text: str) -> Path:
    """``--out`` as a folder: a UsageError naming it when it is an existing file."""
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder; give a folder for the frames")
    return out


def _open_project(args: argparse.Namespace) -> Project:
    out = _out_folder(args.out)
    cut_dir = Path(args.cut)
    if (out / PROJECT_FILENAME).exists():
        stored = stored_cut_folder(out)
        moved = stored is not None and not stored.exists()
        project = Project.load(out, cut_dir=cut_dir if moved else None)
        if moved:
            project.cut.warnings.append(f"the cut is no longer at {stored}: the project now "
                                        f"reads it from {cut_dir}")
        if not same_folder(project.cut_dir, _cut_folder(cut_dir)) and \
                not same_folder(project.cut_dir, cut_dir):
            raise ProjectError(f"{out} holds the project of another cut ({project.cut_dir}); "
                               "choose another --out folder")
        if args.key_dir is not None and (project.key_dir is None or
                                         not same_folder(project.key_dir, args.key_dir)):
            raise ProjectError(f"{out} holds a project whose keyframe colours come from "
                               f"{project.key_dir}; choose another --out folder to use {args.key_dir}")
    else:
        if args.keys is None:
            raise UsageError("give the keyframes with --keys (e.g. --keys 1,24)")
        project = Project.create(cut_dir, out, key_dir=args.key_dir)
    _apply_settings(project.settings, args)
    if args.keys is not None:
        wanted = [project.index_of(ref) for ref in args.keys]
        for i in list(project.keyframes):
            if i not in wanted:
                project.remove_keyframe(i)
        for i in wanted:
            if i not in project.keyframes:
                project.set_keyframe(i)
    return project


def _cut_folder(path: Path) -> Path:
    """The folder the cut's drawings are read from (``cut/lineart`` for a lineart+color layout)."""
    from opdm_studio.imaging.cut import open_cut
    try:
        return open_cut(path).folder
    except OPDMError:
        return path


class _Warnings:
    """Prints the cut's warnings (skipped files, inverted drawings, colour files without a
    drawing) once each, on stderr, as they appear (inverted drawings are found while reading)."""

    def __init__(self, command: str, project: Project) -> None:
        self.command = command
        self.project = project
        self.shown = 0

    def show(self) -> None:
        """Print the warnings not printed yet."""
        warnings = self.project.cut.warnings
        for text in warnings[self.shown:]:
            print(f"opdm-studio {self.command}: warning: {text}", file=sys.stderr)
        self.shown = len(warnings)


def _frame_indices(project: Project, ranges: FrameRanges | None) -> list[int] | None:
    """The indices of the cut's frames whose numbers ``ranges`` name (None: every frame); the
    ranges are checked against the cut's numbers, never expanded."""
    if ranges is None:
        return None
    frames = project.cut.frames
    return [frames[i].index for i in ranges.pick([f.number for f in frames], "the cut")]


@contextmanager
def _ctrl_c_cancels(token: CancelToken) -> Iterator[None]:
    """First Ctrl-C sets the cancel token (clean stop); a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum, _frame):
        token.cancel()
        print("\nstopping after the current step (Ctrl-C again to abort now)...", file=sys.stderr)
        signal.signal(signal.SIGINT, previous)

    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def colorize_main(argv: list[str]) -> int:
    """`opdm-studio colorize CUT --keys 1,24 --out OUT ...`; 0 done, 130 stopped by the user."""
    from tqdm import tqdm
    args = _colorize_parser().parse_args(argv)
    project = _open_project(args)
    warnings = _Warnings("colorize", project)
    warnings.show()
    frames = _frame_indices(project, args.frames)
    colorizer = Colorizer(project, overwrite=args.overwrite)
    token = CancelToken()
    bar = None
    finished = 0
    try:
        with _ctrl_c_cancels(token):
            for ev in colorizer.run(frames=frames, cancel=token, force=args.force):
                if ev.kind == "start":
                    # The run's own ETA (it knows the adaptation and finishing still to come),
                    # not tqdm's rate of finished frames.
                    bar = tqdm(total=ev.frames, unit="frame", file=sys.stderr, disable=args.quiet,
                               desc="colouring", dynamic_ncols=True,
                               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                          "[{elapsed}{postfix}]")
                elif ev.kind in ("frame", "step", "decide") and bar is not None:
                    left = "" if ev.eta is None else f" · {tqdm.format_interval(ev.eta)} left"
                    bar.set_postfix_str(ev.message + left)
                elif ev.kind in ("done", "skip") and bar is not None:
                    finished += ev.kind == "done"
                    bar.set_postfix_str(ev.name, refresh=False)
                    bar.update(1)
                elif ev.kind == "cancelled":
                    if bar is not None:
                        bar.close()
                        bar = None
                    print(f"stopped by the user: {finished} frame(s) finished and kept in "
                          f"{project.output_dir}; run the same command again to continue",
                          file=sys.stderr)
                    return EXIT_CANCELLED
    finally:
        if bar is not None:
            bar.close()
        warnings.show()
    flagged = sum(1 for r in project.results.values() if r.flagged)
    if not args.quiet:
        print(f"coloured {finished} frame(s) into {project.output_dir}"
              + (f"; {flagged} frame(s) have regions flagged for review" if flagged else ""),
              file=sys.stderr)
    return 0


def _export_parser() -> Parser:
    p = Parser(prog="opdm-studio export",
                description="Write the stored results of a project again, with other layers, "
                            "naming or folder. Nothing is coloured again.")
    p.add_argument("project", help="project file (opdm-project.json) or the folder holding it")
    p.add_argument("--out", required=True, help="folder to write the frames to")
    p.add_argument("--cut", help="the cut's folder, when it moved since it was coloured")
    p.add_argument("--layers", type=_layers, default=None,
                   help="layers: composite,color,lines (default: the project's layers)")
    p.add_argument("--template", help="file naming, fields {cut} {frame} {name} "
                                      "(default: the project's)")
    p.add_argument("--frames", type=frame_ranges,
                   help="frame numbers to export, e.g. 2-23 (default all with a result)")
    p.add_argument("--psd", action="store_true", help="also write a layered PSD per frame")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def export_main(argv: list[str]) -> int:
    """`opdm-studio export PROJECT --out DIR ...`: re-export stored results."""
    from tqdm import tqdm
    args = _export_parser().parse_args(argv)
    project = Project.load(args.project, cut_dir=args.cut)
    warnings = _Warnings("export", project)
    warnings.show()
    frames = _frame_indices(project, args.frames)
    wanted = range(len(project.cut)) if frames is None else frames
    outdated = [project.frame_name(i) for i in wanted if project.is_outdated(i)]
    if outdated:
        print(f"opdm-studio export: warning: {len(outdated)} frame(s) are out of date (their "
              f"drawing, keyframes or settings changed since they were coloured: "
              f"{', '.join(outdated[:5])}{' ...' if len(outdated) > 5 else ''}); run "
              "`opdm-studio colorize` again to bring them up to date", file=sys.stderr)
    layers = args.layers or project.settings.layers
    template = args.template or project.settings.template
    ColorizeSettings(layers=layers, template=template).validate()
    token = CancelToken()
    written = 0
    with _ctrl_c_cancels(token):
        gen = export_results(project, _out_folder(args.out), layers=layers, template=template,
                             frames=frames, psd=args.psd, overwrite=args.overwrite, cancel=token)
        with tqdm(total=None, unit="frame", file=sys.stderr, disable=args.quiet,
                  desc="exporting") as bar:
            for done, total, _index in gen:
                bar.total = total
                bar.update(1)
                written = done
    if token.cancelled:
        print(f"stopped by the user after {written} frame(s)", file=sys.stderr)
        return EXIT_CANCELLED
    if not args.quiet:
        print(f"exported {written} frame(s) to {args.out}", file=sys.stderr)
    return 0
