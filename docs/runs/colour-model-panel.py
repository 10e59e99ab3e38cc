"""The palette panel as a colour model (docs/images/colour-model.png), two cuts side by side:

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/runs/colour-model-panel.py ../shared/evaldata OUT.png

- the sample cut: its palette.json names the keys' paints, grouped per character, each body's
  shadow and skin's highlight under it;
- konobi 007 (colour frames only, keys 0 and 21): the keys' compressed paint, 112 colours,
  merged into swatches under the tolerance the panel shows.

Prints what each panel shows (key colours, swatches, the tolerance). The konobi cut is built in
a temporary folder from the evaluation clip (never copied into the repository)."""
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["OPDM_STUDIO_HOME"] = tempfile.mkdtemp(prefix="opdm-colour-model-")
data, out = Path(sys.argv[1]), Path(sys.argv[2])

from PIL import Image  # noqa: E402

from opdm_studio.app.launch import make_app  # noqa: E402
from opdm_studio.app.main_window import MainWindow  # noqa: E402
from opdm_studio.engine.project_home import sample_cut_path  # noqa: E402


def konobi_cut(root: Path) -> Path:
    src = data / "EISAI_konobi_s01e007_000282"
    cut = root / "konobi"
    cut.mkdir(parents=True)
    for p in sorted(src.glob("*.png")):
        shutil.copy(p, cut / p.name)
    return cut


def grab_panel(app, cut: Path, keys: list[int] | None, current: str | None, png: Path) -> None:
    win = MainWindow(open_sample=False, open_dialogs_on_finish=False)
    win.resize(1400, 900)
    win.show()
    assert win.open_cut(cut), cut
    doc = win.doc
    if keys is not None:
        for k in doc.keys():
            if k not in keys:
                doc.unmark_key(k)
        for k in keys:
            if k not in doc.keys():
                doc.mark_key(k)
        win.fixes.sync_palette()
    end = time.perf_counter() + 120
    while not doc.palette_synced() and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.02)
    panel = win.fixes.panel
    panel.refresh()
    pal = doc.palette
    if current is not None:
        hit = next(s for s in pal.live() if s.full_name == current)
        panel.set_current(hit.id)
    keyed = [s for s in pal.swatches if s.in_keys]
    print(f"{cut.name}: {len(keyed)} key colours in {sum(1 for s in keyed if not s.merged)} swatches "
          f"(tolerance {pal.tolerance:g}), {len(pal.live())} swatches listed, model {pal.model or '-'}; "
          f"panel says: {panel.merge_label.text()!r}", flush=True)
    panel.resize(360, 860)
    panel.setParent(None)          # out of the dock: grabbed at the size a tall dock gives it
    panel.resize(360, 860)
    panel.show()
    end = time.perf_counter() + 0.5
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.02)
    panel.grab().toImage().save(str(png), "PNG")
    win.undo.setClean()
    win.close()


def main() -> None:
    app = make_app()
    tmp = Path(tempfile.mkdtemp(prefix="opdm-colour-model-cuts-"))
    sample = tmp / "sample"
    shutil.copytree(sample_cut_path(), sample)
    grab_panel(app, sample, None, "char1 / body", tmp / "a.png")
    grab_panel(app, konobi_cut(tmp), [0, 21], None, tmp / "b.png")
    a, b = Image.open(tmp / "a.png"), Image.open(tmp / "b.png")
    sheet = Image.new("RGB", (a.width + b.width + 12, max(a.height, b.height)), (40, 42, 46))
    sheet.paste(a, (0, 0))
    sheet.paste(b, (a.width + 12, 0))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    print(f"wrote {out}")


main()
