"""The document the window shows: its summaries for the status bar. (The colouring choices it
takes onto the project's settings are the workspace's own: tests/engine/test_workspace.py.)"""
from __future__ import annotations

import pytest

from opdm_studio.app.document import Document

from .conftest import write_cut


@pytest.fixture
def doc(tmp_path) -> Document:
    return Document.open(write_cut(tmp_path / "cut", n=4, size=32))


def test_summaries(qapp, doc):
    from opdm_studio.app.status_bar import cut_summary, result_summary
    assert cut_summary(doc).startswith("cut: 4 frames, 2 keyframes, 0 coloured. Project: ")
    assert result_summary(doc, 0) == "" and result_summary(doc, 1) == ""   # a key; no result yet
