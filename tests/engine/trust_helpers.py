"""Helpers of the trust tests: a cut in a temp folder, its fingerprint, the CLI in one call."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from opdm_studio.cli import main

from .conftest import make_cut


def source_tree(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (links followed), by relative path: the drawings,
    the paint and anything else the cut folder holds. New or removed files show as well."""
    out = {}
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def new_cut(folder: Path, n_frames: int = 10, keys: tuple[int, ...] = (0, 9)) -> Path:
    """The standard layout: ``folder/lineart`` (drawings) + ``folder/color`` (the keys' paint)."""
    make_cut(folder, n_frames=n_frames, holds=False, colors_for=list(keys))
    (folder / "palette.json").unlink(missing_ok=True)
    return folder


def cli(capsys, *argv: str) -> tuple[int, str]:
    """Run ``opdm-studio ARGV`` in this process: (exit status, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def colorize_args(cut: Path, out: Path, *extra: str) -> list[str]:
    """A flow colorize of keys 0 and 9 (no model needed)."""
    return ["colorize", str(cut), "--keys", "0,9", "--out", str(out), "--method", "flow", "-q",
            *extra]


def one_line_error(code: int, err: str, words: str) -> None:
    """The user error contract: exit 2, one line naming the problem, no traceback."""
    lines = [x for x in err.strip().splitlines() if "warning:" not in x]
    assert code == 2, err
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in err, err
