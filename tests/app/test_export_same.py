"""The GUI's export and the command line's write the same bytes (one export path)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from opdm_studio.engine.export import export_results

from .conftest import write_cut


def _recolour_key_lines(path, rgb=(120, 30, 30)) -> None:
    """Colour trace lines: the key's paint shows the drawing's lines in a colour of its own."""
    img = np.array(Image.open(path).convert("RGB"))
    img[(img == 0).all(axis=2)] = rgb
    Image.fromarray(img).save(path)


def test_gui_export_writes_the_same_files_as_export_results(qtbot, window, tmp_path, dialogs):
    cut = write_cut(tmp_path / "ball_cut", n=6, size=64, keys=(0, None))
    _recolour_key_lines(cut / "color" / "0001.png")
    assert window.open_cut(cut)
    window.timeline.select_range(0, window.doc.n_frames - 1)
    window.colorize_selection()
    qtbot.waitUntil(lambda: not window.busy, timeout=60000)
    assert window.jobs.last_outcome.error is None
    window.acts.export.trigger()
    dlg = window.export_dlg
    gui_dir = tmp_path / "gui"
    dlg.folder_edit.setText(str(gui_dir))
    for box in dlg.layer_boxes.values():
        box.setChecked(True)
    dlg.psd_box.setChecked(True)
    dlg.open_box.setChecked(False)
    request = dlg.request()
    dlg.check_panel.wait()
    if not dlg.check_panel.check.clean:        # the check before export asks: go on
        from PySide6.QtWidgets import QMessageBox
        dialogs.answers.append(QMessageBox.StandardButton.Yes)
    dlg.export_button.click()
    qtbot.waitUntil(lambda: not window.busy and not dlg.isVisible(), timeout=60000)

    cli_dir = tmp_path / "cli"
    done = list(export_results(window.doc.project, cli_dir, layers=request.layers,
                               template=request.template, frames=request.frames, psd=request.psd))
    assert [i for _, _, i in done] == list(range(6))     # keyframes 0 and 5 included
    gui = sorted(p.name for p in gui_dir.iterdir())
    assert gui == sorted(p.name for p in cli_dir.iterdir()) and len(gui) == 6 * 4
    for name in gui:
        assert (gui_dir / name).read_bytes() == (cli_dir / name).read_bytes(), name
