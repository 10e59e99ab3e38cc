"""`python -m opdm_studio.app.screenshot OUT.png`: the main window after colouring the sample cut.

Opens the bundled sample cut (or ``--cut DIR``) in a private home folder, colours the whole cut
with the method the settings pick (flow preview when no model is installed), shows a coloured
in-between frame side by side with its keyframes, and grabs the window to a PNG. Works offscreen
(``QT_QPA_PLATFORM=offscreen``) and under ``xvfb-run``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from opdm_studio.fileio import atomic_path


def main(argv: list[str] | None = None) -> int:
    """Take the screenshot; returns 0 on success."""
    parser = argparse.ArgumentParser(prog="python -m opdm_studio.app.screenshot", description=__doc__.split("\n")[0])
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--cut", help="cut folder (default: the bundled sample cut)")
    parser.add_argument("--size", default="1400x860", help="window size WxH (1400x860)")
    parser.add_argument("--mode", default="color", help="viewer mode: line, color, overlay, side, review")
    parser.add_argument("--frame", type=int, default=None, help="frame index to show (default: middle)")
    parser.add_argument("--width", type=int, default=1200, help="scale the PNG to this width (1200)")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # A private home: the user's settings, recent files and models stay untouched.
    home = tempfile.mkdtemp(prefix="opdm-screenshot-")
    os.environ["OPDM_STUDIO_HOME"] = home

    from PySide6.QtCore import Qt

    from opdm_studio.app.document import sample_cut_path
    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow

    cut = Path(args.cut) if args.cut else sample_cut_path()
    if cut is None:
        print("no sample cut is bundled; pass --cut DIR", file=sys.stderr)
        return 2
    app = make_app()
    win = MainWindow(open_sample=False, open_dialogs_on_finish=False)
    w, h = (int(v) for v in args.size.lower().split("x"))
    win.resize(w, h)
    win.show()
    if not win.open_cut(cut):
        return 2
    doc = win.doc
    win.timeline.select_range(0, doc.n_frames - 1)
    win.colorize_selection()
    if not win.jobs.wait_idle(600):
        print("colouring did not finish", file=sys.stderr)
        return 1
    keys = doc.keys()
    frame = args.frame
    if frame is None:
        # The in-between farthest from its keys shows the method at work.
        frame = (keys[0] + keys[1]) // 2 if len(keys) >= 2 else doc.n_frames // 2
    win.go_to(frame)
    win.set_mode(args.mode)
    win.frames.thumbs.wait(10000)
    end = time.perf_counter() + 1.0
    while time.perf_counter() < end:   # let thumbnails and the last repaint land
        app.processEvents()
        time.sleep(0.02)
    image = win.grab().toImage()
    if args.width and image.width() > args.width:
        image = image.scaledToWidth(args.width, Qt.TransformationMode.SmoothTransformation)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(out) as tmp:
            if not image.save(str(tmp), "PNG"):
                raise OSError("Qt could not encode the PNG")
    except OSError as exc:
        print(f"cannot write {out}: {exc}", file=sys.stderr)
        return 1
    win.undo.setClean()
    win.close()
    print(f"wrote {out} ({out.stat().st_size // 1024} KB): frame {doc.frame_name(frame)}, "
          f"{win.method} method")
    return 0


if __name__ == "__main__":
    sys.exit(main())
