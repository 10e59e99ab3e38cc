"""The bundled sample cut coloured once per test session (``flow``, keys 0 and 12, frames 0-2,
every layer): the trace-line tests of the engine and of the app read what it wrote."""
from __future__ import annotations

import shutil
from pathlib import Path

from opdm_studio.engine.project import ColorizeSettings, Project
from opdm_studio.engine.run import Colorizer
from opdm_studio.resources import resource_path

FRAMES = (0, 1, 2)          # key 0, frame 1 (key 0's drawing held), frame 2 (an in-between)
_DONE: dict[str, Path] = {}


def copy_sample_cut(folder: Path) -> Path:
    """A copy of the bundled sample cut (drawings with red / blue trace lines, keys 0 and 12)."""
    shutil.copytree(Path(str(resource_path("sample_cut"))), folder)
    return folder


def coloured_sample(tmp_path_factory) -> Path:
    """The project folder of the coloured sample cut (its exported layers are in it)."""
    if "out" not in _DONE:
        root = tmp_path_factory.mktemp("trace_sample")
        cut = copy_sample_cut(root / "cut")
        # A small flow size keeps it fast; the trace lines do not depend on it.
        s = ColorizeSettings(method="flow", layers=["composite", "color", "lines"], flow_size=240)
        project = Project.create(cut, root / "out", keys=[0, 12], settings=s)
        events = list(Colorizer(project).run(frames=list(FRAMES)))
        assert events[-1].kind == "finished"
        _DONE["out"] = root / "out"
    return _DONE["out"]
