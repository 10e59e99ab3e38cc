"""`opdm-studio bench --fixes`: how many clicks a colourist needs to fix a coloured cut, with and
without carrying fixes to the neighbouring frames.

Synthetic cuts with ground truth (``opdm_studio.synth``: several seeds, 24 frames of 960x540 like the
bundled sample cut, keyframes at both ends) are written to a temporary folder and coloured by
the app's own cut run (:class:`~opdm_studio.engine.run.Colorizer` on a project of the cut: its
plan, held drawings, the flow chained through each key interval, the app's default method and
palette snapping ``auto`` unless told otherwise). A simulated colourist then repeatedly takes the
largest wrong region of any frame that is not finished yet and fills it with its true swatch (one
click of the fill tool, :meth:`~opdm_studio.engine.fixes.Fixer.fill`), until at least 99 % of the
regions of every frame are right. A region is right when its colour (the most frequent one over
its pixels, fixes applied) is the true paint colour. The run is done three times on the same
coloured frames: each fix on its frame only (the app without carrying: a held drawing's
exposures are separate frames), each fix on the exposures of its drawing only (what a tool that
shares held drawings would need), and each fix carried through its keyframe interval. Printed:
the clicks per frame (clicks over the frames the method coloured) each way and the ratio of
carried to frame-only, what the wrong regions show at the start (another key colour, line ink,
a colour no key has) and how many distinct paints they belong to (the least perfect carrying
could need), with the machine, date and load.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opdm_studio.bench import cpu_name
from opdm_studio.pipelines import METHODS, method_name

#: Regions of a frame that must be right before the colourist moves on.
TARGET_SHARE = 0.99
#: With carrying, at most this share of the clicks needed without.
RATIO_TARGET = 1 / 3
#: The sample cut needs at most this many clicks per frame with carrying ...
CLICKS_PER_FRAME_TARGET = 3.0
#: ... and all cuts together at most this many.
ALL_CLICKS_PER_FRAME_TARGET = 2.5
#: Flags that find the errors: at least this share of the wrong regions flagged ...
FLAG_RECALL_TARGET = 0.8
#: ... with at least this share of the flagged regions wrong.
FLAG_PRECISION_TARGET = 0.5
SAMPLE_SEED = 2024      # the bundled sample cut (opdm_studio.synth.cut.SAMPLE)


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
    paint: np.ndarray        # the scene's paint instance under each region (for the report only)


#: A region whose colour has no channel above this shows line ink, not paint.
INK_LEVEL = 60


def wrong_kinds(frames: list[_Frame], key_colours: set[int]) -> dict[str, int]:
    """What the wrong regions of coloured frames show (for the report, not for the colourist):
    ``swatch`` another colour of the keys' palette, ``ink`` a line colour (dark: the keys' lines
    carried into a region and left unsnapped), ``off_palette`` any other colour no key has (a
    guess left unsnapped); ``small`` how many of them are under 50 px; ``paints`` how many
    distinct paint instances of the scene they belong to (what clicks carried perfectly through
    the interval would need at least)."""
    out = {"swatch": 0, "ink": 0, "off_palette": 0, "small": 0, "paints": 0}
    paints: set[int] = set()
    for f in frames:
        bad = np.flatnonzero(f.truth[1:] != f.base[1:]) + 1
        for k in bad:
            c = int(f.base[k])
            if c in key_colours:
                out["swatch"] += 1
            elif max((c >> 16) & 255, (c >> 8) & 255, c & 255) <= INK_LEVEL:
                out["ink"] += 1
            else:
                out["off_palette"] += 1
        out["small"] += int((f.areas[bad] < 50).sum())
        paints.update(int(p) for p in f.paint[bad])
    out["paints"] = len(paints)
    return out


def colour_cut(cut: Any, keys: list[int], method: str = "model", model: Any = None,
               folder: Path | None = None, snap: str = "auto",
               confidence: dict[int, np.ndarray] | None = None
               ) -> tuple[dict[int, np.ndarray], Callable[[int], np.ndarray]]:
    """Colour a synthetic cut through the engine's own cut run (:class:`~opdm_studio.engine.run.
    Colorizer` on a project of the cut written to ``folder``, a temporary folder by default):
    the plan, held drawings, flow chained through each key interval, snapping ``snap``.
    Returns (frame -> colour-only layer of every coloured or held frame, the drawing of a frame
    as the app reads it); ``confidence``, when given, receives each frame's confidence map (what
    the Review view flags)."""
    from opdm_studio.engine.project import ColorizeSettings, Project
    from opdm_studio.engine.run import Colorizer
    from opdm_studio.synth.cut import write_cut
    tmp = None
    if folder is None:
        tmp = tempfile.TemporaryDirectory(prefix="opdm-fixes-bench-")
        folder = Path(tmp.name)
    try:
        write_cut(folder / "cut", keyframes=keys, cut=cut)
        settings = ColorizeSettings(method=method, device="cpu", snap=snap, layers=["color"])
        project = Project.create(folder / "cut", folder / "out", keys=keys, settings=settings)
        out: dict[int, np.ndarray] = {}
        for ev in Colorizer(project, model=model).run():
            if ev.kind == "done" and ev.output is not None and ev.result is not None \
                    and ev.result.status != "keyframe":
                out[ev.index] = ev.output.color_only
                if confidence is not None:
                    confidence[ev.index] = ev.output.confidence_map
        lines = [project.cut.line(i) for i in range(len(project.cut))]
    finally:
        if tmp is not None:
            tmp.cleanup()
    return out, lines.__getitem__


def simulate(cut: Any, keys: list[int], colours: dict[int, np.ndarray], carry: str,
             max_clicks: int = 5000, line: Callable[[int], np.ndarray] | None = None,
             confidence: dict[int, np.ndarray] | None = None) -> dict[str, Any]:
    """The colourist's clicks on one coloured cut (see the module doc). ``carry``: "none" (a fix
    stays on its frame), "holds" (it goes to the other exposures of the same drawing only) or
    "interval" (it is carried through its keyframe interval). ``line(i)``: the drawing the app
    reads (default: the synthetic cut's gray drawing). ``confidence``: each frame's confidence
    map, to count the regions the Review view flags among the wrong ones at the start."""
    from opdm_studio.engine.fixes import Fixer, RegionCache, key_paint_colours
    from opdm_studio.engine.swatches import SwatchPalette, pack
    from opdm_studio.imaging.tracking import region_point
    n = len(cut)
    regions = RegionCache(line or (lambda i: cut.lines[i]), gap=3, capacity=2 * n + 4)
    palette = SwatchPalette()
    palette.sync(key_paint_colours((cut.colors[k], regions.line(k)) for k in keys))
    fixer = Fixer(regions, n, lambda: keys, palette=palette)
    frames: dict[int, _Frame] = {}
    for i in range(n):
        if i in keys:
            continue
        lab = regions.labels(i)
        ids = cut.region_ids[i].astype(np.int64)
        ids_rgb = np.stack([(ids >> 16) & 255, (ids >> 8) & 255, ids & 255], -1).astype(np.uint8)
        frames[i] = _Frame(i, region_colours(lab, cut.colors[i]), region_colours(lab, colours[i]),
                           np.bincount(lab.ravel(), minlength=int(lab.max()) + 1),
                           region_colours(lab, ids_rgb))
    source_code = {s.id: pack(s.source) for s in palette.swatches}

    def state(f: _Frame) -> np.ndarray:
        now = f.base.copy()
        for lab, sid in fixer.fills(f.index).items():
            now[lab] = source_code[sid]
        return now

    current = {i: state(f) for i, f in frames.items()}
    wrong_start = sum(int((f.truth[1:] != f.base[1:]).sum()) for f in frames.values())
    flags = _flags(fixer, frames, confidence or {})
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
            "wrong_at_start": wrong_start, "finished": clicks < max_clicks, **flags,
            "wrong_kinds": wrong_kinds(list(frames.values()), set(source_code.values()))}


def _flags(fixer: Any, frames: dict[int, _Frame], confidence: dict[int, np.ndarray]) -> dict[str, int]:
    """The regions the Review view flags at the start (Fixer.flagged), and how many are wrong."""
    flagged = flagged_wrong = 0
    for i, f in frames.items():
        if i not in confidence:
            continue
        labels = np.array([r.label for r in fixer.flagged(i, confidence[i])], np.int64)
        flagged += len(labels)
        flagged_wrong += int((f.truth[labels] != f.base[labels]).sum()) if len(labels) else 0
    return {"flagged": flagged, "flagged_wrong": flagged_wrong}


def bench_cut(seed: int, frames: int = 24, size: tuple[int, int] = (960, 540),
              method: str = "model", keys: list[int] | None = None, model: Any = None,
              snap: str = "auto") -> dict[str, Any]:
    """Colour one synthetic cut and simulate the colourist without and with carrying."""
    from opdm_studio.synth.cut import generate_cut
    cut = generate_cut(frames, size, seed)
    keys = sorted(set(keys)) if keys else [0, frames - 1]
    t0 = time.perf_counter()
    conf: dict[int, np.ndarray] = {}
    colours, line = colour_cut(cut, keys, method, model, snap=snap, confidence=conf)
    t_colour = time.perf_counter() - t0
    t0 = time.perf_counter()
    without = simulate(cut, keys, colours, carry="none", line=line, confidence=conf)
    holds = simulate(cut, keys, colours, carry="holds", line=line)
    with_ = simulate(cut, keys, colours, carry="interval", line=line)
    t_sim = time.perf_counter() - t0
    ratio = with_["clicks"] / max(without["clicks"], 1)
    return {"seed": seed, "sample_like": seed == SAMPLE_SEED and size == (960, 540),
            "keys": keys, "frames_coloured": without["frames"],
            "regions_per_frame": without["regions_per_frame"],
            "wrong_regions_at_start": without["wrong_at_start"],
            "wrong_kinds": without["wrong_kinds"],
            "flagged": without["flagged"], "flagged_wrong": without["flagged_wrong"],
            "clicks_without": without["clicks"], "clicks_with": with_["clicks"],
            "clicks_holds_only": holds["clicks"],
            "clicks_per_frame_without": without["clicks_per_frame"],
            "clicks_per_frame_with": with_["clicks_per_frame"],
            "carried_hints": with_["carried_hints"], "ratio": round(ratio, 3),
            "colour_s": round(t_colour, 1), "simulate_s": round(t_sim, 1)}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures over all cuts: clicks per frame each way, the sample cut's, the flags' recall
    (share of the wrong regions flagged) and precision (share of the flagged regions wrong)."""
    total_without = sum(r["clicks_without"] for r in rows)
    total_with = sum(r["clicks_with"] for r in rows)
    total_holds = sum(r["clicks_holds_only"] for r in rows)
    frames = sum(r["frames_coloured"] for r in rows)
    wrong = sum(r["wrong_regions_at_start"] for r in rows)
    flagged = sum(r["flagged"] for r in rows)
    hit = sum(r["flagged_wrong"] for r in rows)
    sample = [r for r in rows if r["sample_like"]]
    s: dict[str, Any] = {
        "clicks_per_frame_without": round(total_without / max(frames, 1), 3),
        "clicks_per_frame_with": round(total_with / max(frames, 1), 3),
        "clicks_per_frame_holds_only": round(total_holds / max(frames, 1), 3),
        "ratio_to_holds_only": round(total_with / max(total_holds, 1), 3),
        "ratio": round(total_with / max(total_without, 1), 3), "ratio_target": round(RATIO_TARGET, 3),
        "sample_clicks_per_frame_with": sample[0]["clicks_per_frame_with"] if sample else None,
        "clicks_per_frame_target": CLICKS_PER_FRAME_TARGET,
        "all_clicks_per_frame_target": ALL_CLICKS_PER_FRAME_TARGET,
        "wrong_regions_per_frame": round(wrong / max(frames, 1), 3),
        "flagged_per_frame": round(flagged / max(frames, 1), 3),
        "flag_recall": round(hit / wrong, 3) if wrong else None,
        "flag_precision": round(hit / flagged, 3) if flagged else None,
        "flag_recall_target": FLAG_RECALL_TARGET, "flag_precision_target": FLAG_PRECISION_TARGET}
    s["ratio_met"] = s["ratio"] <= RATIO_TARGET
    s["sample_met"] = None if not sample else s["sample_clicks_per_frame_with"] <= CLICKS_PER_FRAME_TARGET
    s["all_met"] = s["clicks_per_frame_with"] <= ALL_CLICKS_PER_FRAME_TARGET
    s["flags_met"] = (s["flag_recall"] is not None and s["flag_recall"] >= FLAG_RECALL_TARGET
                      and s["flag_precision"] is not None
                      and s["flag_precision"] >= FLAG_PRECISION_TARGET)
    return s


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "cpus": os.cpu_count(),
                            "date": time.strftime("%Y-%m-%d %H:%M")}
    info["cpu"] = cpu_name()
    if hasattr(os, "getloadavg"):
        info["load_1min"] = round(os.getloadavg()[0], 2)
    return info


def main(argv: list[str]) -> int:
    """Run the fixing benchmark; prints a table or (``--json``) one JSON object."""
    from opdm_studio.cli_args import Parser, UsageError, int_in, int_list, size
    from opdm_studio.engine.project import SNAP_MODES, ColorizeSettings
    ap = Parser(prog="opdm-studio bench --fixes",
                                 description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--seeds", type=int_list(0, 10**9), default=[0, 1, 2, SAMPLE_SEED],
                    help=f"synthetic cuts (default 0,1,2,{SAMPLE_SEED}: {SAMPLE_SEED} is the sample cut)")
    ap.add_argument("--frames", type=int_in(3, 10000, "--frames"), default=24)
    ap.add_argument("--size", type=size(64, 4096 * 4096), default=(960, 540), help="WxH (960x540)")
    ap.add_argument("--keys", type=int_list(0, 9999, increasing=True), default=None,
                    help="keyframe indices (default: first and last)")
    ap.add_argument("--method", type=method_name, choices=METHODS, default=ColorizeSettings().method,
                    help="colouring method (the app's default: %(default)s; model: the default "
                         "model, flow: no model; opdm, the old name of model, still works)")
    ap.add_argument("--snap", choices=SNAP_MODES, default="auto",
                    help="palette snapping of the run (the project setting; default auto)")
    ap.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args(argv)
    seeds, keys = args.seeds, args.keys
    if keys is not None and (len(keys) < 2 or keys[-1] >= args.frames):
        raise UsageError(f"--keys needs two or more frame indices below --frames {args.frames}")
    model = None
    if args.method == "model":
        from opdm_studio.engine.models import load_model, resolve_model
        model = load_model(resolve_model(None), "cpu", "auto")
    rows = [bench_cut(s, args.frames, args.size, args.method, keys, model, args.snap) for s in seeds]
    summary = summarize(rows)
    sample = [r for r in rows if r["sample_like"]]
    report = {"bench": "fixes", "method": args.method, "snap": args.snap, "frames": args.frames,
              "size": list(args.size), "target_share": TARGET_SHARE, "machine": _machine(),
              "cuts": rows, "summary": summary}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    m = report["machine"]
    print(f"fixing bench: {args.frames} frames {args.size[0]}x{args.size[1]}, method {args.method} "
          f"(snap {args.snap}), "
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
    print("wrong regions at the start: another key colour / line ink / a colour no key has, under "
          "50 px; distinct paints (what perfect carrying would need)")
    for r in rows:
        k = r["wrong_kinds"]
        print(f"{r['seed']:>6} {k['swatch']:>6} / {k['ink']} / {k['off_palette']}, {k['small']} small; "
              f"{k['paints']} paints ({k['paints'] / max(r['frames_coloured'], 1):.2f} per frame)")
    s = summary
    print(f"all cuts: {s['clicks_per_frame_without']} clicks per frame without carrying, "
          f"{s['clicks_per_frame_with']} with; ratio {s['ratio']} (target <= {s['ratio_target']}: "
          f"{'met' if s['ratio_met'] else 'NOT met'}); a fix on its drawing's exposures only: "
          f"{s['clicks_per_frame_holds_only']} per frame (carried / that: {s['ratio_to_holds_only']})")
    print(f"all cuts with carrying: target <= {ALL_CLICKS_PER_FRAME_TARGET:g} per frame: "
          f"{'met' if s['all_met'] else 'NOT met'}")
    if sample:
        print(f"sample cut: {s['sample_clicks_per_frame_with']} clicks per frame with carrying "
              f"(target <= {CLICKS_PER_FRAME_TARGET:g}: {'met' if s['sample_met'] else 'NOT met'})")
    print(f"flags: {s['flagged_per_frame']} regions flagged per frame, "
          f"{s['wrong_regions_per_frame']} wrong; recall {s['flag_recall']} (target >= "
          f"{FLAG_RECALL_TARGET:g}), precision {s['flag_precision']} (target >= "
          f"{FLAG_PRECISION_TARGET:g}): {'met' if s['flags_met'] else 'NOT met'}")
    return 0
