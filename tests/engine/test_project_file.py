"""The project file and its results log: replay after a crash, torn lines, stale logs, links."""
from __future__ import annotations

import json

from opdm_studio.engine.project import PROJECT_FILENAME, FrameResult, Project
from opdm_studio.engine.project_file import LOG_FILENAME


def _result(i: int) -> FrameResult:
    return FrameResult(i, "done", keys=(0, 9), method="flow")


def test_results_recorded_without_a_save_are_replayed(cut_dir, tmp_path):
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 9])
    p.save()
    for i in (1, 2, 3):
        p.record_result(_result(i))
    p.claim_outputs([tmp_path / "out" / "cut_0004.png"])
    # A kill here: the project file itself was not rewritten, the log holds everything.
    assert json.loads((tmp_path / "out" / PROJECT_FILENAME).read_text())["results"] == []
    q = Project.load(tmp_path / "out")
    assert sorted(q.results) == [1, 2, 3]
    assert str((tmp_path / "out" / "cut_0004.png").resolve()) in q.owned_outputs()
    q.save()                                         # folded in; the log is gone
    assert not (tmp_path / "out" / LOG_FILENAME).exists()
    assert sorted(Project.load(tmp_path / "out").results) == [1, 2, 3]


def test_a_torn_last_line_is_skipped_and_later_records_stay_apart(cut_dir, tmp_path):
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 9])
    p.save()
    p.record_result(_result(1))
    with open(tmp_path / "out" / LOG_FILENAME, "a") as fh:
        fh.write('{"op": "result", "resu')            # the crash came mid-append
    q = Project.load(tmp_path / "out")
    assert sorted(q.results) == [1]
    q.record_result(_result(2))
    assert sorted(Project.load(tmp_path / "out").results) == [1, 2]


def test_a_log_of_another_project_file_is_ignored(cut_dir, tmp_path):
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 9])
    p.save()
    p.record_result(_result(1))
    log = (tmp_path / "out" / LOG_FILENAME).read_text()
    p.save()                                          # a new token; the old log is folded in
    p.results.pop(1)
    p.save()
    (tmp_path / "out" / LOG_FILENAME).write_text(log)  # a stale log reappears
    assert sorted(Project.load(tmp_path / "out").results) == []


def test_the_log_is_never_written_through_a_link(cut_dir, tmp_path):
    p = Project.create(cut_dir, tmp_path / "out", keys=[0, 9])
    p.save()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "out" / LOG_FILENAME).symlink_to(victim)
    p.record_result(_result(1))
    assert victim.read_text() == "keep me"
    assert sorted(Project.load(tmp_path / "out").results) == [1]
