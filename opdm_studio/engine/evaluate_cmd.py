"""`opdm-studio evaluate DATA_DIR`: the paper's protocol on clip folders, baselines and the model.

Lives in engine (not evaluation) because the OPDM rows need the engine's per-frame colouriser;
evaluation itself never imports engine. Writes a Markdown + CSV report and contact sheets.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from opdm_studio.cli_args import Parser, count, int_in, int_list
from opdm_studio.errors import ExportError, OPDMError
from opdm_studio.evaluation.baselines import BASELINES, Method, Task
from opdm_studio.evaluation.protocol import Results, evaluate_clip, find_clips
from opdm_studio.evaluation.report import write_report
from opdm_studio.guard import Protected, check_may_write

SNAP_MODES = ("off", "auto", "all")


def model_methods(model_path: str, steps: int = 10, seed: int = 0, device: str = "auto",
                  working_size: int = 224) -> dict[str, Method]:
    """Three method rows for a checkpoint: snapping off, auto, all (named ``opdm:<model> snap=...``).

    The network samples once per frame (row ``off``, uncached); ``auto`` and ``all`` reuse those
    guesses and decide the paint of the whole window's regions along their tracks, as the cut
    run does (:class:`~opdm_studio.engine.paint.IntervalPainter`), but report the full per-frame
    time (sampling + their share of the decision and snapping).
    """
    from opdm_studio.engine.frame import FrameColorizer
    from opdm_studio.engine.models import load_model
    from opdm_studio.engine.project import ColorizeSettings

    model = load_model(model_path, device)
    settings = ColorizeSettings(method="model", steps=steps, seed=seed, device=device, snap="off",
                                working_size=working_size)
    rows = _ModelRows(FrameColorizer("model", model=model, settings=settings))
    name = Path(model_path).stem

    def row(mode: str) -> Method:
        return lambda task: rows.run(task, mode)

    return {f"opdm:{name} snap={m}": row(m) for m in SNAP_MODES}


class _ModelRows:
    """The model's rows over the protocol's tasks: one sampling per drawing, shared by the rows.

    The protocol runs each method over a whole window before the next method, so the guesses
    of the current window are kept (keyed by the target drawing) and dropped when the key pair
    changes. The arrays named by the ids are held too, so an id cannot be reused meanwhile.
    """

    def __init__(self, fc: Any) -> None:
        self.fc = fc
        self.cache: dict[Any, Any] = {}
        self.pair: dict[str, Any] = {"key": None}

    def sample(self, task: Task, target: np.ndarray, t: float, index: int | None) -> tuple:
        """The guess of one drawing of the task's window (cached): (raw, composite off, seconds)."""
        from opdm_studio.pipelines.base import Interval
        fc, cache = self.fc, self.cache
        key = (id(target), t)
        if key not in cache:
            t0 = time.perf_counter()
            fc.settings.snap = "off"
            interval = None
            if task.window_lines is not None and index is not None:
                lines = task.window_lines     # one list per window: flow chained through it
                self.pair["lines"] = lines    # held, so its id is not reused meanwhile
                interval = Interval(key=("window", id(lines)), load=lambda: lines,
                                    position=index, length=len(lines))
            out = fc.colorize(target, task.prev_rgb, task.next_rgb, task.prev_line,
                              task.next_line, t=t, interval=interval)
            cache[key] = (out.raw, out.composite, time.perf_counter() - t0, target, out.warp,
                          out.base)
        return cache[key]

    def decide(self, task: Task, snap: str) -> tuple[dict[int, Any], float]:
        """Every in-between of the task's window decided along its tracks (once per window)."""
        from opdm_studio.engine.fixes import RegionCache
        from opdm_studio.engine.paint import IntervalPainter
        from opdm_studio.pipelines.base import Guess
        fc, cache = self.fc, self.cache
        lines = task.window_lines
        if lines is None or task.index is None:
            return {}, 0.0
        if ("decided", snap, id(lines)) not in cache:
            last = len(lines) - 1
            raws = {}
            for j in range(1, last):
                raw, _, _, _, warp, base = self.sample(task, lines[j], j / last, j)
                raws[j] = Guess(raw, warp, base)
            t0 = time.perf_counter()
            assert fc.palette is not None       # the window's key pair was just used
            # One region cache per window: the auto and all rows share its regions and flows.
            if ("regions", id(lines)) not in cache:
                cache[("regions", id(lines))] = RegionCache(lambda j: lines[j], gap=fc.settings.gap)
            painter = IntervalPainter(cache[("regions", id(lines))], snap)
            decided = painter.decide(fc.palette, {0: task.prev_rgb, last: task.next_rgb}, raws)
            cache[("decided", snap, id(lines))] = (decided, (time.perf_counter() - t0) / max(last - 1, 1))
        return cache[("decided", snap, id(lines))]

    def run(self, task: Task, snap: str) -> tuple[np.ndarray, float]:
        """One row's picture of the task's drawing and its seconds."""
        fc = self.fc
        pair_key = (id(task.prev_rgb), id(task.next_rgb))
        if self.pair["key"] != pair_key:
            self.cache.clear()
            self.pair.update(key=pair_key, hold=(task.prev_rgb, task.next_rgb))
        raw, off, secs = self.sample(task, task.target_line, task.t, task.index)[:3]
        if snap == "off":
            return off, secs
        decided, share = self.decide(task, snap)
        t0 = time.perf_counter()
        fc.settings.snap = snap
        try:
            out = fc.finish(raw, task.target_line,
                            decision=None if task.index is None else decided.get(task.index))
        finally:
            fc.settings.snap = "off"
        return out.composite, secs + share + time.perf_counter() - t0


def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="opdm-studio evaluate",
        description="Evaluate colouring methods on clips of consecutive colour frames: windows of "
                    "G+1 frames, first/last are keys, the middle frames are coloured from line art "
                    "extracted from their colour; PSNR/SSIM/MS-SSIM/QSSIM at 224x224 and native, "
                    "CDC, warp error, palette fidelity, seconds per frame.")
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder of clip folders (0000.png, 0001.png, ...)")
    p.add_argument("--gaps", type=int_list(2, 10000), default=[8, 16], help="comma-separated gaps G (default 8,16)")
    p.add_argument("--model", metavar="PATH", help="OPDM checkpoint to evaluate (rows snap=off/auto/all)")
    p.add_argument("--out", metavar="REPORT_DIR", help="report folder (default ./opdm-eval-DATE-TIME)")
    p.add_argument("--clips", metavar="GLOB", help="only clip folders whose name matches")
    p.add_argument("--size224-only", action="store_true", help="skip native-resolution metrics (faster)")
    p.add_argument("--methods", default=",".join(BASELINES),
                   help=f"baselines to run (default all: {','.join(BASELINES)}; 'none' for none)")
    p.add_argument("--fid-weights", metavar="FILE",
                   help="TorchScript Inception file (e.g. inception-2015-12-05.pt) to compute FID")
    p.add_argument("--steps", type=int_in(1, 500, "--steps"), default=10, help="DDIM steps of the model (default 10)")
    p.add_argument("--seed", type=count, default=0)
    p.add_argument("--working-size", type=int_in(32, 2048, "--working-size"), default=224,
                   help="short side the model works at (default 224, the paper's)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="auto | cpu | cuda | mps for the model")
    return p


def main(argv: list[str]) -> int:
    """Run the protocol and write the report; returns 0, or 1 when no clip was found."""
    args = _parser().parse_args(argv)
    data = Path(args.data_dir)
    if not data.is_dir():
        raise OPDMError(f"{data} does not exist or is not a folder; nothing evaluated")
    gaps = args.gaps
    names = [] if args.methods.strip() == "none" else [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in BASELINES]
    if unknown:
        raise OPDMError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(BASELINES)}")
    methods: dict[str, Method] = {m: BASELINES[m] for m in names}
    if args.model:
        methods.update(model_methods(args.model, args.steps, args.seed, args.device,
                                    args.working_size))
    if not methods:
        raise OPDMError("no method to evaluate: give --methods or --model")
    features = None
    if args.fid_weights:
        from opdm_studio.evaluation.fid import InceptionFeatures
        features = InceptionFeatures(args.fid_weights)
    out = Path(args.out) if args.out else Path.cwd() / _dt.datetime.now().strftime("opdm-eval-%Y%m%d-%H%M%S")
    check_may_write(out, [Protected("evaluation data", data)], "report folder",
                    "choose another --out folder")
    if (out / "report.md").exists():
        raise ExportError(f"{out} already holds a report; choose another --out folder")

    results = Results()
    clips = find_clips(data, args.clips, results.notices)
    for n in results.notices:
        print(f"notice: {n}")
    if not clips:
        print(f"opdm-studio evaluate: no clip of >= 3 consecutive colour frames in {data}; nothing evaluated.")
        return 1
    started = time.perf_counter()
    fid_sets: dict | None = {} if features is not None else None
    for clip in clips:
        for note in clip.notes:
            results.notices.append(f"{clip.name}: {note}")
        print(f"{clip.name}: {len(clip.frames)} frames {clip.frames[0].shape[1]}x{clip.frames[0].shape[0]}"
              + (" + hand-drawn line art" if clip.lineart else ""), flush=True)
        evaluate_clip(clip, methods, gaps, results, size224_only=args.size224_only,
                      progress=lambda m: print("  " + m, flush=True), fid_sets=fid_sets)
    if features is not None and fid_sets is not None:
        from opdm_studio.evaluation.fid import fid
        for (lines, gap, name), imgs in fid_sets.items():
            if name != "__gt__":
                results.fid[(lines, gap, name)] = fid(fid_sets[(lines, gap, "__gt__")], imgs, features)
    else:
        results.notices.append("FID skipped: no Inception weights (--fid-weights FILE)")
    elapsed = time.perf_counter() - started
    header = "\n".join([
        "# OPDM Studio evaluation report", "",
        f"- command: `opdm-studio evaluate {' '.join(argv)}`",
        f"- date: {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.machine()} {platform.processor() or ''} {platform.system()}, "
        f"python {platform.python_version()}",
        f"- clips: {len(clips)}; gaps: {','.join(map(str, gaps))}; methods: {', '.join(methods)}",
        f"- wall time: {elapsed:.0f} s",
        "- protocol: disjoint windows of G+1 frames (G = min(G, frames-1) for short clips), keys = "
        "first/last frame; line art = extract_lines darkness > 0.25 as a binary drawing; metrics @224 "
        "= whole frame resized to 224x224 (INTER_AREA); means are frame-weighted; CDC/WE per window "
        "(keys included) weighted by its in-betweens.",
        "- paint regions (the work left): areas between the real frame's extracted lines (ink grown by "
        "1 px, 4-connected, under 16 px left out) at the clip's resolution; a region is right when >= 90 % "
        "of its pixels are within 24 levels (every channel) of the real frame; wrong regions per frame, "
        "region accuracy by count and by area (pooled over frames).",
    ])
    written = write_report(results, out, header)
    print(f"report: {out / 'report.md'} ({len(written)} files, {elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
