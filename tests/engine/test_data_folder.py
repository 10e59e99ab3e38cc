"""A file the project did not write, in its data folder, is never replaced silently."""
import pytest

from opdm_studio.engine.project import ColorizeSettings, Project
from opdm_studio.engine.run import Colorizer
from opdm_studio.errors import ExportError


def _run(project: Project, **kw) -> list:
    return list(Colorizer(project, **kw).run())


def test_a_foreign_file_in_the_data_folder_is_refused_then_replaced_only_when_allowed(cut_noholds, tmp_path):
    settings = ColorizeSettings(method="flow", layers=["composite"])
    p = Project.create(cut_noholds, tmp_path / "out", keys=[0, 9], settings=settings)
    foreign = tmp_path / "out" / "opdm-data" / "color" / "0004.png"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"someone else's file")
    with pytest.raises(ExportError, match="0004.png"):
        _run(p)
    assert foreign.read_bytes() == b"someone else's file"
    assert not p.results or all(r.status == "keyframe" for r in p.results.values())
    _run(p, overwrite=True)
    assert foreign.read_bytes() != b"someone else's file"


def test_the_projects_own_data_files_are_replaced_on_a_forced_run(cut_noholds, tmp_path):
    settings = ColorizeSettings(method="flow", layers=["composite"])
    p = Project.create(cut_noholds, tmp_path / "out", keys=[0, 9], settings=settings)
    _run(p)
    again = Project.load(tmp_path / "out")
    events = list(Colorizer(again).run(force=True))
    assert sum(e.kind == "done" for e in events) == 10
