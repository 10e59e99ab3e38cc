"""`opdm-studio bench --fixes`: how many clicks a colourist needs to fix a coloured cut, with and
without carrying fixes to the neighbouring frames.

Synthetic cuts with ground truth (``training.synth``: several seeds, 24 frames of 960x540 like the
bundled sample cut, keyframes at both ends) are coloured by the app's engine (the ``flow``
method by default, palette snapping ``auto``). A simulated colourist then repeatedly takes the
largest wrong region of any frame that is not finished yet and fills it with its true swatch (one
click of the fill tool, :meth:`~opdm_studio.engine.fixes.Fixer.fill`), until at least 99 % of the
regions of every frame are right. A region is right when its colour (the most frequent one over
its pixels, fixes applied) is the true paint colour. The run is done three times on the same
coloured frames: each fix on its frame only (the app without carrying: a held drawing's
exposures are separate frames), each fix on the exposures of its drawing only (what a tool that
shares held drawings would need), and each fix carried through its keyframe interval. Printed:
the clicks per frame (clicks over the frames the method coloured) each way and the ratio of
carried to frame-only, with the machine, date and load.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from opdm_studio.bench import cpu_name

#: Regions of a frame that must be right before the colourist moves on.
TARGET_SHARE = 0.99
#: With carrying, at most this share of the clicks needed without.
RATIO_TARGET = 1 / 3
#: Sample-cut-like cuts need fewer clicks than this per frame with carrying.
CLICKS_PER_FRAME_TARGET = 1.0
SAMPLE_SEED = 2024      # the bundled sample cut (training.synth.SAMPLE)


def _codes(rgb: np.ndarray) -> np.ndarray:
    a = rgb.astype(np.int64)
    return (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]


def region_colours(labels: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """The most frequent colour (packed 0xRRGGBB) of every region (index = label)."""
    n = int(labels.max()) + 1
    keys = labels.ravel().astype(np.int64) * (1 << 24) + _codes(rgb).ravel()
    uniq, counts = np.unique(keys, return_counts=True)
    lab = uniq >> 24
    order = np.lexsort((-counts, lab))
    lab_o = lab[order]
    first = np.unique(lab_o, return_index=True)[1]
    out = np.zeros(n, np.int64)
    out[lab_o[first]] = uniq[order][first] & ((1 << 24) - 1)
    return out


@dataclass
class _Frame:
    index: int
    truth: np.ndarray        # packed true colour per region
    base: np.ndarray         # packed coloured result per region (no fixes)
    areas: np.ndarray


def colour_cut(cut: Any, keys: list[int], method: str = "flow", model: Any = None) -> dict[int, np.ndarray]:
    """Colour every frame of an in-memory synthetic cut as the engine's run does (held drawings
    reuse their source's colours; keys keep their paint): frame -> colour-only layer."""
    from opdm_studio.engine.frame import FrameColorizer
    from opdm_studio.engine.plan import make_plan
    from opdm_studio.engine.project import ColorizeSettings
    settings = ColorizeSettings(method=method, device="cpu")
    fc = FrameColorizer(method, model=model, settings=settings)
    n = len(cut)
    drawings = list(cut.drawings)
    out: dict[int, np.ndarray] = {k: cut.colors[k] for k in keys}
    for item in make_plan(range(n), keys, n, hold_of=lambda i: drawings.index(drawings[i])):
        i = item.index
        if item.kind == "key":
            continue
        if item.kind == "held":
            out[i] = out[item.source]
        else:
            res = fc.colorize(cut.lines[i], cut.colors[item.prev], cut.colors[item.next],
                              cut.lines[item.prev], cut.lines[item.next], t=item.t,
                              line_rgb=cut.line_rgb[i], pair_id=item.keys)
            out[i] = res.color_only
    return out


def simulate(cut: Any, keys: list[int], colours: dict[int, np.ndarray], carry: str,
             max_clicks: int = 5000) -> dict[str, Any]:
    """The colourist's clicks on one coloured cut (see the module doc). ``carry``: "none" (a fix
    stays on its frame), "holds" (it goes to the other exposures of the same drawing only) or
    "interval" (it is carried through its keyframe interval)."""
    from opdm_studio.engine.fixes import Fixer, RegionCache, key_paint_colours
    from opdm_studio.engine.swatches import SwatchPalette, pack
    from opdm_studio.imaging.tracking import region_point
    n = len(cut)
    regions = RegionCache(lambda i: cut.lines[i], gap=3, capacity=2 * n + 4)
    palette = SwatchPalette()
    palette.sync(key_paint_colours((cut.colors[k], cut.lines[k]) for k in keys))
    fixer = Fixer(regions, n, lambda: keys, palette=palette)
    frames: dict[int, _Frame] = {}
    for i in range(n):
        if i in keys:
            continue
        lab = regions.labels(i)
        frames[i] = _Frame(i, region_colours(lab, cut.colors[i]), region_colours(lab, colours[i]),
                           np.bincount(lab.ravel(), minlength=int(lab.max()) + 1))
    source_code = {s.id: pack(s.source) for s in palette.swatches}

    def state(f: _Frame) -> np.ndarray:
        now = f.base.copy()
        for lab, sid in fixer.fills(f.index).items():
            now[lab] = source_code[sid]
        return now

    current = {i: state(f) for i, f in frames.items()}
    wrong_start = sum(int((f.truth[1:] != f.base[1:]).sum()) for f in frames.values())
    regions_total = sum(len(f.truth) - 1 for f in frames.values())
    clicks = 0
    carried = 0
    while clicks < max_clicks:
        best: tuple[int, int, int] | None = None     # (area, frame, label)
        for i, f in frames.items():
            bad = np.flatnonzero(f.truth[1:] != current[i][1:]) + 1
            if len(bad) <= (1.0 - TARGET_SHARE) * (len(f.truth) - 1):
                continue
            k = int(bad[np.argmax(f.areas[bad])])
            if best is None or f.areas[k] > best[0]:
                best = (int(f.areas[k]), i, k)
        if best is None:
            break
        _, i, k = best
        code = int(frames[i].truth[k])
        rgb = ((code >> 16) & 255, (code >> 8) & 255, code & 255)
        sw = palette.by_source(rgb) or palette.add(rgb)
        source_code[sw.id] = code
        pt = region_point(regions.labels(i), k)
        assert pt is not None
        outcome = fixer.fill(i, pt[0], pt[1], sw.id, carry=carry != "none",
                             holds_only=carry == "holds")
        clicks += 1
        carried += len(outcome.fix.carried)
        for g in outcome.frames:
            if g in frames:
                current[g] = state(frames[g])
    coloured = len(frames)
    return {"clicks": clicks, "clicks_per_frame": round(clicks / max(coloured, 1), 3),
            "carried_hints": carried, "frames": coloured,
            "regions_per_frame": round(regions_total / max(coloured, 1), 1),
            "wrong_at_start": wrong_start, "finished": clicks < max_clicks}


def bench_cut(seed: int, frames: int = 24, size: tuple[int, int] = (960, 540),
              method: str = "flow", keys: list[int] | None = None, model: Any = None) -> dict[str, Any]:
    """Colour one synthetic cut and simulate the colourist without and with carrying."""
    from training.synth import generate_cut
    cut = generate_cut(frames, size, seed)
    keys = sorted(set(keys)) if keys else [0, frames - 1]
    t0 = time.perf_counter()
    colours = colour_cut(cut, keys, method, model)
    t_colour = time.perf_counter() - t0
    t0 = time.perf_counter()
    without = simulate(cut, keys, colours, carry="none")
    holds = simulate(cut, keys, colours, carry="holds")
    with_ = simulate(cut, keys, colours, carry="interval")
    t_sim = time.perf_counter() - t0
    ratio = with_["clicks"] / max(without["clicks"], 1)
    return {"seed": seed, "sample_like": seed == SAMPLE_SEED and size == (960, 540),
            "keys": keys, "frames_coloured": without["frames"],
            "regions_per_frame": without["regions_per_frame"],
            "wrong_regions_at_start": without["wrong_at_start"],
            "clicks_without": without["clicks"], "clicks_with": with_["clicks"],
            "clicks_holds_only": holds["clicks"],
            "clicks_per_frame_without": without["clicks_per_frame"],
            "clicks_per_frame_with": with_["clicks_per_frame"],
            "carried_hints": with_["carried_hints"], "ratio": round(ratio, 3),
            "colour_s": round(t_colour, 1), "simulate_s": round(t_sim, 1)}


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "cpus": os.cpu_count(),
                            "date": time.strftime("%Y-%m-%d %H:%M")}
    info["cpu"] = cpu_name()
    if hasattr(os, "getloadavg"):
        info["load_1min"] = round(os.getloadavg()[0], 2)
    return info


def _size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def main(argv: list[str]) -> int:
    """Run the fixing benchmark; prints a table or (``--json``) one JSON object."""
    ap = argparse.ArgumentParser(prog="opdm-studio bench --fixes", description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default=f"0,1,2,{SAMPLE_SEED}",
                    help=f"synthetic cuts (default 0,1,2,{SAMPLE_SEED}: {SAMPLE_SEED} is the sample cut)")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", type=_size, default=(960, 540), help="WxH (960x540)")
    ap.add_argument("--keys", default="", help="keyframe indices (default: first and last)")
    ap.add_argument("--method", choices=("flow", "opdm"), default="flow",
                    help="colouring method (flow: no model; opdm: the default model)")
    ap.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    keys = [int(k) for k in args.keys.split(",") if k.strip()] or None
    model = None
    if args.method == "opdm":
        from opdm_studio.engine.models import load_model, resolve_model
        model = load_model(resolve_model(None), "cpu", "auto")
    rows = [bench_cut(s, args.frames, args.size, args.method, keys, model) for s in seeds]
    total_without = sum(r["clicks_without"] for r in rows)
    total_with = sum(r["clicks_with"] for r in rows)
    total_holds = sum(r["clicks_holds_only"] for r in rows)
    frames = sum(r["frames_coloured"] for r in rows)
    sample = [r for r in rows if r["sample_like"]]
    summary = {
        "clicks_per_frame_without": round(total_without / max(frames, 1), 3),
        "clicks_per_frame_with": round(total_with / max(frames, 1), 3),
        "clicks_per_frame_holds_only": round(total_holds / max(frames, 1), 3),
        "ratio_to_holds_only": round(total_with / max(total_holds, 1), 3),
        "ratio": round(total_with / max(total_without, 1), 3), "ratio_target": round(RATIO_TARGET, 3),
        "sample_clicks_per_frame_with": sample[0]["clicks_per_frame_with"] if sample else None,
        "clicks_per_frame_target": CLICKS_PER_FRAME_TARGET}
    summary["ratio_met"] = summary["ratio"] <= RATIO_TARGET
    summary["sample_met"] = (None if not sample
                             else sample[0]["clicks_per_frame_with"] < CLICKS_PER_FRAME_TARGET)
    report = {"bench": "fixes", "method": args.method, "frames": args.frames,
              "size": list(args.size), "target_share": TARGET_SHARE, "machine": _machine(),
              "cuts": rows, "summary": summary}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    m = report["machine"]
    print(f"fixing bench: {args.frames} frames {args.size[0]}x{args.size[1]}, method {args.method}, "
          f"fix the largest wrong region until {TARGET_SHARE:.0%} of every frame's regions are right")
    print(f"{m.get('cpu', '?')}, {m['cpus']} CPUs, load {m.get('load_1min', '?')}, {m['date']}")
    print(f"{'seed':>6} {'keys':>10} {'regions/f':>9} {'wrong':>6} {'without':>7} {'holds':>6} "
          f"{'with':>6} {'without/f':>10} {'with/f':>8} {'ratio':>6}")
    for r in rows:
        mark = " (sample cut)" if r["sample_like"] else ""
        print(f"{r['seed']:>6} {','.join(map(str, r['keys'])):>10} {r['regions_per_frame']:>9} "
              f"{r['wrong_regions_at_start']:>6} {r['clicks_without']:>7} "
              f"{r['clicks_holds_only']:>6} {r['clicks_with']:>6} "
              f"{r['clicks_per_frame_without']:>10} {r['clicks_per_frame_with']:>8} "
              f"{r['ratio']:>6}{mark}")
    s = summary
    print(f"all cuts: {s['clicks_per_frame_without']} clicks per frame without carrying, "
          f"{s['clicks_per_frame_with']} with; ratio {s['ratio']} (target <= {s['ratio_target']}: "
          f"{'met' if s['ratio_met'] else 'NOT met'}); a fix on its drawing's exposures only: "
          f"{s['clicks_per_frame_holds_only']} per frame (carried / that: {s['ratio_to_holds_only']})")
    if sample:
        print(f"sample cut: {s['sample_clicks_per_frame_with']} clicks per frame with carrying "
              f"(target < {CLICKS_PER_FRAME_TARGET:g}: {'met' if s['sample_met'] else 'NOT met'})")
    return 0
