"""The project document: creation rules, round trip, atomic save with a backup, corrupt files."""
import json

import pytest

from opdm_studio.engine.project import PROJECT_FILENAME, ColorizeSettings, FrameResult, Project
from opdm_studio.errors import ProjectError


def test_round_trip(cut_dir, tmp_path):
    s = ColorizeSettings(method="flow", steps=7, seed=5, snap="all", layers=["color", "lines"])
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 9], settings=s)
    p.results[3] = FrameResult(3, "done", keys=(0, 9), method="flow", color_path="x.png",
                               confidence=0.75, flagged=2, regions=9)
    p.save()
    q = Project.load(tmp_path / "out")
    assert q.settings == s
    assert q.key_indices() == [0, 9]
    r = q.results[3]
    assert (r.status, r.keys, r.confidence, r.flagged, r.regions) == ("done", (0, 9), 0.75, 2, 9)
    assert q.frame_name(3) == "0003.png" and q.index_of_number(3) == 3


def test_never_in_the_source_folder(cut_dir, tmp_path):
    with pytest.raises(ProjectError, match="drawing folder|source folder"):
        Project.create(cut_dir / "lineart", cut_dir / "lineart", keys=[0])
    with pytest.raises(ProjectError, match="colour folder"):
        Project.create(cut_dir, cut_dir / "color", keys=[0])
    # Asked explicitly: allowed.
    Project.create(cut_dir / "lineart", cut_dir / "lineart", keys=[0], allow_in_source=True)


def test_keyframe_without_colour_is_a_user_error(tmp_path):
    from tests.engine.conftest import make_cut
    make_cut(tmp_path / "cut", colors_for=[0, 9])
    p = Project.create(tmp_path / "cut", tmp_path / "out", keys=[0, 9])
    with pytest.raises(ProjectError, match="0004.png has no colour"):
        p.set_keyframe(4)
    with pytest.raises(ProjectError, match="no frame numbered 42"):
        p.index_of_number(42)


def test_bad_settings_are_user_errors():
    for bad in (dict(method="magic"), dict(steps=0), dict(snap="some"), dict(layers=["alpha"]),
                dict(template="same.png"), dict(device="tpu")):
        with pytest.raises(ProjectError):
            ColorizeSettings(**bad).validate()


def test_corrupt_file_keeps_previous_good_copy(cut_dir, tmp_path):
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 9])
    p.save()
    p.settings.steps = 12
    p.save()                                         # the first save became the .bak
    path = tmp_path / "out" / PROJECT_FILENAME
    bak = path.with_name(PROJECT_FILENAME + ".bak")
    good = bak.read_text()
    assert json.loads(good)["settings"]["steps"] == 10
    path.write_text('{"format": "opdm-studio-project", "cut": ')   # torn / corrupt
    with pytest.raises(ProjectError, match=r"corrupt.*\.bak"):
        Project.load(path)
    assert bak.read_text() == good                   # the good copy is untouched
    assert Project.load(bak).key_indices() == [0, 9]
    # Saving over a corrupt file must not turn the corrupt file into the backup.
    q = Project.load(bak)
    q.root = path.parent
    q.save()
    assert bak.read_text() == good
    assert Project.load(path).settings.steps == 10


def test_foreign_and_newer_files(cut_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / PROJECT_FILENAME).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ProjectError, match="not an OPDM Studio project"):
        Project.load(out)
    (out / PROJECT_FILENAME).write_text(json.dumps({"format": "opdm-studio-project",
                                                    "format_version": 99}))
    with pytest.raises(ProjectError, match="newer"):
        Project.load(out)
    with pytest.raises(ProjectError, match="no project file"):
        Project.load(tmp_path / "nowhere")


def test_project_refers_to_missing_frame(cut_dir, tmp_path):
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 9])
    p.save()
    (cut_dir / "lineart" / "0009.png").unlink()
    loaded = Project.load(tmp_path / "out")          # issue 27: dropped with a warning
    assert loaded.key_indices() == [0]
    assert any("0009.png" in w and "no longer in" in w for w in loaded.cut.warnings)
