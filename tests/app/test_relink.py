"""Issue 27 item 4 in the app: opening a project whose cut moved asks for its new folder."""
from __future__ import annotations

from opdm_studio.engine.project import Project

from .conftest import write_cut


def test_opening_a_project_whose_cut_moved_asks_for_its_new_folder(window, tmp_path,
                                                                   monkeypatch):
    from PySide6.QtWidgets import QFileDialog
    cut = write_cut(tmp_path / "cut")
    project = Project.create(cut, tmp_path / "proj", keys=[0, 7])
    project.save()
    cut.rename(tmp_path / "moved")
    asked: list[str] = []

    def answer(parent, title, start, *a, **k):
        asked.append(title)
        return str(tmp_path / "moved")

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(answer))
    assert window.open_cut(tmp_path / "proj")
    assert len(asked) == 1 and "no longer at" in asked[0] and str(cut) in asked[0]
    assert window.doc is not None and window.doc.n_frames == 8
    assert window.doc.project.key_indices() == [0, 7]
