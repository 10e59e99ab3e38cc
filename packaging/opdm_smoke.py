"""GUI smoke check: open the sample cut in the main window, colour one range, save a screenshot.

Built app: ``opdm-studio --smoke-test DIR``; from source: ``python packaging/opdm_smoke.py DIR``.
Runs offscreen when there is no display (or in a real window under ``xvfb-run``), in a private
home folder under DIR, with the flow method unless ``--method opdm``. Colours the frames between
the sample cut's first two keyframes (or ``--frames A-B``, timeline rows), checks that each has a
result, writes ``DIR/screenshot.png`` and ``DIR/smoke.json`` (seconds to the shown window,
seconds of colouring, frames coloured) and prints the JSON. Exit status 0 when all went well.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

T_START = time.perf_counter()


def _deadline(seconds: float) -> None:
    """End the process if the check hangs (a modal error dialog would wait forever offscreen)."""
    import threading

    def stop() -> None:
        print(f"smoke test: no result after {seconds:.0f} s", file=sys.stderr, flush=True)
        os._exit(3)
    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()


def main(argv: list[str] | None = None) -> int:
    """Run the check; returns the exit status."""
    parser = argparse.ArgumentParser(prog="opdm-studio --smoke-test", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="folder for the screenshot, the report and the private home")
    parser.add_argument("--method", choices=("flow", "opdm"), default="flow")
    parser.add_argument("--frames", help="timeline rows A-B to colour (default: first key to second key)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    _deadline(args.timeout)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["OPDM_STUDIO_HOME"] = str(out / "home")   # the user's settings stay untouched
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    from opdm_studio.app.settings import AppSettings
    from opdm_studio.engine.project_home import sample_cut_path

    sample = sample_cut_path()
    if sample is None:
        print("smoke test: this build has no sample cut", file=sys.stderr)
        return 2
    app = make_app()
    win = MainWindow(settings=AppSettings(method=args.method), open_sample=False, open_dialogs_on_finish=False)
    win.resize(1400, 860)
    win.show()
    app.processEvents()
    shown_s = time.perf_counter() - T_START
    if not win.open_cut(sample) or win.doc is None:
        print(f"smoke test: cannot open the sample cut {sample}", file=sys.stderr)
        return 1
    doc = win.doc
    keys = doc.keys()
    if args.frames:
        first, _, last = args.frames.partition("-")
        lo, hi = int(first), int(last or first)
    else:
        lo, hi = (keys[0], keys[1]) if len(keys) >= 2 else (0, doc.n_frames - 1)
    win.timeline.select_range(lo, hi)
    t0 = time.perf_counter()
    win.colorize_selection()
    done = win.jobs.wait_idle(args.timeout)
    colour_s = time.perf_counter() - t0
    coloured = [i for i in range(lo, hi + 1) if doc.has_result(i) or doc.is_key(i)]
    win.go_to((lo + hi) // 2)
    win.set_mode("color")
    end = time.perf_counter() + 1.0
    while time.perf_counter() < end:   # let thumbnails and the last repaint land
        app.processEvents()
        time.sleep(0.02)
    shot = out / "screenshot.png"
    saved = win.grab().toImage().save(str(shot), "PNG")
    report = {"ok": bool(done and saved and len(coloured) == hi - lo + 1),
              "method": win.method, "frames": [lo, hi], "coloured": len(coloured),
              "window_shown_s": round(shown_s, 2), "colour_s": round(colour_s, 2),
              "frozen": bool(getattr(sys, "frozen", False)), "platform": app.platformName(),
              "screenshot": str(shot) if saved else None}
    win.undo.setClean()
    win.close()
    (out / "smoke.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report), flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
