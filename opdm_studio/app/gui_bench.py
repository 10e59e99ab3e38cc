"""`opdm-studio bench --gui [--json]`: how fast the window is usable, and whether it stays fluid.

1. **Launch**: wall time from starting a fresh ``python -m opdm_studio gui`` process to the moment
   its main window is shown and the event loop has run once (the process prints a marker and
   quits). Measured in a private, empty home (first start: the sample cut opens) and again with the
   cut given on the command line.
2. **Event-loop latency while colouring**: in this process, a window colours a synthetic cut in
   its worker thread while a 10 ms QTimer records when it actually fires; the worst gap minus
   10 ms is the longest the GUI was frozen. Target: no stall over 100 ms.
3. **Playback** (``playback_fps``): the bundled sample cut (24 frames, 960x540), coloured with
   the flow preview, played in a 1400x860 window at 24 fps with the onion skin on; the frames a
   second shown once its first loop has prepared the pictures, and that first loop's own rate.
   Target: 24.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opdm_studio.cli_args import Parser, choice_list, int_in

TICK_MS = 10
STALL_MS = 100.0


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["OPDM_STUDIO_HOME"] = str(home)
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def measure_launch(args: list[str], home: Path) -> float:
    """Seconds from process start to a shown, responsive window."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "opdm_studio", "gui", "--bench-ready", *args],
                            env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("OPDM-READY"):
            ready = time.perf_counter() - t0
            break
    proc.wait(timeout=60)
    if ready is None:
        err = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"the app did not start (exit {proc.returncode}): {err[-2000:]}")
    return ready


def _make_cut(folder: Path, n: int, size: int) -> Path:
    """A synthetic cut with painted first and last frames."""
    try:
        from opdm_studio.synth.cut import write_cut
        write_cut(folder, n_frames=n, size=(size, size), seed=3, keyframes=[0, n - 1])
        return folder
    except Exception:
        pass
    # Fallback without the training package: a ball crossing the frame.
    from PIL import Image, ImageDraw
    (folder / "lineart").mkdir(parents=True)
    (folder / "color").mkdir()
    for i in range(n):
        t = i / max(1, n - 1)
        cx, r = int(size * (0.25 + 0.5 * t)), size // 6
        line = Image.new("L", (size, size), 255)
        color = Image.new("RGB", (size, size), (236, 226, 200))
        for img, ink, fill in ((line, 0, None), (color, (0, 0, 0), (220, 80, 60))):
            ImageDraw.Draw(img).ellipse((cx - r, size // 2 - r, cx + r, size // 2 + r), fill=fill,
                                        outline=ink, width=3)
        line.save(folder / "lineart" / f"{i + 1:04d}.png")
        if i in (0, n - 1):
            color.save(folder / "color" / f"{i + 1:04d}.png")
    return folder


def measure_latency(method: str, n: int, size: int, steps: int, workdir: Path) -> dict:
    """Colour a synthetic cut in the window's worker; record the event loop's timer gaps."""
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    from opdm_studio.app.settings import AppSettings

    cut = _make_cut(workdir / f"cut_{method}", n, size)
    if method == "model":
        # A random-weight tiny model (no download), written by a child process so that torch is
        # first imported by the window's worker, as in a real session's first colouring.
        code = ("import sys, torch; from opdm_studio.core.checkpoint import save_checkpoint; "
                "from opdm_studio.core.config import ModelConfig; from opdm_studio.core.model import OPDM; "
                "torch.manual_seed(0); save_checkpoint(sys.argv[1], OPDM(ModelConfig.preset('tiny')).eval())")
        from opdm_studio import paths
        subprocess.run([sys.executable, "-c", code, str(paths.models_dir() / "default.safetensors")],
                       check=True, env=dict(os.environ))
        fresh = "torch" not in sys.modules
    else:
        fresh = None
    make_app()
    win = MainWindow(settings=AppSettings(method=method, steps=steps, working_size=min(224, size)),
                     open_sample=False, open_dialogs_on_finish=False)
    win.show()
    if not win.open_cut(cut):
        raise RuntimeError(f"cannot open the benchmark cut {cut}")
    # The synthetic cut paints every frame (ground truth): keep only the first and last as keys.
    doc = win.doc
    assert doc is not None              # (open_cut succeeded)
    for k in doc.keys():
        if k not in (0, n - 1):
            doc.unmark_key(k)
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now
    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    timer.start()
    # Start-up warm-up: with an OPDM model the window imports torch in the background; wait for
    # it (a user takes seconds to pick frames) and report the hitch it causes separately.
    end = time.perf_counter() + 60
    while not win.preloader.done() and time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.001)
    QApplication.processEvents()
    warmup = [g - TICK_MS for g in gaps]
    gaps.clear()
    last[0] = clock.nsecsElapsed()
    win.timeline.select_range(0, n - 1)
    t0 = time.perf_counter()
    win.colorize_selection()
    while win.busy:
        QApplication.processEvents()
        # Keep scrubbing the timeline like a user would, to exercise thumbnails and the viewer.
        time.sleep(0.001)
    seconds = time.perf_counter() - t0
    timer.stop()
    outcome = win.jobs.last_outcome
    win.undo.setClean()
    win.close()
    if outcome is None or outcome.error is not None:
        raise RuntimeError(f"colouring failed in the benchmark: {outcome and outcome.error}")
    stalls = [g - TICK_MS for g in gaps]
    stalls.sort()
    p99 = stalls[int(0.99 * (len(stalls) - 1))] if stalls else 0.0
    return {"method": method, "frames": n, "size": size, "steps": steps if method == "model" else None,
            "colour_seconds": round(seconds, 2), "ticks": len(gaps),
            "max_stall_ms": round(max(stalls, default=0.0), 1), "p99_stall_ms": round(p99, 1),
            "stalls_over_100ms": sum(1 for s in stalls if s > STALL_MS),
            "torch_imported_in_process_before": not fresh if fresh is not None else None,
            "warmup_max_stall_ms": round(max(warmup, default=0.0), 1)}


def measure_first_frame(timeout_s: float = 900.0) -> dict:
    """Colour the whole sample cut in the window with the default model as a user would (the
    model preloaded, all frames selected, Colorize): when the first in-between (a frame that is
    not a keyframe nor a held drawing's copy) is on screen (a first picture, or finished), when the first is finished, when
    each frame after it is, and the status bar's ETA against the time really left."""
    from PySide6.QtWidgets import QApplication

    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    from opdm_studio.app.settings import AppSettings
    from opdm_studio.engine.project_home import sample_cut_path

    cut = sample_cut_path()
    if cut is None:
        raise RuntimeError("no sample cut is bundled with this installation")
    make_app()
    win = MainWindow(settings=AppSettings(), open_sample=False, open_dialogs_on_finish=False)
    win.show()
    if not win.open_cut(cut) or win.doc is None:
        raise RuntimeError(f"cannot open the sample cut {cut}")
    end = time.perf_counter() + 120
    while not win.preloader.done() and time.perf_counter() < end:   # the model, loaded at start-up
        QApplication.processEvents()
        time.sleep(0.005)
    keys = set(win.doc.keys())
    n = win.doc.n_frames
    shown: dict[int, float] = {}       # frame -> when it was finished
    seen: dict[int, float] = {}        # frame -> when it was first on screen (a first picture)
    etas: list[tuple[float, float | None]] = []

    def on_progress(p) -> None:
        now = time.perf_counter() - t0
        etas.append((now, p.eta_s))
        for f in [*p.previews, *p.frames]:
            info = win.doc.result_info(f) if win.doc is not None else None
            if f not in keys and not (info is not None and info.status == "held"):
                seen.setdefault(f, now)     # a held drawing is its source's copy: not counted
        for f in p.frames:
            info = win.doc.result_info(f) if win.doc is not None else None
            if f not in keys and not (info is not None and info.status == "held"):
                shown.setdefault(f, now)
    win.jobs.progress.connect(on_progress)
    win.timeline.select_range(0, n - 1)
    t0 = time.perf_counter()
    win.colorize_selection()
    if not win.jobs.wait_idle(timeout_s):
        raise RuntimeError("colouring the sample cut did not finish")
    total = time.perf_counter() - t0
    outcome = win.jobs.last_outcome
    win.undo.setClean()
    win.close()
    if outcome is None or outcome.error is not None:
        raise RuntimeError(f"colouring failed in the benchmark: {outcome and outcome.error}")
    times = sorted(shown.values())
    first = times[0] if times else None
    on_screen = min(seen.values()) if seen else None
    from opdm_studio.bench.cut_bench import eta_truth
    eta = eta_truth(etas + [(total, 0.0)], first)
    return {"cut": "sample", "frames": n, "keys": sorted(keys),
            "first_frame_s": None if on_screen is None else round(on_screen, 2),
            "first_finished_s": None if first is None else round(first, 2), "total_s": round(total, 2),
            "after_first_s_per_frame": round((times[-1] - first) / (len(times) - 1), 2)
            if first is not None and len(times) > 1 else None,
            "eta_max_error": eta.get("eta_max_error"), "eta_record": eta.get("eta_record")}


def measure_playback(seconds: float, onion: bool = True) -> dict:
    """Play the sample cut (coloured with the flow preview first) at 24 fps in the window."""
    from PySide6.QtCore import QEventLoop, QTimer

    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    from opdm_studio.app.settings import AppSettings
    from opdm_studio.engine.project_home import sample_cut_path

    cut = sample_cut_path()
    if cut is None:
        raise RuntimeError("no sample cut is bundled with this installation")
    make_app()
    win = MainWindow(settings=AppSettings(method="flow"), open_sample=False, open_dialogs_on_finish=False)
    win.resize(1400, 860)
    win.show()
    if not win.open_cut(cut) or win.doc is None:
        raise RuntimeError(f"cannot open the sample cut {cut}")
    n, size = win.doc.n_frames, "x".join(map(str, win.doc.size))
    win.timeline.select_range(0, n - 1)
    win.colorize_selection()
    if not win.jobs.wait_idle(900):
        raise RuntimeError("colouring the sample cut did not finish")

    def run(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()
    win.set_mode("color")
    pb = win.playback
    pb.onion.setChecked(onion)
    pb.set_fps(24)
    win.timeline.select_range(0, n - 1)
    if win.frames.thumbs is not None:
        win.frames.thumbs.wait(20000)      # the timeline's new thumbnails made: a settled window
    run(200)
    pb.start()
    end = time.perf_counter() + 120
    while len(pb.clock.shown_at) < n and time.perf_counter() < end:
        run(50)
    first = pb.clock.measured_fps()
    start = len(pb.clock.shown_at)
    run(int(seconds * 1000))
    times = pb.clock.shown_at[start - 1:]
    pb.stop()
    win.undo.setClean()
    win.close()
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {"cut": "sample", "size": size,
            "frames": n, "window": "1400x860", "mode": "color", "onion_skin": onion, "target_fps": 24,
            "playback_fps": round(fps, 2), "first_loop_fps": round(first, 2), "frames_shown": len(times),
            "longest_frame_ms": round(1000 * max(gaps, default=0.0), 1),
            "frames_late_by_half_a_frame": sum(1 for g in gaps if g > 1.5 / 24)}


def main(argv: list[str]) -> int:
    """Run the GUI benchmark and print a table (or JSON)."""
    parser = Parser(prog="opdm-studio bench --gui", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--frames", type=int_in(3, 10000, "--frames"), default=24, help="frames of the synthetic cut (24)")
    parser.add_argument("--size", type=int_in(64, 4096, "--size"), default=512, help="frame size in pixels (512)")
    parser.add_argument("--steps", type=int_in(1, 1000, "--steps"), default=4, help="DDIM steps for the model run (4)")
    parser.add_argument("--methods", type=choice_list(("flow", "model"), "--methods"),
                        default=["flow", "model"], help="which colouring runs (flow,model)")
    parser.add_argument("--repeat", type=int_in(1, 100, "--repeat"), default=3, help="launch repetitions (3)")
    parser.add_argument("--play-seconds", type=int_in(0, 600, "--play-seconds"), default=6,
                        help="seconds of sample-cut playback to measure (6; 0 skips it)")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # headless machines and CI
    out: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.system()}",
                 "python": platform.python_version()}
    with tempfile.TemporaryDirectory(prefix="opdm-gui-bench-") as tmp_name:
        tmp = Path(tmp_name)
        first = [measure_launch([], tmp / f"home_first_{i}") for i in range(args.repeat)]
        cut = _make_cut(tmp / "launch_cut", 48, 1024)
        with_cut = [measure_launch([str(cut)], tmp / f"home_cut_{i}") for i in range(args.repeat)]
        out["launch_first_start_s"] = round(min(first), 2)
        out["launch_first_start_all_s"] = [round(x, 2) for x in first]
        out["launch_with_cut_s"] = round(min(with_cut), 2)
        out["launch_with_cut_all_s"] = [round(x, 2) for x in with_cut]
        home = tmp / "home_latency"
        old = os.environ.get("OPDM_STUDIO_HOME")
        os.environ["OPDM_STUDIO_HOME"] = str(home)
        try:
            out["latency"] = [measure_latency(m, args.frames, args.size, args.steps, tmp)
                              for m in args.methods]
            if "model" in args.methods:
                # A home of its own: the sample cut's project starts uncoloured (the playback
                # below colours the same cut in the other home).
                os.environ["OPDM_STUDIO_HOME"] = str(tmp / "home_first_frame")
                out["first_frame"] = measure_first_frame()
                out["first_frame_s"] = out["first_frame"]["first_frame_s"]
                os.environ["OPDM_STUDIO_HOME"] = str(home)
            if args.play_seconds:
                out["playback"] = measure_playback(args.play_seconds)
                out["playback_fps"] = out["playback"]["playback_fps"]
        finally:
            if old is None:
                os.environ.pop("OPDM_STUDIO_HOME", None)
            else:
                os.environ["OPDM_STUDIO_HOME"] = old
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"GUI benchmark, {out['date']}, {out['machine']}, Python {out['python']}")
    print(f"launch to usable window, first start (sample cut): {out['launch_first_start_s']:.2f} s "
          f"(runs: {out['launch_first_start_all_s']})")
    print(f"launch to usable window, 48-frame 1024 px cut:     {out['launch_with_cut_s']:.2f} s "
          f"(runs: {out['launch_with_cut_all_s']})")
    print("event-loop latency while colouring (10 ms timer):")
    print(f"  {'method':<6} {'frames':>6} {'size':>5} {'colour s':>9} {'max stall ms':>13} "
          f"{'p99 ms':>7} {'>100 ms':>8} {'start-up warm-up max stall ms':>30}")
    for r in out["latency"]:
        print(f"  {r['method']:<6} {r['frames']:>6} {r['size']:>5} {r['colour_seconds']:>9.2f} "
              f"{r['max_stall_ms']:>13.1f} {r['p99_stall_ms']:>7.1f} {r['stalls_over_100ms']:>8} "
              f"{r['warmup_max_stall_ms']:>30.1f}")
    if "first_frame" in out:
        r = out["first_frame"]
        print(f"sample cut with the default model: first in-between on screen after {r['first_frame_s']} s "
              f"(target 5 s), the first finished after {r['first_finished_s']} s, then "
              f"{r['after_first_s_per_frame']} s per frame, all in {r['total_s']} s; "
              f"ETA error after it at most {r['eta_max_error']}")
    if "playback" in out:
        r = out["playback"]
        print(f"playback of the sample cut ({r['size']}, {r['frames']} frames, onion skin), target 24 fps: "
              f"{r['playback_fps']:.2f} fps over {r['frames_shown']} frames (first loop {r['first_loop_fps']:.2f} "
              f"fps; longest frame {r['longest_frame_ms']:.1f} ms, {r['frames_late_by_half_a_frame']} late)")
    return 0
