"""A frame being coloured shows a first picture in the workspace (its colours so far under its
lines, through the one composite) until its result comes; then the result."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from opdm_studio.engine.composite import compose
from opdm_studio.engine.run import Colorizer
from opdm_studio.engine.workspace import Workspace

from .conftest import make_cut


def test_a_preview_shows_until_the_frame_is_finished(tmp_path: Path):
    make_cut(tmp_path / "cut", n_frames=6, holds=False, colors_for=[0, 5])
    ws = Workspace.open(tmp_path / "cut")
    ws.project.settings = replace(ws.project.settings, method="flow").validate()
    heard: list = []
    ws.listen(heard.append)
    events = []
    for ev in Colorizer(ws.project).run(frames=[1, 2, 3, 4]):
        events.append(ev)
        if ev.kind == "preview":
            ws.set_preview(ev.index, ev.picture)
            assert not ws.has_result(ev.index)
            shown = ws.preview(ev.index)
            # The picture is the guess under the frame's own lines, as the export composes it.
            assert np.array_equal(shown, compose(ws.project, ev.index, ev.picture).composite)
            assert np.array_equal(ws.thumbnail_source(ev.index), shown)
        if ev.kind == "done":
            ws.drop_preview(ev.index)
            assert ws.preview(ev.index) is None
            assert np.array_equal(ws.thumbnail_source(ev.index), ws.composite(ev.index))
    assert {e.index for e in events if e.kind == "preview"} == {1, 2, 3, 4}
    assert [2] in heard                       # the timeline hears that frame 2's picture changed
    ws.set_preview(3, np.zeros((*ws.line(3).shape, 3), np.uint8))
    ws.clear_previews()
    assert ws.preview(3) is None
