"""Paint decisions compared on cached synthetic-cut guesses (the fixing bench's cuts, keys 0 and 23):

    .venv/bin/python docs/runs/synth-guesses.py 2024,0,1,2   # the engine's guesses, snap off, kept in /tmp/synth_guess
    .venv/bin/python docs/runs/paint-decisions-synth.py 2024,0,1,2 alone,track

Wrong regions (the bench's: a region's most frequent colour is not its true paint), review-flag recall
and precision, and the bench's clicks per frame with carrying."""
import sys

import numpy as np

import opdm_studio.imaging.paint_tracks as PT
from opdm_studio.bench.fixes_bench import region_colours, simulate
from opdm_studio.imaging.lineart import line_mask_from_drawing
from opdm_studio.imaging.palette import key_pair_palette
from opdm_studio.imaging.regions import find_regions
from opdm_studio.imaging.snapping import region_stats, render, snap_to_palette
from opdm_studio.imaging.tracking import Correspondence
from opdm_studio.synth.cut import generate_cut


def load(seed):
    d = np.load(f"/tmp/synth_guess/{seed}.npz")
    cut = generate_cut(24, (960, 540), seed)
    return cut, dict(zip(d["idx"].tolist(), d["raw"], strict=False)), d["lines"]

CACHE = {}
def prep(seed):
    if seed in CACHE: return CACHE[seed]
    cut, raws, lines = load(seed)
    masks = [line_mask_from_drawing(l) for l in lines]
    regs = [find_regions(m, gap=3) for m in masks]
    pal = key_pair_palette(cut.colors[0], masks[0], cut.colors[23], masks[23])
    links = [(Correspondence.between(regs[f].labels, regs[f+1].labels, lines[f], lines[f+1]), Correspondence.between(regs[f+1].labels, regs[f].labels, lines[f+1], lines[f])) for f in range(23)]
    stats = {i: region_stats(raws[i], regs[i], pal, masks[i]) for i in raws}
    CACHE[seed] = (cut, raws, lines, masks, regs, pal, links, stats)
    return CACHE[seed]

def setv(variant):
    import re
    m = re.search(r"s([0-9.]+)", variant); PT.SUPPORT_AGREEMENT = float(m.group(1)) if m else 0.8
    PT.KEY_NEEDS_SNAP = "k" not in variant.split("_")[-1] if "_" in variant else True

def run(seed, variant, sim=True):
    setv(variant)
    cut, raws, lines, masks, regs, pal, links, stats = prep(seed)
    out = {}; flags = {}; conf = {}
    if variant == "alone":
        for i in raws:
            r = snap_to_palette(raws[i], regs[i], pal, "auto", line_mask=masks[i], line_rgb=cut.line_rgb[i])
            out[i] = r.color_only; flags[i] = r.flagged; conf[i] = r.confidence
    else:
        st_dec = stats
        if "flowev" in variant:
            fl = np.load(f"/tmp/synth_guess_flow/{seed}.npz"); fr_ = dict(zip(fl["idx"].tolist(), fl["raw"], strict=False))
            st_dec = {i: region_stats(fr_[i], regs[i], pal, masks[i]) for i in raws}
        frames = [PT.IntervalFrame(regs[f], st_dec.get(f), cut.colors[f] if f in (0, 23) else None) for f in range(24)]
        kw = LOOSE.get(variant, {})
        if variant.startswith("track") and not variant.startswith("track3"):
            L = [c[0].matches() for c in links]
        else:
            L = [c[0].matches(**kw) + c[1].matches(**kw) for c in links]
        dec = PT.decide_tracks(frames, pal, L, "auto")
        for i in raws:
            tp = dec[i]
            _, co = render(stats[i], regs[i], pal, tp.paint, tp.paint >= 0, masks[i], cut.line_rgb[i])
            out[i] = co; flags[i] = tp.flagged; conf[i] = tp.confidence
            SRC.setdefault(seed, {})[i] = tp
    wrong = fl = tp_ = 0; nreg = 0
    for i in raws:
        lab = regs[i].labels
        truth = region_colours(lab, cut.colors[i]); got = region_colours(lab, out[i])
        bad = truth != got; bad[0] = False
        f = flags[i].copy(); f[0] = False
        wrong += bad.sum(); fl += f.sum(); tp_ += (bad & f).sum(); nreg += len(truth) - 1
    res = dict(seed=seed, variant=variant, wrong=int(wrong), per_frame=round(wrong/len(raws),2), flagged=int(fl),
               recall=round(tp_/max(wrong,1),3), precision=round(tp_/max(fl,1),3))
    if sim:
        s = simulate(cut, [0, 23], out, carry="interval", line=lambda i: lines[i])
        res["clicks_pf"] = s["clicks_per_frame"]
    return res
SRC = {}
LOOSE = {"track3": dict(min_cover=0.5, min_purity=0.5, max_rival=0.6), "track4": dict(min_cover=0.4, min_purity=0.4, max_rival=0.8)}
if __name__ == "__main__":
    seeds = [int(s) for s in sys.argv[1].split(",")]
    for v in sys.argv[2].split(","):
        for s in seeds:
            print(run(s, v, sim="nosim" not in sys.argv), flush=True)
