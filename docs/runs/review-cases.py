"""The three cases of the paint issue opened in the app, coloured with the shipped model, and the
Review view grabbed (docs/images/review-*.png):

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/runs/review-cases.py ../shared/evaldata OUT_DIR

- the sample cut (keys 0, 12, 23): frames 2-6, whose faces came out mottled and unflagged;
- Anita (lineart/ + color/, keys 20 and 36): frame 28, whose hair came out mostly white (and
  where "Next flagged region" stops first on it: review-anita-next.png);
- konobi 007 (colour frames only, keys 0 and 21): frame 10, whose hand took the vest's red.

For each frame it prints the share of the frame the Review view hatches, and for the named
region (a point inside it) its colour against the real frame's, whether it is flagged, and its
confidence; for a named paint of the real frame (Anita's hair, whose pencil lines make no region
of their own), how much of it the Colour view gets wrong (a channel more than 24 levels off) and
how much of that the Review view hatches. The cuts are built in OUT_DIR from the evaluation clips (never copied into the
repository)."""
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["OPDM_STUDIO_HOME"] = tempfile.mkdtemp(prefix="opdm-review-cases-")
data, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)

from PySide6.QtCore import Qt  # noqa: E402

from opdm_studio.app.launch import make_app  # noqa: E402
from opdm_studio.app.main_window import MainWindow  # noqa: E402
from opdm_studio.engine.project_home import sample_cut_path  # noqa: E402
from opdm_studio.evaluation.protocol import read_rgb  # noqa: E402


def anita_cut(root: Path) -> Path:
    src = data / "Anita_readme_demo_sketch_color"
    cut = root / "anita"
    if not cut.exists():
        (cut / "color").mkdir(parents=True)
        shutil.copytree(src / "lineart", cut / "lineart")
        for k in (20, 36):
            shutil.copy(src / f"{k:04d}.png", cut / "color" / f"{k:04d}.png")
    return cut


def konobi_cut(root: Path) -> Path:
    src = data / "EISAI_konobi_s01e007_000282"
    cut = root / "konobi"
    if not cut.exists():
        cut.mkdir(parents=True)
        for p in sorted(src.glob("*.png")):
            shutil.copy(p, cut / p.name)
    return cut


def truth_of(case: str, frame: int) -> np.ndarray | None:
    if case == "anita":
        return read_rgb(data / "Anita_readme_demo_sketch_color" / f"{frame:04d}.png")
    if case == "konobi":
        return read_rgb(data / "EISAI_konobi_s01e007_000282" / f"{frame:04d}.png")
    from opdm_studio.synth.cut import SAMPLE, generate_cut
    return generate_cut(**SAMPLE).colors[frame]   # type: ignore[arg-type]


def paint_line(name: str, paint: tuple[int, int, int], color: np.ndarray, truth: np.ndarray,
               conf: np.ndarray | None) -> str:
    """How much of the real frame's pixels in ``paint`` the Colour view gets wrong, and how much
    of that the Review view hatches."""
    real = np.abs(truth.astype(int) - paint).max(axis=2) <= 12
    wrong = real & (np.abs(color.astype(int) - truth.astype(int)).max(axis=2) > 24)
    low = conf < 0.5 if conf is not None else np.zeros(real.shape, bool)
    white = wrong & (color.min(axis=2) >= 240)
    return (f"; {name} (real paint {paint}): {real.sum()} px, {wrong.sum() / max(real.sum(), 1):.1%} "
            f"wrong, of which {low[wrong].mean() if wrong.any() else 0:.1%} hatched (paper-white "
            f"{white.sum()} px, {low[white].mean() if white.any() else 0:.1%} hatched); "
            f"wrong and not hatched: {(wrong & ~low).sum()} px")


def run_case(app, case: str, cut: Path, keys: list[int], frames: list[int],
             points: dict[int, tuple[int, int]],
             paints: dict[int, tuple[str, tuple[int, int, int]]] | None = None) -> None:
    win = MainWindow(open_sample=False, open_dialogs_on_finish=False)
    win.resize(1400, 860)
    win.show()
    assert win.open_cut(cut), cut
    doc = win.doc
    for k in doc.keys():
        if k not in keys:
            doc.unmark_key(k)
    for k in keys:
        if k not in doc.keys():
            doc.mark_key(k)
    win.refresh_after_keys() if hasattr(win, "refresh_after_keys") else None
    win.timeline.select_range(min(keys), max(keys))
    win.colorize_selection()
    assert win.jobs.wait_idle(1800), "colouring did not finish"
    for f in frames:
        conf = doc.confidence(f)
        color = doc.composite(f)
        flagged_share = float((conf < 0.5).mean()) if conf is not None else 0.0
        line = f"{case} frame {f}: Review hatches {flagged_share:.1%} of the frame"
        if f in points:
            x, y = points[f]
            truth = truth_of(case, f)
            lab = doc.fixer.regions.labels(f)
            k = int(lab[y, x])
            region = lab == k
            got = np.median(color[region], axis=0).astype(int)
            want = np.median(truth[region], axis=0).astype(int) if truth is not None else None
            c = float(np.median(conf[region])) if conf is not None else 1.0
            line += (f"; region at ({x}, {y}): {region.sum()} px, colour {tuple(got)} "
                     f"(real {tuple(want) if want is not None else '?'}), confidence {c:.2f}, "
                     f"{'flagged' if c < 0.5 else 'not flagged'}")
        if paints and f in paints:
            truth = truth_of(case, f)
            assert truth is not None
            line += paint_line(*paints[f], color, truth, conf)
        print(line, flush=True)
        win.go_to(f)
        win.set_mode("review")
        win.frames.thumbs.wait(10000)
        end = time.perf_counter() + 0.8
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.02)
        image = win.grab().toImage().scaledToWidth(1200, Qt.TransformationMode.SmoothTransformation)
        image.save(str(out / f"review-{case}-{f:04d}.png"), "PNG")
    if case == "anita":
        # "Next flagged region" (N) from the start of the frame: where it stops, what it says.
        win.go_to(frames[0])
        win.acts.next_flag.trigger()
        end = time.perf_counter() + 0.8
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.02)
        print(f"{case}: N on frame {frames[0]} stops on frame {win.current_frame()}: "
              f"{win.status_bar.message.text()}", flush=True)
        image = win.grab().toImage().scaledToWidth(1200, Qt.TransformationMode.SmoothTransformation)
        image.save(str(out / f"review-{case}-next.png"), "PNG")
    win.undo.setClean()
    win.close()


def main() -> None:
    app = make_app()
    cuts = out / "cuts"
    sample = cuts / "sample"
    if not sample.exists():
        shutil.copytree(sample_cut_path(), sample)
    which = sys.argv[3].split(",") if len(sys.argv) > 3 else ["sample", "anita", "konobi"]
    if "sample" in which:
        run_case(app, "sample", sample, [0, 12, 23], [2, 4, 6], {})
    if "anita" in which:
        run_case(app, "anita", anita_cut(cuts), [20, 36], [28], {},
                 {28: ("the hair", (232, 235, 213))})
    if "konobi" in which:
        run_case(app, "konobi", konobi_cut(cuts), [0, 21], [10], {})


main()
