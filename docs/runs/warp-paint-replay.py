"""Paint-decision rules replayed on the fixing bench's synthetic cuts (docs/evaluation.md, "The warp's
paint in small regions"): wrong regions at the start, clicks with carrying and the Review view's
flags, as `opdm-studio bench --fixes` counts them, for each rule on the same guesses:

    .venv/bin/python docs/runs/warp-paint-replay.py 2024,0 old,loose,rev0.6,rev0.6m0.005,rev0.6loose,flat0.4m0.005,shipped

Colours each cut (24 frames 960x540, keys 0 and 23) once through the bench's own cut run with the
shipped model, keeping every sampled in-between's guess, warp confidence and the warp the network
corrected (``Guess.base``; /tmp/warp_paint/SEED.pkl), then decides the interval again per rule:
``old`` the guesses alone (the decision before the warp's paint), ``loose`` the same with the
track rule loosened (support 0.5, a flat key's track painted without most frames snapping
alone), ``revA[mM]`` the warp's pixels in every region it fills with one paint on at least A of
it (no larger than M of the frame), ``flatA[mM]`` the same painted flat, ``shipped`` the engine's
own decision with the warp (``IntervalPainter.evidence``); a ``loose`` suffix loosens the track
rule too. Held drawings take their drawing's colours, as the cut run does."""
import os
import pickle
import re
import sys

import numpy as np
import torch

torch.set_num_threads(2)
import opdm_studio.imaging.paint_tracks as PT
from opdm_studio.bench import fixes_bench as fb
from opdm_studio.engine import paint as P
from opdm_studio.engine.fixes import RegionCache
from opdm_studio.engine.models import load_model, resolve_model
from opdm_studio.imaging.snapping import region_stats
from opdm_studio.pipelines.base import Guess
from opdm_studio.synth.cut import generate_cut

KEYS = [0, 23]


def capture(seed):
    path = f"/tmp/warp_paint/{seed}.pkl"
    if os.path.exists(path):
        with open(path, "rb") as fh:
            return pickle.load(fh)
    seen, ctx = {}, {}
    measure, decide = P.IntervalPainter.evidence, P.IntervalPainter.decide

    def evidence(self, f, guess, palette, keys=None):
        seen[f] = (guess.rgb, guess.confidence, guess.base)
        return measure(self, f, guess, palette, keys)

    def decided(self, palette, keys, guesses, evidence=None):
        ctx.update(palette=palette, keys=dict(keys))
        return decide(self, palette, keys, guesses, evidence)

    P.IntervalPainter.evidence, P.IntervalPainter.decide = evidence, decided
    try:
        cut = generate_cut(24, (960, 540), seed)
        conf = {}
        colours, line = fb.colour_cut(cut, KEYS, "model", load_model(resolve_model(None), "cpu", "auto"),
                                      confidence=conf)
    finally:
        P.IntervalPainter.evidence, P.IntervalPainter.decide = measure, decide
    data = {"guesses": seen, **ctx, "colours": colours, "conf": conf,
            "lines": [line(i) for i in range(len(cut))]}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(data, fh)
    return data


def given_back(rgb, base, reg, palette, share, most, flat):
    st = region_stats(base, reg, palette, reg.line_mask)
    take = (st.agreement >= share) & (st.fraction <= most)
    take[0] = False
    m = take[reg.labels]
    out = rgb.copy()
    out[m] = palette.colors[np.maximum(st.palette_index, 0)][reg.labels][m] if flat else base[m]
    return out


def replay(data, seed, rule):
    cut = generate_cut(24, (960, 540), seed)
    regions = RegionCache(data["lines"].__getitem__, gap=3, capacity=60)
    palette, loose = data["palette"], rule.endswith("loose")
    guesses = {}
    for f, (rgb, conf, base) in data["guesses"].items():
        m = re.match(r"(rev|flat)([0-9.]+)(?:m([0-9.]+))?", rule)
        if m:
            rgb = given_back(rgb, base, regions.regions(f), palette, float(m.group(2)),
                             float(m.group(3) or 1.0), m.group(1) == "flat")
        guesses[f] = Guess(rgb, conf, base if rule == "shipped" else None)
    saved = PT.KEY_NEEDS_SNAP, PT.SUPPORT_AGREEMENT
    if loose:
        PT.KEY_NEEDS_SNAP, PT.SUPPORT_AGREEMENT = False, 0.5
    try:
        decided = P.IntervalPainter(regions, "auto").decide(palette, data["keys"], guesses)
    finally:
        PT.KEY_NEEDS_SNAP, PT.SUPPORT_AGREEMENT = saved
    cols = palette.colors.astype(np.int64)
    code = (cols[:, 0] << 16) | (cols[:, 1] << 8) | cols[:, 2]
    colours, conf = {}, {}
    for f, fd in decided.items():
        lab = regions.labels(f)
        region = np.where(fd.paint.paint >= 0, code[np.maximum(fd.paint.paint, 0)],
                          fb.region_colours(lab, fd.stats.guess))[lab]
        colours[f] = np.stack([(region >> 16) & 255, (region >> 8) & 255, region & 255], -1).astype(np.uint8)
        conf[f] = fd.confidence_map()
    lines = data["lines"]
    for f in data["colours"]:
        if f not in colours:       # a held drawing, or one the same as a key
            same = [g for g in decided if np.array_equal(lines[g], lines[f])]
            colours[f] = colours[same[0]] if same else data["colours"][f]
            conf[f] = conf[same[0]] if same else data["conf"][f]
    return fb.simulate(cut, KEYS, colours, carry="interval", line=lines.__getitem__, confidence=conf)



def replay_watching_fills(data, seed, rule, on_fill):
    """:func:`replay`, calling ``on_fill(fixer, frame, x, y, outcome)`` after each of the simulated
    colourist's fills (docs/runs/unpainted-candidates.py, small-region-carry.py)."""
    from opdm_studio.engine import fixes as FX
    fill = FX.Fixer.fill

    def watched(self, frame, x, y, swatch, carry=True, holds_only=False):
        done = fill(self, frame, x, y, swatch, carry, holds_only)
        on_fill(self, frame, x, y, done)
        return done
    FX.Fixer.fill = watched
    try:
        return replay(data, seed, rule)
    finally:
        FX.Fixer.fill = fill

for seed in [int(s) for s in sys.argv[1].split(",")]:
    data = capture(seed)
    for rule in sys.argv[2].split(","):
        r = replay(data, seed, rule)
        print(f"cut {seed} {rule}: {r['wrong_at_start']} wrong regions at the start, {r['clicks']} clicks "
              f"({r['clicks_per_frame']} per frame) with carrying; flagged {r['flagged']}, of them wrong "
              f"{r['flagged_wrong']}", flush=True)
