"""`opdm-studio bench --cut`: colour a synthetic 1080p cut end to end and time it.

Default run: a 24-frame 1920x1080 synthetic cut (``opdm_studio.synth``, every frame a new drawing:
the worst case, no held drawings to reuse) with keyframes on the first and last frame, coloured
by the **default pipeline**: the shipped model (or ``--model FILE``) run as its inference spec
says (the refine pipeline, flow chained through the interval), snapping ``auto``, composite layer
written. Timed end to end: opening the cut, loading the checkpoint, planning, colouring,
snapping, writing every frame and the project file. Target on 2 cores: 0.5 s and 1.0 CPU-second per
frame; the run's ETA (recorded against the truth at every event) within 30 % after the first
in-between.

``--preset NAME`` times a model preset with random weights instead (``--steps`` DDIM steps from
noise, the paper's sampling): the timing of a trained model of that size, not its colours;
target 60 s for the cut.

``--long``: a 600-frame 2048x1080 cut (``flow`` method by default: the model's seconds per frame
would take hours, and what is measured here is the engine's cost per frame around the method):
whether each frame costs the same at the end of a long cut as at its start
(``late_to_early_ratio``: seconds per frame of the last 100 frames over the first 100; the
engine's bookkeeping must not grow with the number of finished frames, target <= 1.3), and peak
memory: resident memory is sampled after every frame and reported after 50, 100, 200, 300 and
600 frames, with the process's peak. The cut is generated in a child process so its set-up
memory does not count.

``--json`` prints one JSON object instead of the table.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from opdm_studio.bench import cpu_name
from opdm_studio.cli_args import Parser, int_in, size
from opdm_studio.core.config import ModelConfig
from opdm_studio.guard import check_new_folder
from opdm_studio.pipelines import METHODS, method_name

TARGET_S = 60.0
#: The default pipeline (shipped model) on a 1080p cut on 2 cores: seconds per frame end to end,
#: and CPU seconds per frame, at most; the run's ETA after the first in-between: error at most.
TARGET_S_PER_FRAME = 0.5
TARGET_CPU_S_PER_FRAME = 1.0
TARGET_ETA_ERROR = 0.3
#: --long: seconds per frame of the last 100 frames over the first 100, at most.
RATIO_TARGET = 1.3


def _rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError):
        return _peak_mb()


def _peak_mb() -> float:
    """Peak resident set size of this process in MiB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2 ** 20 if sys.platform == "darwin" else 1024)


def _write_synthetic_cut(folder: str, n_frames: int, size: tuple[int, int], unique: int,
                         keys: list[int], seed: int, holds: bool, preset: str | None) -> None:
    """Child process: write ``folder/lineart`` (+ ``color`` for keys) and a random checkpoint.

    Only ``unique`` drawings are generated; longer cuts repeat them through hard links (the
    engine reads every file as a separate frame), which keeps set-up time and disk small.
    """
    from opdm_studio.imaging.export import write_png_atomic
    from opdm_studio.synth.cut import generate_cut
    root = Path(folder)
    (root / "lineart").mkdir(parents=True)
    (root / "color").mkdir()
    sc = generate_cut(min(unique, n_frames), size, seed=seed, holds=holds)
    m = len(sc)
    for i in range(n_frames):
        dst = root / "lineart" / f"{i:04d}.png"
        if i < m:
            rgb = sc.line_rgb[i]
            img = rgb if (rgb.max(axis=2) != rgb.min(axis=2)).any() else sc.lines[i]
            write_png_atomic(dst, img, compress_level=1)
        else:
            os.link(root / "lineart" / f"{i % m:04d}.png", dst)
    for k in keys:
        write_png_atomic(root / "color" / f"{k:04d}.png", sc.colors[k % m], compress_level=1)
    if preset:
        import torch

        from opdm_studio.core.checkpoint import save_checkpoint
        from opdm_studio.core.model import OPDM
        torch.manual_seed(0)
        save_checkpoint(root / f"{preset}-random.safetensors", OPDM(ModelConfig.preset(preset)),
                        metadata={"note": "random initialisation, for timing only"})


def _setup(folder: Path, **kw: Any) -> None:
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_write_synthetic_cut, args=(str(folder),), kwargs=kw)
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"generating the synthetic cut failed (exit code {proc.exitcode})")


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpus": os.cpu_count()}
    try:
        import torch
        info["torch"] = torch.__version__
        info["threads"] = torch.get_num_threads()
        from opdm_studio.core.device import cpu_has_amx, cpu_has_avx512_bf16
        info["amx"] = cpu_has_amx()
        info["avx512_bf16"] = cpu_has_avx512_bf16()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # torch missing or an odd build: the bench still reports the rest
        pass
    info["cpu"] = cpu_name()
    return info


def _colour(folder: Path, settings_kw: dict[str, Any], keys: list[int],
            sample_at: set[int] | None = None) -> dict[str, Any]:
    """Open, plan, colour and write the cut in ``folder``; timings and memory samples."""
    from opdm_studio.engine.project import ColorizeSettings, Project
    from opdm_studio.engine.run import Colorizer
    t0 = time.perf_counter()
    c0 = time.process_time()
    settings = ColorizeSettings(**settings_kw)
    project = Project.create(folder, folder / "out", keys=keys, settings=settings)
    colorizer = Colorizer(project)
    t_open = time.perf_counter() - t0
    fc_device = fc_dtype = None
    t_model = 0.0
    if settings.method == "model":
        tm = time.perf_counter()
        fc = colorizer.frame_colorizer()
        t_model = time.perf_counter() - tm
        fc_device, fc_dtype = str(fc.device), str(fc.dtype).replace("torch.", "")
    samples: dict[int, float] = {}
    n_done = coloured = held = 0
    first_event = None
    rss_max = 0.0
    done_at: list[float] = []      # when each frame was finished, from the run's start event
    cpu_at: list[float] = []       # this process's CPU seconds then, from the start event
    cpu_first = 0.0
    etas: list[tuple[float, float | None]] = []   # (seconds from the start event, the run's ETA)
    first_sampled: float | None = None           # when the first in-between was sampled
    first_coloured: float | None = None          # when the first in-between was finished and written
    for ev in colorizer.run():
        if first_event is None:
            first_event = time.perf_counter() - t0
            cpu_first = time.process_time()
        now = time.perf_counter() - t0 - first_event
        etas.append((now, ev.eta))
        if first_sampled is None and ev.kind == "step" and ev.phase == "sample":
            first_sampled = now
        if first_coloured is None and ev.kind == "done" and ev.result is not None \
                and ev.result.status == "done":
            first_coloured = now
        if ev.kind in ("done", "skip"):
            done_at.append(time.perf_counter() - t0 - first_event)
            cpu_at.append(time.process_time() - cpu_first)
        if ev.kind == "done":
            assert ev.result is not None        # a "done" event carries its frame's result
            n_done += 1
            coloured += ev.result.status == "done"
            held += ev.result.status == "held"
            rss = _rss_mb()
            rss_max = max(rss_max, rss)
            if sample_at and n_done in sample_at:
                samples[n_done] = round(rss, 1)
    total = time.perf_counter() - t0
    # CPU seconds of this process: with other work on the machine, wall time grows but this
    # does not (up to the thread count), so it tells contention from a slow engine.
    cpu = time.process_time() - c0
    return {"total_s": round(total, 2), "cpu_s": round(cpu, 2), "open_s": round(t_open, 2), "model_load_s": round(t_model, 2),
            "plan_s": round((first_event or 0.0) - t_open - t_model, 2),
            "frames_done": n_done, "coloured": coloured, "held": held,
            "device": fc_device, "dtype": fc_dtype, "rss_samples_mb": samples,
            "rss_max_sampled_mb": round(rss_max, 1), "done_at": done_at, "cpu_at": cpu_at,
            "first_inbetween_s": None if first_coloured is None else round(first_coloured, 2),
            **eta_truth(etas, first_sampled)}


def eta_truth(etas: list[tuple[float, float | None]], after: float | None) -> dict[str, Any]:
    """The run's ETA against the time really left: the largest error relative to the truth over
    the events after the first in-between was sampled (``after``) while at least a tenth of the
    run was left, and every event's (seconds, ETA, truth)."""
    if not etas:
        return {}
    end = etas[-1][0]
    record = [[round(t, 2), None if e is None else round(e, 2), round(end - t, 2)] for t, e in etas]
    errors = [abs(e - (end - t)) / (end - t) for t, e in etas
              if after is not None and t > after and e is not None and end - t >= 0.1 * end]
    return {"eta_max_error": round(max(errors), 3) if errors else None, "eta_record": record}


def bench_cut(frames: int = 24, size: tuple[int, int] = (1920, 1080), method: str = "model",
              preset: str | None = None, steps: int = 10, holds: bool = False, seed: int = 7,
              keep: Path | None = None, model: str | None = None) -> dict[str, Any]:
    """The default benchmark (see the module doc): ``model`` (default: the shipped one) as its
    spec runs it, or with ``preset`` a randomly initialised preset sampled for ``steps`` steps."""
    tmp = Path(tempfile.mkdtemp(prefix="opdm-cut-bench-"))
    opdm = method == "model"
    if opdm and preset is None:
        from opdm_studio.engine.models import default_model_path
        model = str(model or default_model_path())
    try:
        keys = [0, frames - 1]
        _setup(tmp / "cut", n_frames=frames, size=size, unique=frames, keys=keys, seed=seed,
               holds=holds, preset=preset if opdm else None)
        kw: dict[str, Any] = {"method": method, "steps": steps}
        if opdm:
            kw["model"] = model if preset is None else str(tmp / "cut" / f"{preset}-random.safetensors")
        r = _colour(tmp / "cut", kw, keys)
        r.pop("done_at")
        r.pop("cpu_at")
        if keep is not None:
            shutil.copytree(tmp / "cut" / "out", keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    random_weights = opdm and preset is not None
    s_per_frame = r["total_s"] / frames
    r.update({"bench": "cut", "frames": frames, "size": list(size), "method": method,
              "preset": preset if random_weights else None, "model": model if opdm and not random_weights else None,
              "steps": steps if random_weights else None,
              "weights": "random initialisation (timing only)" if random_weights else None,
              "keys": 2, "s_per_frame": round(s_per_frame, 3),
              "cpu_s_per_frame": round(r["cpu_s"] / frames, 3),
              "s_per_coloured_frame": round(r["total_s"] / max(r["coloured"], 1), 3),
              "target": f"<= {TARGET_S:.0f} s per cut" if random_weights else
              f"<= {TARGET_S_PER_FRAME} s and {TARGET_CPU_S_PER_FRAME} CPU-s per frame",
              "within_target": (r["total_s"] <= TARGET_S) if random_weights else
              (s_per_frame <= TARGET_S_PER_FRAME and r["cpu_s"] / frames <= TARGET_CPU_S_PER_FRAME),
              "eta_target": TARGET_ETA_ERROR,
              "eta_within_target": r.get("eta_max_error") is not None
              and r["eta_max_error"] <= TARGET_ETA_ERROR,
              "peak_rss_mb": round(_peak_mb(), 1)})
    return r


def late_to_early(done_at: list[float], window: int = 100, prefix: str = "") -> dict[str, Any]:
    """Seconds per frame of the first and the last ``window`` frames of a run and their ratio
    (``done_at``: when each frame was finished, seconds from the run's start)."""
    keys = [f"{prefix}early_s_per_frame", f"{prefix}late_s_per_frame",
            f"{prefix}late_to_early_ratio"]
    if len(done_at) < 2 * window:
        return {"window": window, **dict.fromkeys(keys)}
    early = done_at[window - 1] / window
    late = (done_at[-1] - done_at[-window - 1]) / window
    return {"window": window, keys[0]: round(early, 4), keys[1]: round(late, 4),
            keys[2]: round(late / early, 3) if early > 0 else None}


def bench_long(frames: int = 600, size: tuple[int, int] = (2048, 1080), method: str = "flow",
               preset: str = "small", steps: int = 10, seed: int = 7) -> dict[str, Any]:
    """Cost per frame along a long cut, and its peak memory (see the module doc)."""
    tmp = Path(tempfile.mkdtemp(prefix="opdm-cut-bench-long-"))
    unique = 24
    try:
        keys = sorted(set(list(range(0, frames, unique)) + [frames - 1]))
        _setup(tmp / "cut", n_frames=frames, size=size, unique=unique, keys=keys, seed=seed,
               holds=False, preset=preset if method == "model" else None)
        kw: dict[str, Any] = {"method": method, "steps": steps}
        if method == "model":
            kw["model"] = str(tmp / "cut" / f"{preset}-random.safetensors")
        marks = {m for m in (1, 50, 100, 200, 300, frames) if m <= frames}
        r = _colour(tmp / "cut", kw, keys, sample_at=marks)
        r.pop("eta_record", None)
        r.update(late_to_early(r.pop("done_at")))
        # The same in this process's CPU seconds: on a shared machine, other work stretches wall
        # time unevenly along a long run, CPU time much less.
        r.update(late_to_early(r.pop("cpu_at"), prefix="cpu_"))
        r["ratio_target"] = RATIO_TARGET
        r["ratio_within_target"] = (r["late_to_early_ratio"] is not None
                                    and r["late_to_early_ratio"] <= RATIO_TARGET)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    s = r["rss_samples_mb"]
    first = s.get(50, s.get(min(s)) if s else 0.0)
    last = s.get(frames, 0.0)
    r.update({"bench": "cut-long", "frames": frames, "size": list(size), "method": method,
              "keys": len(keys), "s_per_frame": round(r["total_s"] / frames, 3),
              "rss_after_50_mb": first, "rss_after_last_mb": last,
              "rss_growth_mb": round(last - first, 1) if first and last else None,
              "peak_rss_mb": round(_peak_mb(), 1)})
    return r


def main(argv: list[str]) -> int:
    """Run the cut benchmark; prints a table or (``--json``) one JSON object."""
    ap = Parser(prog="opdm-studio bench --cut", description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--long", action="store_true",
                    help="the 600-frame 2K run instead: cost per frame along the cut, memory")
    ap.add_argument("--frames", type=int_in(3, 100000, "--frames"), help="frames (default 24; 600 with --long)")
    ap.add_argument("--size", type=size(64, 4096 * 4096), help="WxH (default 1920x1080; 2048x1080 with --long)")
    ap.add_argument("--method", type=method_name, choices=METHODS,
                    help="colouring method (default model; flow with --long; opdm, the old name "
                         "of model, still works)")
    ap.add_argument("--model", help="model file for the model method (default: the shipped default model, run as "
                                    "its inference spec says: the default pipeline)")
    ap.add_argument("--preset", choices=ModelConfig.preset_names(), help="time a model preset with random weights instead of a model "
                                     "(e.g. small; --long uses small)")
    ap.add_argument("--steps", type=int_in(1, 1000, "--steps"), default=10, help="sampler steps of --preset (default 10)")
    ap.add_argument("--holds", action="store_true", help="let the synthetic cut hold drawings")
    ap.add_argument("--keep", type=Path, help="copy the coloured frames to this folder")
    args = ap.parse_args(argv)
    if args.keep is not None:
        check_new_folder(args.keep, "--keep folder")
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.long:
        r = bench_long(frames=args.frames or 600, size=args.size or (2048, 1080),
                       method=args.method or "flow", preset=args.preset or "small", steps=args.steps)
    else:
        r = bench_cut(frames=args.frames or 24, size=args.size or (1920, 1080),
                      method=args.method or "model", preset=args.preset, steps=args.steps,
                      holds=args.holds, keep=args.keep, model=args.model)
    r["machine"] = _machine()
    if load_before is not None:
        # Other processes on the machine stretch wall times: the 1-minute load average says how much.
        r["loadavg_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    r["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    w, h = r["size"]
    what = ""
    if r["method"] == "model":
        what = (f", preset {r['preset']} ({r.get('weights')}), {r.get('steps')} steps" if r.get("preset")
                else f", model {r.get('model')}") + f", {r['device']} {r['dtype']}"
    print(f"cut benchmark ({r['bench']}): {r['frames']} frames {w}x{h}, method {r['method']}{what}")
    print(f"  coloured {r['coloured']}, held {r['held']}, keyframes {r['keys']}")
    print(f"  total {r['total_s']:.1f} s  ({r['s_per_frame']:.2f} s/frame)  "
          f"open {r['open_s']:.2f} s, model load {r['model_load_s']:.2f} s, plan {r['plan_s']:.2f} s; "
          f"CPU time {r['cpu_s']:.1f} s")
    if r["bench"] == "cut":
        print(f"  target {r['target']}: {'met' if r['within_target'] else 'NOT met'}")
        print(f"  first in-between finished after {r['first_inbetween_s']} s; ETA error after it at "
              f"most {r['eta_max_error']} (target <= {r['eta_target']}: "
              f"{'met' if r['eta_within_target'] else 'NOT met'})")
    else:
        print(f"  RSS after frames {r['rss_samples_mb']} MiB; growth 50->{r['frames']}: "
              f"{r['rss_growth_mb']} MiB")
        print(f"  s/frame, first {r['window']} frames {r['early_s_per_frame']}, last "
              f"{r['window']} {r['late_s_per_frame']}: ratio {r['late_to_early_ratio']} "
              f"(target <= {RATIO_TARGET}); in CPU seconds {r['cpu_early_s_per_frame']}, "
              f"{r['cpu_late_s_per_frame']}: ratio {r['cpu_late_to_early_ratio']}")
    print(f"  peak RSS {r['peak_rss_mb']:.0f} MiB; machine: {r['machine'].get('cpu', '?')}, "
          f"{r['machine'].get('cpus')} cpus; load average before/after {r.get('loadavg_1min')}")
    return 0
