"""`python -m training check CUTS [--preview FILE]`: what a folder of finished cuts offers for
training (usable cuts, frames, sizes, problems) and a preview of sampled triplets.

The preview never lands among the training frames and never replaces a file unless asked: a FILE
inside any folder of CUTS (symlinks and ``..`` resolved) is refused, an existing FILE needs
``--overwrite``, and the PNG is written under a temporary name and renamed into place.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from opdm_studio.cli_args import Parser
from opdm_studio.errors import ExportError
from opdm_studio.guard import Protected, check_may_write
from training.data import DataReport, FolderCut, open_data
from training.plots import save_png_atomic
from training.triplets import preview_triplets


def data_folders(report: DataReport) -> set[Path]:
    """Every folder the data lives in (the cuts folder, each cut, its colour and line folders), resolved."""
    if not report.root.is_dir():      # synth:N has no folder
        return set()
    folders = {report.root.resolve()}
    for cut in report.cuts:
        if isinstance(cut, FolderCut):
            folders.add(cut.path.resolve())
            folders.update(p.resolve().parent for p in cut.color_files)
            folders.update(p.resolve().parent for p in cut.line_files if p is not None)
    return folders


def check_preview_path(path: Path, report: DataReport, overwrite: bool) -> Path:
    """``path`` if a preview may be written there, else ExportError saying why."""
    target = path.resolve()
    check_may_write(path, [Protected("training data", f) for f in sorted(data_folders(report))],
                    "preview", "write the preview elsewhere")
    if target.is_dir():
        raise ExportError(f"{path}: is a folder; give a file name such as preview.png")
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise ExportError(f"{path}: already exists; choose another name or add --overwrite")
    return target


def main(argv: list[str]) -> int:
    """Print the data report; with ``--preview FILE`` write sampled triplets (line|prev|target|next)."""
    ap = Parser(prog="python -m training check",
                                 description="Report what a folder of finished cuts offers for training.")
    ap.add_argument("data", help="folder of finished cuts, or synth:N")
    ap.add_argument("--preview", default=None, help="write sampled triplets (line|prev|target|next) to this PNG")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing preview file")
    ns = ap.parse_args(argv)
    report = open_data(ns.data)
    target = check_preview_path(Path(ns.preview), report, ns.overwrite) if ns.preview else None
    print(report.summary())
    if target is not None:
        rows = preview_triplets(report)
        try:
            save_png_atomic(np.concatenate(rows, axis=0), target)
        except OSError as exc:
            raise ExportError(f"{ns.preview}: cannot write the preview ({exc.strerror or exc})") from None
        print(f"wrote {ns.preview}")
    return 0
