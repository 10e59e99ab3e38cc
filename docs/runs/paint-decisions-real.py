"""Paint decisions compared on cached real-clip guesses (docs/evaluation.md, "Paint per region track"):

    .venv/bin/python docs/runs/cache-guesses.py resources/models/default.safetensors ../shared/evaldata /tmp/guesses
    .venv/bin/python docs/runs/paint-decisions-real.py off,alone,track [CLIP_GLOB]
    .venv/bin/python docs/runs/paint-decisions-real.py off,track,track_s0.5_k,fa0.6,fa0.6m0.005,fb0.4m0.005,fc0.4m0.005 'Anita*extracted*'

Per clip and gap: PSNR@224, CDC relative to snap off, wrong paint regions per frame (the protocol's
measure) for the chained flow, the guesses as they are (off), each frame snapped alone, and the
track decision; then review-flag recall / precision over the protocol's regions. Reads the
guesses from /tmp/guesses and keeps flowchain outputs in /tmp/flowchain."""
import glob
import os
import re
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

import opdm_studio.imaging.paint_tracks as PT
from opdm_studio.engine.fixes import RegionCache
from opdm_studio.engine.frame import FrameColorizer
from opdm_studio.engine.paint import IntervalPainter
from opdm_studio.engine.project import ColorizeSettings
from opdm_studio.evaluation import metrics as M
from opdm_studio.evaluation.baselines import BASELINES, Task
from opdm_studio.evaluation.protocol import load_clip, protocol_lines, to224

DATA = Path("/work/shared/evaldata")
CLIPS = {}
FLAGS = defaultdict(lambda: [0, 0, 0, 0.0, 0])
def clip(name):
    if name not in CLIPS:
        c = load_clip(DATA / name, [])
        ex = [protocol_lines(f) for f in c.frames]
        CLIPS[name] = (c, ex)
    return CLIPS[name]

FLOW = {}
EXACT = {}     # (clip, first key, last key) -> whether the keys are exact paint
def flowchain(name, lname, a, b, draws, c):
    key = (name, lname, a, b)
    if key not in FLOW:
        path = f"/tmp/flowchain/{name}__{lname}__{a}_{b}.npz"
        if os.path.exists(path):
            FLOW[key] = list(np.load(path)["out"])
        else:
            wl = draws[a:b + 1]; outs = []
            m = BASELINES["flowchain"]
            for i in range(a + 1, b):
                t = Task(c.frames[a], c.frames[b], draws[a], draws[b], draws[i], (i - a) / (b - a), target_mask=None, window_lines=wl, index=i - a)
                o = m(t); o = o[0] if isinstance(o, tuple) else o
                outs.append(o)
            os.makedirs("/tmp/flowchain", exist_ok=True); np.savez(path, out=np.stack(outs))
            FLOW[key] = outs
    return FLOW[key]

def evaluate(variants, pattern="*"):
    rows = defaultdict(lambda: defaultdict(list))
    for path in sorted(glob.glob(f"/tmp/guesses/{pattern}.npz")):
        name, lname, g, w = re.match(r"(.*)__(.*)__G(\d+)__w(\d+)\.npz", os.path.basename(path)).groups()
        d = np.load(path); raws = list(d["raw"]); a, b = int(d["a"]), int(d["b"])
        c, ex = clip(name)
        draws = [x for x, _ in ex] if lname == "extracted" else list(c.lineart)
        gt224 = [to224(f) for f in c.frames]
        regions = {i: M.paint_regions(ex[i][1]) for i in range(a + 1, b)}
        outs = {"flowchain": flowchain(name, lname, a, b, draws, c)}
        for v in variants:
            import re as _re
            m = _re.search(r"s([0-9.]+)", v); PT.SUPPORT_AGREEMENT = float(m.group(1)) if m else 0.8
            PT.KEY_NEEDS_SNAP = not ("_" in v and "k" in v.split("_")[-1])

            snap = "off" if v == "off" else ("all" if v.startswith("all") else "auto")
            fc = FrameColorizer("flow", settings=ColorizeSettings(method="flow", snap=snap))
            fc._use_pair(("w", path), c.frames[a], c.frames[b], draws[a], draws[b])
            dec = {}
            lines = draws[a:b + 1]
            if v.startswith("revert"):
                import re as _re
                share = float(_re.search(r"revert([0-9.]+)", v).group(1))
                rc = RegionCache(lambda j, lines=lines: lines[j], gap=3)
                fl = outs["flowchain"]
                outs_v = []
                for j in range(1, b - a):
                    lab = rc.regions(j).labels
                    moved = (np.abs(raws[j - 1].astype(np.int16) - fl[j - 1].astype(np.int16)).max(axis=2) > 24)
                    n = lab.max() + 1
                    frac = np.bincount(lab.ravel(), weights=moved.ravel(), minlength=n) / np.maximum(np.bincount(lab.ravel(), minlength=n), 1)
                    rev = frac >= share; rev[0] = False
                    img = raws[j - 1].copy(); m = rev[lab]; img[m] = fl[j - 1][m]
                    outs_v.append(fc.finish(img, draws[a + j]).composite)
                outs[v] = outs_v
                continue
            if v in ("flowsnap", "trackflow"):
                from opdm_studio.engine.paint import FrameDecision
                from opdm_studio.imaging.paint_tracks import IntervalFrame, _alone
                from opdm_studio.imaging.snapping import region_stats
                rc = RegionCache(lambda j, lines=lines: lines[j], gap=3)
                fl = outs["flowchain"]
                if v == "trackflow":
                    painter = IntervalPainter(rc, snap)
                    dec = painter.decide(fc.palette, {0: c.frames[a], b - a: c.frames[b]}, {j: fl[j - 1] for j in range(1, b - a)})
                else:
                    for j in range(1, b - a):
                        reg = rc.regions(j)
                        st = region_stats(fl[j - 1], reg, fc.palette, reg.line_mask)
                        dec[j] = FrameDecision(_alone(IntervalFrame(reg, st), len(fc.palette), "auto"), st, reg)
                for j, fd in dec.items():
                    fd.stats = region_stats(raws[j - 1], fd.regions, fc.palette, fd.regions.line_mask)
            elif v[:2] in ("fa", "fb", "fc"):
                # The warp's paint in small regions (docs/evaluation.md): with exact keys, every
                # region the chained flow fills with one paint on at least A of it (and, with mM,
                # no larger than M of the frame) takes the flow's pixels (fa), its paint flat (fb),
                # or is decided on its paint flat and painted from the flow's pixels (fc, shipped).
                A = float(re.search(r"f[abc]([0-9.]+)", v).group(1))
                r3 = {}
                from opdm_studio.imaging.paint_tracks import IntervalFrame, exact_paint, key_evidence
                from opdm_studio.imaging.snapping import region_stats
                rc = RegionCache(lambda j, lines=lines: lines[j], gap=3)
                fl = outs["flowchain"]
                kf = [IntervalFrame(rc.regions(0), key_rgb=c.frames[a]), IntervalFrame(rc.regions(b - a), key_rgb=c.frames[b])]
                ev = {0: key_evidence(kf[0], fc.palette), 1: key_evidence(kf[1], fc.palette)}
                ex_ = exact_paint(kf, ev)
                EXACT[(name, a, b)] = ex_
                r2 = {}
                for j in range(1, b - a):
                    img = raws[j - 1]
                    if ex_:
                        reg = rc.regions(j)
                        st = region_stats(fl[j - 1], reg, fc.palette, reg.line_mask)
                        cond = st.agreement >= A; cond[0] = False
                        mf = re.search(r"m([0-9.]+)", v)
                        if mf:
                            cond &= reg.areas[:len(cond)] <= float(mf.group(1)) * reg.labels.size
                        m = cond[reg.labels]; img = img.copy(); img[m] = fl[j - 1][m]
                        r3[j] = img.copy()
                        if v.startswith("fb") or v.startswith("fc"):
                            img[m] = fc.palette.colors[np.maximum(st.palette_index, 0)][reg.labels][m]
                    r2[j] = img
                painter = IntervalPainter(rc, snap)
                dec = painter.decide(fc.palette, {0: c.frames[a], b - a: c.frames[b]}, r2)
                if v.startswith("fc"):
                    for j in dec:
                        if j in r3:
                            dec[j].stats = replace(dec[j].stats, guess=r3[j])
                fos = [fc.finish(r2[j], draws[a + j], decision=dec.get(j)) for j in range(1, b - a)]
                outs[v] = [fo.composite for fo in fos]
                continue
            elif v not in ("off", "alone"):
                lines = draws[a:b + 1]
                painter = IntervalPainter(RegionCache(lambda j, lines=lines: lines[j], gap=3), snap)
                dec = painter.decide(fc.palette, {0: c.frames[a], b - a: c.frames[b]}, {j: raws[j - 1] for j in range(1, b - a)})
            fos = [fc.finish(raws[j - 1], draws[a + j], decision=dec.get(j)) for j in range(1, b - a)]
            outs[v] = [fo.composite for fo in fos]
            for k, fo in enumerate(fos):
                pr = regions[a + 1 + k]; lab = pr.labels; n = lab.max() + 1
                gt = c.frames[a + 1 + k]
                close = (np.abs(fo.composite.astype(np.int16) - gt.astype(np.int16)).max(axis=2) <= 24)
                area = np.maximum(np.bincount(lab.ravel(), minlength=n), 1)
                wrong = np.bincount(lab.ravel(), weights=close.ravel(), minlength=n) / area < 0.9
                low = np.bincount(lab.ravel(), weights=(fo.confidence_map < 0.5).ravel(), minlength=n) / area > 0.5
                wrong[0] = low[0] = False
                FLAGS[v][0] += int(wrong.sum()); FLAGS[v][1] += int(low.sum()); FLAGS[v][2] += int((wrong & low).sum())
                FLAGS[v][3] += float((fo.confidence_map < 0.5).mean())
                FLAGS[v][4] += 1
        for v, frames in outs.items():
            key = (name, lname, int(g))
            seq = [gt224[a]] + [to224(o) for o in frames] + [gt224[b]]
            rows[v][key].append(dict(cdc=M.cdc(seq), n=len(frames),
                psnr=[M.psnr(to224(o), gt224[a + 1 + k]) for k, o in enumerate(frames)],
                wrong=[M.region_score(o, c.frames[a + 1 + k], regions[a + 1 + k]).wrong for k, o in enumerate(frames)]))
    return rows

def summarize(rows):
    out = {}
    for v, per in rows.items():
        for key, wins in per.items():
            n = sum(w["n"] for w in wins)
            out[(v,) + key] = dict(cdc=sum(w["cdc"] * w["n"] for w in wins) / n,
                                   psnr=float(np.mean([p for w in wins for p in w["psnr"]])),
                                   wrong=float(np.mean([x for w in wins for x in w["wrong"]])), n=n)
    return out

if __name__ == "__main__":
    variants = sys.argv[1].split(",")
    s = summarize(evaluate(variants, sys.argv[2] if len(sys.argv) > 2 else "*"))
    keys = sorted({k[1:] for k in s})
    allv = ["flowchain"] + variants
    for key in keys:
        off = s.get(("off",) + key)
        line = f"{key[0][:28]:28s} {key[1][:4]} G{key[2]:<3}"
        for v in allv:
            r = s.get((v,) + key)
            if r is None: continue
            ratio = r["cdc"] / off["cdc"] if off else float("nan")
            line += f" | {v}: {r['psnr']:.2f} cdc{ratio:.2f} w{r['wrong']:.1f}"
        print(line)
    for v, (w, f, h, share, n) in FLAGS.items():
        print("flags", v, "wrong", w, "flagged", f, "recall", round(h / max(w, 1), 3), "precision", round(h / max(f, 1), 3), "frame share flagged", round(share / max(n, 1), 3))
    for v in allv:
        for G in (8, 16):
            sel = [r for k, r in s.items() if k[0] == v and k[3] == G]
            if not sel: continue
            n = sum(r["n"] for r in sel)
            print(v, G, "psnr", round(sum(r["psnr"] * r["n"] for r in sel) / n, 3), "wrong", round(sum(r["wrong"] * r["n"] for r in sel) / n, 2))
