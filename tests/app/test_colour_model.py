"""The colour model in the palette panel (pytest-qt, offscreen): names from the cut's
palette.json, groups and tone sets in the swatch tree, the merging tolerance the user sees and
undoes, names in the Japanese interface, and the status bar's swatch chip."""
from __future__ import annotations

import json

from PIL import Image

from .conftest import PALETTE, write_cut

NEAR_BODY = (222, 81, 61)          # the ball's paint as a second key shows it (ΔE about 1)


def model_cut(root, model=True):
    """The 8-frame ball cut whose last key shows the ball's paint a shade off, with a colour
    model (palette.json) naming the paints, the ball's shadow among them."""
    cut = write_cut(root)
    last = cut / "color" / "0008.png"
    img = Image.open(last).convert("RGB")
    px = img.load()
    for y in range(img.height):
        for x in range(img.width):
            if px[x, y] == PALETTE["body"]:
                px[x, y] = NEAR_BODY
    img.save(last)
    if model:
        colours = [("background", PALETTE["bg"]), ("ball_body", PALETTE["body"]),
                   ("ball_body_shadow", (150, 50, 40)), ("ball_eye", PALETTE["eye"]), ("box", PALETTE["box"])]
        (cut / "palette.json").write_text(json.dumps({"colors": [{"name": n, "rgb": list(c)} for n, c in colours]}))
    return cut


def open_synced(qtbot, win, folder):
    assert win.open_cut(folder)
    qtbot.waitUntil(win.doc.palette_synced, timeout=10000)     # read on another thread


def texts(win):
    return [it.text(0) for it in win.fixes.panel.list.swatch_items()]


def test_the_cuts_colour_model_names_groups_and_sets_the_swatches(qtbot, window, tmp_path):
    open_synced(qtbot, window, model_cut(tmp_path / "ball"))
    panel, pal = window.fixes.panel, window.doc.palette
    body = pal.by_source(PALETTE["body"])
    assert (body.group, body.name, body.tone) == ("ball", "body", "")
    assert pal.by_source(NEAR_BODY).merged and pal.resolve(pal.by_source(NEAR_BODY).id) is body
    assert panel.model_label.text() == "Colour model: palette.json"
    assert panel.merge_label.text() == "4 key colours in 3 swatches"     # (the eye is too small a key paint)
    # The tree: the group "ball" holds the body with its shadow under it, and the eye.
    tree = panel.list
    heads = [tree.topLevelItem(n) for n in range(tree.topLevelItemCount())]
    ball = next(h for h in heads if h.text(0) == "ball")
    assert ball.child(0).text(0).startswith("body  #dc503c  +1")
    assert ball.child(0).child(0).text(0).startswith("shadow  #96322")
    assert ball.child(1).text(0).startswith("eye")
    assert not any("Colour" in t for t in texts(window))
    assert "ball / body" in ball.child(0).toolTip(0) and "near-identical" in ball.child(0).toolTip(0)
    assert tree.count() == 5                           # the merged key colour is not listed
    panel.set_current(body.id)
    assert "ball / body" in panel.current_label.text()


def test_the_merging_tolerance_is_shown_changed_and_undone(qtbot, window, tmp_path):
    open_synced(qtbot, window, model_cut(tmp_path / "ball", model=False))
    panel, pal = window.fixes.panel, window.doc.palette
    assert panel.tolerance.value() == 6.0 and panel.merge_label.text() == "4 key colours in 3 swatches"
    assert panel.list.count() == 3
    near = pal.by_source(NEAR_BODY)
    assert near.merged
    panel.tolerance.setValue(0.0)                     # keep every key colour apart
    assert panel.merge_label.text() == "4 key colours in 4 swatches" and panel.list.count() == 4
    assert not pal.find(near.id).merged
    assert "Merge near-identical key colours" in window.undo.undoText()
    window.undo.undo()
    assert pal.find(near.id).merged and panel.tolerance.value() == 6.0
    assert panel.merge_label.text() == "4 key colours in 3 swatches"


def test_swatch_chip_follows_recolour_and_leaves_with_the_cut(qtbot, window, tmp_path, cut_dir):
    open_synced(qtbot, window, model_cut(tmp_path / "ball"))
    panel, pal, chip = window.fixes.panel, window.doc.palette, window.status_bar.swatch
    box = pal.by_source(PALETTE["box"])
    panel.set_current(box.id)
    assert "box" in chip.text() and "#5aaa5a" in chip.text()
    panel.recolour(box.id, (10, 20, 250))
    assert "#0a14fa" in chip.text() and "#0a14fa" in chip.styleSheet()
    window.undo.undo()
    assert "#5aaa5a" in chip.text()
    open_synced(qtbot, window, cut_dir)              # another cut: not the last cut's colour
    assert "box" not in chip.text()
    current = window.doc.palette.find(panel.current_swatch())
    assert current is not None and chip.text().strip().endswith("#{:02x}{:02x}{:02x}".format(*current.rgb))


def test_swatch_names_in_the_japanese_interface(qtbot, dialogs, tmp_path):
    from opdm_studio.app import i18n
    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    from opdm_studio.app.settings import AppSettings
    s = AppSettings.load()
    s.language = "ja"
    s.save()
    app = make_app()
    try:
        win = MainWindow(open_sample=False, open_dialogs_on_finish=False)
        qtbot.addWidget(win)
        win.show()
        cut = model_cut(tmp_path / "ball", model=False)
        (cut / "palette.csv").write_text("キャラ,部位,ノーマル,影\nボール,本体,#dc503c,#96322 8\n".replace(" ", ""))
        open_synced(qtbot, win, cut)
        names = texts(win)
        assert not [t for t in names if "Colour" in t], names           # engine-made names: 色 N
        assert any(t.startswith("色 ") for t in names), names
        assert any(t.startswith("影  #963228") for t in names), names   # the shadow of ボール / 本体
        panel = win.fixes.panel
        assert "色" in panel.merge_label.text() and "カラーモデル" not in panel.merge_label.text()
        assert "palette.csv" in panel.model_label.text() and "色指定" in panel.model_label.text()
        assert "本体" in panel.current_label.text() or "色 " in panel.current_label.text()
        win.undo.setClean()
        win.close()
    finally:
        i18n.install(app, "en")


def test_a_colour_model_that_cannot_be_read_is_named_in_the_status_line(qtbot, window, tmp_path):
    cut = model_cut(tmp_path / "ball", model=False)
    (cut / "palette.csv").write_text("name,hex\nsky,#a1fe8e\nsea,blue\n")
    open_synced(qtbot, window, cut)
    assert "colour model was not read" in window.status_bar.message.text()
    assert "palette.csv, line 3" in window.status_bar.message.text()
    assert window.doc.palette.model == "palette.csv" and len(window.doc.palette.live()) == 3   # the keys' paint


def test_the_sample_cut_opens_with_its_named_colour_model(qtbot, window):
    from opdm_studio.engine.project_home import sample_cut_path
    open_synced(qtbot, window, sample_cut_path())
    pal, panel = window.doc.palette, window.fixes.panel
    names = {s.full_name for s in pal.live()}
    assert {"sky", "cloud", "char0 / body", "char0 / body / shadow", "char1 / skin / highlight"} <= names
    assert len(pal.live()) == 42 and panel.merge_label.text() == "42 key colours in 42 swatches"
    assert not any("Colour" in t for t in texts(window))
