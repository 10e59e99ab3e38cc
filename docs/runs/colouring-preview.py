"""The window while the sample cut is coloured with the default model: frame 6 shows its first
picture (the network's guess, its paint not decided yet) before its interval is finished.

    python docs/runs/colouring-preview.py docs/images/colouring-preview.png

(offscreen; the app's own grab; a scratch home in /tmp). Made 2026-12-07 for docs/benchmarks.md.
"""
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["OPDM_STUDIO_HOME"] = "/tmp/opdm-colouring-preview-home"
from PySide6.QtWidgets import QApplication

from opdm_studio.app.launch import make_app
from opdm_studio.app.main_window import MainWindow
from opdm_studio.app.settings import AppSettings
from opdm_studio.engine.project_home import sample_cut_path

make_app()
win = MainWindow(settings=AppSettings(), open_sample=False, open_dialogs_on_finish=False)
win.resize(1400, 860); win.show()
win.open_cut(sample_cut_path())
end = time.time() + 120
while not win.preloader.done() and time.time() < end:
    QApplication.processEvents(); time.sleep(0.01)
win.go_to(6); win.set_mode("color")
win.timeline.select_range(0, win.doc.n_frames - 1)
win.colorize_selection(); win.go_to(6); win.set_mode("color")
shot = False
t0 = time.time()
while win.busy and time.time() - t0 < 300:
    QApplication.processEvents(); time.sleep(0.01)
    if not shot and win.doc.preview(6) is not None and not win.doc.has_result(6):
        for _ in range(20):
            QApplication.processEvents(); time.sleep(0.01)
        win.grab().save(sys.argv[1]); shot = True
        print("shot at", round(time.time() - t0, 1), "s; status:", win.status_bar.message.text(), "| eta:", win.status_bar.eta.text())
win.jobs.cancel(); win.jobs.wait_idle(60)
win.undo.setClean(); win.close()
