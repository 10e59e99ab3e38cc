"""How far choosing, region by region, between the network's guess and the chained flow could go
(docs/evaluation.md, "The warp's paint in small regions"), on the cached guesses of
[cache-guesses.py](cache-guesses.py):

    .venv/bin/python docs/runs/cache-guesses.py resources/models/default.safetensors ../shared/evaldata /tmp/guesses
    .venv/bin/python docs/runs/region-oracle.py [CLIP_GLOB]

For every in-between of every protocol window (extracted lines), each of the engine's paint
regions takes whichever of the two (the guess as it is, snap off, or `flowchain`) is nearer the
real frame there (mean of the largest channel difference): a chooser that knows the answer.
Prints PSNR@224 and wrong paint regions per frame (the protocol's measure) per gap for the guess,
`flowchain` and that choice, then per clip."""
import glob
import importlib.util
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

spec = importlib.util.spec_from_file_location("pdr", str(Path(__file__).with_name("paint-decisions-real.py")))
pdr = importlib.util.module_from_spec(spec); spec.loader.exec_module(pdr)
from opdm_studio.engine.fixes import RegionCache
from opdm_studio.engine.frame import FrameColorizer
from opdm_studio.engine.project import ColorizeSettings
from opdm_studio.evaluation import metrics as M
from opdm_studio.evaluation.protocol import to224


def region_mean(lab, n, x):
    area = np.maximum(np.bincount(lab.ravel(), minlength=n), 1)
    return np.bincount(lab.ravel(), weights=x.ravel().astype(np.float64), minlength=n) / area


def oracle(raw, fl, lab, gt):
    n = lab.max() + 1
    err_raw = region_mean(lab, n, np.abs(raw.astype(np.int16) - gt).max(2))
    err_flow = region_mean(lab, n, np.abs(fl.astype(np.int16) - gt).max(2))
    use = err_flow < err_raw
    use[0] = False
    out = raw.copy()
    out[use[lab]] = fl[use[lab]]
    return out


R = defaultdict(lambda: defaultdict(list))
for path in sorted(glob.glob(f"/tmp/guesses/{sys.argv[1] if len(sys.argv) > 1 else '*'}.npz")):
    name, lname, g, w = re.match(r"(.*)__(.*)__G(\d+)__w(\d+)\.npz", os.path.basename(path)).groups()
    if lname != "extracted":
        continue
    d = np.load(path); raws = list(d["raw"]); a, b = int(d["a"]), int(d["b"])
    c, ex = pdr.clip(name)
    draws = [x for x, _ in ex]
    fc = FrameColorizer("flow", settings=ColorizeSettings(method="flow", snap="off"))
    fc._use_pair(("w", path), c.frames[a], c.frames[b], draws[a], draws[b])
    fl = pdr.flowchain(name, lname, a, b, draws, c)
    lines = draws[a:b + 1]
    rc = RegionCache(lambda j, lines=lines: lines[j], gap=3)
    for j in range(1, b - a):
        i = a + j
        gt = c.frames[i]; pr = M.paint_regions(ex[i][1]); g224 = to224(gt)
        lab = rc.regions(j).labels
        outs = {"guess (snap off)": fc.finish(raws[j - 1], draws[i]).composite, "flowchain": fl[j - 1],
                "the nearer of the two per region": fc.finish(oracle(raws[j - 1], fl[j - 1], lab, gt), draws[i]).composite}
        for k, o in outs.items():
            R[k][(name, int(g))].append((M.psnr(to224(o), g224), M.region_score(o, gt, pr).wrong))
    print(path, flush=True, file=sys.stderr)
for G in (8, 16):
    for k in R:
        sel = [x for key, v in R[k].items() if key[1] == G for x in v]
        if sel:
            print(f"G{G} {k:34s} psnr {np.mean([s[0] for s in sel]):.3f} wrong {np.mean([s[1] for s in sel]):.2f} n={len(sel)}")
for key in sorted({k for v in R.values() for k in v}):
    print(key, " | ".join(f"{k[:12]} {np.mean([s[0] for s in R[k][key]]):.2f}/{np.mean([s[1] for s in R[k][key]]):.1f}" for k in R))
